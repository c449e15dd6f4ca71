"""`mirrors:` in ecosystem.yaml: refused when it would carry a credential or leave the meta-project,
and, when set, in every place a build or a run fetches from: the root compose file (read by the
Compose v2 binary), the service compose files (their variables, resolved by Compose), the pipeline.
Their effect on real builds is in tests/test_images_podman.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold import ecosystem_file, mirrors
from scaffold.model import Mirrors
from scaffold.prerequisites import find_compose
from tests.helpers import scaffold, snapshot

MIRROR = "registry.example.com/hub"
PYPI = "https://pypi.example.com/simple"
NPM = "https://npm.example.com/"


def _with_mirrors(root: Path, **fields: str) -> None:
    lines = ["mirrors:", *(f"  {key}: {value}" for key, value in fields.items())]
    text = (root / "ecosystem.yaml").read_text()
    (root / "ecosystem.yaml").write_text(text + "\n".join(lines) + "\n")


def _compose_config(directory: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    compose, tried = find_compose()
    assert compose is not None, tried
    proc = subprocess.run(
        [*compose.command, *args, "config", "--format", "json"],
        cwd=directory,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, Any] = json.loads(proc.stdout)
    return loaded


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("pypi", "https://user:secret@pypi.example.com/simple", "without credentials"),
        ("npm", "https://npm.example.com/?token=abc", "without credentials, query or fragment"),
        ("pypi", "http://pypi.example.com/simple", "an https URL"),
        ("images", "https://registry.example.com", "no scheme"),
        ("images", "user:pw@registry.example.com", "no credentials"),
        ("ca_bundle", "../outside.pem", "inside the meta-project"),
        ("ca_bundle", "/etc/ssl/certs/ca-certificates.crt", "inside the meta-project"),
        ("mirror", "x", "unknown field 'mirror'"),
    ],
)
def test_a_mirror_with_a_credential_or_outside_the_project_is_refused(
    ecosystem: Path, field: str, value: str, said: str
) -> None:
    _with_mirrors(ecosystem, **{field: value})
    before = snapshot(ecosystem)
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode == 2 and said in proc.stderr and "hint:" in proc.stderr, proc.stderr
    checked = scaffold("check", "--no-checkov", "--json", cwd=ecosystem, check=False)  # the same rule
    assert checked.returncode == 5 and said in checked.stdout, checked.stdout
    assert snapshot(ecosystem) == before


def _certificate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


def test_mirrors_are_read_into_the_model(ecosystem: Path) -> None:
    _certificate(ecosystem / "certs" / "ca.pem")
    _with_mirrors(ecosystem, images=MIRROR, pypi=PYPI, npm=NPM, ca_bundle="certs/ca.pem")
    model = ecosystem_file.load(ecosystem).model
    assert model.mirrors == Mirrors(images=MIRROR, pypi=PYPI, npm=NPM, ca_bundle="certs/ca.pem")
    assert mirrors.variables(model.mirrors) == {
        "IMAGE_MIRROR": MIRROR,
        "PIP_INDEX_URL": PYPI,
        "NPM_CONFIG_REGISTRY": NPM,
    }


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("postgres:17.7-bookworm", f"{MIRROR}/library/postgres:17.7-bookworm"),
        ("prom/prometheus:v3.5.0", f"{MIRROR}/prom/prometheus:v3.5.0"),
        ("docker.io/library/python:3.12", f"{MIRROR}/library/python:3.12"),
        ("index.docker.io/nginxinc/nginx-unprivileged:1", f"{MIRROR}/nginxinc/nginx-unprivileged:1"),
        ("ghcr.io/org/tool:1", "ghcr.io/org/tool:1"),
        ("localhost:5000/tool:1", "localhost:5000/tool:1"),
    ],
)
def test_docker_hub_images_go_through_the_image_mirror(reference: str, expected: str) -> None:
    assert mirrors.image(reference, Mirrors(images=MIRROR)) == expected
    unmirrored = mirrors.image(reference, Mirrors())
    assert unmirrored == expected.replace(MIRROR, "docker.io") if expected.startswith(MIRROR) else expected


def test_the_root_compose_file_takes_every_mirror(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    _certificate(ecosystem / "certs" / "ca.pem")
    _with_mirrors(ecosystem, images=MIRROR, pypi=PYPI, ca_bundle="certs/ca.pem")
    scaffold("sync", cwd=ecosystem)
    model = _compose_config(ecosystem)
    images = {name: s["image"] for name, s in model["services"].items() if "build" not in s}
    assert images and all(image.startswith(f"{MIRROR}/") for image in images.values()), images
    for name in ("orders", "orders-migrate"):
        build = model["services"][name]["build"]
        assert build["args"] == {"IMAGE_MIRROR": MIRROR, "PIP_INDEX_URL": PYPI}
        assert [s["source"] for s in build["secrets"]] == ["ca-bundle"]
    assert model["secrets"]["ca-bundle"]["file"] == str(ecosystem / "certs" / "ca.pem")


def test_without_mirrors_the_root_compose_file_names_docker_hub_in_full(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    model = _compose_config(ecosystem)
    images = [s["image"] for s in model["services"].values() if "build" not in s]
    assert images and all(image.startswith("docker.io/") for image in images), images
    assert "args" not in model["services"]["orders"]["build"] and "secrets" not in model


@pytest.mark.parametrize(
    ("kind", "package_variable"), [("backend", "PIP_INDEX_URL"), ("frontend", "NPM_CONFIG_REGISTRY")]
)
def test_a_service_compose_file_takes_the_mirrors_from_its_environment(
    ecosystem: Path, kind: str, package_variable: str
) -> None:
    if kind == "frontend":
        scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    extra = ["--data", "api_service=orders"] if kind == "frontend" else []
    scaffold("new", kind, "svc", "--defaults", *extra, cwd=ecosystem)
    directory = ecosystem / "services" / "svc"
    env = {"PATH": "/usr/bin:/bin", "IMAGE_MIRROR": MIRROR, package_variable: "https://mirror.example.com/x"}
    mirrored = _compose_config(directory, "--profile", "test", env=env)
    plain = _compose_config(directory, "--profile", "test", env={"PATH": "/usr/bin:/bin"})
    for name, service in mirrored["services"].items():
        if "build" in service:
            assert service["build"]["args"] == {
                "IMAGE_MIRROR": MIRROR,
                package_variable: "https://mirror.example.com/x",
            }
            assert "args" not in plain["services"][name]["build"]  # unset: the Dockerfile's defaults
        else:
            assert service["image"].startswith(f"{MIRROR}/library/"), service["image"]
            assert plain["services"][name]["image"].startswith("docker.io/library/")


def test_the_pipeline_makes_images_only_through_scaffold_which_reads_the_mirrors(ecosystem: Path) -> None:
    """The delivery workflow builds, tests and pushes with `scaffold build` / `scaffold test` in the
    checked-out meta-project, so `mirrors:` reaches CI as it reaches a laptop; no step builds an image
    another way, and no job changes the dependency checks' default."""
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    _with_mirrors(ecosystem, images=MIRROR, pypi=PYPI)
    scaffold("sync", cwd=ecosystem)
    workflow = yaml.safe_load((ecosystem / ".github" / "workflows" / "delivery.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    actions = {str(step["uses"]).split("@")[0] for step in steps if "uses" in step}
    assert not actions & {"docker/build-push-action", "docker/setup-buildx-action", "docker/bake-action"}, actions
    commands = [str(step.get("run", "")).split()[:2] for step in steps]
    assert ["scaffold", "build"] in commands and ["scaffold", "test"] in commands
    environments = [job.get("env") or {} for job in workflow["jobs"].values()] + [s.get("env") or {} for s in steps]
    assert not any(
        {"CHECK_STRICT", "CHECK_OUTDATED", "CHECK_AUDIT", *mirrors.VARIABLES.values()} & set(env)
        for env in environments
    )


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no such file in the meta-project"),
        ("not a certificate\n", "holds no PEM certificate"),
        ("link", "is a link"),
    ],
)
def test_a_ca_bundle_that_is_missing_not_pem_or_a_link_is_refused_before_the_engine(
    ecosystem: Path, tmp_path: Path, content: str | None, said: str
) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    if content == "link":
        _certificate(tmp_path / "outside.pem")
        (ecosystem / "ca.pem").symlink_to(tmp_path / "outside.pem")
    elif content is not None:
        (ecosystem / "ca.pem").write_text(content)
    _with_mirrors(ecosystem, ca_bundle="ca.pem")
    before = snapshot(ecosystem)
    for command in (["build"], ["test"], ["sync"]):
        proc = scaffold(*command, cwd=ecosystem, env={"DOCKER_HOST": "unix:///nonexistent.sock"}, check=False)
        assert proc.returncode == 2 and said in proc.stderr and "hint:" in proc.stderr, proc.stderr
    checked = scaffold("check", "--no-checkov", "--json", cwd=ecosystem, check=False)  # the same rule
    assert checked.returncode == 5 and said in checked.stdout
    assert snapshot(ecosystem) == before
