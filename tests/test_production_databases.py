"""Every service has a database connection of its own in production, and the services' migrations
can share one database: the example ecosystem's production umbrella chart is read as data, then
every service's migrations run against one real PostgreSQL database in the order Helm runs their
hooks, and every service's tables exist in its own schema; a service whose migrations have not
run yet is not ready.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import validators
from tests.servers import postgres_server
from tests.service_checks import migrate, package_of
from tests.service_venv import clean_env, service_venv

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "shop"
SECRET_VOLUMES = ("database", "amqp")  # the service charts' volumes of Secret keys


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/shop (what `make examples` generates), so running its code writes nothing
    into the repository."""
    copy = tmp_path_factory.mktemp("production") / "shop"
    shutil.copytree(EXAMPLE, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def production(shop: Path) -> list[dict[str, Any]]:
    values = yaml.safe_load((shop / "deploy" / "chart" / "values-production.yaml").read_text())
    return validators.helm_render(shop / "deploy" / "chart", values, name="shop", namespace="shop")


def pod_spec(document: dict[str, Any]) -> dict[str, Any] | None:
    if document["kind"] in ("Deployment", "Job"):
        spec: dict[str, Any] = document["spec"]["template"]["spec"]
        return spec
    return None


def connection_settings(documents: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str]]]:
    """{service: {(volume, Secret, key)}} over every Deployment and Job (the migration hooks
    included) that mounts a key of a Secret as a database or broker URL."""
    found: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for document in documents:
        spec = pod_spec(document)
        if spec is None:
            continue
        service = document["metadata"]["labels"]["app.kubernetes.io/name"]
        for volume in spec.get("volumes", []):
            if volume["name"] in SECRET_VOLUMES:
                for item in volume["secret"]["items"]:
                    found[service].add((volume["name"], volume["secret"]["secretName"], item["key"]))
    return found


def test_no_two_services_share_a_connection_setting(production: list[dict[str, Any]]) -> None:
    settings = connection_settings(production)
    assert set(settings) == {"orders", "inventory", "fulfilment"}, "every Python service, no other"
    for service, mounted in settings.items():
        databases = {(secret, key) for volume, secret, key in mounted if volume == "database"}
        assert len(databases) == 1, f"{service}: one database URL for its pods and its migrations"
    owners: dict[tuple[str, str], str] = {}
    for service, mounted in settings.items():
        for _, secret, key in mounted:
            assert owners.setdefault((secret, key), service) == service, (
                f"{service} and {owners[(secret, key)]} both read key {key} of {secret}"
            )
    assert {key for _, _, key in settings["fulfilment"]} == {"FULFILMENT_DATABASE_URL", "FULFILMENT_AMQP_URL"}
    for document in production:
        spec = pod_spec(document)
        for container in (spec or {}).get("containers", []):
            names = {variable["name"] for variable in container.get("env", [])}
            assert not names & {"DATABASE_URL", "AMQP_URL"}, "URLs come as files, never variables"


def hook_order(documents: list[dict[str, Any]]) -> list[str]:
    """The services whose migration Jobs Helm runs before an install or upgrade, in its order:
    by hook weight, then by name (the Jobs are of one kind)."""
    jobs = [
        d
        for d in documents
        if d["kind"] == "Job" and "pre-install" in d["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    ]
    jobs.sort(key=lambda d: (int(d["metadata"]["annotations"].get("helm.sh/hook-weight", "0")), d["metadata"]["name"]))
    return [d["metadata"]["labels"]["app.kubernetes.io/name"] for d in jobs]


INSPECT = """
import sys
from sqlalchemy import create_engine, inspect
from {package}.database import SCHEMA, connect_args, schema_state
from {package}.db import Base
import {package}.models  # registers the tables on Base.metadata
engine = create_engine(sys.argv[1], connect_args=connect_args(5))
with engine.connect() as connection:
    print(schema_state(connection).value)
    print(",".join(sorted(inspect(connection).get_table_names(schema=SCHEMA))))
    print(",".join(sorted(Base.metadata.tables)))
engine.dispose()
"""


def inspect_service(project: Path, venv: Path, url: str) -> tuple[str, set[str], set[str]]:
    """(schema state, tables in its schema, tables its models declare), asked with its own code."""
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", INSPECT.format(package=package_of(project.name)), url],
        cwd=project,
        env=clean_env(venv, PYTHONPATH="src"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    state, tables, declared = proc.stdout.splitlines()
    return state, set(filter(None, tables.split(","))), set(declared.split(","))


@pytest.mark.e2e
def test_every_services_migrations_share_one_database_in_hook_order(
    shop: Path, production: list[dict[str, Any]]
) -> None:
    order = hook_order(production)
    assert sorted(order) == ["fulfilment", "inventory", "orders"]
    projects = {name: shop / "services" / name for name in order}
    venvs = {name: service_venv(project) for name, project in projects.items()}

    with postgres_server(database="shop", user="shop") as url:
        for position, name in enumerate(order):
            state, _, _ = inspect_service(projects[name], venvs[name], url)
            assert state == "behind", f"{name} is not ready before its migrations ran"
            migrate(projects[name], venvs[name], url)
            for earlier in order[: position + 1]:
                state, tables, declared = inspect_service(projects[earlier], venvs[earlier], url)
                assert state == "current", f"{earlier} after the migrations of {name}"
                assert tables == declared | {"alembic_version"}, f"{earlier}: {tables}"
