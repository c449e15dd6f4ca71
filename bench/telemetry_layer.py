"""What the backend's telemetry costs per request, without the server, wrk or the database.

    .venv/bin/python -m bench.telemetry_layer

Renders the backend template, and in its venv calls the app's ASGI entry directly (`create_app`,
the service's own middleware stack) on an async no-op route it adds: no uvicorn, no socket, no
query, so what is measured is the middleware and instrumentation around every request. Each
variant is timed as the minimum of REPEAT runs of COUNT requests, in a process of its own. A
minimum is what the code costs when nothing else interferes, so the figure holds on a busy
machine, where bench.backend_throughput's rounds scatter; it leaves out what that bench measures
beside the layer (the database, uvicorn, threads), so the two answer different questions.
Variants as in bench.backend_throughput: production (the production sampler; nothing is sampled
at a ratio of 0.1 for most requests), all traces (every request sampled; spans exported to a
local OTLP receiver), off (OTEL_SDK_DISABLED, no access log). The access log line uvicorn writes
is timed on its own, through the service's JSON formatter.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from bench.backend_throughput import bench_backend
from scaffold.wiring.umbrella import SAMPLING
from tests.otlp_sink import otlp_sink
from tests.service_venv import clean_env

COUNT = int(os.environ.get("BENCH_COUNT", "2000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))

# Run by the service's interpreter: prints "<microseconds per request> <microseconds per log line>".
HARNESS = """
import asyncio, logging, os, sys, timeit
from orders.app import create_app

app = create_app()

async def noop() -> dict[str, bool]:
    return {"ok": True}

app.add_api_route("/noop", noop)
SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
         "scheme": "http", "path": "/noop", "raw_path": b"/noop", "query_string": b"", "root_path": "",
         "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
         "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
answers = []

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    if message["type"] == "http.response.start":
        answers.append(message["status"])

async def requests(count):
    for _ in range(count):
        await app(dict(SCOPE, state={}), receive, send)

loop = asyncio.new_event_loop()
count, repeat = int(sys.argv[1]), int(sys.argv[2])
loop.run_until_complete(requests(count))
if set(answers) != {200}:
    raise SystemExit(f"answers: {sorted(set(answers))}")
layer = min(timeit.repeat(lambda: loop.run_until_complete(requests(count)), number=1, repeat=repeat))
line = 0.0
if os.environ.get("LOG_LEVEL") == "INFO":
    logging.getLogger().handlers[0].stream = open(os.devnull, "w")
    access = logging.getLogger("uvicorn.access")
    args = ("127.0.0.1:5000", "GET", "/noop", "1.1", 200)
    line = min(timeit.repeat(lambda: access.info('%s - "%s %s HTTP/%s" %d', *args), number=count, repeat=repeat))
print(f"{layer / count * 1e6:.1f} {line / count * 1e6:.1f}")
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, otlp_sink() as sink:
        project, venv = bench_backend(Path(scratch))
        (project / "harness.py").write_text(HARNESS)
        # The engine connects on first use, and the no-op route never uses it.
        base = clean_env(venv, DATABASE_URL="postgresql+psycopg://bench@127.0.0.1:9/bench", PYTHONPATH="src")
        traced = {**base, "OTEL_SERVICE_NAME": "orders", "OTEL_EXPORTER_OTLP_ENDPOINT": sink, "LOG_LEVEL": "INFO"}
        sampling = SAMPLING["production"]
        variants = {
            "production": {
                **traced,
                "OTEL_TRACES_SAMPLER": sampling["sampler"],
                "OTEL_TRACES_SAMPLER_ARG": sampling["samplerArg"],
            },
            "all traces": {**traced, "OTEL_TRACES_SAMPLER": "always_on"},
            "off": {**base, "OTEL_SDK_DISABLED": "true", "LOG_LEVEL": "WARNING"},
        }
        print(f"GET /noop in-process, minimum of {REPEAT} runs of {COUNT} requests; load {os.getloadavg()[0]:.1f}:")
        for name, env in variants.items():
            out = (
                subprocess.run(
                    [str(venv / "bin" / "python"), "harness.py", str(COUNT), str(REPEAT)],
                    cwd=project,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.splitlines()[-1]
                .split()
            )  # the app's own log lines come before
            line = f", access log line {out[1]} us" if env.get("LOG_LEVEL") == "INFO" else ""
            print(f"  {name}: {out[0]} us per request{line}", flush=True)


if __name__ == "__main__":
    main()
