"""`scaffold build`, `scaffold test` and `--push` on Docker Engine (Debian's docker.io, started by the
test with state of its own), the path that builds with `docker build` and BuildKit because Docker's
API takes build secrets only from a BuildKit session. One kind (the backend) keeps it short; every
kind runs on Podman in tests/test_images_podman.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaffold import images_file
from scaffold.engine.connection import Engine
from scaffold.prerequisites import FoundEngine
from tests.engines import buildkit_cli_path, docker_daemon
from tests.image_fixtures import CA_MARKER, by_name, project_with_services, run_json
from tests.standins import mirror_registry

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("docker-images")]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mirror_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with docker_daemon() as url:
        yield {"DOCKER_HOST": url, "PATH": buildkit_cli_path(tmp_path_factory.mktemp("cli"))}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, registry: str) -> Path:
    mirrors = {"images": registry, "ca_bundle": "certs/ca.pem"}
    return project_with_services(tmp_path_factory.mktemp("shop"), registry, mirrors, services={"orders": "backend"})


def test_the_backend_builds_tests_and_pushes_on_docker(shop: Path, docker: dict[str, str], registry: str) -> None:
    code, built, stderr = run_json("build", "--push", cwd=shop, env=docker)
    assert code == 0, json.dumps(built, indent=1)[-6000:] + stderr
    assert built["engine"].startswith("Docker Engine")
    orders = by_name(built)["orders"]
    assert orders["status"] == "pushed" and {i["target"] for i in orders["images"]} == {"test", "runtime"}

    code, tested, _ = run_json("test", cwd=shop, env=docker)
    run = by_name(tested)["orders"]
    assert code == 0 and run["status"] == "passed", "\n".join(run["output"][-80:]) + str(run["reason"])
    assert run["dependencies"] == ["orders-db", "orders-mq"]

    recorded = images_file.read(shop / "images.json").images["orders"]
    runtime = next(i for i in orders["images"] if i["target"] == "runtime")
    assert recorded.digest == runtime["digest"]
    client: Any = Engine(FoundEngine(docker["DOCKER_HOST"], {}, from_environment=False)).client()
    try:
        client.images.remove(runtime["reference"])
        assert client.images.pull(recorded.reference).id == runtime["image_id"]
        for image in orders["images"]:
            archive = b"".join(client.images.get(image["image_id"]).save())
            assert CA_MARKER.encode() not in archive, f"{image['reference']} keeps the CA bundle"
    finally:
        client.close()
