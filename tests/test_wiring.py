"""The wiring derived from ecosystem.yaml, checked by the tools that consume it.

An ecosystem of three real backends (rendered from templates/backend) gets its derived files
written next to them; then Docker Compose, nginx, Helm, kubernetes-validate, checkov, promtool
and actionlint check what scaffold wrote.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.model import Ecosystem, Environment, Service, TemplateRef
from scaffold.wiring import DerivedFile, api_docs, derive
from scaffold.wiring._render import GENERATED
from scaffold.wiring.compose import RESERVED_NAMES
from scaffold.wiring.gateway import nginx_conf
from scaffold.wiring.monitoring import local_rule_groups, release_rule_groups
from tests import validators

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = TemplateRef(source="builtin", version="0.1.0")
ENVIRONMENTS = ("test", "staging", "production")


def backend(name: str, port: int, *, route: bool = True, postgres: bool = True) -> Service:
    return Service(
        name=name,
        kind="backend",
        path=f"services/{name}",
        port=port,
        route=f"/api/{name}" if route else None,
        template=TEMPLATE,
        needs=("postgres",) if postgres else (),
    )


SERVICES = (
    backend("orders", 8001),
    backend("order-history", 8002),
    # Not routed and without a database: exercises both optional parts of the wiring.
    backend("catalog", 8003, route=False, postgres=False),
)


def make_ecosystem(services: tuple[Service, ...] = SERVICES) -> Ecosystem:
    return Ecosystem(
        name="shop",
        description="A shop, for the wiring tests",
        registry="registry.example.com/shop",
        template=TEMPLATE,
        environments=(
            Environment(name="test", namespace="shop-test", secret="shop-test-secrets", context="shop-test"),
            Environment(
                name="staging", namespace="shop-staging", secret="shop-staging-secrets", context="shop-staging"
            ),
            Environment(
                name="production",
                namespace="shop",
                secret="shop-production-secrets",
                api_server="https://kubernetes.example.com:6443",
                values={"orders": {"replicaCount": 4, "autoscaling": {"minReplicas": 4}}}
                if any(s.name == "orders" for s in services)
                else {},
            ),
        ),
        services=services,
    )


def write_files(files: tuple[DerivedFile, ...] | list[DerivedFile], root: Path) -> None:
    for f in files:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        if f.symlink:
            target.symlink_to(f.content.decode())
        else:
            target.write_bytes(f.content)


def render_backend(dst: Path, service: Service, ecosystem: Ecosystem) -> None:
    import copier

    copier.run_copy(
        str(REPO / "templates"),
        str(dst),
        data={
            "kind": "backend",
            "name": service.name,
            "ecosystem": ecosystem.name,
            "registry": ecosystem.registry,
            "port": service.port,
        },
        defaults=True,
        unsafe=True,
        quiet=True,
    )


@pytest.fixture(scope="module")
def eco() -> Ecosystem:
    return make_ecosystem()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, eco: Ecosystem) -> Path:
    """A meta-project: the real backend template rendered per service, plus the derived files."""
    return meta_project(tmp_path_factory.mktemp("shop"), eco)


def meta_project(root: Path, eco: Ecosystem) -> Path:
    """`root` made a meta-project of `eco`: the real backend template rendered per service, plus the
    derived files."""
    for service in eco.services:
        render_backend(root / service.path, service, eco)
    write_files(derive(eco), root)
    return root


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- compose ---------------------------------------------------------------------------------


def test_compose_config_accepts_the_root_compose_file(project: Path, eco: Ecosystem) -> None:
    model = validators.compose_config(project / "compose.yaml")
    services = model["services"]
    expected = {s.name for s in eco.services}
    expected |= {f"{s.name}-migrate" for s in eco.services if "postgres" in s.needs}
    expected |= {"gateway", "otel-collector", "jaeger", "prometheus", "loki", "grafana", "postgres"}
    assert set(services) == expected
    for service in eco.services:
        build = services[service.name]["build"]
        assert Path(build["context"]) == project / service.path
        assert build["target"] == "runtime"
        assert (Path(build["context"]) / "Dockerfile").is_file()


def test_compose_publishes_distinct_loopback_ports(project: Path, eco: Ecosystem) -> None:
    model = validators.compose_config(project / "compose.yaml")
    published: list[int] = []
    for name, service in model["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes on {port['host_ip']}"
            published.append(int(port["published"]))
    assert len(published) == len(set(published)), f"host ports clash: {sorted(published)}"
    for service in eco.services:
        ports = model["services"][service.name]["ports"]
        assert [(int(p["published"]), p["target"]) for p in ports] == [(service.port, 8000)]


def test_compose_backends_wait_for_their_database_and_migrations(project: Path, eco: Ecosystem) -> None:
    model = validators.compose_config(project / "compose.yaml")
    services = model["services"]
    for service in eco.services:
        app = services[service.name]
        environment = app["environment"]
        assert environment["OTEL_SERVICE_NAME"] == service.name
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert app["depends_on"]["otel-collector"]["condition"] == "service_started"
        if "postgres" not in service.needs:
            assert "DATABASE_URL" not in environment
            assert "postgres" not in app["depends_on"]
            assert f"{service.name}-migrate" not in services
            continue
        assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert app["depends_on"][f"{service.name}-migrate"]["condition"] == "service_completed_successfully"
        url = environment["DATABASE_URL"]
        # The local default password comes from the ${POSTGRES_PASSWORD:-...} default.
        assert url == f"postgresql://ecosystem:local-development-only@postgres:5432/{service.name}"
        migrate = services[f"{service.name}-migrate"]
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert migrate["command"][-1] == f"alembic upgrade head && python -m {service.package}.fixtures"
        assert migrate["environment"]["DATABASE_URL"] == url
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    init = services["postgres"]["volumes"][0]
    assert init["target"].startswith("/docker-entrypoint-initdb.d/")
    sql = Path(init["source"]).read_text(encoding="utf-8")
    created = re.findall(r'^CREATE DATABASE "([^"]+)";$', sql, flags=re.MULTILINE)
    assert created == sorted(s.name for s in eco.services if "postgres" in s.needs)


def test_compose_credentials_come_from_the_environment(project: Path) -> None:
    model = validators.compose_config(
        project / "compose.yaml", env={"POSTGRES_USER": "alice", "POSTGRES_PASSWORD": "from-dotenv"}
    )
    assert model["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "from-dotenv"
    assert model["services"]["orders"]["environment"]["DATABASE_URL"].startswith("postgresql://alice:from-dotenv@")


def test_compose_has_no_postgres_when_no_service_needs_it(tmp_path: Path) -> None:
    services = (backend("catalog", 8003, postgres=False), backend("search", 8004, route=False, postgres=False))
    ecosystem = make_ecosystem(services)
    for service in services:
        render_backend(tmp_path / service.path, service, ecosystem)
    files = derive(ecosystem)
    write_files(files, tmp_path)
    model = validators.compose_config(tmp_path / "compose.yaml")
    assert "postgres" not in model["services"]
    assert not any(name.endswith("-migrate") for name in model["services"])
    assert "postgres-data" not in model.get("volumes", {})
    assert not any(f.path.startswith("postgres/") for f in files)


def test_gateway_starts_after_the_routed_services(project: Path, eco: Ecosystem) -> None:
    model = validators.compose_config(project / "compose.yaml")
    gateway = model["services"]["gateway"]
    routed = {s.name for s in eco.services if s.route}
    assert set(gateway["depends_on"]) == routed
    for dependency in gateway["depends_on"].values():
        assert dependency == {"condition": "service_healthy", "restart": True, "required": True}
    mounts = {v["target"]: v for v in gateway["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"]["read_only"] is True
    assert Path(mounts["/etc/nginx/nginx.conf"]["source"]) == project / "gateway" / "nginx.conf"
    assert [(p["published"], p["target"]) for p in gateway["ports"]] == [("8080", 8080)]


def test_infrastructure_names_are_reserved(project: Path, eco: Ecosystem) -> None:
    model = validators.compose_config(project / "compose.yaml")
    service_names = {s.name for s in eco.services}
    infrastructure = {n for n in model["services"] if n not in service_names and not n.endswith("-migrate")}
    assert infrastructure <= set(RESERVED_NAMES)
    assert {"rabbitmq", "redis"} <= set(RESERVED_NAMES)


def test_infrastructure_images_are_pinned_to_exact_tags(project: Path) -> None:
    model = validators.compose_config(project / "compose.yaml")
    for name, service in model["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+(-[\w.]+)?", image), f"{name}: {image} is not an exact tag"


# --- gateway (nginx) -------------------------------------------------------------------------


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "nginx is not installed: `apt-get install -y nginx-light` (make test does it)"
    return found


def _hosts_file(tmp_path: Path, ecosystem: Ecosystem) -> Path:
    hosts = tmp_path / "hosts"
    names = " ".join(sorted({s.name for s in ecosystem.services} | {"otel-collector"}))
    hosts.write_text(f"127.0.0.1 localhost {names}\n", encoding="utf-8")
    return hosts


def test_nginx_accepts_the_gateway_configuration(project: Path, eco: Ecosystem, tmp_path: Path) -> None:
    # nginx resolves upstream names while checking, so the services' names must resolve: give
    # them to it in a private mount namespace, as compose's DNS would.
    hosts = _hosts_file(tmp_path, eco)
    conf = project / "gateway" / "nginx.conf"
    check = f"mount --bind {hosts} /etc/hosts && exec {_nginx()} -t -e stderr -p {tmp_path} -c {conf}"
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", check], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr


_GATEWAY_PROBE = r'''
"""Runs inside `unshare --mount --net`: nginx with the gateway configuration in front of an echo
server standing in for every backend; prints what the client and the backend saw as JSON."""
import http.server, json, socket, subprocess, sys, threading, time, urllib.error, urllib.request

nginx, conf, hosts, private_tmp = sys.argv[1:5]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
subprocess.run(["mount", "--bind", private_tmp, "/tmp"], check=True)
seen = []

class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        length = int(self.headers.get("Content-Length") or 0)
        received = len(self.rfile.read(length)) if length else 0
        seen.append({"method": self.command, "path": self.path, "bytes": received,
                     "headers": {k.lower(): v for k, v in self.headers.items()}})
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
    def log_message(self, *args):
        pass

for port in (8000, 4318):  # every backend, and the OpenTelemetry collector
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", port), Echo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
server = subprocess.Popen([nginx, "-e", "stderr", "-c", conf, "-g", "daemon off;"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
deadline = time.monotonic() + 20
while True:
    try:
        socket.create_connection(("127.0.0.1", 8080), timeout=1).close()
        break
    except OSError:
        if server.poll() is not None or time.monotonic() > deadline:
            print(json.dumps({"error": server.stderr.read() if server.poll() is not None else "nginx did not listen"}))
            sys.exit(1)
        time.sleep(0.1)

def get(path, headers=None, method="GET", size=None):
    data = b"x" * size if size is not None else None
    request = urllib.request.Request("http://127.0.0.1:8080" + path, headers=headers or {}, data=data, method=method)
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))
    try:
        with opener.open(request, timeout=5) as response:
            return {"status": response.status, "body": response.read().decode(), "headers": dict(response.headers)}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode(), "headers": dict(error.headers)}

requests = json.loads(sys.argv[5])
answers = [get(*request) for request in requests]
server.terminate()
out, err = server.communicate(timeout=10)
print(json.dumps({"answers": answers, "seen": seen, "access_log": out.splitlines(), "error_log": err}))
'''


def run_gateway(conf: str, eco: Ecosystem, tmp_path: Path, requests: list[tuple[Any, ...]]) -> dict[str, Any]:
    """nginx with `conf` in a private network and mount namespace, echo servers standing in for
    every backend (port 8000) and the collector (4318); each request is (path, headers[, method,
    body size]). What the clients got and the echo servers saw."""
    probe = tmp_path / "probe.py"
    probe.write_text(_GATEWAY_PROBE, encoding="utf-8")
    private_tmp = tmp_path / "private-tmp"
    private_tmp.mkdir()
    (private_tmp / "nginx.conf").write_text(conf, encoding="utf-8")
    proc = subprocess.run(
        [
            "unshare",
            "--mount",
            "--net",
            sys.executable,
            str(probe),
            _nginx(),
            "/tmp/nginx.conf",
            str(_hosts_file(tmp_path, eco)),
            str(private_tmp),
            json.dumps(requests),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_gateway_routes_requests_to_the_backends(project: Path, eco: Ecosystem, tmp_path: Path) -> None:
    """A real nginx with the derived configuration proxies to an echo server (in a private network)."""
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    requests: list[tuple[str, dict[str, str]]] = [
        ("/api/orders/items/7?limit=2", {"traceparent": traceparent, "tracestate": "vendor=1", "X-Request-ID": "abc"}),
        ("/api/order-history/", {}),
        ("/api/orders", {}),
        ("/api/catalog/items", {}),
        ("/healthz", {}),
    ]
    result = run_gateway((project / "gateway" / "nginx.conf").read_text(), eco, tmp_path, list(requests))
    orders, history, bare, catalog, health = result["answers"]
    assert orders["status"] == 200 and json.loads(orders["body"]) == {"path": "/items/7?limit=2"}
    assert history["status"] == 200 and json.loads(history["body"]) == {"path": "/"}
    assert bare["status"] == 308 and bare["headers"]["Location"] == "/api/orders/"
    assert catalog["status"] == 404, "catalog has no route"
    assert health["status"] == 200 and json.loads(health["body"]) == {"status": "ok"}
    first = result["seen"][0]["headers"]
    assert first["traceparent"] == traceparent
    assert first["tracestate"] == "vendor=1"
    assert first["x-request-id"] == "abc"
    assert first["host"] == "127.0.0.1:8080"
    assert result["seen"][1]["headers"]["x-request-id"], "the gateway makes a request id when none came"
    logs = [json.loads(line) for line in result["access_log"]]
    # nginx's worker processes each write their own access log lines: compare without order.
    assert sorted(entry["uri"] for entry in logs) == sorted(r[0] for r in requests if r[0] != "/healthz")
    traced = next(entry for entry in logs if entry["uri"] == requests[0][0])
    assert traced["traceparent"] == traceparent and traced["status"] == 200
    assert traced["request_id"] == "abc"


def frontend(name: str, port: int) -> Service:
    return Service(name=name, kind="frontend", path=f"services/{name}", port=port, route="/", template=TEMPLATE)


def test_gateway_passes_browsers_only_the_trace_ingest_small_and_rate_limited(tmp_path: Path) -> None:
    eco = make_ecosystem((*SERVICES, frontend("web", 8004)))
    conf = nginx_conf(eco)
    span_batch = 4096
    requests: list[tuple[Any, ...]] = [
        ("/otlp/v1/traces", {"Content-Type": "application/x-protobuf"}, "POST", span_batch),
        ("/otlp/v1/traces", {}, "GET"),
        ("/otlp/v1/metrics", {}, "POST", 16),
        ("/otlp/v1/logs", {}, "POST", 16),
        ("/otlp/v1/traces", {}, "POST", 2 * 1024 * 1024),
        *[("/otlp/v1/traces", {}, "POST", 16)] * 40,
    ]
    result = run_gateway(conf, eco, tmp_path, requests)
    answers = [a["status"] for a in result["answers"]]
    traces, get, metrics, logs, too_big, *burst = answers
    assert traces == 200
    assert get == 403, "POST only"
    assert metrics == logs == 404, "the rest of the collector is not exposed"
    assert too_big == 413
    assert burst.count(429) > 0 and burst.count(200) > 0, burst
    # Only what the gateway passed reached the echo servers: trace uploads, to the collector's path.
    assert {(seen["method"], seen["path"]) for seen in result["seen"]} == {("POST", "/v1/traces")}
    assert result["seen"][0]["bytes"] == span_batch


# --- umbrella chart --------------------------------------------------------------------------


def env_values(project: Path, env: str) -> dict[str, Any]:
    values: dict[str, Any] = load(project / "deploy" / "chart" / f"values-{env}.yaml")
    return values


def render_umbrella(project: Path, ecosystem: Ecosystem, env: str) -> list[dict[str, Any]]:
    namespace = next(e.namespace for e in ecosystem.environments if e.name == env)
    return validators.helm_render(
        project / "deploy" / "chart", env_values(project, env), name=ecosystem.name, namespace=namespace
    )


def test_umbrella_chart_links_each_service_chart(project: Path, eco: Ecosystem) -> None:
    chart = project / "deploy" / "chart"
    meta = load(chart / "Chart.yaml")
    assert meta["name"] == eco.name
    assert [(d["name"], d["alias"]) for d in meta["dependencies"]] == sorted((s.name, s.name) for s in eco.services)
    for dependency in meta["dependencies"]:
        service = eco.service(dependency["name"])
        assert service is not None
        assert (chart / dependency["repository"].removeprefix("file://")).resolve() == project / service.path / "chart"
        link = chart / "charts" / service.name
        assert link.is_symlink() and not Path(os.readlink(link)).is_absolute()
        assert load(link / "Chart.yaml")["name"] == service.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_umbrella_chart_lints(project: Path, env: str) -> None:
    validators.helm_lint(project / "deploy" / "chart", env_values(project, env))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_umbrella_chart_renders_valid_kubernetes_objects(project: Path, eco: Ecosystem, env: str) -> None:
    docs = render_umbrella(project, eco, env)
    validators.kubernetes_validate(docs)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for service in eco.services:
        assert ("Deployment", f"{eco.name}-{service.name}") in kinds


def test_umbrella_rejects_unknown_values(project: Path) -> None:
    import helm_python as helm

    values = env_values(project, "test")
    values["gatway"] = {"name": "typo"}
    with pytest.raises(Exception, match="gatway"), helm.Chart.load(str(project / "deploy" / "chart")) as chart:
        chart.validate_schema(values)


def test_httproutes_point_at_the_services(project: Path, eco: Ecosystem) -> None:
    docs = render_umbrella(project, eco, "production")
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    routes = [d for d in docs if d["kind"] == "HTTPRoute"]
    assert len(routes) == len([s for s in eco.services if s.route])
    for route in routes:
        assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
        assert route["metadata"]["namespace"] == "shop"
        assert route["spec"]["parentRefs"] == [
            {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shop-gateway"}
        ]
        rule, private = route["spec"]["rules"]  # production: the API documents and probes are private
        assert "backendRefs" not in private
        (backend_ref,) = rule["backendRefs"]
        target = services[backend_ref["name"]]
        assert backend_ref["port"] in [p["port"] for p in target["spec"]["ports"]]
        prefix = rule["matches"][0]["path"]
        assert prefix["type"] == "PathPrefix"
        name = route["metadata"]["labels"]["app.kubernetes.io/name"]
        assert prefix["value"] == f"/api/{name}"
        assert rule["filters"][0]["urlRewrite"]["path"] == {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}


def test_gateway_values_reach_the_routes(project: Path, eco: Ecosystem) -> None:
    values = env_values(project, "staging")
    values["gateway"] = {"namespace": "infra", "sectionName": "https", "hostnames": ["shop.example.com"]}
    docs = validators.helm_render(project / "deploy" / "chart", values, name="shop", namespace="shop-staging")
    for route in (d for d in docs if d["kind"] == "HTTPRoute"):
        assert route["spec"]["parentRefs"][0]["namespace"] == "infra"
        assert route["spec"]["parentRefs"][0]["sectionName"] == "https"
        assert route["spec"]["hostnames"] == ["shop.example.com"]
    values["gateway"]["enabled"] = False
    values["prometheusRule"] = {"enabled": False}
    docs = validators.helm_render(project / "deploy" / "chart", values, name="shop", namespace="shop-staging")
    assert not [d for d in docs if d["kind"] in ("HTTPRoute", "PrometheusRule")]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_settings_reach_the_services(project: Path, eco: Ecosystem, env: str) -> None:
    environment = next(e for e in eco.environments if e.name == env)
    docs = render_umbrella(project, eco, env)
    expected_replicas = {"test": 1, "staging": 2, "production": 3}[env]
    for service in eco.services:
        name = f"{eco.name}-{service.name}"
        deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
        assert deployment["metadata"]["namespace"] == environment.namespace
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["database"]["secret"]["secretName"] == environment.secret
        variables = {v["name"]: v.get("value") for v in pod["containers"][0]["env"]}
        assert f"deployment.environment.name={env}" in variables["OTEL_RESOURCE_ATTRIBUTES"]
        hpa = next((d for d in docs if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == name), None)
        replicas = hpa["spec"]["minReplicas"] if hpa else deployment["spec"]["replicas"]
        override = 4 if (env, service.name) == ("production", "orders") else expected_replicas
        assert replicas == override, f"{service.name} in {env}"
        assert (hpa is None) == (env == "test")


@pytest.mark.parametrize(
    ("env", "sampler", "share"),
    [
        ("test", "parentbased_always_on", "1.0"),
        ("staging", "parentbased_traceidratio", "0.5"),
        ("production", "parentbased_traceidratio", "0.1"),
    ],
)
def test_each_environment_samples_its_share_of_traces(
    project: Path, eco: Ecosystem, env: str, sampler: str, share: str
) -> None:
    """What the containers get, read from the rendered release (docs/templates.md: traces)."""
    docs = render_umbrella(project, eco, env)
    for service in eco.services:
        name = f"{eco.name}-{service.name}"
        deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
        variables = {v["name"]: v.get("value") for v in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (variables["OTEL_TRACES_SAMPLER"], variables["OTEL_TRACES_SAMPLER_ARG"]) == (sampler, share)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_checkov_finds_nothing_in_the_rendered_umbrella(
    project: Path, eco: Ecosystem, env: str, tmp_path: Path
) -> None:
    docs = render_umbrella(project, eco, env)
    assert {"HTTPRoute", "PrometheusRule"} <= {d["kind"] for d in docs}
    validators.checkov(validators.write_manifests(docs, tmp_path / "rendered"), "kubernetes")


def test_prometheusrule_has_the_release_rules_of_its_environment(project: Path, eco: Ecosystem) -> None:
    docs = render_umbrella(project, eco, "test")
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "shop-test"
    assert [g["name"] for g in rule["spec"]["groups"]] == [g["name"] for g in release_rule_groups(eco)]
    for group in rule["spec"]["groups"]:
        for alert in group["rules"]:
            assert alert["labels"]["environment"] == "test"
            assert alert["labels"]["level"] == "service"
            assert "__" not in alert["expr"], alert["expr"]


# --- monitoring ------------------------------------------------------------------------------


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is not installed: `apt-get install -y prometheus` (make test does it)"
    return found


def promtool(*args: str, cwd: Path) -> str:
    proc = subprocess.run([_promtool(), *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_promtool_accepts_the_prometheus_configuration(project: Path) -> None:
    out = promtool("check", "config", "prometheus.yml", cwd=project / "monitoring")
    assert "1 rule files found" in out
    promtool("check", "rules", "alerts.yml", cwd=project / "monitoring")
    promtool("check", "rules", "alert-rules.yaml", cwd=project / "deploy" / "chart" / "files")


def test_prometheus_scrapes_every_service_metrics_port(project: Path, eco: Ecosystem) -> None:
    config = load(project / "monitoring" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["prometheus"]["static_configs"][0]["targets"] == ["localhost:9090"]
    for service in eco.services:
        (static,) = jobs[service.name]["static_configs"]
        assert static == {"targets": [f"{service.name}:9000"], "labels": {"service": service.name}}
    assert config["rule_files"] == ["alerts.yml"]


def test_local_alert_rules_are_the_service_rules(eco: Ecosystem) -> None:
    """compose's Prometheus has the application rules; cluster and node rules need Kubernetes."""
    groups = local_rule_groups(eco)
    levels = {rule["labels"]["level"] for group in groups for rule in group["rules"]}
    assert levels == {"service"}
    rollback = {
        rule["alert"] for group in groups for rule in group["rules"] if rule["labels"].get("rollback") == "true"
    }
    assert {"ServiceHighErrorRate", "ServiceHighLatency"} <= rollback


def _series(labels: dict[str, str], metric: str) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def test_alert_rules_fire_on_synthetic_series(project: Path) -> None:
    """promtool's rule unit tests: the service alerts fire (with the rollback label) when they should."""
    base = {"service": "orders", "route": "/items", "method": "GET"}
    ok, failing = {**base, "status": "200"}, {**base, "status": "500"}
    tests = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": _series(ok, "http_requests_total"), "values": "0+90x30"},
                    {"series": _series(failing, "http_requests_total"), "values": "0+10x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "ServiceHighErrorRate", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "ServiceHighErrorRate",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "ecosystem": "shop",
                                    "service": "orders",
                                    "severity": "critical",
                                    "level": "service",
                                    "rollback": "true",
                                },
                                "exp_annotations": {
                                    "summary": "orders answers more than 5% of requests with a 5xx status",
                                    "description": "5xx ratio of orders is 10% over 5 minutes.",
                                },
                            }
                        ],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": _series(ok, "http_requests_total"), "values": "0+99x30"},
                    {"series": _series(failing, "http_requests_total"), "values": "0+1x30"},
                    {
                        "series": _series({**ok, "le": "0.25"}, "http_request_duration_seconds_bucket"),
                        "values": "0+10x30",
                    },
                    {
                        "series": _series({**ok, "le": "1"}, "http_request_duration_seconds_bucket"),
                        "values": "0+100x30",
                    },
                    {
                        "series": _series({**ok, "le": "+Inf"}, "http_request_duration_seconds_bucket"),
                        "values": "0+100x30",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "25m", "alertname": "ServiceHighErrorRate", "exp_alerts": []},
                    {
                        "eval_time": "25m",
                        "alertname": "ServiceHighLatency",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "ecosystem": "shop",
                                    "service": "orders",
                                    "severity": "warning",
                                    "level": "service",
                                    "rollback": "true",
                                },
                                "exp_annotations": {
                                    "summary": "orders p95 latency is above 0.5s",
                                    "description": "p95 latency of orders is 958.3ms.",
                                },
                            }
                        ],
                    },
                ],
            },
        ],
    }
    (project / "monitoring" / "alerts_test.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    try:
        promtool("test", "rules", "alerts_test.yml", cwd=project / "monitoring")
    finally:
        (project / "monitoring" / "alerts_test.yml").unlink()


# --- pipeline --------------------------------------------------------------------------------


def _actionlint() -> list[str]:
    # With shellcheck, actionlint also checks the `run:` scripts.
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed: `apt-get install -y shellcheck` (make test does it)"
    return [validators._bin("actionlint"), "-no-color", "-shellcheck", shellcheck]


def test_an_ecosystem_without_services_is_wired(tmp_path: Path) -> None:
    """Right after `scaffold init`: every derived file is still accepted by its tool."""
    write_files(derive(make_ecosystem(())), tmp_path)
    model = validators.compose_config(tmp_path / "compose.yaml")
    assert set(model["services"]) == {"gateway", "otel-collector", "jaeger", "prometheus", "loki", "grafana"}
    for env in ENVIRONMENTS:
        validators.helm_lint(tmp_path / "deploy" / "chart", env_values(tmp_path, env))
    promtool("check", "config", "prometheus.yml", cwd=tmp_path / "monitoring")
    workflows = sorted((tmp_path / ".github" / "workflows").glob("*.yml"))
    proc = subprocess.run([*_actionlint(), *map(str, workflows)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- determinism, headers, docs --------------------------------------------------------------


def test_derive_is_deterministic_and_independent_of_order(eco: Ecosystem) -> None:
    first = derive(eco)
    assert first == derive(eco)
    shuffled = dataclasses.replace(
        eco,
        services=tuple(reversed(eco.services)),
        environments=tuple(reversed(eco.environments)),
    )
    assert derive(shuffled) == first
    assert [f.path for f in first] == sorted(f.path for f in first)


def test_derived_files_carry_the_generated_header(eco: Ecosystem) -> None:
    # Swagger UI's files are the pinned npm package's bytes (tests/test_api_docs.py checks them).
    vendored = {f"{api_docs.DIRECTORY}/{name}" for name in api_docs.ASSETS}
    for f in derive(eco):
        if f.symlink or f.path in vendored:
            continue
        text = f.content.decode("utf-8")
        assert text.endswith("\n") and not text.endswith("\n\n") and "\r" not in text, f.path
        if "/templates/" in f.path:
            # Helm templates: a template comment, so that nothing is added to the rendered objects.
            assert GENERATED in text.splitlines()[0] and text.startswith("{{"), f.path
        elif f.path.endswith((".yaml", ".yml", ".conf")):
            assert text.startswith(f"# {GENERATED}\n"), f.path
            if not f.path.endswith(".conf"):
                list(yaml.safe_load_all(text))  # the Backstage catalog has several documents
        elif f.path.endswith(".md"):
            assert text.startswith(f"<!-- {GENERATED} -->\n"), f.path
        elif f.path.endswith(".json"):
            assert json.loads(text)["$comment"] == GENERATED
        else:
            assert GENERATED in text, f.path


def test_docs_describe_every_service(eco: Ecosystem) -> None:
    (doc,) = [f for f in derive(eco) if f.path == "docs/ecosystem.md"]
    text = doc.content.decode("utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1
    labels = set(re.findall(r'\["([^"]+)"\]', blocks[0]))
    assert {s.name for s in eco.services} <= labels
    assert {"gateway", "otel-collector", "jaeger", "prometheus"} <= labels
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for service in eco.services:
        assert any(
            line.startswith(f"| {service.name} | backend | `{service.path}` | {service.port} |") for line in rows
        )
    for env in eco.environments:
        assert any(line.startswith(f"| {env.name} | {env.namespace} |") for line in rows)
