"""Theirs takes base's bytes for the files that render alike: half of a fleet update's Jinja work.

`scaffold update` renders every target twice, the old template version (base) and the new one
(theirs), with the same answers. For a file whose template sources are the same in both versions
(scaffold.update.unchanged proves it, includes and imports followed), the only other input of its
render is the context: so when the values of every variable it reads are the same in theirs, at the
moment copier renders it, as they were in base at that moment, its render is base's render. Then
copier is handed that text instead of a template to render: copier still walks the template, renders
every path, applies `_exclude`, writes the file and sets its mode as it always does, only the
Jinja render of the file's content is skipped.

What is compared, per file, is exact: the values (pickled, so `1`, `1.0` and `True` differ) of the
variables the file and what it pulls in read, taken when copier reaches the file in each render
(a template may change a list answer while rendering: what later files see is what is compared).
A file whose base render changed the context is never reused (its side effect must happen again in
theirs), nor a file rendered with a `{% yield %}` context, nor a destination that two source files
wrote in base. Anything not proven renders as copier renders it.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold import render_cache
from scaffold.update.unchanged import Unchanged

Snapshot = bytes  # the public answers, pickled as one dict


@dataclass(frozen=True)
class Rendered:
    """One file as base rendered it: its source, bytes, and the context it saw."""

    source: str
    data: bytes
    seen: Snapshot
    changed_context: bool


@dataclass
class Render:
    """What one render wrote (destination -> the files that wrote it), and how many files it reused."""

    written: dict[str, list[Rendered]] = field(default_factory=dict)
    reused: int = 0
    base: Render | None = None
    unchanged: Unchanged | None = None
    _values: dict[Snapshot, dict[str, bytes]] = field(default_factory=dict)

    def values(self, snapshot: Snapshot) -> dict[str, bytes]:
        """Each answer of a snapshot pickled alone (computed once per distinct snapshot)."""
        if snapshot not in self._values:
            self._values[snapshot] = {k: pickle.dumps(v) for k, v in pickle.loads(snapshot).items()}
        return self._values[snapshot]

    def text_of(self, source: str, destination: str, snapshot: Snapshot) -> str | None:
        """Base's render of `source` to `destination`, when it is what theirs would render now."""
        if self.base is None or self.unchanged is None:
            return None
        wrote = self.base.written.get(destination)
        if wrote is None or len(wrote) != 1 or wrote[0].source != source or wrote[0].changed_context:
            return None
        reads = self.unchanged.reads(source)
        if reads is None:
            return None
        before, now = self.base.values(wrote[0].seen), self.values(snapshot)
        if any(before.get(name) != now.get(name) for name in reads):
            return None
        try:
            return wrote[0].data.decode("utf-8")
        except UnicodeDecodeError:
            return None


_RENDERS: dict[str, Render] = {}  # destination folder -> the render going on there


@contextlib.contextmanager
def recording(destination: Path, base: Render | None = None, unchanged: Unchanged | None = None) -> Iterator[Render]:
    """Record what a render into `destination` writes; with `base` and `unchanged`, reuse base's
    bytes where that is proven."""
    render = Render(base=base, unchanged=unchanged)
    _RENDERS[str(destination)] = render
    try:
        yield render
    finally:
        _RENDERS.pop(str(destination), None)


@dataclass(frozen=True)
class _Text:
    """Stands for a Jinja template whose render is already known."""

    text: str

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self.text


def _snapshot(worker: Any) -> Snapshot | None:
    try:
        answers = {k: v for k, v in worker.answers.combined.items() if not str(k).startswith("_")}
        return pickle.dumps(answers)
    except Exception:  # noqa: BLE001 - a value pickle cannot hold: nothing is reused or recorded
        return None


def install() -> None:
    """Wrap copier's Worker._render_file (a copier release without it is left alone)."""
    from copier import _main

    render_file = getattr(_main.Worker, "_render_file", None)
    if render_file is None:
        return

    @functools.wraps(render_file)
    def rendering_file(self: Any, src_relpath: Path, dst_relpath: Path, extra_context: Any = None) -> None:
        render = _RENDERS.get(str(self.dst_path))
        suffix = self.template.templates_suffix
        if render is None or not suffix or not src_relpath.name.endswith(suffix):  # copied, not rendered
            render_file(self, src_relpath, dst_relpath, extra_context)
            return
        source, destination = src_relpath.as_posix(), dst_relpath.as_posix()
        before = _snapshot(self)
        text = None if before is None or extra_context else render.text_of(source, destination, before)
        if text is None:
            render_file(self, src_relpath, dst_relpath, extra_context)
        else:
            _render_known(render_file, self, src_relpath, dst_relpath, text)
            render.reused += 1
        if render.base is not None or before is None:
            return  # theirs: nothing to record
        after = _snapshot(self)
        written = Path(self.subproject.local_abspath) / dst_relpath
        if after is not None and not written.is_symlink() and written.is_file():
            rendered = Rendered(source, written.read_bytes(), before, changed_context=after != before)
            render.written.setdefault(destination, []).append(rendered)

    setattr(_main.Worker, "_render_file", rendering_file)  # noqa: B010 - wrapping copier's method on purpose


def _render_known(render_file: Any, worker: Any, src_relpath: Path, dst_relpath: Path, text: str) -> None:
    """Copier's own _render_file, its template load answered with `text` (once: includes of other
    files, were there any, would load as usual)."""
    environment = worker.jinja_env
    name = src_relpath.as_posix()

    def get_template(template: Any, *args: Any, **kwargs: Any) -> Any:
        environment.__dict__.pop("get_template", None)
        if template != name:
            return environment.get_template(template, *args, **kwargs)
        render_cache.preprocessed(environment, "")  # what loading it does: copier's `{% yield %}` state reset
        return _Text(text)

    environment.get_template = get_template
    try:
        render_file(worker, src_relpath, dst_relpath, None)
    finally:
        environment.__dict__.pop("get_template", None)
