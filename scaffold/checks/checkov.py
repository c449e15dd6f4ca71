"""checkov on Dockerfiles and rendered manifests, several subjects per checkov run.

checkov spends about three seconds starting; scanning is quick. So the Dockerfiles and the
rendered objects of several services go into one scratch tree (`<subject>/Dockerfile`,
`<subject>/<env>/NNN-kind-name.yaml`), one checkov run scans it with the dockerfile and
kubernetes frameworks, and each failed check is given back to the subject whose file it names.
`--framework helm` would need a helm binary and silently checks nothing, hence the rendering.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scaffold.checks import helm
from scaffold.checks.findings import Finding, merge_environments

TIMEOUT: Final = 600


@dataclass(frozen=True)
class Target:
    """What one subject gives checkov: a Dockerfile and a way to render its objects per environment."""

    subject: str
    dockerfile: Path | None
    dockerfile_relative: str | None
    render: Callable[[str], list[helm.Rendered]] | None  # environment -> objects
    chart_relative: str | None


def _write_objects(objects: list[helm.Rendered], directory: Path) -> dict[str, str]:
    """One file per object; returns file name -> template it came from."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    origin: dict[str, str] = {}
    for index, rendered in enumerate(objects):
        metadata = rendered.doc.get("metadata") or {}
        name = f"{index:03d}-{rendered.doc.get('kind', 'object')}-{metadata.get('name', 'unnamed')}.yaml".lower()
        (directory / name).write_text(yaml.safe_dump(rendered.doc, sort_keys=False), encoding="utf-8")
        origin[name] = rendered.template
    return origin


def scan(binary: str, targets: list[Target], environments: list[str]) -> dict[str, list[Finding]]:
    """Findings per subject; every subject gets an entry (empty when checkov found nothing)."""
    general: dict[str, list[Finding]] = {t.subject: [] for t in targets}
    per_environment: dict[str, dict[str, list[Finding]]] = {t.subject: {e: [] for e in environments} for t in targets}
    origins: dict[str, dict[str, str]] = {}  # "<subject>/<env>" -> file name -> template
    scratch = Path(tempfile.mkdtemp(prefix="scaffold-checkov-"))
    try:
        for target in targets:
            base = scratch / target.subject
            base.mkdir()
            if target.dockerfile is not None and target.dockerfile.is_file():
                shutil.copyfile(target.dockerfile, base / "Dockerfile")
            if target.render is None:
                continue
            for environment in environments:
                try:
                    objects = target.render(environment)
                except helm.RenderError as err:  # the chart check says why; here it only means "not scanned"
                    finding = Finding("error", "not scanned: the chart does not render", err.finding.file)
                    per_environment[target.subject][environment].append(finding)
                    continue
                origins[f"{target.subject}/{environment}"] = _write_objects(objects, base / environment)
        reports = run(binary, scratch, ("dockerfile", "kubernetes"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if isinstance(reports, str):
        return {t.subject: [Finding("error", reports)] for t in targets}
    by_subject = {t.subject: t for t in targets}
    passed: dict[str, int] = dict.fromkeys(general, 0)
    for report in reports:
        results = report.get("results", {})
        for check in results.get("passed_checks", []):
            owner = str(check.get("file_path", "")).strip("/").split("/")[0]
            if owner in passed:
                passed[owner] += 1
        for check in results.get("failed_checks", []):
            subject, where, finding = _finding(check, by_subject, origins)
            if subject not in general:
                continue
            if where is not None and where in per_environment[subject]:
                per_environment[subject][where].append(finding)
            else:
                general[subject].append(finding)
        for path in results.get("parsing_errors", []) or []:
            subject = str(path).replace(str(scratch), "").strip("/").split("/")[0]
            if subject in general:
                general[subject].append(Finding("error", f"checkov could not parse {Path(str(path)).name}"))
    found: dict[str, list[Finding]] = {}
    for subject in general:
        found[subject] = general[subject] + merge_environments(per_environment[subject])
        scanned_dockerfile = by_subject[subject].dockerfile is not None
        if scanned_dockerfile and passed[subject] == 0 and not found[subject]:
            found[subject].append(Finding("error", "checkov ran no check"))
    return found


def _finding(
    check: dict[str, Any], targets: dict[str, Target], origins: dict[str, dict[str, str]]
) -> tuple[str, str | None, Finding]:
    """(subject, environment or None for a Dockerfile, finding) of one failed check."""
    parts = str(check.get("file_path", "")).strip("/").split("/")
    subject = parts[0]
    target = targets.get(subject)
    rule = str(check.get("check_id") or "") or None
    name = str(check.get("check_name") or "")
    resource = str(check.get("resource") or "")
    lines = check.get("file_line_range") or []
    if target is None:
        return subject, None, Finding("error", name, rule=rule)
    if len(parts) == 2 and parts[1] == "Dockerfile":
        line = int(lines[0]) if lines and lines[0] else None
        return subject, None, Finding("error", name, target.dockerfile_relative, line, rule=rule)
    environment = parts[1] if len(parts) > 2 else None
    template = origins.get(f"{subject}/{environment}", {}).get(parts[-1], "")
    file = helm.template_file(template, target.chart_relative or "") if template else target.chart_relative
    pieces = resource.split(".")  # Kind.namespace.name
    resource_name = f"{pieces[0]}/{pieces[-1]}" if len(pieces) > 1 else resource
    return subject, environment, Finding("error", f"{resource_name}: {name}", file, rule=rule)


def run(binary: str, target: Path, frameworks: Sequence[str]) -> list[dict[str, Any]] | str:
    """checkov's JSON reports on a file or a directory, or what went wrong."""
    try:
        proc = subprocess.run(
            [
                binary,
                "--skip-download",
                "-f" if target.is_file() else "-d",
                str(target),
                "--framework",
                *frameworks,
                "--compact",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"checkov did not run: {err}"
    try:
        reports = json.loads(proc.stdout)
    except ValueError:
        tail = " ".join(proc.stderr.split()[-40:])
        return f"checkov failed (exit {proc.returncode}): {tail or 'no output'}"
    if isinstance(reports, dict):
        reports = [reports] if "results" in reports else []
    return [r for r in reports if isinstance(r, dict)]
