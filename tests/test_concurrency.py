"""Several scaffold commands on one meta-project at the same time: one writer at a time, the others
wait (then stop with a message naming the holder), and ecosystem.yaml is never seen half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from scaffold.errors import ExitCode
from scaffold.project import locked
from tests.helpers import diff, scaffold, snapshot


def _start(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scaffold", *args],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def _has_open(pid: int, path: Path) -> bool:
    """Whether the process has `path` open (it is then trying to take the lock)."""
    try:
        return any(Path(os.readlink(fd)) == path for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def _services(root: Path) -> list[str]:
    return list(yaml.safe_load((root / "ecosystem.yaml").read_text()).get("services") or {})


def test_commands_started_together_all_land_and_the_file_stays_whole(ecosystem: Path) -> None:
    stop = threading.Event()
    reads: list[str] = []

    def read_all_the_time() -> None:
        while not stop.is_set():
            text = (ecosystem / "ecosystem.yaml").read_text()
            try:
                yaml.safe_load(text)
                reads.append("ok")
            except yaml.YAMLError:
                reads.append(text)

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        processes = [_start(ecosystem, "new", "backend", name, "--defaults") for name in ("alpha", "beta", "gamma")]
        processes.append(_start(ecosystem, "sync"))
        results = [_finish(p) for p in processes]
    finally:
        stop.set()
        reader.join()
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert sorted(_services(ecosystem)) == ["alpha", "beta", "gamma"]
    assert reads and set(reads) == {"ok"}, "ecosystem.yaml was read half-written"
    assert scaffold("check", "--no-checkov", cwd=ecosystem, check=False).returncode == 0


def test_the_same_name_twice_at_once_lands_once(ecosystem: Path) -> None:
    first, second = (_start(ecosystem, "new", "backend", "alpha", "--defaults") for _ in range(2))
    codes = sorted([_finish(first)[0], _finish(second)[0]])
    assert codes == [0, int(ExitCode.CONFLICT)]
    assert _services(ecosystem) == ["alpha"]
    assert scaffold("check", "--no-checkov", cwd=ecosystem, check=False).returncode == 0


def test_a_command_waits_for_the_holder_then_goes_on(ecosystem: Path) -> None:
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with locked(ecosystem):
            held.set()
            release.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(timeout=60)
    waiting = _start(ecosystem, "new", "backend", "alpha", "--defaults")
    lock = (ecosystem / ".scaffold" / "lock").resolve()
    while waiting.poll() is None and not _has_open(waiting.pid, lock):
        time.sleep(0.01)
    time.sleep(0.5)
    assert waiting.poll() is None, "the second command did not wait for the lock"
    assert _services(ecosystem) == []
    release.set()
    holder.join()
    code, stderr = _finish(waiting)
    assert code == 0, stderr
    assert _services(ecosystem) == ["alpha"]


def test_a_command_that_waited_too_long_stops_and_names_the_holder(ecosystem: Path) -> None:
    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)
    with locked(ecosystem):
        started = time.monotonic()
        proc = scaffold(
            "new", "backend", "alpha", "--defaults", cwd=ecosystem, env={"SCAFFOLD_LOCK_TIMEOUT": "0.5"}, check=False
        )
        waited = time.monotonic() - started
    assert proc.returncode == int(ExitCode.CONFLICT)
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"error: Another scaffold command (pid {os.getpid()}: ") and "is changing" in lines[0]
    assert lines[1].startswith("hint: Wait for it to finish") and "SCAFFOLD_LOCK_TIMEOUT" in lines[1]
    assert waited >= 0.5, "it stopped without waiting"
    assert diff(before, snapshot(ecosystem)) == []


def test_check_reads_while_no_command_writes(ecosystem: Path) -> None:
    writer = _start(ecosystem, "new", "backend", "alpha", "--defaults")
    while not (ecosystem / ".scaffold" / "lock").exists() and writer.poll() is None:
        time.sleep(0.001)
    checker = _start(ecosystem, "check", "--no-checkov")
    assert _finish(writer)[0] == 0
    code, stderr = _finish(checker)
    assert code == 0, stderr  # it saw the meta-project before or after `new`, both consistent


def test_two_checks_run_side_by_side(ecosystem: Path) -> None:
    scaffold("sync", cwd=ecosystem)
    with locked(ecosystem):
        pass  # the lock file exists
    first = _start(ecosystem, "check", "--no-checkov", env={"SCAFFOLD_LOCK_TIMEOUT": "0"})
    second = _start(ecosystem, "check", "--no-checkov", env={"SCAFFOLD_LOCK_TIMEOUT": "0"})
    assert [_finish(first)[0], _finish(second)[0]] == [0, 0]  # a shared lock: neither had to wait
