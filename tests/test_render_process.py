"""The render process `scaffold new` starts early (scaffold/render_process.py): same result as rendering
in the command's own process, its errors reach the command whole, and it never outlives the command."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scaffold import render_process, templates
from scaffold.errors import ConflictError, ScaffoldError
from scaffold.model import TemplateRef
from tests.helpers import diff, scaffold, snapshot


def _conflict(message: str) -> None:
    raise ConflictError(message, "the hint travels too")


def _dies() -> None:
    os._exit(3)


def _crashes() -> None:
    raise ZeroDivisionError("a bug")


def _run(process: render_process.RenderProcess, work: Callable[..., None], *args: Any) -> None:
    process.send(work, args, {})
    process.wait()


def _render_late(
    ref: TemplateRef, destination: Path, answers: object, *, root: object, location: object, trust: object
) -> None:
    time.sleep(1.0)
    destination.mkdir(parents=True)
    (destination / "late").write_text("written after the command left")


def test_an_error_in_the_render_process_reaches_the_command_with_its_hint() -> None:
    process = render_process.RenderProcess()
    with pytest.raises(ConflictError) as raised:
        _run(process, _conflict, "the message")
    assert raised.value.message == "the message" and raised.value.hint == "the hint travels too"
    assert process.pid is None


def test_a_render_process_that_dies_is_an_error_not_a_hang() -> None:
    process = render_process.RenderProcess()
    with pytest.raises(ScaffoldError, match="stopped before it finished"):
        _run(process, _dies)


def test_a_bug_in_the_render_process_keeps_its_traceback() -> None:
    process = render_process.RenderProcess()
    with pytest.raises(RuntimeError, match="ZeroDivisionError: a bug"):
        _run(process, _crashes)


def test_an_unused_render_process_is_stopped_and_collected() -> None:
    process = render_process.RenderProcess()
    pid = process.pid
    assert pid is not None
    process.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_render_the_command_leaves_without_waiting_is_stopped_before_it_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`new` derives the wiring while the template renders; should that fail, the render must not go on
    writing into the staging directory the command then removes."""
    monkeypatch.setattr(templates, "_render_here", _render_late)
    process = render_process.RenderProcess()
    monkeypatch.setattr(render_process, "_STARTED", [process])
    destination = tmp_path / "staged"
    with pytest.raises(ConflictError), templates.rendering(TemplateRef("builtin", "0.1.0"), destination, {}):
        raise ConflictError("the wiring failed meanwhile", "a hint")
    assert process.pid is None
    time.sleep(1.5)
    assert not destination.exists()


def test_a_render_waited_for_runs_in_the_render_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(templates, "_render_here", _render_late)
    process = render_process.RenderProcess()
    monkeypatch.setattr(render_process, "_STARTED", [process])
    with templates.rendering(TemplateRef("builtin", "0.1.0"), tmp_path / "staged", {}) as pending:
        assert not (tmp_path / "staged").exists()  # the command goes on meanwhile
        pending.wait()
    assert (tmp_path / "staged" / "late").read_text() == "written after the command left"
    assert process.pid is None


def test_new_writes_the_same_with_and_without_the_render_process(ecosystem: Path, tmp_path: Path) -> None:
    inline = tmp_path / "inline"
    shutil.copytree(ecosystem, inline, symlinks=True)
    scaffold("new", "worker", "fulfilment", "--defaults", cwd=ecosystem)
    scaffold("new", "worker", "fulfilment", "--defaults", cwd=inline, env={"SCAFFOLD_RENDER_INLINE": "1"})
    assert diff(snapshot(ecosystem), snapshot(inline)) == []
