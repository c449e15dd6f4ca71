"""The first hour of a new user, each friction found by a fresh clone and the README, fixed and kept fixed.

(The README followed from a fresh clone up to a running `scaffold new` through the shell's PATH is
tests/test_readme.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scaffold.checks.tools import CHECKOV_HINT
from scaffold.errors import ExitCode
from scaffold.model import KINDS
from tests.helpers import scaffold
from tests.hidden_tools import path_without
from tests.make_docs import REPO, SECTIONS, generate
from tests.update_helpers import TemplateRepo, commit_all, meta_project


@pytest.mark.parametrize("relative", sorted(SECTIONS))
def test_the_kinds_and_data_keys_in_the_docs_are_what_the_code_says(relative: str) -> None:
    text = (REPO / relative).read_text(encoding="utf-8")
    assert generate(text, SECTIONS[relative]) == text, f"{relative} is stale: run `make docs`"


def test_the_data_keys_listed_are_the_ones_each_command_takes(ecosystem: Path) -> None:
    worker_key = scaffold(
        "new", "backend", "orders", "--defaults", "--data", "subscribes=x.#", cwd=ecosystem, check=False
    )
    assert worker_key.returncode == int(ExitCode.USAGE) and "a backend has no such question" in worker_key.stderr
    rows = [line.split(" | ") for line in (REPO / "docs" / "cli.md").read_text().splitlines()]
    assert next(row[1] for row in rows if row[0] == "| `subscribes`") == "`new worker`"


def test_new_and_adopt_help_name_every_kind(tmp_path: Path) -> None:
    for command in ("new", "adopt"):
        shown = scaffold(command, "--help", cwd=tmp_path).stdout
        assert ", ".join(KINDS) in " ".join(shown.split()), shown


def test_update_dry_run_right_after_new_works(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    proc = scaffold("update", "--all", "--dry-run", "--json", cwd=ecosystem)
    assert {t["name"]: t["status"] for t in json.loads(proc.stdout)["targets"]} == {
        "shop": "up-to-date",
        "orders": "up-to-date",
    }


def test_an_update_of_a_service_not_committed_yet_says_commit_first_with_the_command(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template)
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.release("2.0.0")
    proc = scaffold("update", "orders", "--dry-run", cwd=root, check=False)
    assert proc.returncode == int(ExitCode.UPDATE_FAILED)
    assert "commit first (`git add services/orders && git commit -m 'Add orders'`)" in proc.stdout
    commit_all(root, "orders")
    assert scaffold("update", "orders", "--dry-run", cwd=root).returncode == 0


def test_the_demo_check_prints_no_helm_log_lines(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.check_ecosystem", str(REPO / "examples" / "shop")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "CHECKOV": str(tmp_path / "no-checkov")},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # Helm logged "found symbolic link in path" 36 times here


def test_check_and_doctor_give_the_same_checkov_hint(ecosystem: Path, tmp_path: Path) -> None:
    env = {"CHECKOV": str(tmp_path / "no-checkov"), "PATH": path_without(tmp_path / "bin", "checkov")}
    doctor = json.loads(scaffold("doctor", "--json", cwd=ecosystem, env=env, check=False).stdout)
    (checkov,) = [t for t in doctor["tools"] if t["name"] == "checkov"]
    assert (checkov["found"], checkov["install"]) == (False, CHECKOV_HINT)
    check = json.loads(scaffold("check", "--json", cwd=ecosystem, env=env, check=False).stdout)
    (run,) = [r for r in check["runs"] if r["check"] == "checkov"]
    assert CHECKOV_HINT in json.dumps(run)


def test_onboard_with_defaults_says_first_which_service_it_creates(ecosystem: Path) -> None:
    out = scaffold("onboard", "--defaults", cwd=ecosystem).stdout
    first = out.splitlines()[0]
    assert first == (
        "Step 3 creates a first service: a backend named 'hello' in services/hello, with default answers "
        "(`--kind KIND --name NAME` choose another)."
    )


def _user_step(dockerfile: str) -> str:
    """The RUN instruction that makes the image's user, as one shell command."""
    logical = dockerfile.replace("\\\n", " ").splitlines()
    (step,) = [line for line in logical if line.startswith("RUN ") and "useradd" in line]
    return step.removeprefix("RUN ")


@pytest.mark.parametrize(("kind", "extra"), [("backend", {}), ("worker", {}), ("frontend", {"api_service": "orders"})])
def test_making_the_image_user_warns_about_nothing(tmp_path: Path, kind: str, extra: dict[str, str]) -> None:
    """The Dockerfile's own user step, run by Debian's groupadd and useradd against a copy of /etc
    (--prefix), as the image build runs it: every build used to warn that 10001 is no system id."""
    from tests.helpers import render_template

    service = render_template(tmp_path / kind, kind=kind, name="orders", **extra)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        shutil.copy(f"/etc/{name}", root / "etc" / name)
    wrappers = (
        'groupadd() { command groupadd --prefix "$ROOT" "$@"; }\nuseradd() { command useradd --prefix "$ROOT" "$@"; }\n'
    )
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", wrappers + _user_step((service / "Dockerfile").read_text())],
        env={**os.environ, "ROOT": str(root)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    user = next(line for line in (root / "etc" / "passwd").read_text().splitlines() if line.startswith("app:"))
    assert user.split(":")[2:4] == ["10001", "10001"]
