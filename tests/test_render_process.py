"""The render process `scaffold new` starts early (scaffold/render_process.py): same result as rendering
in the command's own process, its errors reach the command whole, and it never outlives the command."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from scaffold import render_process
from scaffold.errors import ConflictError, ScaffoldError
from tests.helpers import diff, scaffold, snapshot


def _conflict(message: str) -> None:
    raise ConflictError(message, "the hint travels too")


def _dies() -> None:
    os._exit(3)


def _crashes() -> None:
    raise ZeroDivisionError("a bug")


def test_an_error_in_the_render_process_reaches_the_command_with_its_hint() -> None:
    process = render_process.RenderProcess()
    with pytest.raises(ConflictError) as raised:
        process.run(_conflict, ("the message",), {})
    assert raised.value.message == "the message" and raised.value.hint == "the hint travels too"
    assert process.pid is None


def test_a_render_process_that_dies_is_an_error_not_a_hang() -> None:
    process = render_process.RenderProcess()
    with pytest.raises(ScaffoldError, match="stopped before it finished"):
        process.run(_dies, (), {})


def test_a_bug_in_the_render_process_keeps_its_traceback() -> None:
    process = render_process.RenderProcess()
    with pytest.raises(RuntimeError, match="ZeroDivisionError: a bug"):
        process.run(_crashes, (), {})


def test_an_unused_render_process_is_stopped_and_collected() -> None:
    process = render_process.RenderProcess()
    pid = process.pid
    assert pid is not None
    process.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_new_writes_the_same_with_and_without_the_render_process(ecosystem: Path, tmp_path: Path) -> None:
    inline = tmp_path / "inline"
    shutil.copytree(ecosystem, inline, symlinks=True)
    scaffold("new", "worker", "fulfilment", "--defaults", cwd=ecosystem)
    scaffold("new", "worker", "fulfilment", "--defaults", cwd=inline, env={"SCAFFOLD_RENDER_INLINE": "1"})
    assert diff(snapshot(ecosystem), snapshot(inline)) == []
