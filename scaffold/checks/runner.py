"""Which checks `scaffold check` runs, running them in parallel, and their results in a stable order.

The work is split into units (a chart is linted and rendered once per environment, each a unit)
and run by a pool of worker processes, one per CPU, the longest first. Processes, not threads:
helm-python-sdk runs one Helm call at a time per process whatever the number of threads, and
parsing rendered YAML and validating it against the Kubernetes schemas is Python holding the
interpreter lock (docs/check.md has the measurements). Units are plain functions with picklable
arguments; the parent never loads Helm's Go runtime, so forking workers is safe. The findings of
a check's units are merged into one CheckRun, a problem seen in every environment once.

A unit whose inputs have not changed since a check remembered its findings is not run: its
findings are given back from scaffold.checks.memo (the key, the store, what is never cached).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Final

from scaffold import cache, ecosystem_file
from scaffold.checks import answers, api_documents, charts, checkov, compose, derived, dockerfile, memo, source
from scaffold.checks.findings import ECOSYSTEM, CheckRun, Finding, merge_environments, ran, skipped
from scaffold.checks.helm import native_logs_quiet
from scaffold.checks.tools import Tools, discover, install_hint
from scaffold.ecosystem_file import FILE_NAME
from scaffold.model import Ecosystem, Service
from scaffold.progress import Progress
from scaffold.wiring import gateway_auth

TARGETS_PER_CHECKOV_RUN: Final = 4
# checkov keeps what it scans: about 200 MB to start and 10 MB more per target (measured at 4 and 20
# targets), so a run of a 500-service ecosystem's half would take gigabytes. No run scans more.
MAX_TARGETS_PER_CHECKOV_RUN: Final = 16
CHECKS: Final = (
    "ecosystem.yaml",
    "derived",
    "files",
    "answers",
    "api",
    "compose",
    "chart",
    "dockerfile",
    "checkov",
)
TOOL_NAMES: Final = {
    "ecosystem.yaml": "scaffold's rules (ecosystem.schema.json + rules between fields)",
    "derived": "scaffold sync --dry-run",
    "files": "the service's directory",
    "answers": "copier answers + template version",
    "api": "the backends' openapi.json against each other",
    "compose": "docker compose config -q",
    "chart": "helm lint --strict, helm template, Kubernetes 1.30 schemas",
    "dockerfile": "hadolint --failure-threshold warning",
    "checkov": "checkov --framework dockerfile kubernetes",
}
HINTS: Final = {
    "ecosystem.yaml": ecosystem_file.FIX_HINT,
    "derived": derived.SYNC_HINT,
    "files": (
        "Restore the service's directory from git (a service with its own `repository` is cloned by "
        "`scaffold update NAME`, and its path belongs in .gitignore), or `scaffold remove NAME` to unwire it."
    ),
    "answers": "Restore .copier-answers.yml from git; it must name the template version ecosystem.yaml names.",
    "api": (
        "Give one of the two schemas another name (or the same definition), or move the path; the gateway's "
        "API document (/api/docs) merges every backend's."
    ),
    "compose": "Fix the compose file; `docker compose config` shows the resolved model.",
    "chart": "Fix the chart or the environment values (environments.<env>.values in ecosystem.yaml).",
    "dockerfile": "Fix the Dockerfile; see hadolint's rule (e.g. DL3008) for why.",
    "checkov": "Fix the finding, or skip the check in the file with a reason (checkov:skip=ID:why).",
}


@dataclass(frozen=True)
class Part:
    """What a unit gives back about one subject's check (in one environment, or None for all)."""

    subject: str
    check: str
    environment: str | None
    findings: list[Finding]
    objects: list[charts.ObjectKey] = field(default_factory=list)  # what a chart rendered, for clashes

    def data(self) -> dict[str, Any]:
        """As the memo keeps it (JSON)."""
        return {
            "subject": self.subject,
            "check": self.check,
            "environment": self.environment,
            "findings": [memo.finding_data(f) for f in self.findings],
            "objects": [list(o) for o in self.objects],
        }

    @staticmethod
    def of(data: dict[str, Any]) -> Part:
        objects: list[charts.ObjectKey] = [(str(k), str(n), str(m)) for k, n, m in data["objects"]]
        findings = [memo.finding_from(f) for f in data["findings"]]
        return Part(data["subject"], data["check"], data["environment"], findings, objects)

    @property
    def failed_itself(self) -> bool:
        """The validator did not give an answer (a crash, a timeout): never remembered."""
        return any(f.message.startswith(FAILED_ITSELF) for f in self.findings)


@dataclass(frozen=True)
class _Unit:
    cost: float  # rough seconds, to start the longest first
    work: Callable[[], list[Part]]
    keys: dict[str, str | None] = field(default_factory=dict)  # subject -> memo key of its part


FAILED_ITSELF: Final = "the check itself failed"


def _failure(err: Exception) -> Finding:
    return Finding("error", f"{FAILED_ITSELF}: {type(err).__name__}: {' '.join(str(err).split())}")


def _guarded(subject: str, check: str, environment: str | None, work: Callable[[], list[Finding]]) -> list[Part]:
    try:
        found = work()
    except Exception as err:  # noqa: BLE001 - a validator that breaks is a finding, not a traceback
        found = [_failure(err)]
    return [Part(subject, check, environment, found)]


def _guarded_chart(
    subject: str, environment: str, work: Callable[[], tuple[list[Finding], list[charts.ObjectKey]]]
) -> list[Part]:
    try:
        found, objects = work()
    except Exception as err:  # noqa: BLE001 - as in _guarded
        found, objects = [_failure(err)], []
    return [Part(subject, "chart", environment, found, objects)]


def _unit(
    cost: float,
    subject: str,
    check: str,
    work: Callable[[], list[Finding]],
    environment: str | None = None,
    key: str | None = None,
) -> _Unit:
    return _Unit(cost, partial(_guarded, subject, check, environment, work), {subject: key})


def _given(found: list[Finding]) -> list[Finding]:
    return found


def _missing(subject: str, check: str, tools: Tools, *needed: str) -> CheckRun | None:
    absent = tools.missing(*needed)
    if not absent:
        return None
    note = f"not run: {', '.join(absent)} not installed"
    return skipped(subject, check, TOOL_NAMES[check], note, install_hint(absent))


@dataclass
class _Plan:
    units: list[_Unit]
    skipped: list[CheckRun]
    keys: memo.Keys | None  # None: --no-cache
    remembered: list[Part] = field(default_factory=list)

    def add(self, unit: _Unit) -> None:
        """Run the unit, unless the memo holds every part of it."""
        if unit.keys and all(key is not None for key in unit.keys.values()):
            found = [memo.recall(key) for key in unit.keys.values()]
            if all(isinstance(data, dict) for data in found):
                self.remembered += [Part.of(data) for data in found if isinstance(data, dict)]
                return
        self.units.append(unit)

    def file_check(
        self,
        subject: str,
        check: str,
        file: Path,
        relative: str,
        work: Callable[[], list[Finding]],
        key: str | None,
    ) -> None:
        if not file.is_file():
            self.units.append(_unit(0.0, subject, check, partial(_given, [Finding("error", "missing", relative)])))
        else:
            self.add(_unit(0.1, subject, check, work, key=key))


def _plan_service(plan: _Plan, root: Path, ecosystem: Ecosystem, service: Service, tools: Tools) -> None:
    name = service.name
    directory = root / service.path
    keys = plan.keys
    if not directory.is_dir():
        message = "missing: the service's directory does not exist"
        if service.repository is not None:
            message += f" (its repository {service.repository} is not checked out: `scaffold update {name}` clones it)"
        missing = Finding("error", message, service.path)
        plan.units.append(_unit(0.0, name, "files", partial(_given, [missing])))
        return
    if service.repository is not None:
        plan.units.append(_unit(0.01, name, "files", partial(_own_checkout, root, service)))
    ref = service.template
    held = json.dumps(answers.held_by_ecosystem(service), sort_keys=True, default=list)
    key = keys.answers(name, service.kind, service.path, ref.source, ref.version, held) if keys else None
    plan.add(_unit(0.05, name, "answers", partial(answers.problems, root, service), key=key))
    if (skip := _missing(name, "compose", tools, "compose")) is not None:
        plan.skipped.append(skip)
    else:
        relative = f"{service.path}/compose.yaml"
        work = partial(compose.config, str(tools.compose), directory / "compose.yaml", relative=relative)
        key = keys.compose(name, directory / "compose.yaml", directory) if keys else None
        plan.file_check(name, "compose", directory / "compose.yaml", relative, work, key)
    if (skip := _missing(name, "chart", tools, "helm", "kubernetes")) is not None:
        plan.skipped.append(skip)
    else:
        for env in ecosystem.environments:
            chart = partial(charts.check_service, root, ecosystem, service, env.name)
            key = keys.chart(name, f"{service.path}/chart", env.name, [name]) if keys else None
            plan.add(_Unit(0.15, partial(_guarded_chart, name, env.name, chart), {name: key}))
    if (skip := _missing(name, "dockerfile", tools, "hadolint")) is not None:
        plan.skipped.append(skip)
    else:
        relative = f"{service.path}/Dockerfile"
        work = partial(dockerfile.hadolint, str(tools.hadolint), directory / "Dockerfile", relative=relative)
        key = keys.dockerfile(name, directory / "Dockerfile") if keys else None
        plan.file_check(name, "dockerfile", directory / "Dockerfile", relative, work, key)


def _own_checkout(root: Path, service: Service) -> list[Finding]:
    """A service with its own repository: the meta-project's git must ignore its checkout."""
    from scaffold.checkouts import ignored_by

    if ignored_by(root, service.path) is False:
        message = (
            f"the checkout of its own repository is not ignored by the meta-project's git: "
            f"add `{service.path}/` to .gitignore"
        )
        return [Finding("warning", message, service.path)]
    return []


def _plan_ecosystem(plan: _Plan, root: Path, ecosystem: Ecosystem, tools: Tools) -> None:
    keys = plan.keys
    plan.units.append(_unit(0.1, ECOSYSTEM, "derived", partial(derived.problems, root, ecosystem)))
    plan.units.append(_unit(0.05, ECOSYSTEM, "api", partial(api_documents.problems, root, ecosystem)))
    if (verifier := _gateway_dockerfile(root, ecosystem)) is not None:
        if (skip := _missing(ECOSYSTEM, "dockerfile", tools, "hadolint")) is not None:
            plan.skipped.append(skip)
        else:
            relative = verifier.relative_to(root).as_posix()
            work = partial(dockerfile.hadolint, str(tools.hadolint), verifier, relative=relative)
            key = keys.dockerfile(ECOSYSTEM, verifier) if keys else None
            plan.file_check(ECOSYSTEM, "dockerfile", verifier, relative, work, key)
    if (skip := _missing(ECOSYSTEM, "compose", tools, "compose")) is not None:
        plan.skipped.append(skip)
    else:
        work = partial(compose.config, str(tools.compose), root / "compose.yaml", relative="compose.yaml")
        key = keys.compose(ECOSYSTEM, root / "compose.yaml", root) if keys else None
        plan.file_check(ECOSYSTEM, "compose", root / "compose.yaml", "compose.yaml", work, key)
    if (skip := _missing(ECOSYSTEM, "chart", tools, "helm", "kubernetes")) is not None:
        plan.skipped.append(skip)
    else:
        names = [s.name for s in ecosystem.services]
        for env in ecosystem.environments:
            umbrella = partial(charts.check_umbrella, root, ecosystem, env.name)
            key = keys.chart(ECOSYSTEM, charts.UMBRELLA, env.name, names) if keys else None
            plan.add(_Unit(0.1, partial(_guarded_chart, ECOSYSTEM, env.name, umbrella), {ECOSYSTEM: key}))


def _gateway_dockerfile(root: Path, ecosystem: Ecosystem) -> Path | None:
    """The image of the gateway's token verifier and local issuer (derived with `auth:`), checked
    as the services' images are; None without `auth:`."""
    return root / gateway_auth.DIRECTORY / "Dockerfile" if ecosystem.auth is not None else None


def _checkov_targets(
    root: Path, ecosystem: Ecosystem, services: Sequence[Service], whole: bool
) -> list[checkov.Target]:
    targets: list[checkov.Target] = []
    if whole:
        umbrella = partial(charts.render_umbrella, root, ecosystem)
        verifier = _gateway_dockerfile(root, ecosystem)
        present = verifier if verifier is not None and verifier.is_file() else None
        relative = present.relative_to(root).as_posix() if present is not None else None
        targets.append(checkov.Target(ECOSYSTEM, present, relative, umbrella, charts.UMBRELLA))
    for service in services:
        if not (root / service.path).is_dir():
            continue
        has_chart = (root / service.path / "chart" / "Chart.yaml").is_file()
        targets.append(
            checkov.Target(
                service.name,
                root / service.path / "Dockerfile",
                f"{service.path}/Dockerfile",
                partial(charts.render_service, root, ecosystem, service) if has_chart else None,
                f"{service.path}/chart",
            )
        )
    return targets


def _checkov_batch(binary: str, targets: list[checkov.Target], environments: list[str]) -> list[Part]:
    try:
        found = checkov.scan(binary, targets, environments)
    except Exception as err:  # noqa: BLE001 - as in _guarded
        found = {t.subject: [_failure(err)] for t in targets}
    return [Part(t.subject, "checkov", None, found[t.subject]) for t in targets]


def _checkov_key(keys: memo.Keys | None, ecosystem: Ecosystem, target: checkov.Target) -> str | None:
    if keys is None:
        return None
    services = [s.name for s in ecosystem.services] if target.subject == ECOSYSTEM else [target.subject]
    return keys.checkov(target.subject, target.dockerfile, target.chart_relative or "", services)


def _plan_checkov(
    plan: _Plan, root: Path, ecosystem: Ecosystem, services: Sequence[Service], tools: Tools, whole: bool, jobs: int
) -> None:
    targets = _checkov_targets(root, ecosystem, services, whole)
    absent = tools.missing("checkov", "helm")
    if absent:
        note = f"not run: {', '.join(absent)} not installed"
        plan.skipped += [
            skipped(t.subject, "checkov", TOOL_NAMES["checkov"], note, install_hint(absent)) for t in targets
        ]
        return
    environments = [e.name for e in ecosystem.environments]
    keys: dict[str, str | None] = {}
    waiting: list[checkov.Target] = []
    for target in targets:
        key = keys[target.subject] = _checkov_key(plan.keys, ecosystem, target)
        remembered = memo.recall(key)
        if isinstance(remembered, dict):
            plan.remembered.append(Part.of(remembered))
        else:
            waiting.append(target)
    for batch in checkov_batches(waiting, jobs):
        work = partial(_checkov_batch, str(tools.checkov), batch, environments)
        plan.units.append(_Unit(3.0 + 0.3 * len(batch), work, {t.subject: keys[t.subject] for t in batch}))


def checkov_batches(targets: Sequence[checkov.Target], jobs: int) -> list[list[checkov.Target]]:
    """The checkov runs: checkov takes seconds to start and little to scan, so a few targets per run
    and no more runs than jobs, unless a run would then scan more than MAX_TARGETS_PER_CHECKOV_RUN."""
    fewest = -(-len(targets) // MAX_TARGETS_PER_CHECKOV_RUN)
    count = max(1, min(jobs, len(targets) // TARGETS_PER_CHECKOV_RUN), fewest)
    return [batch for batch in (list(targets[i::count]) for i in range(count)) if batch]


def _timed(unit: _Unit) -> tuple[list[Part], float]:
    started = time.perf_counter()
    parts = unit.work()
    return parts, time.perf_counter() - started


def _kept(unit: _Unit, parts: list[Part]) -> list[Part]:
    """Remember each part of a unit that ran (unless the check itself failed)."""
    for part in parts:
        if not part.failed_itself:
            memo.keep(unit.keys.get(part.subject), part.data())
    return parts


def _start_method() -> str:
    """fork when it is safe: quick, and workers inherit what the parent imported. A process that has
    loaded Helm's Go runtime cannot fork (the child would lack its threads): then a fork server."""
    if sys.platform == "linux" and "helm_python" not in sys.modules:
        return "fork"
    return "forkserver" if sys.platform != "win32" else "spawn"


def _results(units: list[_Unit], jobs: int) -> Iterable[tuple[list[Part], float]]:
    if jobs == 1 or len(units) < 2:
        for unit in units:
            parts, seconds = _timed(unit)
            yield _kept(unit, parts), seconds
        return
    context = multiprocessing.get_context(_start_method())
    from scaffold.project import die_with_parent

    with ProcessPoolExecutor(
        max_workers=min(jobs, len(units)), mp_context=context, initializer=die_with_parent
    ) as pool:
        for unit, (parts, seconds) in zip(units, pool.map(_timed, units), strict=True):
            yield _kept(unit, parts), seconds


def _execute(plan: _Plan, jobs: int, *, whole: bool, progress: Progress | None = None) -> list[CheckRun]:
    """Run the units, longest first, and merge their parts (and the remembered ones) into one CheckRun
    per subject and check."""
    units = sorted(plan.units, key=lambda u: -u.cost)
    by_check: dict[tuple[str, str], tuple[dict[str | None, list[Finding]], float]] = {}
    rendered: dict[str, dict[str, list[charts.ObjectKey]]] = {}  # environment -> subject -> objects
    ran_now: set[tuple[str, str]] = set()

    def merge(parts: list[Part], seconds: float) -> None:
        for part in parts:
            per_environment, spent = by_check.get((part.subject, part.check), ({}, 0.0))
            per_environment.setdefault(part.environment, []).extend(part.findings)
            by_check[(part.subject, part.check)] = (per_environment, spent + seconds / len(parts))
            if part.environment is not None and part.objects:
                rendered.setdefault(part.environment, {})[part.subject] = part.objects

    merge(plan.remembered, 0.0)
    with native_logs_quiet():
        if progress:
            progress(0, len(units), "")
        for done, (parts, seconds) in enumerate(_results(units, jobs), start=1):
            if progress:
                progress(done, len(units), f"{parts[0].subject} {parts[0].check}" if parts else "")
            ran_now |= {(p.subject, p.check) for p in parts}
            merge(parts, seconds)
    if whole and (ECOSYSTEM, "chart") in by_check:
        umbrella = by_check[(ECOSYSTEM, "chart")][0]
        for environment, objects in rendered.items():
            umbrella.setdefault(environment, []).extend(charts.clashes(objects))
    runs: list[CheckRun] = []
    for (subject, check), (per_environment, seconds) in by_check.items():
        general = per_environment.pop(None, [])
        environments = {str(env): found for env, found in per_environment.items()}
        merged = general + (merge_environments(environments) if environments else [])
        cached = (subject, check) not in ran_now
        runs.append(ran(subject, check, TOOL_NAMES[check], merged, seconds, hint=HINTS[check], cached=cached))
    return runs


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run(
    root: Path,
    names: Sequence[str] = (),
    *,
    checkov_asked: bool = True,
    jobs: int | None = None,
    tools: Tools | None = None,
    progress: Progress | None = None,
) -> tuple[CheckRun, ...]:
    """Every check of the meta-project at `root` (of the services `names` only, when given); units
    whose inputs did not change are answered by the memo (scaffold.checks.memo) unless the cache is off."""
    tools = tools or discover(checkov=checkov_asked)
    jobs = jobs or default_jobs()
    started = time.perf_counter()
    try:
        text = (root / ecosystem_file.FILE_NAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        unreadable = Finding("error", f"cannot be read: {err}", ecosystem_file.FILE_NAME)
        return (ran(ECOSYSTEM, "ecosystem.yaml", TOOL_NAMES["ecosystem.yaml"], [unreadable], 0.0),)
    found = source.problems(text, root)
    schema_run = ran(
        ECOSYSTEM,
        "ecosystem.yaml",
        TOOL_NAMES["ecosystem.yaml"],
        found,
        time.perf_counter() - started,
        hint=HINTS["ecosystem.yaml"],
    )
    if found:
        rest = skipped(ECOSYSTEM, "derived", TOOL_NAMES["derived"], "not run: ecosystem.yaml has errors")
        return (schema_run, rest)
    document = ecosystem_file.parse(text)
    ecosystem = document.model
    whole = not names
    services = [s for s in ecosystem.services if whole or s.name in names]
    namespaces = {e.name: e.namespace for e in ecosystem.environments}
    keys = memo.Keys(root, ecosystem.name, namespaces, tools) if cache.enabled() else None
    plan = _Plan([], [], keys)
    if whole:
        _plan_ecosystem(plan, root, ecosystem, tools)
    for service in services:
        _plan_service(plan, root, ecosystem, service, tools)
    if checkov_asked:
        _plan_checkov(plan, root, ecosystem, services, tools, whole, jobs)
    executed = _execute(plan, jobs, whole=whole, progress=progress)
    runs = [schema_run, *plan.skipped, *_placed(executed, document)]
    subjects = [ECOSYSTEM, *(s.name for s in ecosystem.services)]
    return tuple(sorted(runs, key=lambda r: (subjects.index(r.subject), CHECKS.index(r.check))))


def _placed(runs: list[CheckRun], document: ecosystem_file.EcosystemDocument) -> list[CheckRun]:
    """A service's answers finding about its template version, placed where ecosystem.yaml names that
    version (read only when there is such a finding: placing needs the round-trip tree)."""
    placed: list[CheckRun] = []
    for run in runs:
        if run.check == "answers" and any(f.file == FILE_NAME and f.line is None for f in run.findings):
            path = ["services", run.subject, "template", "version"]
            line, column = ecosystem_file.position(document.tree, path) or (None, None)
            findings = tuple(
                replace(f, line=line, column=column) if f.file == FILE_NAME and f.line is None else f
                for f in run.findings
            )
            run = replace(run, findings=findings)
        placed.append(run)
    return placed
