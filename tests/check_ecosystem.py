"""Check a generated ecosystem with the real validators: `python -m tests.check_ecosystem DIR`.

Used by `make demo` and by the tests of examples/: root and per-service compose files (Compose
v2), every chart (Helm lint strict, render per environment, Kubernetes schemas), every Dockerfile
(hadolint), and checkov on Dockerfiles and rendered manifests when it is installed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests import validators


def _environments(root: Path) -> dict[str, dict[str, Any]]:
    ecosystem = yaml.safe_load((root / "ecosystem.yaml").read_text())
    return dict(ecosystem["environments"])


def check(root: Path, *, with_checkov: bool = True, report: Any = print) -> None:
    ecosystem = yaml.safe_load((root / "ecosystem.yaml").read_text())
    services = ecosystem.get("services") or {}
    validators.compose_config(root / "compose.yaml")
    report("ok  compose.yaml (docker compose config)")
    for name, service in services.items():
        directory = root / service["path"]
        validators.compose_config(directory / "compose.yaml")
        validators.hadolint(directory / "Dockerfile")
        validators.helm_lint(directory / "chart")
        report(f"ok  {name}: compose config, hadolint, helm lint --strict")
        if with_checkov:
            validators.checkov(directory / "Dockerfile", "dockerfile")
            report(f"ok  {name}: checkov dockerfile")
    chart = root / "deploy" / "chart"
    for env_name, env in _environments(root).items():
        values = yaml.safe_load((chart / f"values-{env_name}.yaml").read_text()) or {}
        validators.helm_lint(chart, values)
        docs = validators.helm_render(chart, values, name=ecosystem["name"], namespace=env["namespace"])
        validators.kubernetes_validate(docs)
        report(
            f"ok  umbrella chart, {env_name}: helm lint --strict, {len(docs)} objects valid for Kubernetes "
            f"{validators.KUBE_VERSION}"
        )
        if with_checkov:
            with tempfile.TemporaryDirectory() as scratch:
                validators.checkov(validators.write_manifests(docs, Path(scratch)), "kubernetes")
            report(f"ok  umbrella chart, {env_name}: checkov kubernetes, 0 failed")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.check_ecosystem ECOSYSTEM_DIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    from scaffold.checks.helm import native_logs_quiet

    try:
        with native_logs_quiet():  # Helm's Go log about the umbrella's linked charts is not a finding
            check(root, with_checkov=Path(validators.checkov_binary_path()).exists())
    except AssertionError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    print(f"{root}: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
