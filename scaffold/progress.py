"""Progress of long commands (update, check, propose-updates): a one-line bar on a terminal, nothing in CI.

A bar is drawn only when standard error is a terminal and no CI system says it runs the command
(`CI` set, as GitHub Actions, GitLab and most others do, some of which give jobs a terminal), and
never with --json. It writes to its own copy of the terminal's descriptor, so it still shows while
a command sends file descriptor 2 elsewhere (`scaffold check` keeps Helm's Go log out of its report).

With `estimate`, the bar says how long the rest will take, and only when it can know: the rate is
measured from the first item done onwards (the wait for the first carries the start-up: forking
workers, imports), so no estimate is shown before two items are done, and items done together (a
pool of workers finishing at once) count by their number, not their moments. The estimate is for
items of about equal cost (a fleet of services, each rendered twice and merged);
tests/test_progress.py holds it to the real remaining time of simulated runs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

Progress = Callable[[int, int, str], None]  # (done, total, what was just done)


class Remaining:
    """Seconds the rest of a run will take, from the rate items were done at since the first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._first: tuple[float, int] | None = None  # (when, how many were done) at the first item done

    def __call__(self, done: int, total: int) -> float | None:
        now = self.clock()
        if done <= 0 or done >= total:
            return None
        if self._first is None:
            self._first = (now, done)
            return None
        since, then = self._first
        if done <= then or now <= since:
            return None
        return (now - since) / (done - then) * (total - done)


def duration(seconds: float) -> str:
    """'about 3 s left', 'about 75 s left', 'about 4 min left': an estimate, rounded as one."""
    if seconds < 10:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 120:
        return f"about {round(seconds / 5) * 5} s left"
    return f"about {round(seconds / 60)} min left"


class ProgressBar:
    def __init__(self, label: str, stream: TextIO, width: int = 24, *, estimate: Remaining | None = None) -> None:
        self.label, self.stream, self.width, self.estimate = label, stream, width, estimate

    def __call__(self, done: int, total: int, name: str) -> None:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        left = self.estimate(done, total) if self.estimate is not None else None
        eta = f" ({duration(left)})" if left is not None else ""
        self.stream.write(f"\r\033[K{self.label} [{bar}] {done}/{total}{eta} {name}")
        if done >= total:
            self.stream.write("\r\033[K")
        self.stream.flush()


def wanted(*, as_json: bool, env: Mapping[str, str] = os.environ, stream: TextIO = sys.stderr) -> bool:
    """Whether a bar belongs on this output: a terminal, outside CI, not for a program (--json)."""
    from scaffold.prompts import is_terminal

    return not as_json and not env.get("CI") and is_terminal(stream)


def terminal_progress(label: str, *, as_json: bool, estimate: bool = False) -> Progress | None:
    """A bar for this terminal; with `estimate`, the time left (items of about equal cost)."""
    if not wanted(as_json=as_json):
        return None
    stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    return ProgressBar(label, stream, estimate=Remaining() if estimate else None)
