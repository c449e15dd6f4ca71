"""The Helm chart of the `frontend` template, rendered by Copier and checked with the real tools:
helm lint --strict, the chart's values.schema.json, Kubernetes 1.30 schemas and checkov, per
environment; and what the chart must agree on with the image (port, probes, the variables the
entrypoint passes to the browser)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import chart_checks, validators
from tests.chart_checks import (
    DIGEST,
    ECOSYSTEM,
    REGISTRY,
    RELEASE,
    TEST_HOOK,
    assert_restricted,
    container,
    deployments_by_name,
    env_of,
    namespace_of,
    only,
    pod_spec,
    render,
    selects,
)
from tests.test_frontend_service import runtime_variables

SERVICE = "storefront"
API_SERVICE = "orders"

# What the umbrella chart of the meta-project sets per environment (each in its own namespace).
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "test": {
        "global": {"environment": "test", "secretName": "shop-test-database"},
        "image": {"tag": "0.1.0"},
        "replicaCount": 1,
        "autoscaling": {"enabled": False, "minReplicas": 1, "maxReplicas": 1, "targetCPUUtilizationPercentage": 75},
    },
    "staging": {
        "global": {"environment": "staging", "secretName": "shop-staging-database"},
        "image": {"tag": "0.2.0-rc.1", "digest": ""},
        "replicaCount": 2,
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 75},
        "podDisruptionBudget": {"minAvailable": 1},
        "otel": {"samplerArg": "0.5"},
    },
    "production": {
        "global": {"environment": "production", "secretName": "shop-production-database"},
        "image": {"tag": "0.2.0", "digest": DIGEST},
        "replicaCount": 3,
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10, "targetCPUUtilizationPercentage": 70},
        "podDisruptionBudget": {"minAvailable": 2},
        "config": {"apiBaseUrl": "https://api.shop.example.com"},
        "otel": {"endpoint": "https://otel.shop.example.com", "samplerArg": "0.1"},
        "resources": {
            "requests": {"cpu": "50m", "memory": "48Mi", "ephemeral-storage": "16Mi"},
            "limits": {"cpu": "1", "memory": "256Mi", "ephemeral-storage": "64Mi"},
        },
    },
}
CASES: dict[str, dict[str, Any]] = {"defaults": {}, **ENVIRONMENTS}


def render_service(destination: Path, name: str) -> Path:
    return chart_checks.render_project(destination, "frontend", name, port=3000, api_service=API_SERVICE)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_service(tmp_path_factory.mktemp("frontend") / SERVICE, SERVICE)


@pytest.fixture(scope="module")
def chart(project: Path) -> Path:
    return project / "chart"


# --- the real tools, per environment -----------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_lint_schema_and_kubernetes_schemas(chart: Path, case: str) -> None:
    values = CASES[case]
    validators.helm_lint(chart, values)
    docs = chart_checks.assert_valid_in(chart, values, namespace_of(case))
    assert sorted(d["kind"] for d in docs) == sorted(
        ["Deployment", "Service", "ServiceAccount", "NetworkPolicy", "Pod", "NetworkPolicy"]
        + (["HorizontalPodAutoscaler"] if values.get("autoscaling", {}).get("enabled", True) else [])
        + (["PodDisruptionBudget"] if case != "test" else [])
    )


@pytest.mark.parametrize("case", list(CASES))
def test_checkov_finds_nothing(chart: Path, case: str, tmp_path: Path) -> None:
    chart_checks.assert_checkov_passes(chart, {case: CASES[case]}, tmp_path)


def test_generated_chart_has_no_leftover_template_syntax(chart: Path) -> None:
    chart_checks.assert_no_template_leftovers(chart)


def test_no_service_monitor_and_no_secret(chart: Path) -> None:
    """nginx exposes no metrics and the page holds no secret: nothing to scrape, nothing mounted."""
    docs = render(chart, ENVIRONMENTS["production"], "shop-production")
    assert not [d for d in docs if d["kind"] in ("ServiceMonitor", "Secret", "Job")]
    assert [v["name"] for v in pod_spec(docs)["volumes"]] == ["tmp"]
    assert "shop-production-database" not in yaml.safe_dump(docs)


# --- what the chart and the image agree on -----------------------------------------------------


def test_port_and_probes_match_the_image(chart: Path, project: Path) -> None:
    nginx = (project / "docker" / "nginx.conf").read_text()
    listen = re.search(r"^\s*listen (\d+);", nginx, re.M)
    assert listen
    docs = render(chart)
    c = container(docs)
    assert c["ports"] == [{"name": "http", "containerPort": int(listen.group(1)), "protocol": "TCP"}]
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"] == {"path": path, "port": "http"}
        assert f"location = {path} {{" in nginx
    service = only(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}
    ]
    assert service["spec"]["selector"] == only(docs, "Deployment")["spec"]["selector"]["matchLabels"]


def test_environment_reaches_the_browser(chart: Path, project: Path) -> None:
    """Every variable the chart sets is one the entrypoint writes to /config.json."""
    source = (project / "src" / "runtime-env.ts").read_text()
    runtime = set(re.findall(r'"([A-Z_]+)"', source.split("RUNTIME_VARIABLES = [")[1].split("]")[0]))
    docs = render(chart, ENVIRONMENTS["production"], "shop-production")
    env = env_of(container(docs))
    assert set(env) <= runtime, set(env) - runtime
    assert env == {
        "API_BASE_URL": "https://api.shop.example.com",
        "OTEL_SERVICE_NAME": SERVICE,
        "OTEL_RESOURCE_ATTRIBUTES": (
            "service.namespace=shop,service.version=0.2.0,deployment.environment.name=production"
        ),
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.shop.example.com",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    defaults = env_of(container(render(chart)))
    assert defaults["API_BASE_URL"] == ""
    assert defaults["OTEL_EXPORTER_OTLP_ENDPOINT"] == "/otlp", "the gateway's route, same origin"
    assert defaults["OTEL_RESOURCE_ATTRIBUTES"] == "service.namespace=shop,service.version=0.1.0"
    assert not [name for name in defaults if name.startswith("AUTH_")], "no login without an issuer"


def test_an_issuer_makes_the_page_log_in(chart: Path, project: Path) -> None:
    issuer = "https://sso.example.com/realms/shop"
    env = env_of(container(render(chart, {"config": {"auth": {"issuer": issuer, "audience": "shop-api"}}})))
    login = {name: value for name, value in env.items() if name.startswith("AUTH_")}
    assert set(login) <= set(runtime_variables(project))
    assert login == {
        "AUTH_ISSUER": issuer,
        "AUTH_CLIENT_ID": SERVICE,  # the chart's name unless set
        "AUTH_SCOPE": "openid",
        "AUTH_AUDIENCE": "shop-api",
    }
    named = {"issuer": issuer, "clientId": "shop-web", "scope": "openid profile"}
    env = env_of(container(render(chart, {"config": {"auth": named}})))
    assert (env["AUTH_CLIENT_ID"], env["AUTH_SCOPE"]) == ("shop-web", "openid profile")
    assert "AUTH_AUDIENCE" not in env


def test_extra_env_is_appended(chart: Path) -> None:
    env = env_of(container(render(chart, {"extraEnv": [{"name": "OTEL_BSP_SCHEDULE_DELAY", "value": "1000"}]})))
    assert env["OTEL_BSP_SCHEDULE_DELAY"] == "1000"


# --- hardening ---------------------------------------------------------------------------------


def test_the_container_pauses_before_sigterm_so_endpoints_go_first(chart: Path) -> None:
    (deployment,) = [d for d in render(chart) if d["kind"] == "Deployment"]
    (web,) = deployment["spec"]["template"]["spec"]["containers"]
    assert web["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}


def test_restricted_pod_security(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["staging"], "shop-staging")
    for pod in (pod_spec(docs), only(docs, "Pod", hook=TEST_HOOK)["spec"]):
        assert_restricted(pod)
        for c in pod["containers"]:
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        assert any("emptyDir" in v and v["name"] == "tmp" for v in pod["volumes"])


def test_network_policy_admits_the_gateway_and_allows_no_egress(chart: Path) -> None:
    docs = render(chart)
    policy = only(docs, "NetworkPolicy")
    pod_labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"] == []
    ingress = policy["spec"]["ingress"]
    assert [rule["ports"] for rule in ingress] == [[{"protocol": "TCP", "port": "http"}]] * 2
    assert ingress[0]["from"] == [
        {
            "namespaceSelector": {},
            "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": f"{ECOSYSTEM}-gateway"}},
        }
    ]
    test_pod = only(docs, "Pod", hook=TEST_HOOK)
    assert selects(ingress[1]["from"][0]["podSelector"]["matchLabels"], test_pod["metadata"]["labels"])
    assert not selects(policy["spec"]["podSelector"]["matchLabels"], test_pod["metadata"]["labels"])

    extra = [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"protocol": "TCP", "port": 443}]}]
    opened = render(chart, {"networkPolicy": {"egress": {"extra": extra}}})
    assert only(opened, "NetworkPolicy")["spec"]["egress"] == extra
    validators.kubernetes_validate(opened)

    disabled = render(chart, {"networkPolicy": {"enabled": False}})
    assert not [d for d in disabled if d["kind"] == "NetworkPolicy"]


def test_image_digest_pins_the_app_and_the_test_pod(chart: Path, tmp_path: Path) -> None:
    docs = render(chart, {"image": {"digest": DIGEST}})
    image = f"{REGISTRY}/{SERVICE}@{DIGEST}"
    assert container(docs)["image"] == image
    test_pod = only(docs, "Pod", hook=TEST_HOOK)
    assert test_pod["spec"]["containers"][0]["image"] == image
    annotations = only(docs, "Deployment")["metadata"]["annotations"]
    assert not [k for k in annotations if k.startswith("checkov.io/skip")], "no skip is needed with a digest"
    validators.checkov(validators.write_manifests(docs, tmp_path / "pinned"), "kubernetes")
    assert container(render(chart))["image"] == f"{REGISTRY}/{SERVICE}:0.1.0"


def test_replicas_autoscaling_and_disruption_budget(chart: Path) -> None:
    fixed = render(chart, ENVIRONMENTS["test"], "shop-test")
    assert only(fixed, "Deployment")["spec"]["replicas"] == 1
    assert not [d for d in fixed if d["kind"] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")]

    scaled = render(chart, ENVIRONMENTS["production"], "shop-production")
    assert "replicas" not in only(scaled, "Deployment")["spec"]
    chart_checks.assert_autoscaled(scaled, 3, 10)
    assert only(scaled, "PodDisruptionBudget")["spec"]["minAvailable"] == 2

    chart_checks.assert_refuses_min_above_max(chart)


@pytest.mark.parametrize(
    "values",
    [
        {"unknown": True},
        {"config": {"apiBaseUrl": 'https://api.example.com/"'}},
        {"config": {"apiBaseUrl": "api.example.com"}},
        {"config": {"auth": {"issuer": "http://sso.example.com"}}},
        {"config": {"auth": {"issuer": "https://sso.example.com/?next=x"}}},
        {"config": {"auth": {"issuer": 'https://sso.example.com/"'}}},
        {"config": {"auth": {"clientId": "web&redirect_uri=x"}}},
        {"config": {"auth": {"scope": ""}}},
        {"otel": {"endpoint": "otlp"}},
        {"otel": {"endpoint": "https://otel.example.com/\\"}},
        {"otel": {"exporter": "zipkin"}},
        {"otel": {"samplerArg": "2"}},
        {"securityContext": {"runAsUser": 0}},
        {"service": {"port": 0}},
        {"networkPolicy": {"ingress": {"gateway": {"from": []}}}},
        {"image": {"digest": "sha256:short"}},
    ],
    ids=lambda values: yaml.safe_dump(values, default_flow_style=True).strip(),
)
def test_schema_rejects_bad_values(chart: Path, values: dict[str, Any]) -> None:
    chart_checks.assert_schema_rejects(chart, values)


def test_helm_test_pod_reads_readiness_and_the_config_through_the_service(chart: Path) -> None:
    docs = render(chart)
    pod, c, script = chart_checks.helm_test_pod(docs, ["/bin/sh", "-c"])
    service = only(docs, "Service")
    assert f'url="http://{service["metadata"]["name"]}:80"' in script
    assert '"$url/readyz"' in script and '"$url/config.json"' in script
    assert f'"OTEL_SERVICE_NAME":"{SERVICE}"' in script
    assert c["image"] == container(docs)["image"]

    policy = only(docs, "NetworkPolicy", hook=TEST_HOOK)
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod["metadata"]["labels"])
    assert policy["spec"]["ingress"] == []
    ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]]
    assert sorted(ports) == [53, 53, 8080]


def test_every_object_is_labelled_part_of_the_ecosystem(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["staging"], "shop-staging")
    chart_checks.assert_labelled_part_of_the_ecosystem(docs, SERVICE, "0.2.0-rc.1", "shop-staging")


def test_notes_render(chart: Path) -> None:
    assert "/otlp" in chart_checks.notes(chart, SERVICE)


def test_hyphenated_service_names_render(tmp_path: Path) -> None:
    chart = render_service(tmp_path / "web-shop", "web-shop") / "chart"
    chart_checks.assert_renders_under_a_hyphenated_name(chart, "web-shop")


def test_next_to_a_backend_in_an_umbrella_chart(chart: Path, tmp_path: Path) -> None:
    """Both kinds' charts include the shared helpers under their own names: as subcharts of one
    umbrella chart they render side by side, each with its own helpers."""
    backend = chart_checks.render_project(tmp_path / API_SERVICE, "backend", API_SERVICE, port=8001) / "chart"
    values = {
        "global": {"environment": "staging", "secretName": "shop-staging-database"},
        SERVICE: {"enabled": True, "image": {"digest": DIGEST}},
        API_SERVICE: {"enabled": True},
    }
    umbrella = chart_checks.umbrella_chart(tmp_path, {API_SERVICE: backend, SERVICE: chart}, values)
    docs = chart_checks.assert_umbrella_valid(umbrella)
    deployments = deployments_by_name(docs)
    assert set(deployments) == {f"{RELEASE}-{SERVICE}", f"{RELEASE}-{API_SERVICE}"}
    frontend = deployments[f"{RELEASE}-{SERVICE}"]["spec"]["template"]["spec"]
    assert frontend["containers"][0]["ports"][0]["containerPort"] == 8080
    assert frontend["containers"][0]["image"].endswith(DIGEST)
    assert "deployment.environment.name=staging" in env_of(frontend["containers"][0])["OTEL_RESOURCE_ATTRIBUTES"]
    assert [v["name"] for v in frontend["volumes"]] == ["tmp"]
    validators.checkov(validators.write_manifests(docs, tmp_path / "manifests"), "kubernetes")
