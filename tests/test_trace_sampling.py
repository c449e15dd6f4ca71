"""The generated backend under each environment's sampling default (scaffold/wiring/umbrella.py
SAMPLING, which the charts set as OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG): which traces a
real OTLP receiver gets. Every trace in test; in production the ratio's share of new traces, the
upstream decision for continued ones, and every request that fails, whatever was decided."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scaffold.wiring.umbrella import SAMPLING
from tests.otlp_sink import recording_otlp_sink, spans
from tests.servers import free_port, postgres_server, stop
from tests.service_checks import render_kind
from tests.service_venv import clean_env, service_venv, wait_until_up

pytestmark = pytest.mark.e2e

NAME = "orders"
REQUESTS = 150  # at a ratio of 0.1, none sampled has a chance of 0.9**150 (1 in 7 million)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_kind(tmp_path_factory.mktemp("sampling") / NAME, "backend", NAME, port=8001)


@pytest.fixture(scope="module")
def venv(project: Path) -> Path:
    return service_venv(project)


@pytest.fixture(scope="module")
def database_url(project: Path, venv: Path) -> Iterator[str]:
    with postgres_server(database=NAME, user=NAME) as url:
        env = clean_env(venv, DATABASE_URL=url, PYTHONPATH="src")
        subprocess.run([str(venv / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=env, check=True)
        yield url


@contextmanager
def exported_spans(
    project: Path, venv: Path, environment: str, database_url: str, scratch: Path
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The backend served with `environment`'s sampling, exporting to a real OTLP receiver: yields
    its URL and a list that holds, once the block ends, the spans it exported. The end of the
    exports is known by a last request of a trace sampled upstream: the SDK exports spans in the
    order they end, so once that one has arrived, every span before it has."""
    sampling = SAMPLING[environment]
    exported: list[dict[str, Any]] = []
    last = secrets.token_hex(16)
    log = scratch / f"{environment}.log"
    with recording_otlp_sink() as (sink, received):
        env = clean_env(
            venv,
            DATABASE_URL=database_url,
            PYTHONPATH="src",
            METRICS_PORT=str(free_port()),
            LOG_LEVEL="WARNING",
            OTEL_SERVICE_NAME=NAME,
            OTEL_EXPORTER_OTLP_ENDPOINT=sink,
            OTEL_TRACES_SAMPLER=sampling["sampler"],
            OTEL_TRACES_SAMPLER_ARG=sampling["samplerArg"],
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        port = free_port()
        command = ["uvicorn", "--factory", f"{NAME}.app:create_app", "--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(venv / "bin" / command[0]), *command[1:]], cwd=project, env=env, stdout=out, stderr=out
            )
            try:
                url = f"http://127.0.0.1:{port}"
                wait_until_up(process, f"{url}/livez", log)
                yield url, exported
                call(f"{url}/items?limit=1", f"00-{last}-{secrets.token_hex(8)}-01")
                deadline = time.monotonic() + 60
                while not any(s["trace_id"] == last for s in spans(received, venv / "bin" / "python", scratch)):
                    assert time.monotonic() < deadline, f"the last request's trace was not exported; see {log}"
                    time.sleep(0.5)
            finally:
                stop(process, timeout=30)
        exported.extend(s for s in spans(received, venv / "bin" / "python", scratch) if s["trace_id"] != last)


def call(url: str, traceparent: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"traceparent": traceparent} if traceparent else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def server_spans(exported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in exported if s["kind"] == "SPAN_KIND_SERVER"]


def sampled_by_ratio(trace_id: str, ratio: float) -> bool:
    """TraceIdRatioBased's rule: the trace id's lower 64 bits under ratio x 2^64."""
    return int(trace_id[16:], 16) < round(ratio * (1 << 64))


def test_in_test_every_request_is_one_exported_trace(
    project: Path, venv: Path, database_url: str, tmp_path: Path
) -> None:
    with exported_spans(project, venv, "test", database_url, tmp_path) as (url, exported):
        for _ in range(REQUESTS):
            assert call(f"{url}/items?limit=5")[0] == 200
    server = server_spans(exported)
    assert len({s["trace_id"] for s in server}) == REQUESTS
    assert {s["name"] for s in server} == {"GET /items"}
    # Whole traces: the queries come with their requests.
    assert {s["trace_id"] for s in exported if s["kind"] == "SPAN_KIND_CLIENT"} == {s["trace_id"] for s in server}


def test_in_production_new_traces_are_sampled_by_the_ratio_and_continued_ones_follow_upstream(
    project: Path, venv: Path, database_url: str, tmp_path: Path
) -> None:
    ratio = float(SAMPLING["production"]["samplerArg"])
    upstream = {secrets.token_hex(16): flags for flags in ("01", "00") for _ in range(10)}
    with exported_spans(project, venv, "production", database_url, tmp_path) as (url, exported):
        for _ in range(REQUESTS):
            assert call(f"{url}/items?limit=5")[0] == 200
        for trace_id, flags in upstream.items():
            assert call(f"{url}/items?limit=5", f"00-{trace_id}-{secrets.token_hex(8)}-{flags}")[0] == 200
    kept = {s["trace_id"] for s in server_spans(exported)}
    new = kept - set(upstream)
    assert 0 < len(new) < REQUESTS * 3 * ratio, len(new)
    assert all(sampled_by_ratio(trace_id, ratio) for trace_id in new)
    assert kept & set(upstream) == {trace_id for trace_id, flags in upstream.items() if flags == "01"}


def test_in_production_every_failing_request_is_exported_with_the_trace_id_it_answered(
    project: Path, venv: Path, tmp_path: Path
) -> None:
    unreachable = f"postgresql+psycopg://{NAME}@127.0.0.1:{free_port()}/{NAME}"  # nothing listens
    upstream_trace, upstream_span = secrets.token_hex(16), secrets.token_hex(8)
    answered = []
    with exported_spans(project, venv, "production", unreachable, tmp_path) as (url, exported):
        for _ in range(20):
            status, problem = call(f"{url}/items?limit=5")
            assert status == 503, problem
            answered.append(problem["trace_id"])
        status, problem = call(f"{url}/items?limit=5", f"00-{upstream_trace}-{upstream_span}-00")
        assert (status, problem["trace_id"]) == (503, upstream_trace)
        assert call(f"{url}/items/999999", f"00-{secrets.token_hex(16)}-{upstream_span}-00")[0] == 503
    failed = {s["trace_id"]: s for s in server_spans(exported)}
    assert set(answered) | {upstream_trace} <= set(failed)
    for trace_id in [*answered, upstream_trace]:
        span = failed[trace_id]
        assert span["status"] == "STATUS_CODE_ERROR"
        assert span["attributes"]["http.status_code"] == 503
        assert span["attributes"]["http.route"] == "/items"
        assert span["start_ns"] < span["end_ns"]
    # A continued trace keeps its place under the upstream span.
    assert failed[upstream_trace]["parent_span_id"] == upstream_span
