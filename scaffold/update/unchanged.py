"""Which template files of a new template version render exactly as the old version rendered them.

A three-way update renders the old version (base) and the new one (theirs) with the same answers.
Most files of a template do not change between two versions, and a file whose template is the same,
read with the same Jinja settings, fed the same values, renders the same bytes: theirs can take
base's bytes instead of rendering it again (scaffold.copier_reuse does that, for the files this
module vouches for). A file is vouched for only when all of these hold, checked on the sources:

- copier.yml's settings that shape rendering are equal in both versions (`_envops`, the suffix,
  `_exclude`, `_subdirectory`...; only the questions, messages and migrations may differ), and the
  template brings no Jinja extension and no task (their code could read or change anything);
- the file's bytes and mode are equal, and so is every file it includes, imports or extends,
  followed transitively; a template name computed at render time is not followed, so it disqualifies;
- neither it nor those files read a variable whose name starts with `_` (copier's own context:
  `_copier_conf` names the destination, `_copier_answers` the template's path and ref, `_folder_name`
  the destination's name: all differ between the two renders) nor anything random (`lipsum`, the
  `random` and `shuffle` filters).

What it reads is returned (the free variable names): the caller compares their values in the two
renders. The path a file renders to is not judged here: the caller reuses bytes only for the
destination the same source file wrote in base.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from scaffold.templates import load_config

# copier.yml settings that do not shape what a file renders to (questions are compared as values).
_NOT_RENDERING: Final = frozenset(
    {
        "_migrations",
        "_message_before_copy",
        "_message_after_copy",
        "_message_before_update",
        "_message_after_update",
        "_min_copier_version",
        "_skip_if_exists",  # decides whether an existing destination file is kept, not its bytes
    }
)
_RANDOM_NAMES: Final = frozenset({"lipsum"})
_RANDOM_FILTERS: Final = frozenset({"random", "shuffle"})


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if str(k).startswith("_") and k not in _NOT_RENDERING}


class Unchanged:
    """The files of `new` that render as in `old` given the same values of what they read."""

    def __init__(self, old: Path, new: Path) -> None:
        self.old, self.new = old, new
        self._reads: dict[str, frozenset[str] | None] = {}
        self.settings_equal = self._settings_equal()
        self._parser: Any = self._environment() if self.settings_equal else None

    def _settings_equal(self) -> bool:
        try:
            old, new = _settings(load_config(self.old)), _settings(load_config(self.new))
        except Exception:  # noqa: BLE001 - an unreadable copier.yml vouches for nothing
            return False
        return old == new and not new.get("_jinja_extensions") and not new.get("_tasks")

    def _environment(self) -> Any:
        """A Jinja environment that parses as copier's does (its delimiters and its `yield` tag)."""
        from copier._jinja_ext import YieldExtension
        from jinja2 import Environment

        envops = {k: v for k, v in dict(load_config(self.new).get("_envops") or {}).items() if k != "undefined"}
        return Environment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension", YieldExtension], **envops)

    def reads(self, name: str) -> frozenset[str] | None:
        """The free variables of template `name` (a path relative to the template root, as copier
        loads it) and of everything it pulls in, when it renders as in the old version given the same
        values of those; None when that is not proven."""
        if not self.settings_equal:
            return None
        if name not in self._reads:
            self._reads[name] = None  # a cycle of includes proves nothing
            self._reads[name] = self._analyse(name)
        return self._reads[name]

    def _analyse(self, name: str) -> frozenset[str] | None:
        try:
            return self._proven(name)
        except Exception:  # noqa: BLE001 - unreadable or unparsable: rendered, as copier would (and fail the same way)
            return None

    def _proven(self, name: str) -> frozenset[str] | None:
        from jinja2 import meta, nodes

        old, new = self.old / name, self.new / name
        if old.is_symlink() or new.is_symlink() or not (old.is_file() and new.is_file()):
            return None
        if old.stat().st_mode != new.stat().st_mode:
            return None
        source = new.read_bytes()
        if source != old.read_bytes():
            return None
        tree = self._parser.parse(source.decode("utf-8"))
        names = set(meta.find_undeclared_variables(tree))
        if any(n.startswith("_") for n in names) or names & _RANDOM_NAMES:
            return None
        if any(f.name in _RANDOM_FILTERS for f in tree.find_all(nodes.Filter)):
            return None
        if any(True for _ in tree.find_all(nodes.ExtensionAttribute)):  # copier's `{% yield %}`: refused in files
            return None
        for referenced in meta.find_referenced_templates(tree):
            if referenced is None:
                return None
            pulled = self.reads(referenced)
            if pulled is None:
                return None
            names |= pulled
        return frozenset(names)


@functools.cache
def between(old: Path, new: Path) -> Unchanged:
    """One analysis per pair of template checkouts per process (checkouts never change)."""
    return Unchanged(old, new)
