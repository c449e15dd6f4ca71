"""What the example ecosystem's umbrella chart exposes through the Gateway, read as data: the
browser's trace uploads and nothing else of the collector, in every environment; the services'
API documents and probes everywhere but in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.wiring.umbrella import INTERNAL_PATHS
from tests import validators

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"
NAMESPACES = {"test": "shop-test", "staging": "shop-staging", "production": "shop"}


def routes(env: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    """The HTTPRoutes of the environment, by name."""
    values = yaml.safe_load((EXAMPLE / "deploy" / "chart" / f"values-{env}.yaml").read_text())
    values.update(overrides)
    docs = validators.helm_render(EXAMPLE / "deploy" / "chart", values, name="shop", namespace=NAMESPACES[env])
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "HTTPRoute"}


@pytest.mark.parametrize("env", sorted(NAMESPACES))
def test_browsers_reach_only_the_collectors_trace_ingest(env: str) -> None:
    (rule,) = routes(env)["shop-browser-traces"]["spec"]["rules"]
    assert rule["matches"] == [{"method": "POST", "path": {"type": "Exact", "value": "/otlp/v1/traces"}}]
    assert rule["filters"] == [
        {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/v1/traces"}}}
    ]
    assert rule["backendRefs"] == [{"name": "otel-collector", "port": 4318}]


def test_the_implementations_limits_are_rendered_next_to_the_trace_route() -> None:
    policy = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "BackendTrafficPolicy",
        "metadata": {"name": "browser-traces-limits"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "shop-browser-traces"}]
        },
    }
    values = yaml.safe_load((EXAMPLE / "deploy" / "chart" / "values-production.yaml").read_text())
    values["browserTraces"] = {"policies": [policy]}
    docs = validators.helm_render(EXAMPLE / "deploy" / "chart", values, name="shop", namespace="shop")
    (rendered,) = [d for d in docs if d["kind"] == "BackendTrafficPolicy"]
    assert rendered["metadata"]["name"] == "browser-traces-limits"
    assert rendered["spec"] == policy["spec"]


def private_paths(route: dict[str, Any]) -> set[str]:
    """The paths of the route's rules that have no backend (the Gateway answers them itself)."""
    return {
        match["path"]["value"]
        for rule in route["spec"]["rules"]
        if not rule.get("backendRefs")
        for match in rule["matches"]
    }


def test_api_documents_and_probes_are_not_public_in_production() -> None:
    production = routes("production")
    for service, prefix in (("orders", "/api/orders"), ("inventory", "/api/inventory")):
        expected = {prefix + path for _, path in INTERNAL_PATHS["backend"]}
        assert private_paths(production[f"shop-{service}"]) == expected
        assert {"/api/orders/docs", "/api/orders/openapi.json", "/api/orders/readyz"} <= private_paths(
            production["shop-orders"]
        )
    assert private_paths(production["shop-storefront"]) == {"/livez", "/readyz"}
    assert private_paths(production["shop-browser-traces"]) == set()


@pytest.mark.parametrize("env", ["test", "staging"])
def test_before_production_the_documents_stay_reachable(env: str) -> None:
    for route in routes(env).values():
        assert private_paths(route) == set(), route["metadata"]["name"]
