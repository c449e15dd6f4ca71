"""Answers ecosystem.yaml also holds never drift apart (issue 10, item 6): an update cannot change a
worker's `subscribes`, a frontend's `api_service` or a port in the service alone, `--all` does not
rewrite every service's answers at once, and `scaffold check` finds an answers file that disagrees."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot

USAGE, CHECK_FAILED = 2, 5


@pytest.fixture
def fleet(ecosystem: Path) -> Path:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    scaffold("new", "worker", "jobs", "--defaults", cwd=ecosystem)
    scaffold("new", "frontend", "web", "--defaults", "--data", "api_service=orders", cwd=ecosystem)
    subprocess.run(["git", "add", "-A"], cwd=ecosystem, check=True)
    subprocess.run(["git", "commit", "-qm", "fleet", "--no-verify"], cwd=ecosystem, check=True)
    return ecosystem


@pytest.mark.parametrize(
    "args",
    [
        ["update", "jobs", "--data", "subscribes=orders.#"],
        ["update", "web", "--data", "api_service=inventory"],
        ["update", "orders", "--data", "port=9001"],
        ["update", "--all", "--data", "description=one for all"],
    ],
    ids=["subscribes", "api_service", "port", "all"],
)
def test_an_update_does_not_change_what_ecosystem_yaml_holds(fleet: Path, args: list[str]) -> None:
    before = snapshot(fleet)
    proc = scaffold(*args, cwd=fleet, check=False)
    assert proc.returncode == USAGE, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: --data") and lines[1].startswith("hint: "), proc.stderr
    assert diff(before, snapshot(fleet)) == []


@pytest.mark.parametrize(
    ("service", "old", "new", "words"),
    [
        ("jobs", "subscribes: '*.item.published'", "subscribes: orders.#", "'subscribes' is 'orders.#'"),
        ("web", "api_service: orders", "api_service: inventory", "'api_service' is 'inventory'"),
        ("orders", "port: 8001", "port: 9001", "'port' is 9001, ecosystem.yaml says 8001"),
    ],
)
def test_check_finds_an_answers_file_that_disagrees_with_ecosystem_yaml(
    fleet: Path, service: str, old: str, new: str, words: str
) -> None:
    answers = fleet / "services" / service / ".copier-answers.yml"
    text = answers.read_text()
    assert old in text, text
    answers.write_text(text.replace(old, new))
    proc = scaffold("check", service, "--no-checkov", "--json", cwd=fleet, check=False)
    assert proc.returncode == CHECK_FAILED, proc.stderr
    report = json.loads(proc.stdout)
    messages = [f["message"] for r in report["runs"] if r["check"] == "answers" for f in r["findings"]]
    assert any(words in m for m in messages), messages
