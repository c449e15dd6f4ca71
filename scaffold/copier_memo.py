"""Copier work that is the same on every call, done once: for a fleet update, per render and per file.

Profiling `scaffold update --all` (issue 16) showed copier, not scaffold, spending most of each
service's time, and most of that repeating itself:

- For every path part of every template file (about 280 per render of a backend) copier rebuilds
  the Jinja context from scratch: it merges its answer layers into a new dict, filters them into the
  answers it will remember, and renders the answers file's name again (a Jinja render with a full
  context of its own) to compare it with the part. While a template is being rendered the answers
  are settled (the questionnaire is over), so these are the same every time: a quarter of a render.
- Each render parses the template's copier.yml again with PyYAML's pure-Python loader (copier's own
  loader, with `!include`): a tenth of a render, the same result for every service.

So, only for template folders scaffold itself checked out (immutable: a version's checkout never
changes; see templates._PLAIN_TEMPLATES) and only while copier renders files: the answers file's
name is rendered once per render, the answer layers merged and filtered once per render, and every
caller still gets a new dict holding the same values (what copier hands out, so a template that
mutates what it is given sees what it would have seen); copier.yml is parsed once per process and
each render gets its own deep copy. The output is byte for byte copier's (tests/test_templates.py
compares a render with `copier copy`); a copier release without these internals is left alone.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from scaffold import render_cache

_RENDERING: dict[int, dict[str, Any]] = {}  # id(worker or its answers) -> what is settled while it renders files
_CONFIGS: dict[str, Any] = {}  # copier.yml path -> copier's parse of it


def install(plain_templates: set[str]) -> None:
    """Patch copier's Worker and template loader; `plain_templates` holds the resolved folders
    scaffold checked out (their copier.yml is read once)."""
    from copier import _main, _template, _user_data

    worker = _main.Worker
    render_template = getattr(worker, "_render_template", None)
    remember = getattr(worker, "_answers_to_remember", None)
    relpath = worker.__dict__.get("answers_relpath")
    combined = _user_data.AnswersMap.__dict__.get("combined")
    load_config = getattr(_template, "load_template_config", None)
    if (
        render_template is None
        or remember is None
        or not isinstance(relpath, property)
        or relpath.fget is None
        or not isinstance(combined, property)
        or combined.fget is None
        or load_config is None
    ):
        return
    answers_relpath, merged = relpath.fget, combined.fget

    @functools.wraps(render_template)
    def rendering(self: Any) -> None:
        if str(Path(self.template.local_abspath).resolve()) not in plain_templates:
            render_template(self)
            return
        _RENDERING[id(self)] = {}
        _RENDERING[id(self.answers)] = {}
        try:
            render_template(self)
        finally:
            _RENDERING.pop(id(self), None)
            _RENDERING.pop(id(self.answers), None)

    def settled(self: Any, key: str, compute: Any) -> Any:
        memo = _RENDERING.get(id(self))
        if memo is None:
            return compute(self)
        if key not in memo:
            memo[key] = compute(self)
        return memo[key]

    @functools.wraps(remember)
    def answers_to_remember(self: Any) -> Any:
        return dict(settled(self, "remember", remember))

    def settled_relpath(self: Any) -> Path:
        memo = _RENDERING.get(id(self))
        if memo is not None and "relpath" in memo:
            # Copier compiled the name again here, which reset its `{% yield %}` state on the way.
            render_cache.preprocessed(self.jinja_env, "")
        return settled(self, "relpath", answers_relpath)  # type: ignore[no-any-return]

    def combined_answers(self: Any) -> Any:
        return dict(settled(self, "combined", merged))

    @functools.wraps(load_config)
    def load_template_config(conf_path: Path, quiet: bool = False) -> Any:
        if str(Path(conf_path).parent) not in plain_templates:
            return load_config(conf_path, quiet)
        key = f"{conf_path}\0{quiet}"
        if key not in _CONFIGS:
            _CONFIGS[key] = load_config(conf_path, quiet)
        return copy.deepcopy(_CONFIGS[key])

    setattr(worker, "_render_template", rendering)  # noqa: B010 - replacing copier's method on purpose
    setattr(worker, "_answers_to_remember", answers_to_remember)  # noqa: B010
    setattr(worker, "answers_relpath", property(settled_relpath, doc=relpath.__doc__))  # noqa: B010
    setattr(_user_data.AnswersMap, "combined", property(combined_answers, doc=combined.__doc__))  # noqa: B010
    setattr(_template, "load_template_config", load_template_config)  # noqa: B010
