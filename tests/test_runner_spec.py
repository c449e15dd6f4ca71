"""What `scaffold test` runs for a service, as Compose resolves the service's compose file (test
profile): the test service, what it depends on in start order with each condition and health check,
and the variables it reads. The runs themselves are in tests/test_images_podman.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaffold.engine.runner import run_spec, seconds
from scaffold.errors import UsageError
from scaffold.prerequisites import ComposeProgram, find_compose
from tests.helpers import render_template


@pytest.fixture(scope="module")
def compose() -> ComposeProgram:
    found, tried = find_compose()
    assert found is not None, tried
    return found


def test_a_python_service_runs_its_tests_after_its_database_and_broker_are_healthy(
    compose: ComposeProgram, tmp_path: Path
) -> None:
    service = render_template(tmp_path / "orders", kind="backend", name="orders", ecosystem="shop")
    spec = run_spec(
        compose, service, "orders", {"PATH": "/usr/bin:/bin", "CHECK_STRICT": "1", "IMAGE_MIRROR": "m.example"}
    )
    assert spec.service == "orders-test"
    assert [(d.name, d.condition) for d in spec.dependencies] == [
        ("orders-db", "service_healthy"),
        ("orders-mq", "service_healthy"),
    ]
    db, mq = spec.dependencies
    assert db.image == "m.example/library/postgres:17.7-bookworm" and mq.image.startswith("m.example/library/rabbitmq:")
    assert db.health is not None and db.health[:2] == ["/bin/sh", "-c"] and "pg_isready" in db.health[2]
    assert db.deadline_s >= 60
    assert spec.environment["CHECK_STRICT"] == "1"
    assert spec.environment["DATABASE_URL"].startswith("postgresql+psycopg://orders:")
    assert "@orders-db:5432/" in spec.environment["DATABASE_URL"]


def test_a_frontend_runs_its_tests_alone(compose: ComposeProgram, tmp_path: Path) -> None:
    service = render_template(tmp_path / "web", kind="frontend", name="web", ecosystem="shop", api_service="orders")
    spec = run_spec(compose, service, "web", {"PATH": "/usr/bin:/bin"})
    assert spec.service == "web-test" and spec.dependencies == ()
    assert spec.environment["CHECK_STRICT"] == "0"  # the default: the dependency checks report only


def test_a_compose_file_without_a_test_service_is_refused(compose: ComposeProgram, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: docker.io/library/busybox:1\n")
    with pytest.raises(UsageError, match="no service 'app-test'"):
        run_spec(compose, tmp_path, "app", {"PATH": "/usr/bin:/bin"})


def test_a_broken_compose_file_is_reported_in_compose_s_words(compose: ComposeProgram, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app-test:\n    image: x\n    depends_on: [nowhere]\n")
    with pytest.raises(UsageError, match="nowhere"):
        run_spec(compose, tmp_path, "app", {"PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize(
    ("duration", "expected"), [("5s", 5.0), ("1m30s", 90.0), ("500ms", 0.5), (10, 10.0), (None, 7.0), ("", 7.0)]
)
def test_compose_durations_are_read_in_seconds(duration: object, expected: float) -> None:
    assert seconds(duration, 7.0) == pytest.approx(expected)
