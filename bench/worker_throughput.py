"""Worker messages/s with tracing + JSON logs on, against the same worker with them off.

    .venv/bin/python -m bench.worker_throughput        [--messages N] [--rounds R]

Renders the worker template, installs its pinned requirements (cached like the tests do), starts
a real PostgreSQL and a real RabbitMQ on loopback, then alternates two `python -m audit_log`
processes of the same worker, side by side (R rounds each, interleaved, median):
- on:  OpenTelemetry SDK exporting every span (a consumer span and its SQL spans per message) over
       OTLP/HTTP to a local sink, sampler always on, two JSON log lines per message (INFO),
       Prometheus metrics;
- off: OTEL_SDK_DISABLED=true, LOG_LEVEL=WARNING (no per-message lines), Prometheus metrics (the
       worker has no switch for them: they stay on in both).
Each round fills the queue with N `orders.item.published` messages (each with a traceparent, as a
backend sends them), starts the worker and lets it drain the queue. Throughput is read from the
database: N over the span between the first and the last `processed_at` of the round's messages,
so start-up and shutdown are not counted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import copier

from tests.otlp_sink import otlp_sink
from tests.servers import PG_BIN, free_port, postgres_server, rabbitmq_server
from tests.service_venv import clean_env, service_venv

REPO = Path(__file__).resolve().parent.parent
NAME = "audit-log"
PACKAGE = "audit_log"
DEADLINE_S = 300.0

# Run with the worker's own interpreter (aio-pika): publish N messages with confirms.
PUBLISHER = """
import asyncio, json, secrets, sys, aio_pika
async def main(url, prefix, count):
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("events")
        for start in range(0, count, 200):
            await asyncio.gather(*(
                exchange.publish(
                    aio_pika.Message(
                        json.dumps({"item_id": n + 1, "name": f"item {n}"}).encode(),
                        message_id=f"{prefix}-{n}",
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers={"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"},
                    ),
                    routing_key=f"{prefix}.item.published",
                )
                for n in range(start, min(start + 200, count))
            ))
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def psql(database_url: str, sql: str) -> str:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(
        [str(PG_BIN / "psql"), "-X", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextmanager
def worker(project: Path, venv: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    env = {**env, "METRICS_PORT": str(port), "METRICS_HOST": "127.0.0.1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "python"), "-m", PACKAGE], cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start; see {log}") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def one_round(
    project: Path, venv: Path, env: dict[str, str], database_url: str, prefix: str, count: int, log: Path
) -> float:
    """Fill the queue, let the worker drain it; messages/s between the first and last commit."""
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", PUBLISHER, env["AMQP_URL"], prefix, str(count)], check=True, env=env
    )
    with worker(project, venv, env, log):
        deadline = time.monotonic() + DEADLINE_S
        where = f"message_id LIKE '{prefix}-%'"
        while int(psql(database_url, f"SELECT count(*) FROM processed_messages WHERE {where}")) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not drain the queue; see {log}")
            time.sleep(0.2)
    seconds = float(
        psql(
            database_url,
            f"SELECT extract(epoch FROM max(processed_at) - min(processed_at)) FROM processed_messages WHERE {where}",
        )
    )
    return (count - 1) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / NAME
        copier.run_copy(
            str(REPO / "templates"),
            str(project),
            data={"kind": "worker", "name": NAME, "ecosystem": "bench", "port": 8101},
            defaults=True,
            quiet=True,
            unsafe=True,
        )
        venv = service_venv(project)
        with (
            postgres_server(database=PACKAGE, user=PACKAGE) as database_url,
            rabbitmq_server() as amqp_url,
            otlp_sink() as sink,
        ):
            base = clean_env(venv, DATABASE_URL=database_url, AMQP_URL=amqp_url, PYTHONPATH="src")
            subprocess.run([str(venv / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=base, check=True)
            variants = {
                "on": {
                    **base,
                    "OTEL_SERVICE_NAME": NAME,
                    "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
                    "OTEL_TRACES_SAMPLER": "always_on",
                    "LOG_LEVEL": "INFO",
                },
                "off": {**base, "OTEL_SDK_DISABLED": "true", "LOG_LEVEL": "WARNING"},
            }
            # Declares the exchange, the queue and its bindings, so the first fill is routed.
            with worker(project, venv, variants["off"], Path(scratch) / "declare.log"):
                pass
            results: dict[str, list[float]] = {"on": [], "off": []}
            for round_ in range(args.rounds):
                order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
                for name in order:
                    prefix = f"r{round_}{name}"
                    log = Path(scratch) / f"{prefix}.log"
                    rate = one_round(project, venv, variants[name], database_url, prefix, args.messages, log)
                    results[name].append(rate)
                    print(f"round {round_ + 1} {name:3}: {rate:8.0f} messages/s", flush=True)
    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    print(
        f"worker {args.messages} messages x {args.rounds} rounds: observability on {on:.0f} messages/s, "
        f"off {off:.0f} messages/s (medians); ratio on/off {on / off:.2f} (goal >= 0.7)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
