"""Backend requests/s with tracing + JSON access logs on, against the same app with them off.

    .venv/bin/python -m bench.backend_throughput        (also run by: make bench-all)

Renders the backend template, installs its pinned requirements (cached like the tests do),
starts a real PostgreSQL on loopback, then alternates two uvicorn processes of the same app,
measured with wrk side by side. This machine's speed drifts by a third over a minute, so the
figure is the median of per-round ratios: each round runs both variants back to back (their
order alternating), so drift between rounds cancels; the medians of each variant's req/s are
printed too.
- on:  OpenTelemetry SDK exporting every span over OTLP/HTTP to a local sink, sampler always on,
       JSON access log line per request (LOG_LEVEL=INFO), Prometheus metrics;
- off: OTEL_SDK_DISABLED=true, LOG_LEVEL=WARNING (no access log lines), Prometheus metrics
       (the template has no switch for its request metrics; they stay on in both).
Workload: GET /items?limit=20 (a database read; probe paths are excluded from tracing).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import copier

from tests.otlp_sink import otlp_sink
from tests.servers import free_port, postgres_server
from tests.service_venv import clean_env, service_venv

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 7
DURATION = "5s"


@contextmanager
def app(project: Path, venv: Path, env: dict[str, str], log: Path) -> Iterator[str]:
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
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wrk(url: str) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{DURATION}", f"{url}/items?limit=20"], capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(out)
    return float(match.group(1))


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "orders"
        copier.run_copy(
            str(REPO / "templates"),
            str(project),
            data={"kind": "backend", "name": "orders", "ecosystem": "bench", "port": 8001},
            defaults=True,
            quiet=True,
            unsafe=True,
        )
        venv = service_venv(project)
        with postgres_server() as database_url, otlp_sink() as sink:
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
            variants = {
                "on": {
                    **base,
                    "OTEL_SERVICE_NAME": "orders",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
                    "OTEL_TRACES_SAMPLER": "always_on",
                    "LOG_LEVEL": "INFO",
                },
                "off": {**base, "OTEL_SDK_DISABLED": "true", "LOG_LEVEL": "WARNING"},
            }
            results: dict[str, list[float]] = {"on": [], "off": []}
            for round_ in range(ROUNDS):
                order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
                for name in order:
                    env = {**variants[name], "METRICS_PORT": str(free_port())}
                    with app(project, venv, env, Path(scratch) / f"{name}-{round_}.log") as url:
                        wrk(url)  # warm-up
                        results[name].append(wrk(url))
                ratio = results["on"][-1] / results["off"][-1]
                print(
                    f"round {round_ + 1}: on {results['on'][-1]:6.0f} req/s, off {results['off'][-1]:6.0f} req/s, "
                    f"ratio {ratio:.2f}",
                    flush=True,
                )
    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    ratios = [a / b for a, b in zip(results["on"], results["off"], strict=True)]
    print(
        f"backend GET /items: observability on {on:.0f} req/s, off {off:.0f} req/s (medians of {ROUNDS} rounds); "
        f"ratio on/off: median of the rounds' ratios {statistics.median(ratios):.2f} "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}), of the medians {on / off:.2f} (goal >= 0.7)"
    )


if __name__ == "__main__":
    main()
