"""Progress of long commands (update, check, propose-updates): a one-line bar on a terminal, nothing in CI.

A bar is drawn only when standard error is a terminal and no CI system says it runs the command
(`CI` set, as GitHub Actions, GitLab and most others do, some of which give jobs a terminal), and
never with --json. It writes to its own copy of the terminal's descriptor, so it still shows while
a command sends file descriptor 2 elsewhere (`scaffold check` keeps Helm's Go log out of its report).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

Progress = Callable[[int, int, str], None]  # (done, total, what was just done)


class ProgressBar:
    def __init__(self, label: str, stream: TextIO, width: int = 24) -> None:
        self.label, self.stream, self.width = label, stream, width

    def __call__(self, done: int, total: int, name: str) -> None:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r\033[K{self.label} [{bar}] {done}/{total} {name}")
        if done >= total:
            self.stream.write("\r\033[K")
        self.stream.flush()


def wanted(*, as_json: bool, env: Mapping[str, str] = os.environ, stream: TextIO = sys.stderr) -> bool:
    """Whether a bar belongs on this output: a terminal, outside CI, not for a program (--json)."""
    from scaffold.prompts import is_terminal

    return not as_json and not env.get("CI") and is_terminal(stream)


def terminal_progress(label: str, *, as_json: bool) -> Progress | None:
    if not wanted(as_json=as_json):
        return None
    return ProgressBar(label, os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1))
