"""SIGKILL at any moment of `new`, `remove` and `sync`: the meta-project is found as it was before the
command or as the command leaves it, never in between, once the next command has run (it finishes
or undoes what the killed one left), and `scaffold check` agrees.

Two tests: one kills the real CLI from outside at random moments (half of them aimed at the
transaction, found by watching for its directory), the other kills a forked command at every
single step of its transaction in turn.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scaffold import transaction
from scaffold.checks import derived
from scaffold.ecosystem_file import load
from scaffold.project import STATE_DIR, find_root, locked
from tests.helpers import diff, scaffold, snapshot

COMMANDS = ("new", "remove", "sync")
KILLS_PER_COMMAND = 18  # 54 in all
AIMED_AT_THE_TRANSACTION = 12  # of each command's kills; the others at a uniformly random moment


def _args(command: str) -> list[str]:
    return {
        "new": ["new", "backend", "billing", "--defaults"],
        "remove": ["remove", "orders", "--delete-code"],
        "sync": ["sync"],
    }[command]


@dataclass(frozen=True)
class Case:
    base: Path  # the meta-project before the command
    before: dict[str, bytes]
    after: dict[str, bytes]  # what the uninterrupted command leaves

    def checked(self, state: str) -> Any:
        """What `scaffold check` says about the state before or after (checked on a copy, once)."""
        if state not in _CHECKED.setdefault(self.base, {}):
            copy = self.base.parent / f"{self.base.name}-{state}-checked"
            shutil.copytree(self.base, copy, symlinks=True)
            if state == "after":
                scaffold(*_args(self.base.name.removesuffix("-base")), cwd=copy)
            _CHECKED[self.base][state] = _check(copy)
        return _CHECKED[self.base][state]


_CHECKED: dict[Path, dict[str, Any]] = {}


def _check(root: Path) -> tuple[int, Any]:
    """`scaffold check`'s exit code and findings, without what differs between copies (paths, times)."""
    import json

    proc = scaffold("check", "--no-checkov", "--json", cwd=root, check=False)
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip(), f"scaffold check printed no report (exit {proc.returncode}):\n{proc.stderr}"
    runs = json.loads(proc.stdout)["runs"]
    return proc.returncode, [(r["subject"], r["check"], r["status"], r["findings"]) for r in runs]


def _prepare(parent: Path, pristine: Path, command: str) -> Case:
    base = parent / f"{command}-base"
    shutil.copytree(pristine, base, symlinks=True)
    scaffold("new", "backend", "orders", "--defaults", cwd=base)
    if command == "sync":  # ecosystem.yaml edited by hand: sync re-derives compose, charts, CI, docs
        path = base / "ecosystem.yaml"
        text = path.read_text().replace("registry: registry.example.com/shop", "registry: r.example.com/shop")
        path.write_text(text.replace("port: 8001", "port: 8101"))
    reference = parent / f"{command}-reference"
    shutil.copytree(base, reference, symlinks=True)
    scaffold(*_args(command), cwd=reference)
    return Case(base, snapshot(base), snapshot(reference))


class Cases:
    """Each command's case, prepared when a test first needs it (a worker builds only its own)."""

    def __init__(self, parent: Path, pristine: Path) -> None:
        self.parent, self.pristine = parent, pristine
        self.made: dict[str, Case] = {}

    def __getitem__(self, command: str) -> Case:
        if command not in self.made:
            self.made[command] = _prepare(self.parent, self.pristine, command)
        return self.made[command]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> Cases:
    return Cases(tmp_path_factory.mktemp("interruption"), pristine_ecosystem)


def _transaction_dir(root: Path) -> bool:
    state = root / STATE_DIR
    return state.is_dir() and any(p.name.startswith("txn-") for p in state.iterdir())


def _start(root: Path, command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scaffold", *_args(command)],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _measure(case: Case, work: Path, command: str) -> tuple[float, float]:
    """(seconds until the transaction starts, seconds it lasts) of an uninterrupted run: the
    transaction lasts while its directory exists."""
    root = work / "measure"
    shutil.copytree(case.base, root, symlinks=True)
    started = time.monotonic()
    process = _start(root, command)
    seen: float | None = None
    gone: float | None = None
    while process.poll() is None and gone is None:
        inside = _transaction_dir(root)
        if seen is None and inside:
            seen = time.monotonic()
        elif seen is not None and not inside:
            gone = time.monotonic()
        time.sleep(0.0002)
    process.wait()
    ended = time.monotonic()
    assert process.returncode == 0
    shutil.rmtree(root)
    seen = seen or ended
    return seen - started, (gone or ended) - seen


def _verdict(case: Case, root: Path) -> str:
    """Run `scaffold check` (it recovers first) and say which state the meta-project is in; check
    must say of it what it says of that state reached without a kill."""
    checked = _check(root)
    now = snapshot(root)
    verdict = "before" if not diff(case.before, now) else "after"
    assert diff(getattr(case, verdict), now) == [], "neither before nor after the command"
    assert checked == case.checked(verdict), f"scaffold check disagrees ({verdict}): {checked}"
    return verdict


@pytest.mark.e2e
@pytest.mark.parametrize("command", COMMANDS)
def test_sigkill_at_random_moments_leaves_before_or_after(cases: Cases, command: str, tmp_path: Path) -> None:
    case = cases[command]
    until_transaction, transaction_length = _measure(case, tmp_path, command)
    chance = random.Random(f"{command}-{os.getpid()}-{time.time()}")
    outcomes: list[tuple[str, bool, str]] = []  # (how aimed, killed inside a transaction, verdict)
    for trial in range(KILLS_PER_COMMAND):
        root = tmp_path / f"trial-{trial}"
        shutil.copytree(case.base, root, symlinks=True)
        aimed = trial < AIMED_AT_THE_TRANSACTION
        process = _start(root, command)
        if aimed:  # wait for the transaction to begin, then kill somewhere inside it
            while process.poll() is None and not _transaction_dir(root):
                time.sleep(0.0002)
            time.sleep(chance.uniform(0, transaction_length))
        else:
            time.sleep(chance.uniform(0, until_transaction + transaction_length))
        process.send_signal(signal.SIGKILL)
        process.wait()
        inside = process.returncode == -signal.SIGKILL and _transaction_dir(root)
        outcomes.append(("aimed" if aimed else "anywhere", inside, _verdict(case, root)))
        shutil.rmtree(root)
    killed_inside = [o for o in outcomes if o[1]]
    verdicts = {v: sum(1 for o in outcomes if o[2] == v) for v in ("before", "after")}
    print(f"\n{command}: {len(killed_inside)} of {len(outcomes)} kills inside a transaction; {verdicts}")
    # The aimed kills must have hit transactions, or this test would prove nothing about them.
    assert killed_inside, f"no kill landed inside a transaction: {outcomes}"
    assert {o[2] for o in outcomes} <= {"before", "after"}


# --- every step, deterministically ------------------------------------------------------------


def _crash_states(case: Case, command: str, work: Path) -> list[Path]:
    """Run the command once and copy the meta-project at every step of its transaction.

    What SIGKILL leaves on disk at a moment is the disk as it is at that moment (nothing is
    buffered in the process between steps: the journal is flushed and synced before each change),
    so a copy taken at a step is the meta-project as a kill at that step leaves it.
    """
    from scaffold.commands.new import new_service
    from scaffold.commands.remove import remove_service
    from scaffold.commands.sync import sync

    root = work / "run"
    shutil.copytree(case.base, root, symlinks=True)
    states: list[Path] = []
    busy = {"copying": False, "started": False}
    real_copytree = shutil.copytree

    def crash_here() -> None:
        if busy["copying"] or not busy["started"]:
            return
        busy["copying"] = True
        try:
            state = work / f"crash-{len(states):03d}"
            real_copytree(root, state, symlinks=True)
            states.append(state)
        finally:
            busy["copying"] = False

    def before(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            crash_here()
            return function(*args, **kwargs)

        return wrapped

    original_init = transaction.Transaction.__init__

    def init(self: transaction.Transaction, *args: Any, **kwargs: Any) -> None:
        busy["started"] = True
        original_init(self, *args, **kwargs)
        crash_here()

    patches = [
        (os, "rename", before(os.rename)),
        (os, "link", before(os.link)),
        (os, "symlink", before(os.symlink)),
        (transaction.Transaction, "__init__", init),
        (transaction.Transaction, "_record", before(transaction.Transaction._record)),
        (transaction, "_remove", before(transaction._remove)),
        (transaction, "_finish", before(transaction._finish)),
    ]
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, value in patches:
            patch.setattr(owner, name, value)
        if command == "new":
            new_service(root, "backend", "billing", data=[], defaults=True, dry_run=False, asker=None)
        elif command == "remove":
            remove_service(root, "orders", delete_code=True, dry_run=False)
        else:
            sync(root, dry_run=False)
    crash_here()  # after the last step: the command is done
    assert diff(case.after, snapshot(root)) == []
    return states


@pytest.mark.parametrize("command", COMMANDS)
def test_a_kill_at_every_step_leaves_before_or_after(cases: Cases, command: str, tmp_path: Path) -> None:
    case = cases[command]
    expected = {
        "before": derived.problems(case.base, load(case.base).model),
        "after": [],
    }
    verdicts: list[str] = []
    for state in _crash_states(case, command, tmp_path):
        # Every command finds the meta-project by its ecosystem.yaml before it can recover it.
        assert find_root(state) == state.resolve(), f"{state.name}: ecosystem.yaml is missing"
        with locked(state):  # what the next command does first: finish or undo
            pass
        now = snapshot(state)
        verdict = "before" if not diff(case.before, now) else "after"
        assert diff(getattr(case, verdict), now) == [], f"{state.name}: neither before nor after"
        found = [(f.message, f.file) for f in derived.problems(state, load(state).model)]
        assert found == [(f.message, f.file) for f in expected[verdict]], state.name
        verdicts.append(verdict)
    assert len(verdicts) > 10 and verdicts[0] == "before" and verdicts[-1] == "after", verdicts
    flips = sum(1 for a, b in itertools.pairwise(verdicts) if a != b)
    assert flips == 1, f"once complete, a later kill must not undo the command: {verdicts}"


@pytest.mark.parametrize("reader", [["list", "--json"], ["graph"]])
def test_list_and_graph_finish_or_undo_a_killed_command_first(cases: Cases, reader: list[str], tmp_path: Path) -> None:
    case = cases["new"]
    states = _crash_states(case, "new", tmp_path)
    pending = [s for s in states if _transaction_dir(s)]
    assert pending, "no state was killed inside a transaction"
    state = pending[len(pending) // 2]

    shown = scaffold(*reader, cwd=state).stdout

    now = snapshot(state)
    verdict = "before" if not diff(case.before, now) else "after"
    assert diff(getattr(case, verdict), now) == [], f"{state.name}: neither before nor after"
    assert ("billing" in shown) == (verdict == "after"), shown
