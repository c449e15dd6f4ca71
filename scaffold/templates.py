"""Where templates come from, which versions exist, and how a service is rendered from one.

A template *source* is `builtin` (the templates shipped inside scaffold) or a git repository (URL
or absolute path) with version tags, laid out like this project's `templates/`. A template
*version* is a tagged commit. Every meta-project keeps the versions its services use in
`.scaffold/templates/<source>.bundle` (a git bundle, committed), so any clone of it can later
render the version a service was made from, which a three-way update needs, whatever scaffold
release or machine it runs on. The design and its reasons: docs/template-updates.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from packaging.version import Version

from scaffold import __version__
from scaffold.errors import NotFoundError, ScaffoldError, UsageError
from scaffold.model import TemplateRef
from scaffold.template_repo import (
    BareRepo,
    GitError,
    bundle_tags,
    cache_dir,
    checkout,
    parse_version,
    publish,
    remote_tags,
    template_files,
    write_atomically,
)

if TYPE_CHECKING:
    from scaffold.render_process import RenderProcess

BUILTIN: Final = "builtin"
ANSWERS_FILE: Final = ".copier-answers.yml"
TEMPLATE_VERSION: Final = __version__
STORE_DIR: Final = ".scaffold/templates"


@dataclass(frozen=True)
class TemplateVersion:
    version: str  # as ecosystem.yaml records it, e.g. "0.2.0"
    tag: str  # the git tag, e.g. "v0.2.0"
    commit: str
    origin: str  # where its commit can be fetched from: a bundle file or the source repository


def builtin_templates_dir() -> Path:
    package = Path(__file__).resolve().parent
    for candidate in (package / "_templates", package.parent / "templates"):
        if (candidate / "copier.yml").is_file():
            return candidate
    raise ScaffoldError("The built-in templates are missing from this installation.", "Reinstall scaffold.")


def builtin_ref() -> TemplateRef:
    return TemplateRef(source=BUILTIN, version=TEMPLATE_VERSION)


def tag_of(version: str) -> str:
    return f"v{version}"


def _content_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for relative in template_files(directory):
        digest.update(relative.encode() + b"\0")
        path = directory / relative
        digest.update((os.readlink(path).encode() if path.is_symlink() else path.read_bytes()) + b"\0")
    return digest.hexdigest()[:12]


def builtin_bundle() -> tuple[Path, str]:
    """(bundle file, commit id) of the shipped templates as version TEMPLATE_VERSION, made once per content."""
    return _builtin_bundle(cache_dir(), _builtin_content())


@cache
def _builtin_content() -> str:
    """The shipped templates' content hash, once per process (they do not change while it runs)."""
    return _content_hash(builtin_templates_dir())


@cache
def _builtin_bundle(cache: Path, content: str) -> tuple[Path, str]:
    folder = builtin_templates_dir()
    target = cache / "builtin" / f"v{TEMPLATE_VERSION}-{content}.bundle"
    if not target.is_file():
        scratch = Path(tempfile.mkdtemp(prefix="scaffold-builtin-"))
        try:
            repo = BareRepo(scratch / "repo.git")
            commit = repo.commit_folder(folder, f"scaffold templates {TEMPLATE_VERSION}")
            write_atomically(target, repo.bundle({tag_of(TEMPLATE_VERSION): commit}))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target, bundle_tags(target)[tag_of(TEMPLATE_VERSION)]


def builtin_repository() -> Path:
    """A git repository (with a work tree) of the shipped templates tagged `v<version>`, cached."""
    bundle, commit = builtin_bundle()
    target = bundle.with_suffix(".git")
    if not (target / ".git").is_dir():
        from scaffold.template_repo import git

        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        git("clone", "--quiet", str(bundle), str(staging / "repo"))
        git("checkout", "--quiet", "--detach", commit, cwd=staging / "repo")
        publish(staging / "repo", target)
        shutil.rmtree(staging, ignore_errors=True)
    return target


def store_file(source: str) -> str:
    """Where a meta-project keeps the versions of `source`, relative to its root."""
    if source == BUILTIN:
        return f"{STORE_DIR}/builtin.bundle"
    stem = re.sub(r"[^a-z0-9]+", "-", source.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1].lower()).strip("-")
    return f"{STORE_DIR}/{stem or 'templates'}-{hashlib.sha256(source.encode()).hexdigest()[:8]}.bundle"


def src_path_for(source: str, location: str) -> str:
    """What `_src_path` records for a service at `location` (relative to the meta-project root).

    A custom source is recorded as given (an URL or absolute path), so plain `copier update` uses it.
    The built-in templates are recorded as the path from the service to the meta-project's bundle:
    it is the same on every clone, and `copier update` run in the service's directory finds it.
    """
    if source != BUILTIN:
        return source
    return os.path.relpath(store_file(BUILTIN), location).replace(os.sep, "/")


def normalise_source(source: str) -> str:
    """A local path becomes absolute (copier cannot update from a relative one); URLs stay."""
    if "://" in source or re.match(r"^[\w.-]+@[\w.-]+:", source) or source == BUILTIN:
        return source
    return str(Path(source).expanduser().resolve())


class Library:
    """The versions of one template source a command can use.

    Versions come from the meta-project's store first (they are immutable once recorded there),
    then from the shipped templates (builtin) or the source repository. Nothing is fetched until a
    version's content is needed, and checkouts are shared through the user's cache.
    """

    def __init__(self, source: str, root: Path | None, *, remote: bool) -> None:
        self.source = source
        self.root = root
        self.reachable = source == BUILTIN or remote  # all its versions are known, not only the stored ones
        self.versions: dict[str, TemplateVersion] = {}
        self.stored: dict[str, str] = {}  # tag -> commit already in the meta-project's store
        store = root / store_file(source) if root else None
        if store is not None and store.is_file():
            self.stored = bundle_tags(store)
            self._add(self.stored, str(store))
        if source == BUILTIN:
            bundle, commit = builtin_bundle()
            self._add({tag_of(TEMPLATE_VERSION): commit}, str(bundle))
        elif remote:
            try:
                self._add(remote_tags(source), source)
            except GitError:
                raise NotFoundError(
                    f"The template source {source} cannot be read.",
                    "Check the URL or path and your access to it (`git ls-remote --tags SOURCE`).",
                ) from None

    def _add(self, tags: Mapping[str, str], origin: str) -> None:
        for tag, commit in tags.items():
            parsed = parse_version(tag)
            if parsed is not None and str(parsed) not in self.versions:
                self.versions[str(parsed)] = TemplateVersion(str(parsed), tag, commit, origin)

    def find(self, version: str) -> TemplateVersion | None:
        """The version `version` names, compared as a version: 3, v3 and 3.0.0 are one."""
        parsed = parse_version(version)
        if parsed is None:
            return None
        return next((v for v in self.versions.values() if parse_version(v.version) == parsed), None)

    def require(self, version: str) -> TemplateVersion:
        found = self.find(version)
        if found is None:
            known = ", ".join(sorted(self.versions, key=_parsed)) or "none"
            raise NotFoundError(
                f"Template version {version} of {self.source} is not available (known: {known}).",
                "Commit .scaffold/templates/ of the meta-project, or upgrade scaffold to a release that has it.",
            )
        return found

    def latest(self) -> TemplateVersion | None:
        final = [v for v in self.versions.values() if not _parsed(v.version).is_prerelease]
        return max(final, key=lambda v: _parsed(v.version)) if final else None

    def directory(self, version: TemplateVersion) -> Path:
        """A directory holding the content of `version`, for copier to render from."""
        if self.source == BUILTIN and version.commit == builtin_bundle()[1]:
            return builtin_templates_dir()
        cached = cache_dir() / "checkouts" / version.commit
        if cached.is_dir():
            return cached
        with _scratch_repo() as repo:
            _fetch(repo, version)
            return checkout(repo, version.commit)

    def store_with(self, versions: list[TemplateVersion]) -> bytes | None:
        """The store's new bytes holding what it had plus `versions`; None when nothing is new."""
        wanted = dict(self.stored)
        for version in versions:
            wanted.setdefault(version.tag, version.commit)
        if wanted == self.stored:
            return None
        with _scratch_repo() as repo:
            for tag in sorted(wanted):
                _fetch(repo, self.versions[str(_parsed(tag))])
            return repo.bundle(wanted)


def _parsed(version: str) -> Version:
    parsed = parse_version(version)
    if parsed is None:
        raise UsageError(f"'{version}' is not a version.", "Versions look like 1.2.0 (PEP 440).")
    return parsed


class _scratch_repo:  # noqa: N801 - used as a context manager
    def __enter__(self) -> BareRepo:
        self._path = Path(tempfile.mkdtemp(prefix="scaffold-templates-"))
        return BareRepo(self._path / "repo.git")

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self._path, ignore_errors=True)


def _fetch(repo: BareRepo, version: TemplateVersion) -> None:
    try:
        repo.run(
            "fetch", "--quiet", "--no-tags", "--", version.origin, f"+refs/tags/{version.tag}:refs/tags/{version.tag}"
        )
    except GitError:
        raise NotFoundError(
            f"Template version {version.version} cannot be fetched from {version.origin}.",
            "Check that the template source is reachable, or restore .scaffold/templates/ from git.",
        ) from None


@cache
def library(source: str, root: Path | None, remote: bool = False) -> Library:
    return Library(source, root, remote=remote)


def resolve(ref: TemplateRef, root: Path | None = None) -> tuple[Library, TemplateVersion]:
    """The library and version of a template reference (looking in the source only when needed)."""
    lib = library(ref.source, root)
    found = lib.find(ref.version)
    if found is None and ref.source != BUILTIN:
        lib = library(ref.source, root, remote=True)
    return lib, lib.require(ref.version)


def template_dir(ref: TemplateRef, root: Path | None = None) -> Path:
    lib, version = resolve(ref, root)
    return lib.directory(version)


def latest_ref(source: str, root: Path | None = None) -> TemplateRef:
    """The newest version of a source (for `init`): the shipped one, or the source's newest tag."""
    if source == BUILTIN:
        return builtin_ref()
    newest = library(source, root, remote=True).latest()
    if newest is None:
        raise NotFoundError(
            f"The template source {source} has no version tags.",
            "Tag a release of the templates, e.g. `git tag v1.0.0`, then run again.",
        )
    return TemplateRef(source=source, version=newest.version)


def service_ref(root: Path, ecosystem_template: TemplateRef) -> TemplateRef:
    """What a new service is rendered from: the shipped templates, or the meta-project's own source
    at the meta-project's version (so that every kind comes from one consistent release)."""
    if ecosystem_template.source == BUILTIN:
        return builtin_ref()
    return ecosystem_template


def store_update(root: Path | None, ref: TemplateRef) -> tuple[str, bytes] | None:
    """(path, bytes) of the store with `ref`'s version added, or None when it is already there."""
    lib, version = resolve(ref, root)
    content = lib.store_with([version])
    return (store_file(ref.source), content) if content is not None else None


def is_trusted(source: str, trust: bool) -> bool:
    return source == BUILTIN or trust


def unsafe_features(config: Mapping[str, object]) -> list[str]:
    """What in a template's copier.yml runs code on the user's machine."""
    return [name for key, name in (("_tasks", "tasks"), ("_jinja_extensions", "Jinja extensions")) if config.get(key)]


@cache
def load_config(directory: Path) -> dict[str, Any]:
    """A template's copier.yml (read once per process: template checkouts never change; with libyaml
    when PyYAML has it, ten times faster than the pure-Python parser)."""
    import yaml

    for name in ("copier.yml", "copier.yaml"):
        path = directory / name
        if path.is_file():
            loaded = (
                yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
            )
            if isinstance(loaded, dict):
                return loaded
    raise UsageError(f"{directory} has no copier.yml.", "A template source needs a copier.yml at its root.")


def record_source(answers_file: Path, src_path: str, commit: str) -> None:
    """Write the template source and tag into a rendered answers file, as copier does for a git source."""
    import yaml

    text = answers_file.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    answers = yaml.safe_load(text)
    answers["_commit"] = commit
    answers["_src_path"] = src_path
    body = yaml.safe_dump(answers, indent=4, allow_unicode=True, default_flow_style=False, sort_keys=True)
    answers_file.write_text(header + body, encoding="utf-8")


_PLAIN_TEMPLATES: set[str] = set()  # template folders scaffold knows are not git repositories
_FRESH_DESTINATIONS: set[str] = set()  # render destinations scaffold just created (nothing tracked in them)
_CODES: dict[str, Any] = {}  # resolved template folder -> its render_cache.Codes
_CHECKED_OUT: set[str] = set()  # the resolved folders of _PLAIN_TEMPLATES (scaffold.copier_memo)


@cache
def _quiet_copier() -> None:
    """Spare copier work whose result scaffold already knows, the output staying byte for byte the same.

    copier asks git whether a local template folder is a repository or a bundle (two processes,
    about 60 ms a render), and, for every file it renders, whether the destination's git index must
    learn an executable bit (a process a file, about 8 ms). For scaffold's checkouts the first answer
    is "no", and in a destination scaffold just created nothing is tracked, so the second is "no"
    too. And copier compiles every template again in each render's new Jinja environment: that
    environment gets the compiled code of earlier renders (scaffold.render_cache); it rebuilds the
    same context and parses the same copier.yml again and again (scaffold.copier_memo). The result is
    what copier writes from the git source (tests/test_templates.py compares them), only without a
    few hundred processes per update and most of the compiling. Any other use goes to copier
    unchanged, and a copier release without these internals is simply left alone.
    """
    import functools

    from copier import _main, _template

    from scaffold import copier_memo, copier_reuse

    copier_memo.install(_CHECKED_OUT)
    copier_reuse.install()
    get_repo = getattr(_template, "get_repo", None)
    sync = getattr(_main.Worker, "_sync_git_index_executable_bit", None)
    environment = _main.Worker.__dict__.get("jinja_env")
    if get_repo is None or sync is None or not isinstance(environment, functools.cached_property):
        return

    def known_get_repo(url: str) -> str | None:
        return None if url in _PLAIN_TEMPLATES else get_repo(url)

    def known_sync(worker: Any, dst_relpath: Path, src_mode: int) -> None:
        if str(worker.dst_path) not in _FRESH_DESTINATIONS:
            sync(worker, dst_relpath, src_mode)

    def compiled_once(worker: Any) -> Any:
        codes = _CODES.get(str(Path(worker.template.local_abspath).resolve()))
        if codes is None:
            return environment.func(worker)
        return codes.environment(lambda: environment.func(worker))

    cached_environment = functools.cached_property(compiled_once)
    cached_environment.__set_name__(_main.Worker, "jinja_env")
    setattr(_template, "get_repo", known_get_repo)  # noqa: B010 - replacing a module attribute on purpose
    setattr(_main.Worker, "_sync_git_index_executable_bit", known_sync)  # noqa: B010
    setattr(_main.Worker, "jinja_env", cached_environment)  # noqa: B010


def copy_from(
    directory: Path,
    destination: Path,
    answers: Mapping[str, object],
    *,
    tag: str,
    trusted: bool,
    overwrite: bool = False,
) -> None:
    """Render a template directory with copier (no clone: `directory` is a checkout of `tag`)."""
    import copier
    from copier.errors import CopierError, UnsafeTemplateError

    from scaffold import render_cache

    _quiet_copier()
    if not (directory / ".git").exists() and not directory.is_file():
        _PLAIN_TEMPLATES.add(str(directory))
        _CHECKED_OUT.add(str(directory.resolve()))
        codes = render_cache.codes_for(directory, load_config(directory))
        if codes is not None:
            _CODES[str(directory.resolve())] = codes
    if not destination.exists():
        _FRESH_DESTINATIONS.add(str(destination))
    try:
        copier.run_copy(
            str(directory),
            str(destination),
            data=dict(answers),
            vcs_ref=tag,
            defaults=True,
            overwrite=overwrite,
            quiet=True,
            unsafe=trusted,
        )
    except UnsafeTemplateError as err:
        features = str(err).splitlines()[0].rstrip(".")
        raise UsageError(
            f"The template runs code on this machine ({features}).", "Pass --trust if you trust it."
        ) from None
    except (CopierError, ValueError) as err:
        raise ScaffoldError(f"Rendering the template failed: {err}", "Check the --data values.") from None
    render_cache.save_all()


def render(
    ref: TemplateRef,
    destination: Path,
    answers: Mapping[str, object],
    *,
    root: Path | None = None,
    location: str | None = None,
    trust: bool = False,
) -> None:
    """Render `ref` into `destination` (which must not exist yet) with copier; in the render process
    when the command started one (scaffold.render_process), else here."""
    with rendering(ref, destination, answers, root=root, location=location, trust=trust) as pending:
        pending.wait()


@dataclass
class PendingRender:
    """A render begun by `rendering`: `wait()` gives its outcome (raises its error)."""

    process: RenderProcess | None
    here: Callable[[], None]  # the render, for when no process was started
    done: bool = False

    def wait(self) -> None:
        self.done = True
        if self.process is not None:
            self.process.wait()
        else:
            self.here()


@contextmanager
def rendering(
    ref: TemplateRef,
    destination: Path,
    answers: Mapping[str, object],
    *,
    root: Path | None = None,
    location: str | None = None,
    trust: bool = False,
) -> Iterator[PendingRender]:
    """Begin rendering `ref` into `destination`, so that the command's work inside the block runs while
    the render process renders (without one, the render happens in `wait()`). Leaving the block without
    waiting (an error in the command's own work) stops the render before the caller removes its
    destination."""
    from scaffold import render_process

    process = render_process.take()
    options = {"root": root, "location": location, "trust": trust}
    if process is not None:
        process.send(_render_here, (ref, destination, dict(answers)), options)
    here = partial(_render_here, ref, destination, answers, root=root, location=location, trust=trust)
    pending = PendingRender(process, here)
    try:
        yield pending
    finally:
        if process is not None and not pending.done:
            process.close()


def _render_here(
    ref: TemplateRef,
    destination: Path,
    answers: Mapping[str, object],
    *,
    root: Path | None = None,
    location: str | None = None,
    trust: bool = False,
) -> None:
    """Render `ref` into `destination` (which must not exist yet) with copier.

    The template is rendered from a checkout of its version (for the built-in templates, the
    shipped folder itself whenever it is that version's content), and the answers file then records
    the stable source and the tag, which is exactly what copier writes when it renders from the git
    source (tests/test_templates.py compares them), without cloning a repository on every run.
    `location` is where the result will live in the meta-project ("." for the meta-project itself).
    """
    lib, version = resolve(ref, root)
    directory = lib.directory(version)
    risky = [] if is_trusted(ref.source, trust) else unsafe_features(load_config(directory))
    if risky:
        raise UsageError(
            f"The template {ref.source} runs code on this machine ({' and '.join(risky)}).",
            "Pass --trust if you trust its source.",
        )
    copy_from(directory, destination, answers, tag=version.tag, trusted=is_trusted(ref.source, trust))
    if location is None:
        location = "." if answers.get("kind") == "ecosystem" else f"services/{answers['name']}"
    record_source(destination / answers_file(directory), src_path_for(ref.source, location), version.tag)


def answers_file(directory: Path) -> str:
    """The answers file a template writes (copier's `_answers_file`, `.copier-answers.yml` by default)."""
    if directory == builtin_templates_dir():
        return ANSWERS_FILE
    return str(load_config(directory).get("_answers_file") or ANSWERS_FILE)


def with_template(text: bytes, ref: TemplateRef) -> bytes:
    """ecosystem.yaml's bytes recording `ref` as the meta-project's template (a custom template
    renders it as it likes; scaffold makes it name the real source and version)."""
    from scaffold import ecosystem_file

    document = ecosystem_file.parse(text.decode("utf-8"))
    if document.model.template == ref:
        return text
    template = document.tree.get("template")
    if not isinstance(template, dict):
        raise UsageError("The template's ecosystem.yaml has no 'template' mapping.", "Fix the template.")
    template["source"] = ref.source
    template["version"] = ref.version
    return ecosystem_file.dump(document.tree)


def adopt(root: Path, ref: TemplateRef) -> None:
    """Make a freshly rendered meta-project record its template: the store bundle with `ref`'s
    version, and `template:` in ecosystem.yaml."""
    from scaffold import ecosystem_file

    update = store_update(None, ref)
    if update is not None:
        write_atomically(root / update[0], update[1])
    path = root / ecosystem_file.FILE_NAME
    path.write_bytes(with_template(path.read_bytes(), ref))
