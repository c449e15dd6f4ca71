"""Central logs (issue 14, item 1), the parts that are configuration: every Python service of the
root compose.yaml exports its log records to the collector, whose logs pipeline sends them to
Loki; Grafana reads Loki and Jaeger, and a trace's "logs" query selects what the services label
their records with. In a cluster, the charts make the export an explicit value.

What runs is proven elsewhere: the services' own suites export records to a real OTLP/HTTP
receiver (test_log_export in each), and tests/test_trace_e2e.py finds the browser's trace id in
the records the backend and the worker exported. Loki, Grafana and the collector themselves do not
run on these machines (no package of them in Debian, PyPI or npm: docs/platform.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scaffold.model import Ecosystem
from scaffold.wiring.compose import COLLECTOR_CONFIG, GRAFANA_DATASOURCES
from tests import validators
from tests.test_wiring import make_ecosystem, meta_project


@pytest.fixture(scope="module")
def eco() -> Ecosystem:
    return make_ecosystem()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, eco: Ecosystem) -> Path:
    return meta_project(tmp_path_factory.mktemp("logs"), eco)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"//{url}")
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def test_every_python_service_exports_its_logs_to_the_collectors_logs_pipeline(project: Path, eco: Ecosystem) -> None:
    compose = validators.compose_config(project / "compose.yaml")["services"]
    collector = load(project / COLLECTOR_CONFIG)
    logs = collector["service"]["pipelines"]["logs"]
    listening = {
        _host_port(protocol["endpoint"])[1]
        for name in logs["receivers"]
        for protocol in collector["receivers"][name]["protocols"].values()
    }
    for service in (s for s in eco.services if s.kind != "frontend"):
        env = compose[service.name]["environment"]
        assert env["OTEL_LOGS_EXPORTER"] == "otlp"
        host, port = _host_port(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert host == "otel-collector" and host in compose and port in listening


def test_the_logs_pipeline_ends_in_lokis_otlp_ingest(project: Path) -> None:
    compose = validators.compose_config(project / "compose.yaml")["services"]
    collector = load(project / COLLECTOR_CONFIG)
    (exporter,) = collector["service"]["pipelines"]["logs"]["exporters"]
    assert exporter.split("/")[0] == "otlphttp"  # Loki takes OTLP over HTTP only
    endpoint = collector["exporters"][exporter]["endpoint"]
    host, port = _host_port(endpoint)
    repository = compose[host]["image"].rsplit(":", 1)[0]  # docker.io/grafana/loki, or behind a mirror
    assert repository.endswith("/grafana/loki") and port == 3100
    assert urlsplit(endpoint).path == "/otlp"  # the exporter appends /v1/logs
    assert compose["otel-collector"]["depends_on"][host]


def _unescaped(value: str) -> str:
    """What Grafana reads from a provisioning file: `$$` is a literal `$` (a single `$` expands an
    environment variable, which would eat `${__trace.traceId}`)."""
    assert re.search(r"(?<!\$)\$(?!\$)\{", value) is None, f"unescaped $ in {value!r}"
    return value.replace("$$", "$")


def test_grafana_links_each_trace_to_its_logs_and_each_line_to_its_trace(project: Path, eco: Ecosystem) -> None:
    compose = validators.compose_config(project / "compose.yaml")["services"]
    sources = {s["uid"]: s for s in load(project / GRAFANA_DATASOURCES)["datasources"]}
    for source in sources.values():
        host, _ = _host_port(source["url"])
        assert host in compose, source
    jaeger = next(s for s in sources.values() if s["type"] == "jaeger")
    to_logs = jaeger["jsonData"]["tracesToLogsV2"]
    assert sources[to_logs["datasourceUid"]]["type"] == "loki"
    query = _unescaped(to_logs["query"])
    # Loki indexes service.namespace as service_namespace; compose sets it to the ecosystem's name.
    selector = re.fullmatch(r'\{service_namespace="([^"]+)"\} \| trace_id="\$\{__trace\.traceId\}"', query)
    assert selector, query
    attributes = compose[eco.services[0].name]["environment"]["OTEL_RESOURCE_ATTRIBUTES"]
    assert f"service.namespace={selector.group(1)}" in attributes.split(",")
    loki = next(s for s in sources.values() if s["type"] == "loki")
    (derived,) = loki["jsonData"]["derivedFields"]
    assert sources[derived["datasourceUid"]]["type"] == "jaeger"
    assert (derived["matcherType"], derived["matcherRegex"]) == ("label", "trace_id")
    assert _unescaped(derived["url"]) == "${__value.raw}"
    assert compose["grafana"]["ports"][0]["host_ip"] == "127.0.0.1"


@pytest.mark.parametrize("exporter", ["otlp", "none"])
def test_the_charts_log_export_is_an_explicit_value(project: Path, eco: Ecosystem, exporter: str) -> None:
    chart = project / eco.services[0].path / "chart"
    values = load(chart / "values.yaml")
    assert values["otel"]["logsExporter"] == "otlp"
    values["otel"]["logsExporter"] = exporter
    (deployment,) = [d for d in validators.helm_render(chart, values) if d["kind"] == "Deployment"]
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == eco.services[0].name
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OTEL_LOGS_EXPORTER"] == exporter


def test_the_chart_refuses_an_unknown_log_exporter(project: Path, eco: Ecosystem) -> None:
    import helm_python

    chart = project / eco.services[0].path / "chart"
    values = load(chart / "values.yaml")
    values["otel"]["logsExporter"] = "console"
    with helm_python.Chart.load(str(chart)) as loaded, pytest.raises(Exception, match="logsExporter"):
        loaded.validate_schema(values)
