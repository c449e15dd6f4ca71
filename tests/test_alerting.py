"""Alert rules per release and per cluster, the Alertmanager routing, and the rollback relay.

Checked by the tools that run them: promtool evaluates the rules the umbrella chart renders for an
environment against synthetic series of several namespaces; amtool checks and routes the derived
Alertmanager configuration; a real Alertmanager (Debian's) delivers a firing rollback alert to the
relay on loopback, which asks a stand-in of GitHub's API, also on loopback, to start the rollback
job. The charts are linted, rendered and scanned as in test_wiring.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.custom_resources import CUSTOM_RESOURCES, HTTP_ROUTE, PROMETHEUS_RULE, SECURITY_POLICY, SERVICE_MONITOR
from scaffold.model import Alerting, Ecosystem
from scaffold.wiring import derive
from scaffold.wiring.monitoring import ALERTMANAGER_CONFIG, cluster_rule_groups, relay_url
from scaffold.wiring.platform import PLATFORM_DIR, RELAY_FILE, relay_file
from scaffold.wiring.rollback_relay import Config, dispatches
from tests import validators
from tests.servers import alertmanager_server, free_port, stop, wait_for_port
from tests.test_wiring import backend, make_ecosystem, render_backend, write_files

SERVICE = "orders"


@pytest.fixture(scope="module")
def eco() -> Ecosystem:
    return dataclasses.replace(
        make_ecosystem((backend(SERVICE, 8001),)), alerting=Alerting(github_repository="acme/shop")
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, eco: Ecosystem) -> Path:
    root = tmp_path_factory.mktemp("alerting")
    for service in eco.services:
        render_backend(root / service.path, service, eco)
    write_files(derive(eco), root)
    return root


def namespace_of(eco: Ecosystem, env: str) -> str:
    return next(e.namespace for e in eco.environments if e.name == env)


def render_umbrella(
    project: Path, eco: Ecosystem, env: str, api_versions: list[str] | None = None
) -> list[dict[str, Any]]:
    values = yaml.safe_load((project / "deploy" / "chart" / f"values-{env}.yaml").read_text(encoding="utf-8"))
    return validators.helm_render(
        project / "deploy" / "chart",
        values,
        name=eco.name,
        namespace=namespace_of(eco, env),
        api_versions=api_versions,
    )


def render_platform(project: Path, api_versions: list[str] | None = None) -> list[dict[str, Any]]:
    values = yaml.safe_load((project / PLATFORM_DIR / "values.yaml").read_text(encoding="utf-8"))
    return validators.helm_render(
        project / PLATFORM_DIR, values, name="shop-platform", namespace="monitoring", api_versions=api_versions
    )


# --- rules scoped to the release ---------------------------------------------------------------


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is not installed: `apt-get install -y prometheus` (make test does it)"
    return found


def _series(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def promtool_test(rules: list[dict[str, Any]], tests: list[dict[str, Any]], directory: Path) -> None:
    """promtool's rule unit tests of `rules` (a rule file's groups)."""
    (directory / "rules.yml").write_text(yaml.safe_dump({"groups": rules}), encoding="utf-8")
    document = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (directory / "rules_test.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    proc = subprocess.run(
        [_promtool(), "test", "rules", "rules_test.yml"], capture_output=True, text=True, cwd=directory
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def release_rules(project: Path, eco: Ecosystem, env: str) -> list[dict[str, Any]]:
    (rule,) = [d for d in render_umbrella(project, eco, env) if d["kind"] == "PrometheusRule"]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def _requests(namespace: str, failing_per_minute: int) -> list[dict[str, str]]:
    base = {"namespace": namespace, "service": SERVICE, "route": "/items", "method": "GET"}
    return [
        {"series": _series("http_requests_total", {**base, "status": "200"}), "values": "0+90x30"},
        {"series": _series("http_requests_total", {**base, "status": "500"}), "values": f"0+{failing_per_minute}x30"},
    ]


def _service_alert(env: str, severity: str, **extra: str) -> dict[str, str]:
    """The labels promtool expects on a service alert of this release (alertname aside)."""
    return {
        "ecosystem": "shop",
        "environment": env,
        "level": "service",
        "rollback": "true",
        "service": SERVICE,
        "severity": severity,
        **extra,
    }


def test_a_service_alert_fires_only_in_its_own_release(project: Path, eco: Ecosystem, tmp_path: Path) -> None:
    """The same 5xx burst in another environment's namespace does not fire this release's rule."""
    rules = release_rules(project, eco, "test")
    promtool_test(
        rules,
        [
            {
                "interval": "1m",
                "input_series": _requests("shop-test", 10) + _requests("shop-staging", 0),
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "ServiceHighErrorRate",
                        "exp_alerts": [
                            {
                                "exp_labels": _service_alert("test", "critical"),
                                "exp_annotations": {
                                    "summary": "orders answers more than 5% of requests with a 5xx status",
                                    "description": "5xx ratio of orders is 10% over 5 minutes.",
                                },
                            }
                        ],
                    }
                ],
            },
            {
                "interval": "1m",
                "input_series": _requests("shop-test", 0) + _requests("shop-staging", 10),
                "alert_rule_test": [{"eval_time": "20m", "alertname": "ServiceHighErrorRate", "exp_alerts": []}],
            },
        ],
        tmp_path,
    )


def test_the_release_workload_alerts_name_the_service(project: Path, eco: Ecosystem, tmp_path: Path) -> None:
    """Restarts and unavailable replicas of the release's own containers fire with their service;
    another release's namespace and another container do not."""
    rules = release_rules(project, eco, "production")
    namespace = namespace_of(eco, "production")
    pod = {"namespace": namespace, "pod": "shop-orders-5d9f-x2x", "container": SERVICE}
    restarts = "kube_pod_container_status_restarts_total"
    unavailable = "kube_deployment_status_replicas_unavailable"
    promtool_test(
        rules,
        [
            {
                "interval": "1m",
                "input_series": [
                    {"series": _series(restarts, pod), "values": "0+1x30"},
                    {"series": _series(restarts, {**pod, "namespace": "shop-test"}), "values": "0+1x30"},
                    {"series": _series(restarts, {**pod, "container": "istio-proxy"}), "values": "0+1x30"},
                    {
                        "series": _series(unavailable, {"namespace": namespace, "deployment": "shop-orders"}),
                        "values": "1x30",
                    },
                    {
                        "series": _series(unavailable, {"namespace": namespace, "deployment": "other-orders"}),
                        "values": "1x30",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "25m",
                        "alertname": "ServicePodsRestarting",
                        "exp_alerts": [
                            {
                                "exp_labels": _service_alert("production", "critical", **pod),
                                "exp_annotations": {
                                    "summary": f"orders: pod {pod['pod']} restarted more than 3 times in 15 minutes",
                                    "description": "Container orders of shop/shop-orders-5d9f-x2x keeps restarting.",
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "25m",
                        "alertname": "ServiceReplicasUnavailable",
                        "exp_alerts": [
                            {
                                "exp_labels": _service_alert(
                                    "production",
                                    "warning",
                                    namespace=namespace,
                                    deployment="shop-orders",
                                ),
                                "exp_annotations": {
                                    "summary": "orders has unavailable replicas",
                                    "description": "1 replicas of shop/shop-orders are unavailable.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
        tmp_path,
    )


# --- custom resources follow the cluster -----------------------------------------------------


def _kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["kind"] for d in docs}


@pytest.mark.parametrize(
    "served",
    [(), (SERVICE_MONITOR, PROMETHEUS_RULE), CUSTOM_RESOURCES],
    ids=["none", "prometheus-operator", "all"],
)
def test_custom_resources_are_rendered_only_where_the_cluster_serves_them(
    project: Path, eco: Ecosystem, served: tuple[Any, ...]
) -> None:
    apis = [r.capability for r in served]
    custom = {r.kind for r in CUSTOM_RESOURCES}
    for env in ("test", "production"):
        docs = render_umbrella(project, eco, env, api_versions=apis)
        # no `auth:` in this ecosystem: no token policy (tests/test_gateway_auth.py renders one)
        assert _kinds(docs) & custom == {r.kind for r in served} - {SECURITY_POLICY.kind}, env
        assert "Deployment" in _kinds(docs)
    platform = render_platform(project, api_versions=apis)
    assert ("PrometheusRule" in _kinds(platform)) == (PROMETHEUS_RULE in served)
    service = validators.helm_render(project / "services" / SERVICE / "chart", {}, api_versions=apis)
    assert ("ServiceMonitor" in _kinds(service)) == (SERVICE_MONITOR in served)
    assert HTTP_ROUTE.capability.startswith("gateway.networking.k8s.io/")


# --- the platform chart (once per cluster) ---------------------------------------------------


def test_platform_chart_is_valid_and_passes_checkov(project: Path, tmp_path: Path) -> None:
    values = yaml.safe_load((project / PLATFORM_DIR / "values.yaml").read_text(encoding="utf-8"))
    validators.helm_lint(project / PLATFORM_DIR, values)
    docs = render_platform(project)
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} >= {
        ("PrometheusRule", "shop-platform-cluster-alerts"),
        ("Deployment", "shop-rollback-relay"),
        ("Service", "shop-rollback-relay"),
        ("NetworkPolicy", "shop-rollback-relay"),
    }
    validators.kubernetes_validate(docs)
    validators.checkov(validators.write_manifests(docs, tmp_path / "rendered"), "kubernetes")


def test_platform_chart_has_the_cluster_and_node_rules_once(project: Path, eco: Ecosystem) -> None:
    (rule,) = [d for d in render_platform(project) if d["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"] == cluster_rule_groups(eco)
    levels = {r["labels"]["level"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert levels == {"cluster", "node"}
    assert not any(r["labels"].get("rollback") for g in rule["spec"]["groups"] for r in g["rules"])
    for env in ("test", "staging", "production"):
        release = {r["labels"]["level"] for g in release_rules(project, eco, env) for r in g["rules"]}
        assert release == {"service"}, "cluster and node rules are not installed per environment"
    proc = subprocess.run(
        [_promtool(), "check", "rules", str(project / PLATFORM_DIR / "files" / "alert-rules.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_platform_relay_runs_the_code_scaffold_ships(project: Path, eco: Ecosystem) -> None:
    docs = render_platform(project)
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert config_map["data"]["rollback_relay.py"] == relay_file()
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GITHUB_REPOSITORY"] == "acme/shop"
    assert env["RELAY_ECOSYSTEM"] == "shop"
    assert env["RELAY_ENVIRONMENTS"] == "test,staging,production"
    (service,) = [d for d in docs if d["kind"] == "Service"]
    assert (
        relay_url(eco)
        == f"http://{service['metadata']['name']}.monitoring.svc:{service['spec']['ports'][0]['port']}/alerts"
    )


def test_platform_chart_without_a_github_repository_has_no_relay(tmp_path: Path) -> None:
    eco = make_ecosystem(())
    write_files(derive(eco), tmp_path)
    docs = render_platform(tmp_path)
    assert _kinds(docs) == {"PrometheusRule"}


# --- Alertmanager --------------------------------------------------------------------------


def _amtool(*args: str) -> str:
    amtool = shutil.which("amtool")
    assert amtool, "amtool is not installed: `apt-get install prometheus-alertmanager` (make test does it)"
    proc = subprocess.run([amtool, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_amtool_accepts_the_alertmanager_config(project: Path) -> None:
    out = _amtool("check-config", str(project / ALERTMANAGER_CONFIG))
    assert "SUCCESS" in out


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"level": "service", "rollback": "true", "environment": "production"}, ["shop-rollback", "shop-service"]),
        ({"level": "service", "environment": "production"}, ["shop-service"]),
        ({"level": "service", "rollback": "true", "environment": "preview"}, ["shop-service"]),
        ({"level": "cluster"}, ["shop-cluster"]),
        ({"level": "node"}, ["shop-node"]),
    ],
)
def test_alertmanager_routes_by_level_and_rollback(project: Path, labels: dict[str, str], receivers: list[str]) -> None:
    matchers = [f"{k}={v}" for k, v in {"ecosystem": "shop", **labels}.items()]
    out = _amtool("config", "routes", "test", f"--config.file={project / ALERTMANAGER_CONFIG}", *matchers)
    assert out.strip().split(",") == receivers


class FakeGitHub:
    """GitHub's repository_dispatch endpoint on loopback: records each request, answers `status`."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeGitHub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def relay(project: Path, github: FakeGitHub, tmp_path: Path) -> Iterator[str]:
    """The relay the platform chart ships, run with Python on loopback; yields its /alerts URL."""
    token = tmp_path / "token"
    token.write_text("test-token\n", encoding="utf-8")
    port = free_port()
    env = {
        "RELAY_ECOSYSTEM": "shop",
        "RELAY_ENVIRONMENTS": "test,staging,production",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_TOKEN_FILE": str(token),
        "GITHUB_API_URL": github.url,
        "RELAY_LISTEN": f"127.0.0.1:{port}",
        "PATH": "/usr/bin:/bin",
    }
    process = subprocess.Popen(
        [sys.executable, "-I", str(project / PLATFORM_DIR / RELAY_FILE)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/alerts"
    finally:
        stop(process)
        assert process.stdout is not None
        process.stdout.close()


def _post(url: str, body: Any) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.e2e
def test_a_firing_rollback_alert_reaches_the_rollback_job_through_alertmanager(
    project: Path, eco: Ecosystem, tmp_path: Path
) -> None:
    """Alertmanager (real, derived config) -> the relay (real, loopback) -> GitHub's dispatch API
    (stand-in, loopback): environment, service and level arrive; a node alert dispatches nothing."""
    with FakeGitHub() as github, relay(project, github, tmp_path) as relay_alerts:
        config = yaml.safe_load((project / ALERTMANAGER_CONFIG).read_text(encoding="utf-8"))
        for receiver in config["receivers"]:
            for webhook in receiver.get("webhook_configs", []):
                assert webhook["url"] == relay_url(eco)
                webhook["url"] = relay_alerts  # the cluster's Service address, here on loopback
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        with alertmanager_server(tmp_path / "alertmanager.yml") as alertmanager:
            common = {"ecosystem": "shop", "environment": "staging"}
            alerts = [
                {
                    "labels": {
                        **common,
                        "alertname": "ServiceHighErrorRate",
                        "service": SERVICE,
                        "level": "service",
                        "severity": "critical",
                        "rollback": "true",
                    }
                },
                {"labels": {**common, "alertname": "NodeHighCPU", "level": "node", "severity": "warning"}},
            ]
            assert _post(f"{alertmanager}/api/v2/alerts", alerts) == 200
            deadline = time.monotonic() + 60
            while not github.requests and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2)  # anything else Alertmanager was going to send
    assert len(github.requests) == 1, github.requests
    (request,) = github.requests
    assert request["path"] == "/repos/acme/shop/dispatches"
    assert request["headers"]["Authorization"] == "Bearer test-token"
    assert request["body"]["event_type"] == "rollback"
    payload = request["body"]["client_payload"]
    assert payload["environment"] == "staging"
    assert payload["services"] == [SERVICE]
    assert payload["levels"] == ["service"]
    assert payload["alerts"] == [
        {"alertname": "ServiceHighErrorRate", "service": SERVICE, "level": "service", "severity": "critical"}
    ]


# --- the relay on its own ------------------------------------------------------------------


CONFIG = Config(
    ecosystem="shop",
    environments=frozenset({"test", "staging", "production"}),
    repository="acme/shop",
    token_file="/nonexistent",
    api_url="https://api.github.com",
    event_type="rollback",
    listen=("127.0.0.1", 0),
)


def _alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    base = {"ecosystem": "shop", "environment": "test", "rollback": "true", "service": "orders", "level": "service"}
    return {"status": status, "labels": {**base, **labels}}


def test_the_relay_dispatches_only_firing_rollback_alerts_of_its_ecosystem() -> None:
    notification = {
        "alerts": [
            _alert(alertname="A"),
            _alert(alertname="B", service="inventory"),
            _alert("resolved", alertname="C"),
            _alert(alertname="D", rollback="false"),
            _alert(alertname="E", ecosystem="other"),
            _alert(alertname="F", environment="preview"),
            _alert(alertname="G", environment="production", level="service"),
        ]
    }
    found = dispatches(notification, CONFIG)
    assert sorted(found) == ["production", "test"]
    assert found["test"]["services"] == ["inventory", "orders"]
    assert [a["alertname"] for a in found["test"]["alerts"]] == ["A", "B"]
    assert [a["alertname"] for a in found["production"]["alerts"]] == ["G"]
    assert dispatches({"alerts": "nonsense"}, CONFIG) == {}
    assert dispatches([], CONFIG) == {}


def test_the_relay_answers_502_when_github_refuses_so_alertmanager_retries(project: Path, tmp_path: Path) -> None:
    with FakeGitHub(status=401) as github, relay(project, github, tmp_path) as relay_alerts:
        assert _post(relay_alerts, {"alerts": [_alert(alertname="A")]}) == 502
        assert len(github.requests) == 1
        assert _post(relay_alerts, {"alerts": [_alert("resolved", alertname="A")]}) == 200
        assert len(github.requests) == 1
        request = urllib.request.Request(relay_alerts, data=b"{not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=10)
        assert error.value.code == 400


def test_receivers_of_ecosystem_yaml_reach_the_alertmanager_config(tmp_path: Path) -> None:
    hook: dict[str, object] = {
        "webhook_configs": [{"url": "https://chat.example.com/hooks/platform", "send_resolved": True}]
    }
    eco = dataclasses.replace(
        make_ecosystem(()), alerting=Alerting(namespace="observability", receivers={"node": hook})
    )
    write_files(derive(eco), tmp_path)
    assert "SUCCESS" in _amtool("check-config", str(tmp_path / ALERTMANAGER_CONFIG))
    config = yaml.safe_load((tmp_path / ALERTMANAGER_CONFIG).read_text(encoding="utf-8"))
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["shop-node"] == {"name": "shop-node", **hook}
    rollback = receivers["shop-rollback"]["webhook_configs"][0]["url"]
    assert rollback == "http://shop-rollback-relay.observability.svc:8080/alerts"


@pytest.mark.parametrize(
    ("service", "receivers"),
    [
        ("shop-orders", ["shop-team-payments"]),  # in a cluster: the Kubernetes Service's name
        ("orders", ["shop-team-payments"]),  # in compose
        ("shop-inventory", ["shop-service"]),  # its team has no receiver: the level's
        ("ordersx", ["shop-service"]),
    ],
)
def test_service_alerts_go_to_the_owning_teams_receiver(tmp_path: Path, service: str, receivers: list[str]) -> None:
    from scaffold.model import Team
    from tests.test_wiring import backend

    hook: dict[str, object] = {"webhook_configs": [{"url": "https://chat.example.com/hooks/payments"}]}
    eco = make_ecosystem((dataclasses.replace(backend("orders", 8001), owner="payments"), backend("inventory", 8002)))
    eco = dataclasses.replace(eco, owner="platform", teams={"payments": Team(receiver=hook), "platform": Team()})
    write_files(derive(eco), tmp_path)
    config = str(tmp_path / ALERTMANAGER_CONFIG)
    assert "SUCCESS" in _amtool("check-config", config)
    matchers = ["ecosystem=shop", "level=service", f"service={service}"]
    assert _amtool("config", "routes", "test", f"--config.file={config}", *matchers).strip().split(",") == receivers
    rollback = [*matchers, "rollback=true", "environment=production"]
    with_rollback = _amtool("config", "routes", "test", f"--config.file={config}", *rollback)
    assert with_rollback.strip().split(",") == ["shop-rollback", *receivers]
