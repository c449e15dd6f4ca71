"""A PATH on which some programs are missing, as on a machine that lacks them."""

from __future__ import annotations

import os
from pathlib import Path


def path_without(directory: Path, *hidden: str) -> str:
    """A one-directory PATH holding symlinks to every program of the current PATH except `hidden`."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        folder = Path(entry)
        if not folder.is_dir():
            continue
        for program in folder.iterdir():
            link = directory / program.name
            if program.name in hidden or link.exists() or link.is_symlink():
                continue  # the first one on PATH wins, as for the shell
            if program.is_file() and os.access(program, os.X_OK):
                link.symlink_to(program.resolve())
    for name in hidden:
        assert not (directory / name).exists(), name
    return str(directory)
