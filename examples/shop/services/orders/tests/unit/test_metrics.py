from __future__ import annotations

import dataclasses
import socket
import urllib.request

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from orders.app import create_app
from orders.settings import Settings

pytestmark = pytest.mark.unit


def requests_count(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    livez_before = requests_count("/livez", "200")
    item_before = requests_count("/items/{item_id}", "422")
    unmatched_before = requests_count("unmatched", "404")

    client.get("/livez")
    client.get("/items/not-a-number")
    client.get("/no/such/path")

    assert requests_count("/livez", "200") == livez_before + 1
    assert requests_count("/items/{item_id}", "422") == item_before + 1
    assert requests_count("unmatched", "404") == unmatched_before + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_are_served_on_their_own_port(settings: Settings) -> None:
    port = free_port()
    settings = dataclasses.replace(settings, metrics_port=port, metrics_host="127.0.0.1")
    with TestClient(create_app(settings)) as client:
        client.get("/livez")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
            content_type = response.headers["Content-Type"]
        assert client.get("/metrics").status_code == 404

    assert content_type.startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/livez",status="200"}' in body
    assert "http_request_duration_seconds_bucket" in body
