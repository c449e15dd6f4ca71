"""A one-line progress bar on standard error, for terminals only (the CLI decides when)."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 24) -> None:
        self.label, self.stream, self.width = label, stream, width

    def __call__(self, done: int, total: int, name: str) -> None:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r\033[K{self.label} [{bar}] {done}/{total} {name}")
        if done >= total:
            self.stream.write("\r\033[K")
        self.stream.flush()
