"""What the image tests share: a meta-project with one service of each kind whose mirrors point at
the stand-in registry, `scaffold` run against an engine, and reading what it printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

from tests.helpers import scaffold

SERVICES: Final = {"orders": "backend", "fulfilment": "worker", "storefront": "frontend"}
CA_MARKER: Final = "scaffold-test-ca-bundle-marker-7f3e9a"  # a comment line in the test CA bundle


def ca_bundle(destination: Path) -> Path:
    """The machine's CA bundle (its network may re-sign TLS) with a marker line no image may contain."""
    source = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(f"# {CA_MARKER}\n" + source.read_text())
    return destination


def project_with_services(
    parent: Path, registry: str, mirrors: dict[str, str], services: dict[str, str] = SERVICES
) -> Path:
    """`scaffold init shop` + the services (by default a backend, a worker and a frontend), images
    pushed to `registry` (host:port), `mirrors:` as given, everything committed."""
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    text = (root / "ecosystem.yaml").read_text()
    lines = [f"registry: {registry}/shop" if line.startswith("registry:") else line for line in text.splitlines()]
    if mirrors:
        lines += ["mirrors:", *(f"  {key}: {value}" for key, value in mirrors.items())]
    (root / "ecosystem.yaml").write_text("\n".join(lines) + "\n")
    if "ca_bundle" in mirrors:
        ca_bundle(root / mirrors["ca_bundle"])
    scaffold("sync", cwd=root)
    for name, kind in services.items():
        extra = ["--data", "api_service=orders"] if kind == "frontend" else []
        scaffold("new", kind, name, "--defaults", *extra, cwd=root)
    commit(root, "shop with a service of each kind")
    return root


def commit(root: Path, message: str) -> None:
    git = ["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "add", "-A"], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True, capture_output=True)


def copy_project(root: Path, destination: Path) -> Path:
    shutil.copytree(root, destination, symlinks=True)
    return destination


def run_json(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    """Exit code, the --json result (checked against its docs/schemas/ file) and standard error of
    `scaffold ARGS --json`."""
    from tests.test_json_schemas import validate

    proc = scaffold(*args, "--json", cwd=cwd, env=env, check=False)
    assert proc.stdout.strip(), f"scaffold {' '.join(args)} printed no result:\n{proc.stderr}"
    validate(args[0], proc.stdout)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in result["services"]}
