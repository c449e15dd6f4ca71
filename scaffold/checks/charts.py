"""A service's chart and the umbrella chart: Helm lint (strict) and render for every environment,
each rendered object against the Kubernetes schemas. Custom resources (ServiceMonitor, HTTPRoute,
PrometheusRule) are rendered as if the cluster served their APIs, so that they are checked too.

A service's chart is checked with the values the umbrella gives it in each environment (its
section and `global` of the umbrella's values.yaml, overridden by values-<env>.yaml, as Helm
merges them), so what is checked is what is delivered. The umbrella is checked with its service
charts switched off (`<service>.enabled: false`, the condition each dependency has): its own
templates and schema, without linting and rendering every service a second time. Helm would still
load every file of every service chart it includes (a broken one failing the whole umbrella, so its
problem was reported twice, and at 500 services about 100 MB of Go heap in each worker that checked
the umbrella, kept to the end): so the umbrella is checked in a copy whose service charts are their
Chart.yaml alone (`umbrella_for_check`), which is all Helm reads of a dependency that is switched off.
Object names that clash across the release are found from the objects every check rendered (`clashes`).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scaffold.checks import helm, kubernetes
from scaffold.checks.findings import Finding
from scaffold.custom_resources import with_api_versions
from scaffold.model import Ecosystem, Service

UMBRELLA = "deploy/chart"

ObjectKey = tuple[str, str, str]  # (kind with API group, namespace, name)


def _read(root: Path, relative: str) -> tuple[dict[str, Any], list[Finding]]:
    """A values file as it is on disk (hand edits included)."""
    try:
        stat = (root / relative).stat()
    except FileNotFoundError:
        return {}, [Finding("error", "missing (run `scaffold sync`)", relative)]
    return _read_values(root / relative, relative, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_values(path: Path, relative: str, mtime: int, size: int) -> tuple[dict[str, Any], list[Finding]]:
    """Read once per version of the file: every service's check needs the same files."""
    import yaml

    try:
        values = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as err:
        return {}, [Finding("error", f"cannot be read: {' '.join(str(err).split())}", relative)]
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return {}, [Finding("error", "not a mapping", relative)]
    return values, []


def environment_values(root: Path, environment: str) -> tuple[dict[str, Any], list[Finding]]:
    """The umbrella's values-<env>.yaml."""
    return _read(root, f"{UMBRELLA}/values-{environment}.yaml")


def _merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of two values trees: mappings merge key by key, anything else is replaced."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base.get(key), value) if key in base else value
    return merged


def service_values(root: Path, environment: str, service: str) -> tuple[dict[str, Any], list[Finding]]:
    """What the umbrella passes to the service's chart in an environment."""
    defaults, found = _read(root, f"{UMBRELLA}/values.yaml")
    values, problems = environment_values(root, environment)
    merged = _merge(defaults, values)
    own = merged.get(service)
    result: dict[str, Any] = dict(own) if isinstance(own, dict) else {}
    if isinstance(merged.get("global"), dict):
        result["global"] = merged["global"]
    return with_api_versions(result), found + problems


def umbrella_values(root: Path, ecosystem: Ecosystem, environment: str) -> tuple[dict[str, Any], list[Finding]]:
    """values-<env>.yaml with every service chart switched off."""
    return umbrella_values_of(root, [s.name for s in ecosystem.services], environment)


def umbrella_values_of(root: Path, services: list[str], environment: str) -> tuple[dict[str, Any], list[Finding]]:
    values, found = environment_values(root, environment)
    off = {name: {"enabled": False} for name in services}
    return with_api_versions(_merge(values, off)), found


def _validate(objects: list[helm.Rendered], relative: str) -> list[Finding]:
    found: list[Finding] = []
    for rendered in objects:
        for problem in kubernetes.problems(rendered.doc):
            message = f"{kubernetes.identity(rendered.doc)}: {problem}"
            found.append(Finding("error", message, helm.template_file(rendered.template, relative)))
    return found


def _namespace(ecosystem: Ecosystem, environment: str) -> str:
    return next(e.namespace for e in ecosystem.environments if e.name == environment)


def render_service(root: Path, ecosystem: Ecosystem, service: Service, environment: str) -> list[helm.Rendered]:
    """The service's objects in an environment (raises helm.RenderError)."""
    values, _ = service_values(root, environment, service.name)
    relative = f"{service.path}/chart"
    return helm.render(
        root / relative, values, release=ecosystem.name, namespace=_namespace(ecosystem, environment), relative=relative
    )


def render_umbrella(root: Path, ecosystem: Ecosystem, environment: str) -> list[helm.Rendered]:
    """The umbrella's own objects in an environment (routes, alert rules)."""
    values, _ = umbrella_values(root, ecosystem, environment)
    namespace = _namespace(ecosystem, environment)
    return helm.render(root / UMBRELLA, values, release=ecosystem.name, namespace=namespace, relative=UMBRELLA)


def keys(objects: list[helm.Rendered], namespace: str) -> list[ObjectKey]:
    found: list[ObjectKey] = []
    for rendered in objects:
        doc = rendered.doc
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        kind = f"{doc.get('kind')}.{group}" if group else str(doc.get("kind"))
        found.append((kind, str((metadata or {}).get("namespace") or namespace), str((metadata or {}).get("name"))))
    return found


def check_service(
    root: Path, ecosystem: Ecosystem, service: Service, environment: str
) -> tuple[list[Finding], list[ObjectKey]]:
    """Lint the service's chart with an environment's values, render it, check every object."""
    relative = f"{service.path}/chart"
    if not (root / relative / "Chart.yaml").is_file():
        return [Finding("error", "missing: no Chart.yaml", relative)], []
    values, found = service_values(root, environment, service.name)
    linted = helm.lint(root / relative, values, relative=relative)
    if linted:
        return found + linted, []  # rendering would repeat what lint said
    try:
        objects = render_service(root, ecosystem, service, environment)
    except helm.RenderError as err:
        return [*found, err.finding], []
    return found + _validate(objects, relative), keys(objects, _namespace(ecosystem, environment))


def own_objects(objects: list[helm.Rendered], ecosystem: Ecosystem) -> list[helm.Rendered]:
    """The umbrella's own objects, not those of the service charts it includes."""
    return [o for o in objects if not o.template.startswith(f"{ecosystem.name}/charts/")]


@contextmanager
def umbrella_for_check(root: Path, ecosystem: Ecosystem) -> Iterator[Path]:
    """A copy of the umbrella chart in a scratch directory in which each service's chart (charts/<name>)
    is its Chart.yaml alone: what Helm needs of a dependency its condition switches off (the name and
    version it checks against Chart.yaml's dependencies). Anything else under charts/ is copied whole;
    a service chart that is missing (a broken link) stays missing, for lint to say so."""
    source = root / UMBRELLA
    services = {s.name for s in ecosystem.services}
    with tempfile.TemporaryDirectory(prefix="scaffold-umbrella-") as scratch:
        chart = Path(scratch) / source.name
        shutil.copytree(source, chart, ignore=lambda directory, _: ["charts"] if Path(directory) == source else [])
        if (source / "charts").is_dir():
            (chart / "charts").mkdir()
            for entry in sorted((source / "charts").iterdir()):
                into = chart / "charts" / entry.name
                if entry.name in services and entry.is_dir():
                    into.mkdir()
                    if (entry / "Chart.yaml").is_file():
                        shutil.copyfile(entry / "Chart.yaml", into / "Chart.yaml")
                elif entry.is_dir():
                    shutil.copytree(entry, into)
                elif entry.is_file():
                    shutil.copyfile(entry, into)
        yield chart


def check_umbrella(root: Path, ecosystem: Ecosystem, environment: str) -> tuple[list[Finding], list[ObjectKey]]:
    """Lint and render the umbrella (service charts off) with an environment's values; its objects."""
    if not (root / UMBRELLA / "Chart.yaml").is_file():
        return [Finding("error", "missing: no Chart.yaml (run `scaffold sync`)", UMBRELLA)], []
    values, found = umbrella_values(root, ecosystem, environment)
    namespace = _namespace(ecosystem, environment)
    with umbrella_for_check(root, ecosystem) as chart:
        linted = helm.lint(chart, values, relative=UMBRELLA)
        if linted:
            return found + linted, []
        try:
            rendered = helm.render(chart, values, release=ecosystem.name, namespace=namespace, relative=UMBRELLA)
        except helm.RenderError as err:
            return [*found, err.finding], []
    objects = own_objects(rendered, ecosystem)
    return found + _validate(objects, UMBRELLA), keys(objects, namespace)


def clashes(rendered: dict[str, list[ObjectKey]]) -> list[Finding]:
    """Objects of one environment's release that more than one chart (or one chart twice) renders."""
    owners: dict[ObjectKey, list[str]] = defaultdict(list)
    for subject, objects in sorted(rendered.items()):
        for key in objects:
            owners[key].append(subject)
    return [
        Finding("error", f"{kind.split('.')[0]}/{name} in {namespace} is rendered by {', '.join(subjects)}", UMBRELLA)
        for (kind, namespace, name), subjects in sorted(owners.items())
        if len(subjects) > 1
    ]
