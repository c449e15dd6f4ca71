"""One trace across the ecosystem, end to end on loopback (issue 3).

An ecosystem made by the real CLI (backend `orders`, worker `fulfilment`, frontend `web`) runs
from its generated code: PostgreSQL and RabbitMQ started for the test, the backend under uvicorn,
the worker as `python -m fulfilment`, the frontend's production build behind its own nginx
configuration, and the derived gateway configuration (gateway/nginx.conf) in front of them, with
compose's service addresses replaced by the loopback ports the processes listen on. Headless
Chromium opens the page through the gateway, lists, creates and publishes an item; the JSON log
lines of the backend and of the worker carry the trace id of the browser's `traceparent`, their
service and environment, and the same records reach the OTLP endpoint (the collector's protocol,
which compose's collector passes on to Loki) with that trace id and the service's resource (issue
14: no log store runs on these machines, so the exporting side is what is proven here).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import scaffold
from tests.otlp_sink import log_records, recording_otlp_sink
from tests.servers import free_port, postgres_server, rabbitmq_server
from tests.service_venv import clean_env, service_venv
from tests.test_frontend_service import NGINX, Nginx, node_modules, npm_env, run_smoke

pytestmark = pytest.mark.e2e

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")


@pytest.fixture(scope="module")
def ecosystem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("trace")
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    scaffold("new", "worker", "fulfilment", "--defaults", cwd=root)
    scaffold("new", "frontend", "web", "--defaults", "--data", "api_service=orders", cwd=root)
    return root


@contextlib.contextmanager
def process(args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()}")


def json_lines(log: Path) -> list[dict[str, Any]]:
    records = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def gateway_conf(root: Path, scratch: Path, addresses: dict[str, str], port: int) -> Path:
    """The derived gateway configuration with compose's service addresses replaced by loopback ones."""
    conf = (root / "gateway" / "nginx.conf").read_text()
    for compose_address, loopback in addresses.items():
        assert f"http://{compose_address}" in conf, compose_address
        conf = conf.replace(f"http://{compose_address}", f"http://{loopback}")
    assert conf.count("listen 8080;") == 1
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    path = scratch / "gateway.conf"
    path.write_text(conf)
    return path


def test_one_trace_from_the_browser_through_backend_and_queue_to_the_worker(ecosystem: Path, tmp_path: Path) -> None:
    backend, worker, frontend = (ecosystem / "services" / n for n in ("orders", "fulfilment", "web"))
    backend_venv, worker_venv = service_venv(backend), service_venv(worker)
    node_modules(frontend)
    build = subprocess.run(["npm", "run", "build"], cwd=frontend, env=npm_env(), capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr

    with (
        postgres_server(database="orders") as orders_db,
        postgres_server(database="fulfilment") as fulfilment_db,
        rabbitmq_server() as amqp_url,
        contextlib.ExitStack() as stack,
    ):
        sink, exports = stack.enter_context(recording_otlp_sink())
        common = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=shop,deployment.environment.name=local",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": "src",
            "AMQP_URL": amqp_url,
            "AMQP_EXCHANGE": "events",
        }
        backend_env = clean_env(
            backend_venv, DATABASE_URL=orders_db, OTEL_SERVICE_NAME="orders", METRICS_PORT=str(free_port()), **common
        )
        worker_env = clean_env(
            worker_venv,
            DATABASE_URL=fulfilment_db,
            OTEL_SERVICE_NAME="fulfilment",
            METRICS_PORT=str(free_port()),
            WORKER_SUBSCRIBES="*.item.published",
            **common,
        )
        for project, venv, env in ((backend, backend_venv, backend_env), (worker, worker_venv, worker_env)):
            migrate = subprocess.run(
                [str(venv / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=env, capture_output=True, text=True
            )
            assert migrate.returncode == 0, migrate.stdout + migrate.stderr

        backend_port = free_port()
        backend_log, worker_log = tmp_path / "orders.log", tmp_path / "fulfilment.log"
        api = stack.enter_context(
            process(
                [
                    str(backend_venv / "bin" / "uvicorn"),
                    "--factory",
                    "orders.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(backend_port),
                ],
                cwd=backend,
                env=backend_env,
                log=backend_log,
            )
        )
        wait_for(f"http://127.0.0.1:{backend_port}/readyz", api, backend_log)
        consumer = stack.enter_context(
            process(
                [str(worker_venv / "bin" / "python"), "-m", "fulfilment"], cwd=worker, env=worker_env, log=worker_log
            )
        )
        wait_for(f"http://127.0.0.1:{worker_env['METRICS_PORT']}/readyz", consumer, worker_log)

        web = stack.enter_context(
            contextlib.closing(
                _Closing(
                    Nginx(
                        frontend,
                        frontend / "dist",
                        {
                            "API_BASE_URL": "",
                            "OTEL_EXPORTER_OTLP_ENDPOINT": "/otlp",
                            "OTEL_SERVICE_NAME": "web",
                            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
                        },
                    )
                )
            )
        )
        web.server.start()

        gateway_port = free_port()
        conf = gateway_conf(
            ecosystem,
            tmp_path,
            {
                "orders:8000": f"127.0.0.1:{backend_port}",
                "web:8080": f"127.0.0.1:{web.server.port}",
                "otel-collector:4318": sink.removeprefix("http://"),
            },
            gateway_port,
        )
        (tmp_path / "logs").mkdir()
        gateway_log = tmp_path / "gateway.log"
        gateway = stack.enter_context(
            process(
                [NGINX, "-e", "stderr", "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
                cwd=tmp_path,
                env={"PATH": "/usr/sbin:/usr/bin:/bin"},
                log=gateway_log,
            )
        )
        wait_for(f"http://127.0.0.1:{gateway_port}/healthz", gateway, gateway_log)

        summary = run_smoke(frontend, SMOKE_URL=f"http://127.0.0.1:{gateway_port}/")

        publish = next(r for r in summary["apiRequests"] if r["path"].endswith("/publish"))
        match = TRACEPARENT.fullmatch(publish["traceparent"])
        assert match, publish
        trace_id = match.group(1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r.get("trace_id") == trace_id for r in json_lines(worker_log)):
            time.sleep(0.2)
        exported: list[dict[str, Any]] = []
        while time.monotonic() < deadline + 15:  # the batch processors export every few seconds
            exported = log_records(exports, backend_venv / "bin" / "python", tmp_path)
            services = {r["resource"].get("service.name") for r in exported if r["trace_id"] == trace_id}
            if {"orders", "fulfilment"} <= services:
                break
            time.sleep(0.5)

    backend_records = [r for r in json_lines(backend_log) if r.get("trace_id") == trace_id]
    worker_records = [r for r in json_lines(worker_log) if r.get("trace_id") == trace_id]
    assert backend_records, f"no backend log line with trace id {trace_id}:\n{backend_log.read_text()[-3000:]}"
    assert worker_records, f"no worker log line with trace id {trace_id}:\n{worker_log.read_text()[-3000:]}"
    for records, service in ((backend_records, "orders"), (worker_records, "fulfilment")):
        assert all((r["service"], r["environment"]) == (service, "local") for r in records), records[0]
    # The same lines, exported over OTLP: found by trace id, named by service and environment.
    of_trace = [r for r in exported if r["trace_id"] == trace_id]
    for service in ("orders", "fulfilment"):
        mine = [r for r in of_trace if r["resource"]["service.name"] == service]
        assert mine, f"no {service} log record with trace id {trace_id} was exported ({len(exported)} records)"
        assert all(r["resource"]["deployment.environment.name"] == "local" for r in mine)
        assert all(r["resource"]["service.namespace"] == "shop" for r in mine)
    gateway_lines = [r for r in json_lines(gateway_log) if trace_id in str(r.get("traceparent", ""))]
    assert gateway_lines, "the gateway did not pass the browser's traceparent on"
    # Every API call of the page carried a traceparent that reached the backend.
    for request in summary["apiRequests"]:
        other = TRACEPARENT.fullmatch(request["traceparent"])
        assert other and any(r.get("trace_id") == other.group(1) for r in json_lines(backend_log)), request


class _Closing:
    """Stops the frontend's nginx when the test's ExitStack unwinds."""

    def __init__(self, server: Nginx) -> None:
        self.server = server

    def close(self) -> None:
        self.server.stop()
