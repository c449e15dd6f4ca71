"""A service's chart and the umbrella chart: Helm lint (strict) and render for every environment,
each rendered object against the Kubernetes schemas.

A service's chart is checked with the values the umbrella gives it in each environment
(`deploy/chart/values-<env>.yaml`: its own section plus `global`), so what is checked is what
is delivered. The umbrella's own objects (routes, alert rules) are checked with the umbrella;
objects its subcharts render are the services' and are not checked twice. Object names that
clash across the whole release are the umbrella's problem.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

from scaffold.checks import helm, kubernetes
from scaffold.checks.findings import Finding
from scaffold.model import Ecosystem, Service

UMBRELLA = "deploy/chart"


def environment_values(root: Path, environment: str) -> tuple[dict[str, Any], list[Finding]]:
    """The umbrella's values file of an environment as it is on disk (hand edits included)."""
    relative = f"{UMBRELLA}/values-{environment}.yaml"
    try:
        stat = (root / relative).stat()
    except FileNotFoundError:
        return {}, [Finding("error", "missing (run `scaffold sync`)", relative)]
    return _read_values(root / relative, relative, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_values(path: Path, relative: str, mtime: int, size: int) -> tuple[dict[str, Any], list[Finding]]:
    """Read once per version of the file: every service's check needs the same three files."""
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


def service_values(values: dict[str, Any], service: str) -> dict[str, Any]:
    own = values.get(service)
    merged = dict(own) if isinstance(own, dict) else {}
    if isinstance(values.get("global"), dict):
        merged["global"] = values["global"]
    return merged


def _validate(objects: list[helm.Rendered], relative: str) -> list[Finding]:
    found: list[Finding] = []
    for rendered in objects:
        for problem in kubernetes.problems(rendered.doc):
            message = f"{kubernetes.identity(rendered.doc)}: {problem}"
            found.append(Finding("error", message, helm.template_file(rendered.template, relative)))
    return found


def render_service(root: Path, ecosystem: Ecosystem, service: Service, environment: str) -> list[helm.Rendered]:
    """The service's objects in an environment (raises helm.RenderError)."""
    values, _ = environment_values(root, environment)
    env = next(e for e in ecosystem.environments if e.name == environment)
    relative = f"{service.path}/chart"
    return helm.render(
        root / relative,
        service_values(values, service.name),
        release=ecosystem.name,
        namespace=env.namespace,
        relative=relative,
    )


def check_service(root: Path, ecosystem: Ecosystem, service: Service, environment: str) -> list[Finding]:
    """Lint the service's chart with an environment's values, render it, check every object."""
    relative = f"{service.path}/chart"
    if not (root / relative / "Chart.yaml").is_file():
        return [Finding("error", "missing: no Chart.yaml", relative)]
    values, found = environment_values(root, environment)
    linted = helm.lint(root / relative, service_values(values, service.name), relative=relative)
    if linted:
        return found + linted  # rendering would repeat what lint said
    try:
        objects = render_service(root, ecosystem, service, environment)
    except helm.RenderError as err:
        return [*found, err.finding]
    return found + _validate(objects, relative)


def render_umbrella(root: Path, ecosystem: Ecosystem, environment: str) -> list[helm.Rendered]:
    values, _ = environment_values(root, environment)
    env = next(e for e in ecosystem.environments if e.name == environment)
    return helm.render(root / UMBRELLA, values, release=ecosystem.name, namespace=env.namespace, relative=UMBRELLA)


def own_objects(objects: list[helm.Rendered], ecosystem: Ecosystem) -> list[helm.Rendered]:
    """The umbrella's own objects, not those of the service charts it includes."""
    return [o for o in objects if not o.template.startswith(f"{ecosystem.name}/charts/")]


def _clashes(objects: list[helm.Rendered]) -> list[Finding]:
    def key(doc: dict[str, Any]) -> tuple[str, str, str]:
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        return (
            f"{doc.get('kind')}.{group}",
            str((metadata or {}).get("namespace", "")),
            str((metadata or {}).get("name")),
        )

    counts = Counter(key(o.doc) for o in objects)
    return [
        Finding("error", f"{kind.rstrip('.')}/{name} is rendered {count} times: names clash", UMBRELLA)
        for (kind, _, name), count in sorted(counts.items())
        if count > 1
    ]


def check_umbrella(root: Path, ecosystem: Ecosystem, environment: str) -> list[Finding]:
    """Lint and render the umbrella with an environment's values; its own objects, and name clashes."""
    if not (root / UMBRELLA / "Chart.yaml").is_file():
        return [Finding("error", "missing: no Chart.yaml (run `scaffold sync`)", UMBRELLA)]
    values, found = environment_values(root, environment)
    linted = helm.lint(root / UMBRELLA, values, relative=UMBRELLA)
    if linted:
        return found + linted
    try:
        objects = render_umbrella(root, ecosystem, environment)
    except helm.RenderError as err:
        return [*found, err.finding]
    return found + _validate(own_objects(objects, ecosystem), UMBRELLA) + _clashes(objects)
