"""A stand-in for GitHub's pull request API on loopback, recording the exact requests it gets.

It answers the three requests scaffold.proposals.github makes as GitHub documents them (list the
open pull requests of a head branch, create one, edit one) and keeps the pull requests in memory,
so a second run sees the first run's pull request. Point GITHUB_API_URL at `url`.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "owner/name" -> its pull requests

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]


def _handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body: dict[str, Any] = json.loads(self.rfile.read(length)) if length else {}
            query = dict(urllib.parse.parse_qsl(split.query))
            headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "host"}  # names are case-blind
            github.requests.append(Recorded(self.command, split.path, query, headers, body))
            parts = split.path.strip("/").split("/")
            if len(parts) < 4 or parts[0] != "repos" or parts[3] != "pulls":
                self._answer(404, {"message": "Not Found"})
                return
            slug = f"{parts[1]}/{parts[2]}"
            pulls = github.pulls.setdefault(slug, [])
            if self.command == "GET":
                owner = parts[1]
                found = [
                    p for p in pulls
                    if p["state"] == query.get("state") and f"{owner}:{p['head']}" == query.get("head")
                    and p["base"] == query.get("base")
                ]  # fmt: skip
                self._answer(200, [{"number": p["number"], "html_url": p["html_url"]} for p in found])
            elif self.command == "POST":
                number = len(pulls) + 1
                made = {
                    **body,
                    "number": number,
                    "state": "open",
                    "html_url": f"https://github.com/{slug}/pull/{number}",
                }
                pulls.append(made)
                self._answer(201, made)
            elif self.command == "PATCH" and len(parts) == 5:
                pull = next(p for p in pulls if p["number"] == int(parts[4]))
                pull.update(body)
                self._answer(200, pull)
            else:
                self._answer(405, {"message": "Method Not Allowed"})

        do_GET = do_POST = do_PATCH = _handle  # noqa: N815 - the names http.server calls

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    port = free_port()
    github = FakeGitHub(f"http://127.0.0.1:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(github))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield github
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
