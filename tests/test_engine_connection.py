"""The engine connection `scaffold build` and `scaffold test` use: found once, then every client
speaks the API version the engine answered with and asks for it no more.

The engine here is a real HTTP server on a unix socket that answers as Podman's service does
(/_ping names Podman in its headers; /version is slow there, 0.5-1 s, because it gathers the
host's details) and records every request it gets.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from scaffold.engine.connection import Engine, connect
from scaffold.prerequisites import FoundEngine

API_VERSION = "1.41"


class _Engine(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = b"OK" if self.path.endswith("/_ping") else b'{"Id": "sha256:0", "Size": 1}'
        if self.path.endswith("/version"):
            body = b'{"ApiVersion": "' + API_VERSION.encode() + b'", "Components": [{"Name": "Podman Engine"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if body == b"OK" else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Libpod-Api-Version", "4.3.1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        # BaseHTTPRequestHandler reads client_address[0]; a unix socket's peer has no host.
        request, _ = super().get_request()
        return request, ("engine", 0)


@pytest.fixture
def engine_socket(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    address = tmp_path / "engine.sock"

    class Recording(_Engine):
        requests: ClassVar[list[str]] = []

    requests = Recording.requests
    server = _UnixServer(str(address), Recording)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{address}", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("from_environment", [True, False], ids=["DOCKER_HOST", "found socket"])
def test_clients_of_a_found_engine_never_ask_its_version_again(
    engine_socket: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, from_environment: bool
) -> None:
    url, requests = engine_socket
    monkeypatch.setenv("DOCKER_HOST", url)
    engine = connect()
    if not from_environment:  # found at one of the usual sockets: the client is given the address
        monkeypatch.delenv("DOCKER_HOST")
        engine = Engine(FoundEngine(url, engine.found.version, from_environment=False))
    found_with = list(requests)
    for _ in range(3):  # a build request and an image inspection per target, as `scaffold build` makes
        client = engine.client()
        try:
            client.api.inspect_image("shop/orders:abc")
        finally:
            client.close()
    after = requests[len(found_with) :]
    assert not [path for path in after if path.endswith("/version")], requests
    assert after == [f"/v{API_VERSION}/images/shop/orders:abc/json"] * 3
