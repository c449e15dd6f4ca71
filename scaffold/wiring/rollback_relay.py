"""Rollback relay: Alertmanager webhook in, GitHub `repository_dispatch` out.

Alertmanager's webhook sends its own JSON and GitHub's dispatch endpoint wants another, so this
small server stands between them. For every notification it receives on POST /alerts, it takes
the firing alerts labelled rollback="true" of this ecosystem and of a known environment, and asks
GitHub once per environment to start the delivery pipeline's rollback job (event type `rollback`,
client_payload: environment, services, levels, alerts). GET /healthz answers 200.

Standard library only, so that it runs on any Python 3.11+ image. Configuration (environment):
  RELAY_ECOSYSTEM       the ecosystem whose alerts it acts on (the `ecosystem` label)
  RELAY_ENVIRONMENTS    comma-separated environments it may roll back
  GITHUB_REPOSITORY     OWNER/NAME of the meta-project's repository
  GITHUB_TOKEN_FILE     a file holding a token allowed to create repository dispatches
  GITHUB_API_URL        https://api.github.com (or a GitHub Enterprise Server's /api/v3)
  RELAY_EVENT_TYPE      rollback
  RELAY_LISTEN          0.0.0.0:8080
Alertmanager retries a notification that did not get a 2xx answer, so a failed dispatch is
answered with 502. Written into the meta-project by scaffold (deploy/platform/files/); do not edit.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1024 * 1024  # Alertmanager notifications are a few kilobytes
MAX_LISTED = 20  # alerts named in one dispatch (GitHub limits client_payload's size)


@dataclass(frozen=True)
class Config:
    ecosystem: str
    environments: frozenset[str]
    repository: str
    token_file: str
    api_url: str
    event_type: str
    listen: tuple[str, int]

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Config:
        missing = [
            name
            for name in ("RELAY_ECOSYSTEM", "RELAY_ENVIRONMENTS", "GITHUB_REPOSITORY", "GITHUB_TOKEN_FILE")
            if not environ.get(name)
        ]
        if missing:
            raise SystemExit(f"rollback relay: set {', '.join(missing)}")
        host, _, port = environ.get("RELAY_LISTEN", "0.0.0.0:8080").rpartition(":")
        return cls(
            ecosystem=environ["RELAY_ECOSYSTEM"],
            environments=frozenset(e.strip() for e in environ["RELAY_ENVIRONMENTS"].split(",") if e.strip()),
            repository=environ["GITHUB_REPOSITORY"],
            token_file=environ["GITHUB_TOKEN_FILE"],
            api_url=environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            event_type=environ.get("RELAY_EVENT_TYPE", "rollback"),
            listen=(host or "0.0.0.0", int(port)),
        )


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}))
    sys.stdout.flush()


def dispatches(notification: Any, config: Config) -> dict[str, dict[str, Any]]:
    """environment -> the client_payload of its dispatch, from one Alertmanager notification."""
    alerts = notification.get("alerts") if isinstance(notification, dict) else None
    found: dict[str, list[dict[str, str]]] = {}
    for alert in alerts if isinstance(alerts, list) else []:
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or alert.get("status") != "firing":
            continue
        if labels.get("rollback") != "true" or labels.get("ecosystem") != config.ecosystem:
            continue
        environment = labels.get("environment")
        if environment not in config.environments:
            continue
        found.setdefault(str(environment), []).append(
            {key: str(labels.get(key, "")) for key in ("alertname", "service", "level", "severity")}
        )
    return {
        environment: {
            "environment": environment,
            "services": sorted({a["service"] for a in listed if a["service"]}),
            "levels": sorted({a["level"] for a in listed if a["level"]}),
            "alerts": listed[:MAX_LISTED],
        }
        for environment, listed in sorted(found.items())
    }


def dispatch(payload: dict[str, Any], config: Config) -> None:
    """POST /repos/OWNER/NAME/dispatches (GitHub answers 204); raises OSError on any failure."""
    with open(config.token_file, encoding="utf-8") as handle:
        token = handle.read().strip()
    body = json.dumps({"event_type": config.event_type, "client_payload": payload}).encode()
    request = urllib.request.Request(
        f"{config.api_url}/repos/{config.repository}/dispatches",
        data=body,
        method="POST",
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "scaffold-rollback-relay",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status not in (200, 201, 204):
            raise OSError(f"GitHub answered {response.status}")


def handler(config: Config) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rollback-relay"

        def _answer(self, status: int, message: str) -> None:
            body = json.dumps({"status": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, "ok")
            else:
                self._answer(404, "not found")

        def do_POST(self) -> None:
            if self.path != "/alerts":
                self._answer(404, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(413 if length else 400, "a notification of 1 byte to 1 MiB is expected")
                return
            try:
                notification = json.loads(self.rfile.read(length))
            except ValueError:
                self._answer(400, "not JSON")
                return
            failed = []
            for environment, payload in dispatches(notification, config).items():
                try:
                    dispatch(payload, config)
                    log("dispatched", environment=environment, services=payload["services"])
                except (OSError, urllib.error.URLError) as err:
                    failed.append(environment)
                    log("dispatch failed", environment=environment, error=str(err))
            if failed:
                self._answer(502, f"dispatch failed for {', '.join(failed)}")
            else:
                self._answer(200, "ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one JSON line per dispatch is the log

    return Handler


def main() -> None:
    config = Config.from_environment(dict(os.environ))
    server = ThreadingHTTPServer(config.listen, handler(config))
    log("listening", address=f"{config.listen[0]}:{config.listen[1]}", repository=config.repository)
    server.serve_forever()


if __name__ == "__main__":
    main()
