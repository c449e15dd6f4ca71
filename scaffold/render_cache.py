"""Jinja's compiled code for a template, made once per content and kept in scaffold's cache.

Copier builds a new Jinja environment for every render and compiles every template file, every
templated path and every question default again: about half of the time a render takes, the
same work for every service of the same template. Jinja has a place for exactly this, the
bytecode cache (a `BytecodeCache` keyed by the template's name and the checksum of its source, as
Jinja's own FileSystemBytecodeCache is); `Codes` is one, kept in one file per template
configuration, and it also serves the strings copier renders with `from_string` (paths, answers).

A code object is only valid for the environment that compiled it, so the file is named by
everything that shapes compilation: scaffold's fingerprint (which includes the versions of copier
and Jinja), the Python version, the template directory and its copier.yml (delimiters, envops,
extensions). Templates that bring their own Jinja extensions are never cached (their code is not
part of any key). The file is trusted as Python trusts its own `__pycache__`: it is the user's.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from hashlib import sha1
from pathlib import Path
from types import CodeType
from typing import Any, Final

from scaffold import cache

FORMAT: Final = 1
_MAGIC: Final = f"scaffold-codes {FORMAT} {sys.implementation.cache_tag} {sys.version}"


def _bytecode_cache_base() -> Any:
    from jinja2.bccache import BytecodeCache

    return BytecodeCache


class Codes:
    """Compiled templates of one template configuration: {key: (source checksum, marshalled code)}."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._entries: dict[str, tuple[str, bytes]] | None = None
        self._new: dict[str, tuple[str, bytes]] = {}
        self._loaded_codes: dict[tuple[str, str], CodeType] = {}  # unmarshalled once per process
        self._environment: Any = None  # the one Jinja environment of this configuration in this process
        self._loaded_in_render: set[str] = set()  # template names the current render has loaded
        self._strings: dict[str, Any] = {}  # from_string source -> its Template, in that environment

    def _loaded(self) -> dict[str, tuple[str, bytes]]:
        if self._entries is None:
            self._entries = {}
            with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
                magic, entries = marshal.loads(self.file.read_bytes())
                if magic == _MAGIC and isinstance(entries, dict):
                    self._entries = entries
        return self._entries

    def code(self, key: str, checksum: str) -> CodeType | None:
        """The compiled code of `key` with source `checksum` (a code object is immutable: every render
        of the process shares it, as Jinja's own in-memory cache shares its templates)."""
        known = self._loaded_codes.get((key, checksum))
        if known is not None:
            return known
        found = self._new.get(key) or self._loaded().get(key)
        if found is None or found[0] != checksum:
            return None
        with contextlib.suppress(ValueError, EOFError, TypeError):
            code = marshal.loads(found[1])
            if isinstance(code, CodeType):
                self._loaded_codes[(key, checksum)] = code
                return code
        return None

    def keep(self, key: str, checksum: str, code: CodeType) -> None:
        self._new[key] = (checksum, marshal.dumps(code))

    def save(self) -> None:
        """Write what was compiled in this process (merged with what another process may have saved)."""
        if not self._new or not cache.enabled():
            return
        self._entries = None
        entries = {**self._loaded(), **self._new}
        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=".codes-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(marshal.dumps((_MAGIC, entries)))
            os.replace(temporary, self.file)
            self._entries, self._new = entries, {}

    def bytecode_cache(self) -> Any:
        """A Jinja BytecodeCache backed by these codes."""
        codes = self

        class _Cache(_bytecode_cache_base()):  # type: ignore[misc]
            def load_bytecode(self, bucket: Any) -> None:
                bucket.code = codes.code(bucket.key, bucket.checksum)
                if bucket.code is not None:
                    preprocessed(bucket.environment, "")

            def dump_bytecode(self, bucket: Any) -> None:
                if bucket.code is not None:
                    codes.keep(bucket.key, bucket.checksum, bucket.code)

        return _Cache()

    def environment(self, make: Callable[[], Any]) -> Any:
        """The Jinja environment of this template configuration, made by `make` once per process.

        Copier makes an environment per render, so Jinja's own template cache never served a second
        service: every render read, resolved, checksummed and loaded every template again. Everything
        copier puts in it depends on the template configuration only (loader root, extensions,
        envops, its `to_json` filter and `pathjoin` global), which is what a `Codes` is per. The one
        thing a render did get from a new environment is `{% yield %}`'s reset when it first loads
        a template (copier relies on it between a path and its file): a template this render has not
        loaded yet gets that reset, cached or not. Called once per render (copier's Worker keeps it).
        """
        if self._environment is None:
            made = make()
            made.bytecode_cache = self.bytecode_cache()
            made.from_string = self.from_string(made)
            load = made._load_template

            def load_template(name: str, globals: Any) -> Any:
                if name not in self._loaded_in_render:
                    self._loaded_in_render.add(name)
                    preprocessed(made, "")
                return load(name, globals)

            made._load_template = load_template
            self._environment = made
        self._loaded_in_render.clear()
        return self._environment

    def from_string(self, environment: Any) -> Any:
        """`environment.from_string` compiling each distinct string once (as Jinja's own does, with
        the code looked up first), and making its Template once per environment."""

        def from_string(source: Any, globals: Any = None, template_class: Any = None) -> Any:
            if not isinstance(source, str):
                return type(environment).from_string(environment, source, globals, template_class)
            if globals is None and template_class is None and source in self._strings:
                preprocessed(environment, source)
                return self._strings[source]
            checksum = sha1(source.encode("utf-8")).hexdigest()
            key = f"from_string:{checksum}"
            code = self.code(key, checksum)
            if code is None:
                code = environment.compile(source)
                self.keep(key, checksum, code)
            else:
                preprocessed(environment, source)
            cls = template_class or environment.template_class
            made = cls.from_code(environment, code, environment.make_globals(globals), None)
            if globals is None and template_class is None and environment is self._environment:
                self._strings[source] = made
            return made

        return from_string


def preprocessed(environment: Any, source: str) -> None:
    """What compiling does besides compiling, for code not compiled again: the extensions' preprocess
    hooks run (copier's `{% yield %}` resets its state there, and copier relies on it between a path
    and its file; only copier's own extensions run here, as templates with their own are never cached)."""
    environment.preprocess(source)


_OPEN: dict[Path, Codes] = {}


def codes_for(template: Path, config: dict[str, Any]) -> Codes | None:
    """The codes of a template directory with its copier.yml `config`; None when not cacheable."""
    if config.get("_jinja_extensions") or not cache.enabled():
        return None
    copier_yml = next((template / n for n in ("copier.yml", "copier.yaml") if (template / n).is_file()), None)
    settings = copier_yml.read_bytes() if copier_yml is not None else b""
    name = cache.digest(cache.fingerprint(), _MAGIC, str(template.resolve()), settings)
    file = cache.directory() / "jinja" / f"{name}.codes"
    return _OPEN.setdefault(file, Codes(file))


def save_all() -> None:
    for codes in _OPEN.values():
        codes.save()
