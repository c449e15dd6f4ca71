"""Backend requests/s with tracing + JSON access logs + metrics on, against the same app with them off.

    .venv/bin/python -m bench.backend_throughput        (also run by: make bench-all)

Renders the backend template, installs its pinned requirements (cached like the tests do),
starts a real PostgreSQL on loopback, then alternates uvicorn processes of the same app, measured
with wrk side by side. This machine's speed drifts by a third over a minute, so the figure is the
median of per-round ratios: each round runs every variant back to back (their order alternating),
so drift between rounds cancels; the medians of each variant's req/s are printed too. On a busy
machine requests/s measure the neighbours as much as the app, so the server's CPU time per
request (from /proc, the exporter's thread included) is reported beside it: with one uvicorn
process, requests/s on an idle core are the inverse of it, and it does not change with the load.
- production: the production sampling default (scaffold/wiring/umbrella.py SAMPLING: parent-based
       ratio 0.1; unsampled requests not recorded, their server span exported afterwards when they
       fail: none fails here), OTLP/HTTP to a local sink,
       JSON access log line per request (LOG_LEVEL=INFO), Prometheus metrics;
- all traces: the same with every trace sampled and exported (always_on), for reference;
- production + tokens: production, and the API requires a bearer token (AUTH_*: every request's
       token verified by tokens.py against the keys of a local issuer, gateway/auth/auth_server.py
       run as compose's local development issuer); goal >= 0.7 of off (issue 14);
- off: OTEL_SDK_DISABLED=true, LOG_LEVEL=WARNING (no access log lines), Prometheus metrics
       (the template has no switch for its request metrics; they stay on in both).
Every variant is sent the same Authorization header; only "production + tokens" verifies it.
Workload: GET /items?limit=20 (a database read; probe paths are excluded from tracing).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import copier

from scaffold.wiring.umbrella import SAMPLING
from tests.otlp_sink import otlp_sink
from tests.servers import free_port, postgres_server
from tests.service_venv import clean_env, service_venv

REPO = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
DURATION = "5s"


@contextmanager
def app(project: Path, venv: Path, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "uvicorn"),
                "--factory",
                "orders.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log" if env.get("LOG_LEVEL") == "WARNING" else "--access-log",
            ],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{url}/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"the app did not start; see {log}")
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, token: str, pid: int | None = None) -> tuple[float, float]:
    """(requests/s, the server's CPU milliseconds per request)."""
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{DURATION}", "-H", f"Authorization: Bearer {token}", f"{url}/items?limit=20"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spent = cpu_seconds(pid) - before if pid else 0.0
    # A timed-out request is an error too: a stalled app must fail the bench, not lower a median.
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: ", out)
    if errors:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not match or not count:
        raise RuntimeError(out)
    return float(match.group(1)), 1000 * spent / max(1, int(count.group(1)))


ISSUER = "http://127.0.0.1/bench-issuer"
AUDIENCE = "bench-api"


@contextmanager
def local_issuer(venv: Path, scratch: Path) -> Iterator[tuple[dict[str, str], str]]:
    """The local development issuer the ecosystem's compose runs (its source as scaffold writes it),
    on loopback: the AUTH_* settings that trust it, and a token it issued."""
    directory = scratch / "issuer"
    directory.mkdir()
    shutil.copy(REPO / "scaffold" / "gateway_auth" / "auth_server.py", directory)
    shutil.copy(REPO / "templates" / "shared" / "python" / "tokens.py", directory)
    port = free_port()
    settings = {"AUTH_ISSUER": ISSUER, "AUTH_AUDIENCE": AUDIENCE, "AUTH_JWKS_URL": f"http://127.0.0.1:{port}/jwks"}
    env = clean_env(venv, **settings, AUTH_LISTEN=f"127.0.0.1:{port}", DEV_ISSUER="true")
    with (scratch / "issuer.log").open("wb") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "python"), "auth_server.py"], cwd=directory, env=env, stdout=out, stderr=out
        )
        try:
            for _ in range(200):
                try:
                    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", data=b"user=bench")
                    page = urllib.request.urlopen(request, timeout=1).read().decode()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the local issuer did not start")
            token = re.search(r"<textarea id=token[^>]*>([^<]+)</textarea>", page)
            if token is None:
                raise RuntimeError(page)
            yield settings, html.unescape(token.group(1))
        finally:
            process.terminate()
            process.wait(timeout=30)


def bench_backend(directory: Path) -> tuple[Path, Path]:
    """The backend both backend benches measure, `orders`, rendered into `directory`, and its venv."""
    project = directory / "orders"
    copier.run_copy(
        str(REPO / "templates"),
        str(project),
        data={"kind": "backend", "name": "orders", "ecosystem": "bench", "port": 8001},
        defaults=True,
        quiet=True,
        unsafe=True,
    )
    return project, service_venv(project)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project, venv = bench_backend(Path(scratch))
        with (
            postgres_server() as database_url,
            otlp_sink() as sink,
            local_issuer(venv, Path(scratch)) as (auth, token),
        ):
            base = clean_env(venv, DATABASE_URL=database_url, PYTHONPATH="src", METRICS_PORT=str(free_port()))
            subprocess.run(
                [str(venv / "bin" / "alembic"), "upgrade", "head"],
                cwd=project,
                env=base,
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "orders.fixtures"],
                cwd=project,
                env=base,
                check=True,
                capture_output=True,
            )
            sampling = SAMPLING["production"]
            traced = {
                **base,
                "OTEL_SERVICE_NAME": "orders",
                "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
                "LOG_LEVEL": "INFO",
            }
            production = {
                **traced,
                "OTEL_TRACES_SAMPLER": sampling["sampler"],
                "OTEL_TRACES_SAMPLER_ARG": sampling["samplerArg"],
            }
            variants = {
                "production": production,
                "production + tokens": {**production, **auth},
                "all traces": {**traced, "OTEL_TRACES_SAMPLER": "always_on"},
                "off": {**base, "OTEL_SDK_DISABLED": "true", "LOG_LEVEL": "WARNING"},
            }
            rate: dict[str, list[float]] = {name: [] for name in variants}
            cost: dict[str, list[float]] = {name: [] for name in variants}
            for round_ in range(ROUNDS):
                order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
                for name in order:
                    env = {**variants[name], "METRICS_PORT": str(free_port())}
                    with app(project, venv, env, Path(scratch) / f"{name}-{round_}.log") as (url, pid):
                        wrk(url, token)  # warm-up (and the verifier's first fetch of the keys)
                        requests, milliseconds = wrk(url, token, pid)
                    rate[name].append(requests)
                    cost[name].append(milliseconds)
                print(
                    f"round {round_ + 1}: "
                    + ", ".join(f"{n} {rate[n][-1]:.0f} req/s {cost[n][-1]:.2f} ms CPU/request" for n in variants),
                    flush=True,
                )
    print(f"GET /items, {ROUNDS} paired rounds; load average {os.getloadavg()[0]:.1f}:")
    for name in variants:
        print(
            f"  {name}: req/s median {statistics.median(rate[name]):.0f} (min {min(rate[name]):.0f}, max "
            f"{max(rate[name]):.0f}); server CPU per request median {statistics.median(cost[name]):.2f} ms"
        )
    goals = {"production": " (goal >= 0.85)", "production + tokens": " (goal >= 0.7)"}
    for name in ("production", "production + tokens", "all traces"):
        by_rate = [a / b for a, b in zip(rate[name], rate["off"], strict=True)]
        by_cpu = [b / a for a, b in zip(cost[name], cost["off"], strict=True)]
        print(
            f"  {name} / off: by req/s median {statistics.median(by_rate):.2f} (min {min(by_rate):.2f}, max "
            f"{max(by_rate):.2f}); by CPU per request median {statistics.median(by_cpu):.2f} (min {min(by_cpu):.2f}, "
            f"max {max(by_cpu):.2f})" + goals.get(name, "")
        )


if __name__ == "__main__":
    main()
