"""`scaffold onboard`: driven step by step without a terminal, and through a real terminal (pexpect)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pexpect
import pytest
import yaml

from scaffold import ecosystem_file
from scaffold.onboarding import STEP_TITLES, Table, step_markdown, steps
from scaffold.wiring.onboarding_guide import layout
from tests.check_ecosystem import check
from tests.helpers import diff, scaffold, snapshot

ENTER = "\r"
CLEAR = "\x15"  # Ctrl-U: a text prompt's default is pre-filled; a user clears it before typing
PROGRESS = ".scaffold/onboarding.json"


def progress(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / PROGRESS).read_text())
    return data


def services(root: Path) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = yaml.safe_load((root / "ecosystem.yaml").read_text()).get("services") or {}
    return found


# --- without a terminal -----------------------------------------------------------------------------


@pytest.mark.e2e
def test_step_by_step_without_a_terminal_leaves_a_valid_ecosystem(ecosystem: Path) -> None:
    for number, title in enumerate(STEP_TITLES, start=1):
        out = scaffold("onboard", "--step", str(number), cwd=ecosystem).stdout
        assert out.startswith(f"## {number}. {title}\n"), out[:200]
        assert progress(ecosystem)["completed"] == list(range(1, number + 1))
        if number == 1:
            assert "On this machine:" in out and re.search(r"^git +ok ", out, flags=re.MULTILINE)
        if number == 3:
            assert "Added backend 'hello' in services/hello" in out and "updated  compose.yaml" in out
    assert progress(ecosystem) == {"completed": [1, 2, 3, 4, 5], "service": "hello"}
    assert list(services(ecosystem)) == ["hello"]
    assert "Onboarding complete" in scaffold("onboard", "--step", "5", cwd=ecosystem).stdout
    # The same validators as for any other ecosystem.
    check(ecosystem, report=lambda line: None)
    # The progress is each person's own: git does not see it.
    ignored = subprocess.run(["git", "check-ignore", "-q", PROGRESS], cwd=ecosystem, check=False)
    assert ignored.returncode == 0
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ecosystem, capture_output=True, text=True)
    assert PROGRESS not in status.stdout and "services/" in status.stdout


def test_defaults_continue_where_the_last_run_stopped(ecosystem: Path) -> None:
    scaffold("onboard", "--step", "1", cwd=ecosystem)
    scaffold("onboard", "--step", "2", cwd=ecosystem)
    out = scaffold("onboard", "--defaults", "--kind", "backend", "--name", "orders", cwd=ecosystem).stdout
    headings = re.findall(r"^## (\d)\. ", out, flags=re.MULTILINE)
    assert headings == ["3", "4", "5"], headings
    assert "Run `orders` (backend) on its own" in out and "curl http://127.0.0.1:8001/readyz" in out
    assert progress(ecosystem) == {"completed": [1, 2, 3, 4, 5], "service": "orders"}
    again = scaffold("onboard", "--defaults", cwd=ecosystem).stdout
    assert again.startswith("Every onboarding step is done")
    assert list(services(ecosystem)) == ["orders"], "a second run made another service"


def test_a_stop_is_remembered(ecosystem: Path) -> None:
    out = scaffold("onboard", "--step", "2", cwd=ecosystem).stdout
    assert "`scaffold onboard` continues with step 1" in out
    scaffold("onboard", "--step", "1", cwd=ecosystem)
    assert "continues with step 3" in scaffold("onboard", "--step", "4", cwd=ecosystem).stdout
    assert progress(ecosystem)["completed"] == [1, 2, 4]
    out = scaffold("onboard", "--defaults", "--restart", "--name", "first", cwd=ecosystem).stdout
    assert re.findall(r"^## (\d)\. ", out, flags=re.MULTILINE) == ["1", "2", "3", "4", "5"]


def test_the_guide_and_the_walkthrough_never_disagree(ecosystem: Path) -> None:
    """docs/onboarding.md holds the walkthrough's steps: the same text, block for block; only the
    diagram (mermaid in the document, an outline in a terminal) and the list of requirements (the
    doctor's findings in a walkthrough) are shown differently."""
    # Step 3 first, so that every step is shown with the ecosystem the document describes.
    created = json.loads(scaffold("onboard", "--step", "3", "--json", cwd=ecosystem).stdout)["steps"]
    others = json.loads(scaffold("onboard", "--defaults", "--json", cwd=ecosystem).stdout)["steps"]
    shown = sorted(created + others, key=lambda step: step["number"])
    document = (ecosystem / "docs" / "onboarding.md").read_text()
    sections = re.split(r"^(?=## \d\. )", document, flags=re.MULTILINE)[1:]
    assert [step["number"] for step in shown] == [1, 2, 3, 4, 5] and len(sections) == len(STEP_TITLES)

    def comparable(markdown: str) -> str:
        text = re.sub(r"```(mermaid|text)\n.*?```\n?", "DIAGRAM\n", markdown, flags=re.DOTALL)
        text = re.sub(r"(^\| what \| group \|.*\n)(^\|.*\n)+", "REQUIREMENTS\n", text, flags=re.MULTILINE)
        return text.replace("`scaffold doctor` finds on this machine:\n", "REQUIREMENTS\n").strip()

    assert created[0]["created"]["service"]["name"] == "hello"
    for step, section in zip(shown, sections, strict=True):
        assert comparable(step["text"]) == comparable(section), step["title"]
    assert "DIAGRAM" in comparable(sections[1]) and "REQUIREMENTS" in comparable(sections[0])


def test_every_path_the_guide_names_exists(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    model = ecosystem_file.load(ecosystem).model
    (places,) = [b for b in steps(model, layout())[1].blocks if isinstance(b, Table) and b.header[0] == "path"]
    for cell, _ in places.rows:
        path = cell.strip("`").replace("<name>", "orders")
        assert (ecosystem / path).exists(), path


def test_the_first_step_says_how_to_get_the_services_in_repositories_of_their_own(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    scaffold("new", "backend", "billing", "--defaults", cwd=ecosystem)
    model = ecosystem_file.load(ecosystem).model
    assert "repositories of their own" not in step_markdown(steps(model, layout())[0])
    billing = model.service("billing")
    assert billing is not None
    own = replace(billing, repository="git@git.example.com:shop/billing.git")
    model = replace(model, services=tuple(own if s.name == "billing" else s for s in model.services))

    text = step_markdown(steps(model, layout())[0])

    assert "`billing` (`git@git.example.com:shop/billing.git` at `services/billing`)" in text
    assert "`scaffold update billing` clones" in text and "`orders`" not in text


@pytest.fixture(scope="module")
def started(pristine_ecosystem: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ecosystem with a service named 'taken', after step 1 of the walkthrough."""
    root = tmp_path_factory.mktemp("started") / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    scaffold("new", "backend", "taken", "--defaults", cwd=root)
    scaffold("onboard", "--step", "1", cwd=root)
    return root


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "No terminal to walk you through the steps."),
        (["--step", "0"], 2, "There is no step 0."),
        (["--step", "6"], 2, "There is no step 6."),
        (["--defaults", "--kind", "robot"], 2, "Unknown kind 'robot'."),
        (["--defaults", "--name", "Hello"], 2, "is not a lowercase DNS-1123 label"),
        (["--step", "3", "--name", "gateway"], 2, "is reserved"),
        (["--step", "3", "--name", "taken"], 4, "A service named 'taken' already exists"),
        (["--step", "3", "--data", "port=80"], 2, "Port 80 is not between 1024 and 65535."),
    ],
)
def test_bad_input_changes_nothing(started: Path, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    ecosystem = tmp_path / "shop"
    shutil.copytree(started, ecosystem, symlinks=True)
    before = snapshot(ecosystem)
    proc = scaffold("onboard", *args, cwd=ecosystem, check=False)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    assert message in lines[0]
    assert diff(before, snapshot(ecosystem)) == []


def test_an_unreadable_progress_file_is_named_with_a_way_out(ecosystem: Path) -> None:
    (ecosystem / PROGRESS).write_text("{not json")
    proc = scaffold("onboard", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {ecosystem / PROGRESS} is not a progress file")
    assert "scaffold onboard --restart" in proc.stderr
    scaffold("onboard", "--step", "1", "--restart", cwd=ecosystem)
    assert progress(ecosystem)["completed"] == [1]


# --- through a real terminal ------------------------------------------------------------------------


def _spawn(ecosystem: Path, *args: str) -> pexpect.spawn[str]:
    return pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "onboard", *args],
        cwd=str(ecosystem),
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 140),
    )


def _go_on(child: pexpect.spawn[str], number: int) -> None:
    child.expect(f"Go on to step {number}")
    child.send(ENTER)  # the default: yes


def test_a_user_reaches_the_end_with_the_keys_they_would_press(ecosystem: Path) -> None:
    child = _spawn(ecosystem)
    child.expect("Welcome to the shop ecosystem")
    child.expect("Step 1 of 5: Check your machine")
    child.expect("finds on this machine")  # (rich styles `scaffold doctor` apart)
    _go_on(child, 2)
    child.expect("Step 2 of 5: Understand the ecosystem")
    _go_on(child, 3)
    child.expect("Step 3 of 5: Create your first service")
    child.expect("What kind of service")
    child.send(ENTER)  # the highlighted choice: backend
    child.expect("Its name")
    child.send(CLEAR + "Bad Name" + ENTER)  # refused: the prompt stays
    child.expect("not a lowercase DNS-1123 label")
    child.send(CLEAR + "orders" + ENTER)
    child.expect("Added backend 'orders' in services/orders")
    _go_on(child, 4)
    child.expect("Step 4 of 5: Run it, test it, watch it")
    child.expect("Build its images and run its tests")
    _go_on(child, 5)
    child.expect("Step 5 of 5: Keep it up to date and deliver it")
    child.expect("Onboarding complete")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert progress(ecosystem) == {"completed": [1, 2, 3, 4, 5], "service": "orders"}
    assert services(ecosystem)["orders"]["kind"] == "backend"


def test_a_user_leaves_and_comes_back(ecosystem: Path) -> None:
    child = _spawn(ecosystem)
    _go_on(child, 2)
    child.expect("Go on to step 3")
    child.send("n")
    child.expect("`scaffold onboard` continues with step 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert progress(ecosystem)["completed"] == [1, 2]

    child = _spawn(ecosystem)
    child.expect("Welcome back. Steps done: 1, 2. Continuing with step 3.")
    child.expect("Step 3 of 5")
    child.expect("What kind of service")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in (child.before or "")
    assert progress(ecosystem)["completed"] == [1, 2]
    assert services(ecosystem) == {}


def test_help_lists_the_commands_with_an_example(tmp_path: Path) -> None:
    out = scaffold("--help", cwd=tmp_path).stdout
    for command in ("onboard", "doctor", "graph"):
        line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
        assert f"scaffold {command}" in line, line
