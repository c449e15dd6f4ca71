"""The service of the `backend` template, rendered by Copier and checked as its own CI would:
compose config, hadolint, checkov and its own ruff; end to end (`e2e`), its own check script
(ruff, unit + integration tests, licences) against a real PostgreSQL, then the app under uvicorn
answering probes, items, metrics, and logging the trace id of an incoming `traceparent`."""

from __future__ import annotations

import http.client
import json
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import service_checks, validators
from tests.servers import free_port, postgres_cluster, postgres_server, rabbitmq_server, redis_server
from tests.service_checks import package_of, published_ports, render_kind, runtime_command, watch_actions
from tests.service_venv import clean_env, get, json_records, post_json, service_venv, wait_until_up

HOST_PORT = 8001
# A plain name and one with a dash (package `order_history`): the two ways names map to code.
NAMES = ("orders", "order-history")
E2E_NAME = "order-history"


def render(destination: Path, name: str) -> Path:
    return render_kind(destination, "backend", name, port=HOST_PORT)


@pytest.fixture(scope="module", params=NAMES)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    name: str = request.param
    return render(tmp_path_factory.mktemp("service") / name, name)


# --- static checks: the tools a user's CI runs -------------------------------------------------


def test_layout(service: Path) -> None:
    package = package_of(service.name)
    for relative in (
        f"src/{package}/app.py",
        "alembic.ini",
        "migrations/env.py",
        "migrations/versions/0001_create_items.py",
        "fixtures/items.json",
        "pyproject.toml",
        "requirements.txt",
        "requirements-dev.txt",
        "scripts/check.sh",
        "tests/unit",
        "tests/integration",
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        ".env.example",
        ".gitignore",
        "README.md",
    ):
        assert (service / relative).exists(), relative
    assert not (service / ".env").exists(), "credentials belong in the user's git-ignored .env"
    assert ".env" in (service / ".gitignore").read_text().splitlines()
    assert ".env" in (service / ".dockerignore").read_text().splitlines()


def test_no_leftover_markers(service: Path) -> None:
    service_checks.assert_no_leftover_markers(service)


def test_requirements_are_locked_with_hashes_by_its_own_lock_script(service: Path) -> None:
    service_checks.assert_requirements_locked(service)


def test_compose_config_without_env_file(service: Path) -> None:
    name = service.name
    services = validators.compose_config(service / "compose.yaml")["services"]
    assert f"{name}-cache" not in services  # Redis only for a backend that needs it
    service_checks.assert_python_compose_services(services, name)
    app, migrate = services[name], services[f"{name}-migrate"]
    assert published_ports(app) == [("127.0.0.1", str(HOST_PORT), 8000)]
    # Publishing is optional at run time: the app must not wait for the broker to be healthy.
    assert app["depends_on"][f"{name}-mq"]["condition"] == "service_started"
    assert ("sync", "src") in watch_actions(app)
    assert f"{package_of(name)}.fixtures" in " ".join(migrate["command"])


def test_compose_takes_credentials_from_env_file(service: Path, tmp_path: Path) -> None:
    service_checks.assert_python_compose_takes_credentials_from_env_file(service, tmp_path)


def test_dockerfile_passes_hadolint(service: Path) -> None:
    validators.hadolint(service / "Dockerfile")


def test_dockerfile_passes_checkov(service: Path) -> None:
    validators.checkov(service / "Dockerfile", "dockerfile")


def test_dockerfile_runtime_stage(service: Path) -> None:
    runtime = service_checks.python_runtime_stage(service)
    assert runtime_command(runtime)[0] == "uvicorn"


def test_generated_code_passes_its_own_ruff(service: Path) -> None:
    service_checks.assert_passes_its_own_ruff(service)


# --- end to end: the service's own suite and the running app -----------------------------------


@pytest.fixture(scope="module")
def e2e_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("e2e") / E2E_NAME, E2E_NAME)


@pytest.fixture(scope="module")
def venv(e2e_project: Path) -> Path:
    return service_venv(e2e_project)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    package = package_of(E2E_NAME)
    with postgres_server(database=package, user=package) as url:
        yield url


@pytest.fixture(scope="module")
def amqp_url() -> Iterator[str]:
    with rabbitmq_server() as url:
        yield url


@pytest.mark.e2e
def test_generated_check_script_passes_on_postgres_and_rabbitmq(
    e2e_project: Path, venv: Path, database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    service_checks.run_python_check_script(
        e2e_project,
        # The outdated check asks the package index and fails whenever a pin gets a newer release;
        # the audit needs PyPI's advisory data, which these machines cannot reach (its own test below).
        clean_env(venv, DATABASE_URL=database_url, AMQP_URL=amqp_url, CHECK_OUTDATED="0", CHECK_AUDIT="0"),
        tmp_path / "junit.xml",
        timeout=600,
    )


# --- a backend that needs Redis (`redis` answered yes, `needs: [redis]` in ecosystem.yaml) --------


@pytest.fixture(scope="module")
def cached_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_kind(tmp_path_factory.mktemp("cached") / E2E_NAME, "backend", E2E_NAME, port=HOST_PORT, redis=True)


def test_a_backend_with_redis_runs_a_redis_of_its_own_in_its_compose_file(cached_project: Path) -> None:
    services = validators.compose_config(cached_project / "compose.yaml", env={"COMPOSE_PROFILES": "test"})["services"]
    cache, app = services[f"{E2E_NAME}-cache"], services[E2E_NAME]
    assert re.fullmatch(r"redis:[0-9]+\.[0-9]+\.[0-9]+-[a-z]+", cache["image"]), cache["image"]
    # A shell-form health check: Podman before 5.8 splits exec-form tests at spaces.
    assert cache["healthcheck"]["test"][0] == "CMD-SHELL"
    url = urlsplit(app["environment"]["REDIS_URL"])
    assert (url.scheme, url.hostname, url.port) == ("redis", f"{E2E_NAME}-cache", 6379)
    assert url.password == cache["environment"]["REDIS_PASSWORD"]
    for dependent in (app, services[f"{E2E_NAME}-test"]):
        assert dependent["depends_on"][f"{E2E_NAME}-cache"]["condition"] == "service_healthy"


def test_a_backend_with_redis_locks_the_redis_client_with_hashes(cached_project: Path) -> None:
    service_checks.assert_requirements_locked(cached_project)
    assert "redis" in service_checks.read_lock(cached_project / "requirements.txt")


@pytest.mark.e2e
def test_a_backend_with_redis_passes_its_own_check_script_against_a_real_redis(
    cached_project: Path, database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    venv = service_venv(cached_project)
    with redis_server() as redis_url:
        env = clean_env(
            venv,
            DATABASE_URL=database_url,
            AMQP_URL=amqp_url,
            REDIS_URL=redis_url,
            CHECK_OUTDATED="0",
            CHECK_AUDIT="0",
        )
        modules = service_checks.run_python_check_script(cached_project, env, tmp_path / "junit.xml", timeout=600)
    assert any(m.endswith("integration.test_cache") for m in modules), modules


@pytest.mark.e2e
def test_the_vulnerability_audit_fails_when_it_cannot_reach_advisory_data(e2e_project: Path, venv: Path) -> None:
    service_checks.assert_audit_never_passes_unheard(e2e_project, venv)


@pytest.mark.e2e
def test_generated_integration_tests_fail_without_database(e2e_project: Path, venv: Path) -> None:
    service_checks.assert_integration_tests_need_a_database(e2e_project, venv)


@contextmanager
def uvicorn_app(project: Path, venv: Path, database_url: str, scratch: Path) -> Iterator[dict[str, Any]]:
    """uvicorn serving the generated app, the database URL given as a mounted-secret file the
    way Kubernetes passes it; tracing on (exporting nowhere), so answers carry trace ids."""
    secret = scratch / "database-url"
    secret.write_text(database_url)
    port, metrics_port = free_port(), free_port()
    log = scratch / "stdout.log"
    env = clean_env(
        venv,
        DATABASE_URL_FILE=str(secret),
        PYTHONPATH="src",
        METRICS_PORT=str(metrics_port),
        METRICS_HOST="127.0.0.1",
        OTEL_TRACES_EXPORTER="none",
        OTEL_SERVICE_NAME=E2E_NAME,
    )
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "uvicorn"),
                "--factory",
                f"{package_of(E2E_NAME)}.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(process, f"http://127.0.0.1:{port}/livez", log)
        yield {"base": f"http://127.0.0.1:{port}", "metrics": metrics_port, "log": log, "process": process}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def running_app(e2e_project: Path, venv: Path, database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app (after `alembic upgrade head`) under uvicorn."""
    service_checks.migrate(e2e_project, venv, database_url)
    with uvicorn_app(e2e_project, venv, database_url, tmp_path) as app:
        yield app


def request(base: str, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of any method, however odd, as a client may send it."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        connection.close()


SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_samples(port: int) -> list[tuple[str, dict[str, str], float]]:
    """The app's /metrics as (name, labels, value), one per sample line of the text format."""
    _, _, text = get(f"http://127.0.0.1:{port}/metrics")
    samples = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = dict(LABEL.findall(match.group("labels") or ""))
        samples.append((match.group("name"), labels, float(match.group("value"))))
    return samples


@pytest.mark.e2e
def test_an_unmigrated_database_keeps_the_app_unready_until_migrated(
    e2e_project: Path, venv: Path, tmp_path: Path
) -> None:
    package = package_of(E2E_NAME)
    with postgres_server(database=package, user=package) as url, uvicorn_app(e2e_project, venv, url, tmp_path) as app:
        status, _, body = get(f"{app['base']}/readyz")
        assert (status, json.loads(body)) == (503, {"status": "schema behind"})

        service_checks.migrate(e2e_project, venv, url)

        status, _, body = get(f"{app['base']}/readyz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})


@pytest.mark.e2e
def test_with_postgresql_stopped_the_api_answers_503_problems_with_the_trace_id(
    e2e_project: Path, venv: Path, tmp_path: Path
) -> None:
    package = package_of(E2E_NAME)
    with postgres_cluster(database=package, user=package) as cluster:
        service_checks.migrate(e2e_project, venv, cluster.url)
        with uvicorn_app(e2e_project, venv, cluster.url, tmp_path) as app:
            assert get(f"{app['base']}/items")[0] == 200
            cluster.stop()

            trace_id = secrets.token_hex(16)
            headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
            status, content_type, body = request(app["base"], "GET", "/items", headers)
            assert (status, content_type) == (503, "application/problem+json"), body
            problem = json.loads(body)
            assert problem["status"] == 503 and problem["title"] == "Service Unavailable"
            assert problem["trace_id"] == trace_id
            assert get(f"{app['base']}/readyz")[0] == 503

            cluster.start()
            assert get(f"{app['base']}/items")[0] == 200, "the pool reconnects by itself"
        logged = [r for r in json_records(app["log"]) if r.get("trace_id") == trace_id]
        assert any(r["message"] == "database unavailable" for r in logged), logged


@pytest.mark.e2e
def test_running_app_probes_items_metrics_and_trace_ids_in_logs(running_app: dict[str, Any]) -> None:
    base, log = running_app["base"], running_app["log"]
    process: subprocess.Popen[bytes] = running_app["process"]

    for probe in ("livez", "readyz"):
        status, _, body = get(f"{base}/{probe}")
        assert (status, json.loads(body)) == (200, {"status": "ok"}), probe

    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    name = f"e2e-{secrets.token_hex(4)}"
    status, created = post_json(
        f"{base}/items", {"name": name, "description": "end to end"}, {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    )
    assert status == 201
    assert created["name"] == name
    status, _, body = get(f"{base}/items/{created['id']}")
    assert status == 200
    assert json.loads(body) == created

    expected = {
        'http_requests_total{method="POST",route="/items",status="201"} 1.0',
        'http_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0',
    }
    # A request is counted once its response has been sent, so the client can be a moment ahead.
    deadline = time.monotonic() + 10
    while True:
        metrics_status, content_type, metrics = get(f"http://127.0.0.1:{running_app['metrics']}/metrics")
        if expected <= set(metrics.splitlines()) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert metrics_status == 200
    assert content_type.startswith("text/plain")
    assert expected <= set(metrics.splitlines()), metrics

    # Methods outside HTTP's standard ones add no series, whatever they are; probes count nowhere.
    before = metric_samples(running_app["metrics"])
    for method in ("BREW1", "BREW2", "BREW3"):
        assert request(base, method, "/items")[0] == 405
    # The middleware counts a request once its response has gone out: the last one may land a moment later.
    deadline = time.monotonic() + 10
    while True:
        after = metric_samples(running_app["metrics"])
        other = [v for n, labels, v in after if n == "http_requests_total" and labels["method"] == "_OTHER"]
        if sum(other) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    series_before = {(name, tuple(sorted(labels.items()))) for name, labels, _ in before}
    series_after = {(name, tuple(sorted(labels.items()))) for name, labels, _ in after}
    new_series = series_after - series_before
    assert {dict(labels)["method"] for _, labels in new_series} <= {"_OTHER"}, new_series
    assert sum(other) == 3
    for _ in range(3):
        get(f"{base}/livez")
        get(f"{base}/readyz")
    final = metric_samples(running_app["metrics"])
    assert not [labels for _, labels, _ in final if labels.get("route") in {"/livez", "/readyz"}]
    assert not [name for name, _, _ in final if name.endswith("_created")]

    # A graceful stop flushes every log line. uvicorn re-raises the signal once it has shut down,
    # so the exit status is -SIGTERM either way: the closing log lines tell a clean shutdown.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in {0, -signal.SIGTERM}

    records = json_records(log)
    traced = [r for r in records if r.get("trace_id") == trace_id]
    created_logs = [r for r in traced if r["message"] == "item created"]
    assert len(created_logs) == 1, traced
    assert created_logs[0]["item_id"] == created["id"]
    assert re.fullmatch(r"[0-9a-f]{16}", created_logs[0]["span_id"])
    assert created_logs[0]["span_id"] != parent_id
    access = [r for r in traced if r["logger"] == "uvicorn.access"]
    assert [(r["method"], r["path"], r["status_code"]) for r in access] == [("POST", "/items", 201)]
    assert all({"timestamp", "level", "logger", "message"} <= r.keys() for r in records)
    assert not [r for r in records if r["level"] in {"ERROR", "CRITICAL"}], records
    probes = [r for r in records if r.get("path") in {"/livez", "/readyz"}]
    assert probes and not any("trace_id" in r for r in probes), "probes must not be traced"
    messages = [r["message"] for r in records]
    assert "Application shutdown complete." in messages
    assert any(m.startswith("Finished server process") for m in messages)
