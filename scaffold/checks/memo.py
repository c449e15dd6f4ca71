"""What `scaffold check` remembers: each check's findings, by the content of everything the check reads.

Most of a check's time goes to validators that give the same answer for the same input (Helm,
the Kubernetes schemas, hadolint, Compose, checkov), and in CI and at a desk most of an ecosystem
has not changed since the last check. So each check unit has a key, a sha256 over:

- `scaffold.cache.fingerprint()`: scaffold's own code (a changed check is a new key) and libraries;
- the check, its subject and environment, and the fields of ecosystem.yaml it uses;
- the validator's identity: the binary's path, size and modification time, or the installed
  versions of the Python validators (a reinstalled or upgraded validator is a new key);
- the environment variables the validator reads (`HELM_*`, `HADOLINT_*`, `CKV_*`, `DOCKER_*`, and
  the variables a compose file interpolates);
- the content of every file it reads: a chart's whole directory with its links followed (the
  umbrella's reach every service chart), the umbrella's values files, a Dockerfile with hadolint's
  configuration files, a compose file with its `.env`, its env files, includes and extended files,
  and whether the paths its watch rules name exist.

A unit with a key found in the store is not run: its findings (errors included) are given back as
they were. A unit whose reads cannot all be named (a compose file referring outside its
directory, a template source other than the built-in one) has no key and always runs, and so do
the cheap checks (ecosystem.yaml's rules, the derived files, a checkout's ignore rule). A result
that says the check itself failed (a crash, a timeout) is never kept. `--no-cache` neither reads
nor writes the store; `--clear-cache` empties it (docs/check.md).
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from scaffold import cache
from scaffold.checks.findings import ECOSYSTEM, Finding
from scaffold.checks.tools import Tools

STORE: Final = cache.Store("check", limit=20_000)
VALIDATOR_LIBRARIES: Final = ("helm-python-sdk", "kubernetes-validate", "referencing", "jsonschema-specifications")
ENVIRONMENT_PREFIXES: Final = {
    "chart": ("HELM_",),
    "dockerfile": ("HADOLINT_", "NO_COLOR"),
    "compose": ("DOCKER_",),
    "checkov": ("CKV_", "BC_", "CHECKOV_", "HELM_", "LOG_LEVEL"),
}
_VARIABLE: Final = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
ABSENT: Final = "absent"


class Inputs:
    """Digests of what checks read, each file read once per run (many checks read the same files)."""

    def __init__(self) -> None:
        self._files: dict[Path, str] = {}
        self._trees: dict[Path, str] = {}

    def file(self, path: Path) -> str:
        """The content's digest; ABSENT, or "directory" for what is not a file."""
        known = self._files.get(path)
        if known is None:
            try:
                known = cache.digest(path.read_bytes())
            except IsADirectoryError:
                known = "directory"
            except OSError:
                known = ABSENT
            self._files[path] = known
        return known

    def tree(self, directory: Path) -> str:
        """Every file under `directory`, links followed (as Helm follows them), with its relative path."""
        known = self._trees.get(directory)
        if known is None:
            parts: list[str] = []
            for relative, path in _walk(directory):
                parts += [relative, self.file(path)]
            known = self._trees[directory] = cache.digest(*parts) if parts else ABSENT
        return known

    @staticmethod
    def kind(path: Path) -> str:
        try:
            mode = path.stat().st_mode
        except OSError:
            return ABSENT
        return "directory" if stat.S_ISDIR(mode) else "file"


def _walk(directory: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of every file, sorted, following links to directories once each."""
    seen: set[str] = set()

    def visit(folder: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        real = os.path.realpath(folder)
        if real in seen:
            yield f"{prefix}(cycle)", folder
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            path = Path(entry.path)
            relative = f"{prefix}{entry.name}"
            if entry.is_symlink():
                yield f"{relative} -> {os.readlink(path)}", path
            if entry.is_dir():
                yield from visit(path, f"{relative}/")
            elif not entry.is_symlink():
                yield relative, path

    yield from visit(directory, "")


# --- who the validators are ------------------------------------------------------------------------------


def _binary(path: str | None) -> str:
    if path is None:
        return ABSENT
    try:
        real = os.path.realpath(path)
        info = os.stat(real)
    except OSError:
        return ABSENT
    return f"{real}:{info.st_size}:{info.st_mtime_ns}"


def _checkov(path: str | None) -> str:
    """The checkov script, and the version installed in its environment (the script is a small
    launcher: upgrading checkov in place need not touch it)."""
    if path is None:
        return ABSENT
    environment = Path(os.path.realpath(path)).parent.parent
    installed = sorted(p.name for p in environment.glob("lib/python*/site-packages/checkov-*.dist-info"))
    return f"{_binary(path)}:{','.join(installed)}"


@functools.cache
def _libraries() -> str:
    return ",".join(cache.installed(VALIDATOR_LIBRARIES)) or ABSENT


def validators(tools: Tools) -> dict[str, str]:
    """Each check's validator identity on this machine."""
    helm = f"helm={tools.helm},kubernetes={tools.kubernetes},{_libraries()}"
    return {
        "answers": "",
        "compose": _binary(tools.compose),
        "chart": helm,
        "dockerfile": _binary(tools.hadolint),
        "checkov": f"{_checkov(tools.checkov)},{helm}",
    }


def environment(check: str, names: Iterable[str] = ()) -> list[str]:
    """The values of the environment variables the check's validator reads (sorted, as key parts)."""
    prefixes = ENVIRONMENT_PREFIXES.get(check, ())
    wanted = {k for k in os.environ if k.startswith(prefixes)} | set(names)
    return [f"{name}={os.environ.get(name, '(unset)')}" for name in sorted(wanted)]


def hadolint_configs(dockerfile: Path) -> list[Path]:
    """Where hadolint looks for its configuration (beside the Dockerfile: the check's working directory)."""
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [
        dockerfile.parent / ".hadolint.yaml",
        dockerfile.parent / ".hadolint.yml",
        xdg / "hadolint.yaml",
        home / ".config" / "hadolint.yaml",
        home / ".hadolint" / "hadolint.yaml",
        home / "hadolint" / "hadolint.yaml",
        home / ".hadolint.yaml",
    ]


def checkov_configs() -> list[Path]:
    """checkov reads a .checkov.yaml from the working directory and the home directory."""
    places = (Path.cwd(), Path.home())
    return [place / name for place in places for name in (".checkov.yaml", ".checkov.yml")]


def docker_config() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


# --- what a compose file reads ----------------------------------------------------------------------------


@dataclass
class ComposeReads:
    """What `docker compose -f FILE config` reads of the disk, or None when it cannot all be named."""

    files: list[Path] = field(default_factory=list)  # read: their content matters
    paths: list[Path] = field(default_factory=list)  # looked at: whether they exist matters
    variables: set[str] = field(default_factory=set)


def compose_reads(file: Path, inside: Path, reads: ComposeReads | None = None, depth: int = 0) -> ComposeReads | None:
    """The files a compose file reads (itself, its .env, env files, includes, extended files) and the
    paths its watch rules name, when all of them lie inside `inside`; None otherwise."""
    import yaml

    reads = reads if reads is not None else ComposeReads()
    if depth > 8 or not _within(file, inside):
        return None
    reads.files += [file, file.parent / ".env"]
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return reads  # compose cannot read it either: its own content decides
    reads.variables |= set(_VARIABLE.findall(text))
    try:
        model = yaml.safe_load(text)
    except yaml.YAMLError:
        return reads
    if not isinstance(model, dict):
        return reads
    base = file.parent
    for included in _included(model.get("include")):
        if included is None:
            return None
        if compose_reads((base / included), inside, reads, depth + 1) is None:
            return None
    for service in (model.get("services") or {}).values() if isinstance(model.get("services"), dict) else ():
        if not isinstance(service, dict):
            continue
        for env_file in _env_files(service.get("env_file")):
            if env_file is None or not _within(base / env_file, inside):
                return None
            reads.files.append(base / env_file)
        extends = service.get("extends")
        extended = extends.get("file") if isinstance(extends, dict) else None
        if extended is not None and (
            not isinstance(extended, str) or compose_reads(base / extended, inside, reads, depth + 1) is None
        ):
            return None
        develop = service.get("develop")
        for rule in develop.get("watch") or [] if isinstance(develop, dict) else []:
            path = rule.get("path") if isinstance(rule, dict) else None
            if isinstance(path, str):
                if not _within(base / path, inside):
                    return None
                reads.paths.append(base / path)
    return reads


def _within(path: Path, inside: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(inside))
    except OSError:
        return False


def _included(value: Any) -> Iterator[str | None]:
    for item in value if isinstance(value, list) else [] if value is None else [value]:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict) and isinstance(item.get("path"), str) and set(item) <= {"path"}:
            yield item["path"]
        else:
            yield None  # several paths, env files, project directories: not followed


def _env_files(value: Any) -> Iterator[str | None]:
    for item in value if isinstance(value, list) else [] if value is None else [value]:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            yield item["path"]
        else:
            yield None


# --- keeping and giving back ------------------------------------------------------------------------------


def finding_data(finding: Finding) -> list[Any]:
    return [finding.severity, finding.message, finding.file, finding.line, finding.column, finding.rule]


def finding_from(data: list[Any]) -> Finding:
    severity, message, file, line, column, rule = data
    return Finding(severity, message, file, line, column, rule)


class Keys:
    """The key of each check unit of one run (None: the unit is not cached)."""

    def __init__(self, root: Path, ecosystem_name: str, namespaces: dict[str, str], tools: Tools) -> None:
        self.root = root
        self.ecosystem = ecosystem_name
        self.namespaces = namespaces  # environment -> namespace
        self.inputs = Inputs()
        self.validators = validators(tools)

    def _key(self, check: str, names: Iterable[str], *parts: str) -> str:
        return cache.digest(cache.fingerprint(), check, self.validators[check], *environment(check, names), *parts)

    def _files(self, paths: Iterable[Path]) -> list[str]:
        """(where, digest) of each file: relative to the meta-project when inside it, so that a copy of
        it elsewhere (another clone, another CI runner's directory) finds what this one remembered."""
        return [part for path in paths for part in (self._where(path), self.inputs.file(path))]

    def _where(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)

    def _values(self, subject: str, environment: str, services: list[str]) -> str:
        """The values the chart is checked with in the environment (charts.service_values or, for the
        umbrella, charts.umbrella_values), with what reading them found: not the whole values files,
        so a change to one service's section reruns that service's checks only."""
        import json

        from scaffold.checks import charts

        if subject == ECOSYSTEM:
            values, found = charts.umbrella_values_of(self.root, services, environment)
        else:
            values, found = charts.service_values(self.root, environment, subject)
        text = json.dumps([values, [finding_data(f) for f in found]], sort_keys=True, default=str)
        return cache.digest(text)

    def answers(self, subject: str, kind: str, path: str, source: str, version: str, held: str) -> str | None:
        """`held`: what ecosystem.yaml says of the answers it holds too (checks.answers.held_by_ecosystem)."""
        from scaffold.templates import BUILTIN, store_file

        if source != BUILTIN:
            return None  # the version may be looked for in the source's repository
        files = [self.root / path / ".copier-answers.yml", self.root / store_file(BUILTIN)]
        return self._key("answers", (), subject, kind, path, source, version, held, *self._files(files))

    def compose(self, subject: str, file: Path, inside: Path) -> str | None:
        reads = compose_reads(file, inside)
        if reads is None:
            return None
        looked = [part for path in reads.paths for part in (self._where(path), self.inputs.kind(path))]
        files = [*reads.files, docker_config()]
        # Compose names the project after its directory and may print absolute paths: the place counts.
        return self._key("compose", reads.variables, subject, str(file), *self._files(files), *looked)

    def chart(self, subject: str, chart: str, environment: str, services: list[str]) -> str:
        """A chart linted and rendered with the umbrella's values in one environment."""
        namespace = self.namespaces[environment]
        tree = self.inputs.tree(self.root / chart)
        values = self._values(subject, environment, services)
        return self._key("chart", (), subject, chart, environment, namespace, self.ecosystem, tree, values)

    def dockerfile(self, subject: str, dockerfile: Path) -> str:
        return self._key("dockerfile", (), subject, *self._files([dockerfile, *hadolint_configs(dockerfile)]))

    def checkov(self, subject: str, dockerfile: Path | None, chart: str, services: list[str]) -> str:
        """A subject's Dockerfile and its chart rendered in every environment, scanned by checkov."""
        rendered = [
            f"{env}={namespace}:{self._values(subject, env, services)}"
            for env, namespace in sorted(self.namespaces.items())
        ]
        tree = self.inputs.tree(self.root / chart)
        files = [*([dockerfile] if dockerfile else []), *checkov_configs()]
        return self._key("checkov", (), subject, chart, self.ecosystem, tree, *rendered, *self._files(files))


def recall(key: str | None) -> Any | None:
    return STORE.get(key) if key is not None else None


def keep(key: str | None, value: Any) -> None:
    if key is not None:
        STORE.put(key, value)
