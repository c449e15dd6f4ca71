"""The service of the `worker` template, rendered by Copier and checked as its own CI would:
compose config, hadolint, checkov and its own ruff; end to end (`e2e`), its own check script
(ruff, unit + integration tests, licences) against a real PostgreSQL and RabbitMQ; then a backend
and a worker as processes on loopback: one trace from the backend's request into the worker's
logs, and SIGTERM / SIGKILL in the middle of messages losing none."""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import service_checks, validators
from tests.helpers import render_template
from tests.servers import PG_BIN, free_port, postgres_server, rabbitmq_server
from tests.service_checks import migrate, package_of, published_ports, render_kind, runtime_command, watch_actions
from tests.service_venv import clean_env, get, json_records, post_json, service_venv, wait_until_up

HOST_PORT = 8101
# A plain name and one with a dash (package `audit_log`): the two ways names map to code.
NAMES = ("audit", "audit-log")
WORKER = "audit-log"
BACKEND = "orders"
DEADLINE_S = 60.0


def render(destination: Path, name: str, kind: str = "worker") -> Path:
    return render_kind(destination, kind, name, port=HOST_PORT)


@pytest.fixture(scope="module", params=NAMES)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    name: str = request.param
    return render(tmp_path_factory.mktemp("service") / name, name)


# --- static checks: the tools a user's CI runs -------------------------------------------------


def test_layout(service: Path) -> None:
    package = package_of(service.name)
    for relative in (
        f"src/{package}/__main__.py",
        f"src/{package}/consumer.py",
        f"src/{package}/handlers.py",
        f"src/{package}/topology.py",
        f"src/{package}/server.py",
        f"src/{package}/logs.py",
        f"src/{package}/tracing.py",
        "alembic.ini",
        "migrations/env.py",
        "migrations/versions/0001_create_processed_messages.py",
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
        ".copier-answers.yml",
        "chart/Chart.yaml",
    ):
        assert (service / relative).exists(), relative
    assert (service / "scripts" / "check.sh").stat().st_mode & 0o111, "check.sh is executable"
    assert not (service / ".env").exists(), "credentials belong in the user's git-ignored .env"
    assert ".env" in (service / ".gitignore").read_text().splitlines()
    assert ".env" in (service / ".dockerignore").read_text().splitlines()
    answers = (service / ".copier-answers.yml").read_text()
    assert "kind: worker" in answers and "subscribes: '*.item.published'" in answers


def test_no_leftover_markers(service: Path) -> None:
    service_checks.assert_no_leftover_markers(service)


def test_requirements_are_locked_with_hashes_by_its_own_lock_script(service: Path) -> None:
    service_checks.assert_requirements_locked(service)


def test_compose_config_without_env_file(service: Path) -> None:
    name = service.name
    services = validators.compose_config(service / "compose.yaml")["services"]
    service_checks.assert_python_compose_services(services, name)
    worker, migrate = services[name], services[f"{name}-migrate"]
    assert published_ports(worker) == [("127.0.0.1", str(HOST_PORT), 9000)]
    assert worker["depends_on"][f"{name}-mq"]["condition"] == "service_healthy"
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert ("sync+restart", "src") in watch_actions(worker)
    assert worker["environment"]["WORKER_SUBSCRIBES"] == "*.item.published"
    # SIGTERM gets more time than the worker's own shutdown timeout (20 s) before SIGKILL.
    assert float(worker["stop_grace_period"].rstrip("s")) > 20


def test_compose_takes_credentials_from_env_file(service: Path, tmp_path: Path) -> None:
    service_checks.assert_python_compose_takes_credentials_from_env_file(service, tmp_path)


def test_dockerfile_passes_hadolint(service: Path) -> None:
    validators.hadolint(service / "Dockerfile")


def test_dockerfile_passes_checkov(service: Path) -> None:
    validators.checkov(service / "Dockerfile", "dockerfile")


def test_dockerfile_runtime_stage(service: Path) -> None:
    runtime = service_checks.python_runtime_stage(service)
    healthcheck = next(i for i, line in enumerate(runtime) if line.startswith("HEALTHCHECK"))
    assert "9000/livez" in runtime[healthcheck + 1]
    assert runtime_command(runtime) == ["python", "-m", package_of(service.name)]


def test_generated_code_passes_its_own_ruff(service: Path) -> None:
    service_checks.assert_passes_its_own_ruff(service)


# --- end to end: the worker's own suite ----------------------------------------------------------


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    return {
        WORKER: render(root / WORKER, WORKER),
        BACKEND: render(root / BACKEND, BACKEND, kind="backend"),
    }


@pytest.fixture(scope="module")
def venvs(projects: dict[str, Path]) -> dict[str, Path]:
    return {name: service_venv(project) for name, project in projects.items()}


@pytest.fixture(scope="module")
def amqp_url() -> Iterator[str]:
    with rabbitmq_server() as url:
        yield url


@pytest.fixture(scope="module")
def worker_database() -> Iterator[str]:
    package = package_of(WORKER)
    with postgres_server(database=package, user=package) as url:
        yield url


@pytest.mark.e2e
def test_generated_check_script_passes_on_postgres_and_rabbitmq(
    projects: dict[str, Path], venvs: dict[str, Path], worker_database: str, amqp_url: str, tmp_path: Path
) -> None:
    modules = service_checks.run_python_check_script(
        projects[WORKER],
        # The outdated check asks the package index and fails whenever a pin gets a newer release;
        # the audit needs PyPI's advisory data, which these machines cannot reach (its own test below).
        clean_env(venvs[WORKER], DATABASE_URL=worker_database, AMQP_URL=amqp_url, CHECK_OUTDATED="0", CHECK_AUDIT="0"),
        tmp_path / "junit.xml",
        timeout=900,
    )
    for expected in ("test_process", "test_shutdown", "test_consumer", "test_observability"):
        assert f"tests.integration.{expected}" in modules, expected


@pytest.mark.e2e
def test_generated_integration_tests_fail_without_servers(projects: dict[str, Path], venvs: dict[str, Path]) -> None:
    service_checks.assert_integration_tests_need_a_database(projects[WORKER], venvs[WORKER])


# --- end to end: a backend publishing, a worker consuming, as processes on loopback ---------------


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout=DEADLINE_S)


def eventually(predicate: Callable[[], bool], what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}" + (f":\n{log.read_text()[-5000:]}" if log else ""))
        time.sleep(0.1)


@contextmanager
def started(args: list[str], cwd: Path, env: dict[str, str], log: Path, port: int, probe: str) -> Iterator[Process]:
    with open(log, "wb") as out:
        popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    process = Process(popen, log, port)
    try:
        wait_until_up(popen, f"http://127.0.0.1:{port}{probe}", log)
        yield process
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait(timeout=DEADLINE_S)


@pytest.fixture(scope="module")
def backend_database() -> Iterator[str]:
    package = package_of(BACKEND)
    with postgres_server(database=package, user=package) as url:
        yield url


@pytest.fixture(scope="module")
def backend(
    projects: dict[str, Path],
    venvs: dict[str, Path],
    backend_database: str,
    amqp_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Process]:
    """uvicorn serving the generated backend, publishing to the RabbitMQ on loopback."""
    migrate(projects[BACKEND], venvs[BACKEND], backend_database)
    port = free_port()
    env = clean_env(
        venvs[BACKEND],
        DATABASE_URL=backend_database,
        AMQP_URL=amqp_url,
        PYTHONPATH="src",
        METRICS_PORT="0",
        OTEL_TRACES_EXPORTER="none",
        OTEL_SERVICE_NAME=BACKEND,
    )
    args = [str(venvs[BACKEND] / "bin" / "uvicorn"), "--factory", f"{BACKEND}.app:create_app", "--port", str(port)]
    log = tmp_path_factory.mktemp("backend") / "stdout.log"
    with started(args, projects[BACKEND], env, log, port, "/livez") as process:
        yield process


@pytest.fixture(scope="module")
def worker_migrated(projects: dict[str, Path], venvs: dict[str, Path], worker_database: str) -> str:
    migrate(projects[WORKER], venvs[WORKER], worker_database)
    return worker_database


@contextmanager
def worker_process(
    projects: dict[str, Path], venvs: dict[str, Path], database_url: str, amqp_url: str, log: Path
) -> Iterator[Process]:
    """`python -m audit_log`, the worker's container command, with its secrets given as files."""
    secrets_dir = log.parent / f"secrets-{secrets.token_hex(4)}"
    secrets_dir.mkdir()
    (secrets_dir / "database-url").write_text(database_url)
    (secrets_dir / "amqp-url").write_text(amqp_url)
    port = free_port()
    env = clean_env(
        venvs[WORKER],
        DATABASE_URL_FILE=str(secrets_dir / "database-url"),
        AMQP_URL_FILE=str(secrets_dir / "amqp-url"),
        PYTHONPATH="src",
        METRICS_PORT=str(port),
        METRICS_HOST="127.0.0.1",
        OTEL_TRACES_EXPORTER="none",
        OTEL_SERVICE_NAME=WORKER,
    )
    args = [str(venvs[WORKER] / "bin" / "python"), "-m", package_of(WORKER)]
    with started(args, projects[WORKER], env, log, port, "/readyz") as process:
        yield process


def publish(backend: Process, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Create an item through the backend's API and publish it; (item id, message id)."""
    base = f"http://127.0.0.1:{backend.port}"
    status, item = post_json(f"{base}/items", {"name": f"e2e-{secrets.token_hex(6)}"}, {})
    assert status == 201, item
    status, accepted = post_json(f"{base}/items/{item['id']}/publish", None, headers or {})
    assert status == 202, accepted
    return int(item["id"]), str(accepted["message_id"])


def records(log: Path, message: str) -> list[dict[str, Any]]:
    return [r for r in json_records(log) if r["message"] == message]


def psql(database_url: str, sql: str) -> str:
    """One query with the machine's psql; its output, unaligned."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    proc = subprocess.run(
        [str(PG_BIN / "psql"), "-X", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@contextmanager
def table_locked(database_url: str) -> Iterator[None]:
    """A psql session holding an exclusive lock on published_items: the worker's handler waits
    on it, so messages are certainly in hand while the test signals the worker."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    session = subprocess.Popen(
        [str(PG_BIN / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert session.stdin is not None
    session.stdin.write("BEGIN;\nLOCK TABLE published_items IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n")
    session.stdin.flush()
    assert session.stdout is not None and session.stdout.readline().strip() == "locked"
    try:
        yield
    finally:
        session.communicate("ROLLBACK;\n", timeout=30)


def waiting_on_the_lock(database_url: str) -> int:
    return int(
        psql(database_url, "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'published_items'::regclass")
    )


def queue_depth(venv: Path, amqp_url: str, queue: str) -> int:
    """Messages waiting in `queue`, asked of the broker with the worker's own aio-pika."""
    script = (
        "import asyncio, sys, aio_pika\n"
        "async def main():\n"
        "    async with await aio_pika.connect(sys.argv[1]) as connection:\n"
        "        channel = await connection.channel()\n"
        "        queue = await channel.declare_queue(sys.argv[2], passive=True)\n"
        "        print(queue.declaration_result.message_count)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, amqp_url, queue], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


@pytest.mark.e2e
def test_one_trace_from_the_backend_request_into_the_worker(
    projects: dict[str, Path],
    venvs: dict[str, Path],
    backend: Process,
    worker_migrated: str,
    amqp_url: str,
    tmp_path: Path,
) -> None:
    trace_id, parent_span = secrets.token_hex(16), secrets.token_hex(8)
    with worker_process(projects, venvs, worker_migrated, amqp_url, tmp_path / "worker.log") as worker:
        item_id, message_id = publish(backend, {"traceparent": f"00-{trace_id}-{parent_span}-01"})
        eventually(
            lambda: any(r.get("message_id") == message_id for r in records(worker.log, "message handled")),
            "the worker to handle the message",
            worker.log,
        )
        _, _, metrics = get(f"http://127.0.0.1:{worker.port}/metrics")
        assert worker.stop() == 0, worker.log.read_text()

    (published,) = [r for r in records(backend.log, "item published") if r["message_id"] == message_id]
    (handled,) = [r for r in records(worker.log, "message handled") if r["message_id"] == message_id]
    assert published["trace_id"] == handled["trace_id"] == trace_id
    assert handled["routing_key"] == f"{BACKEND}.item.published"
    (recorded,) = [r for r in records(worker.log, "item recorded") if r["item_id"] == item_id]
    assert recorded["trace_id"] == trace_id and recorded["source"] == BACKEND
    assert (
        psql(
            worker_migrated,
            f"SELECT times_published FROM published_items WHERE source = 'orders' AND item_id = {item_id}",
        )
        == "1"
    )
    assert 'worker_messages_processed_total{outcome="handled"} 1.0' in metrics.splitlines()
    assert "worker_messages_in_flight 0.0" in metrics.splitlines()
    assert not [r for r in json_records(worker.log) if r["level"] in {"ERROR", "CRITICAL"}]
    assert records(worker.log, "stopped")[0]["unfinished"] == 0


@pytest.mark.e2e
def test_sigterm_finishes_messages_in_hand_and_sigkill_loses_none(
    projects: dict[str, Path],
    venvs: dict[str, Path],
    backend: Process,
    worker_migrated: str,
    amqp_url: str,
    tmp_path: Path,
) -> None:
    published: dict[str, int] = {}
    with worker_process(projects, venvs, worker_migrated, amqp_url, tmp_path / "first.log") as first:
        with table_locked(worker_migrated):
            for _ in range(12):  # more than the prefetch (8): some wait in the queue
                item_id, message_id = publish(backend)
                published[message_id] = item_id
            eventually(lambda: waiting_on_the_lock(worker_migrated) > 0, "messages in hand", first.log)
            first.popen.send_signal(signal.SIGTERM)
            eventually(lambda: bool(records(first.log, "finishing the messages in hand")), "the stop", first.log)
        assert first.stop() == 0, first.log.read_text()
    in_hand = records(first.log, "finishing the messages in hand")[0]["in_flight"]
    finished = {r["message_id"] for r in records(first.log, "message handled")}
    assert in_hand > 0 and len(finished) == in_hand, "the messages in hand were finished, not dropped"
    assert records(first.log, "stopped")[0]["unfinished"] == 0

    killed: list[str] = []
    with (
        worker_process(projects, venvs, worker_migrated, amqp_url, tmp_path / "second.log") as second,
        table_locked(worker_migrated),
    ):
        for _ in range(3):
            item_id, message_id = publish(backend)
            published[message_id] = item_id
            killed.append(message_id)
        eventually(lambda: waiting_on_the_lock(worker_migrated) > 0, "messages in hand", second.log)
        assert second.stop(signal.SIGKILL) == -signal.SIGKILL
    in_killed = "', '".join(killed)
    assert psql(worker_migrated, f"SELECT count(*) FROM processed_messages WHERE message_id IN ('{in_killed}')") == "0"

    with worker_process(projects, venvs, worker_migrated, amqp_url, tmp_path / "third.log") as third:
        ids = "', '".join(published)
        eventually(
            lambda: (
                psql(worker_migrated, f"SELECT count(*) FROM processed_messages WHERE message_id IN ('{ids}')")
                == str(len(published))
            ),
            "every message to be handled",
            third.log,
        )
        assert third.stop() == 0

    items = ", ".join(str(i) for i in published.values())
    counts = psql(
        worker_migrated,
        f"SELECT count(*), sum(times_published) FROM published_items WHERE source = 'orders' AND item_id IN ({items})",
    )
    assert counts == f"{len(published)}|{len(published)}", "each message handled exactly once"
    assert queue_depth(venvs[WORKER], amqp_url, WORKER) == 0
    assert queue_depth(venvs[WORKER], amqp_url, f"{WORKER}.dead") == 0


# --- the template's questions ------------------------------------------------------------------


def test_the_subscriptions_answer_reaches_code_compose_and_chart(tmp_path: Path) -> None:
    patterns = "orders.item.published,inventory.#"
    project = render_kind(tmp_path / WORKER, "worker", WORKER, subscribes=patterns)

    assert f'DEFAULT_SUBSCRIBES = "{patterns}"' in (project / "src" / "audit_log" / "__init__.py").read_text()
    compose = validators.compose_config(project / "compose.yaml")
    assert compose["services"][WORKER]["environment"]["WORKER_SUBSCRIBES"] == patterns
    validators.helm_lint(project / "chart")
    (deployment,) = [d for d in validators.helm_render(project / "chart") if d["kind"] == "Deployment"]
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WORKER_SUBSCRIBES"] == patterns


@pytest.mark.parametrize("answer", ["orders item", "", 'orders."item', "orders..item", "orders.item,"])
def test_copier_refuses_what_is_not_a_topic_pattern(answer: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="topic patterns"):
        render_template(tmp_path / "out", kind="worker", name=WORKER, subscribes=answer)
    assert not (tmp_path / "out" / "compose.yaml").exists()
