from __future__ import annotations

import dataclasses
import socket
import urllib.request

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from inventory.app import create_app
from inventory.settings import Settings

pytestmark = pytest.mark.unit


def requests_count(route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    item_before = requests_count("/items/{item_id}", "422")
    unmatched_before = requests_count("unmatched", "404")

    client.get("/items/not-a-number")
    client.get("/no/such/path")

    assert requests_count("/items/{item_id}", "422") == item_before + 1
    assert requests_count("unmatched", "404") == unmatched_before + 1


def test_the_api_document_is_counted_under_its_own_route(client: TestClient) -> None:
    document_before = requests_count("/openapi.json", "200")
    unmatched_before = requests_count("unmatched", "200")

    assert client.get("/openapi.json").status_code == 200

    assert requests_count("/openapi.json", "200") == document_before + 1
    assert requests_count("unmatched", "200") == unmatched_before


def test_probes_are_not_counted(client: TestClient) -> None:
    before = {route: requests_count(route, "200") for route in ("/livez", "/readyz")}
    client.get("/livez")
    client.get("/readyz")

    for route in ("/livez", "/readyz"):
        assert REGISTRY.get_sample_value(
            "http_requests_total", {"method": "GET", "route": route, "status": "200"}
        ) in (None, before[route]), route
        assert requests_count(route, "503") == 0.0, route


def test_methods_outside_http_share_one_label_value(client: TestClient) -> None:
    before = requests_count("unmatched", "404", method="_OTHER")

    for method in ("BREW1", "BREW2", "PROPFIND"):
        client.request(method, "/no/such/path")

    assert requests_count("unmatched", "404", method="_OTHER") == before + 3
    methods = {
        sample.labels["method"]
        for metric in REGISTRY.collect()
        if metric.name == "http_requests"
        for sample in metric.samples
    }
    assert methods.isdisjoint({"BREW1", "BREW2", "PROPFIND"}), methods


def test_no_created_series(client: TestClient) -> None:
    client.get("/no/such/path")

    names = {sample.name for metric in REGISTRY.collect() for sample in metric.samples}
    assert "http_requests_total" in names
    assert not [name for name in names if name.endswith("_created")], names


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_are_served_on_their_own_port(settings: Settings) -> None:
    port = free_port()
    settings = dataclasses.replace(settings, metrics_port=port, metrics_host="127.0.0.1")
    with TestClient(create_app(settings)) as client:
        client.get("/no/such/path")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
            content_type = response.headers["Content-Type"]
        assert client.get("/metrics").status_code == 404

    assert content_type.startswith("text/plain")
    assert 'http_requests_total{method="GET",route="unmatched",status="404"}' in body
    assert "http_request_duration_seconds_bucket" in body
