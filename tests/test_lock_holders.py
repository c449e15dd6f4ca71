"""Who holds the lock (issue 10, item 5 and part of 11): a killed command's worker processes never
keep the meta-project locked, a recorded holder that is dead is reported as such with the process
that really holds it, and a command that waits says for whom."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from scaffold.project import locked
from tests.helpers import scaffold
from tests.update_helpers import TemplateRepo, meta_project

CONFLICT = 4


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def _kill_with_workers_then(root: Path, command: list[str], then: list[str]) -> None:
    """Start `scaffold COMMAND`, SIGKILL it once it has two worker processes, then run `scaffold THEN`:
    the kernel ends the workers with their parent, and none of them holds the lock meanwhile."""
    parent = subprocess.Popen(
        [sys.executable, "-m", "scaffold", *command], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert _wait_for(lambda: len(_children(parent.pid)) >= 2, 60), f"{command[0]} started no workers"
    workers = _children(parent.pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        proc = scaffold(*then, cwd=root, env={"SCAFFOLD_LOCK_TIMEOUT": "5"}, check=False)
        assert proc.returncode == 0, proc.stderr
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 10), "workers outlived their parent"
    finally:
        for worker in workers:  # what a scaffold without the fix leaves running
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)


def test_a_killed_check_leaves_no_worker_holding_the_lock(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    _kill_with_workers_then(ecosystem, ["check", "--no-checkov", "--jobs", "2"], ["sync"])


def test_a_killed_update_all_leaves_no_worker_holding_the_lock(tmp_path: Path) -> None:
    """The issue's case: `update --all` plans its services in worker processes; killed, it must not
    leave them holding the meta-project's lock (every later command, even `list`, waited and exited 4)."""
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, *(f"svc{i}" for i in range(6)))
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("fleet"))')
    template.release("2.0.0")
    _kill_with_workers_then(root, ["update", "--all", "--jobs", "2"], ["list"])


_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{sys.argv[2]} scaffold update --all\\n".encode(), 0)
    print("held", flush=True)
    time.sleep(120)
    """
)


def test_a_dead_recorded_holder_is_reported_with_the_live_one(ecosystem: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock = ecosystem / ".scaffold" / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(lock), str(gone.pid)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        proc = scaffold("sync", cwd=ecosystem, env={"SCAFFOLD_LOCK_TIMEOUT": "0.3"}, check=False)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == CONFLICT
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), proc.stderr
    assert f"pid {holder.pid}: " in lines[0], lines[0]
    assert f"its recorded holder, pid {gone.pid}: scaffold update --all, is no longer running" in lines[0]


def test_a_waiting_command_says_whom_it_waits_for(ecosystem: Path) -> None:
    scaffold("sync", cwd=ecosystem)
    with locked(ecosystem):
        proc = scaffold("sync", cwd=ecosystem, env={"SCAFFOLD_LOCK_TIMEOUT": "2"}, check=False)
    assert proc.returncode == CONFLICT
    note, error, hint = proc.stderr.strip().splitlines()
    assert note.startswith(f"note: waiting for the lock of {ecosystem}, held by pid {os.getpid()}"), note
    assert error.startswith("error: Another scaffold command") and hint.startswith("hint: ")
