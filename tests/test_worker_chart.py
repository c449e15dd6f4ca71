"""The Helm chart of the `worker` template, rendered by Copier and checked with the real tools:
helm lint --strict, the chart's values.schema.json, Kubernetes 1.30 schemas and checkov, for the
values each environment of the umbrella chart sets; and what sets a worker's chart apart: no
Service for traffic, only Prometheus may come in, and SIGTERM gets its time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests import chart_checks, validators
from tests.chart_checks import (
    DIGEST,
    MIGRATE_HOOK,
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
    values_id,
)

SERVICE = "audit-log"
BACKEND = "orders"

# What the umbrella chart of the meta-project sets per environment (each in its own namespace).
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "test": {
        "global": {"environment": "test", "secretName": "shop-test-secrets"},
        "image": {"tag": "0.1.0"},
        "replicaCount": 1,
        "autoscaling": {"enabled": False},
        "serviceMonitor": {"enabled": False},
        "worker": {"prefetch": 2, "retryDelays": "0.5,2", "shutdownTimeoutSeconds": 10},
    },
    "staging": {
        "global": {"environment": "staging", "secretName": "shop-staging-secrets"},
        "image": {"tag": "0.2.0-rc.1"},
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4},
        "amqp": {"subscribes": "orders.item.published,inventory.#"},
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kube-prometheus-stack"}},
    },
    "production": {
        "global": {"environment": "production", "secretName": "shop-production-secrets"},
        "image": {"tag": "0.2.0", "digest": DIGEST},
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10},
        "podDisruptionBudget": {"minAvailable": 2},
        "terminationGracePeriodSeconds": 60,
        "worker": {"prefetch": 16, "retryDelays": "5,30,300", "shutdownTimeoutSeconds": 45},
        "networkPolicy": {
            "egress": {
                "database": {"port": 5432, "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]},
                "amqp": {
                    "port": 5671,
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "messaging"}},
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}},
                        }
                    ],
                },
            },
        },
    },
}
CASES: dict[str, dict[str, Any]] = {"defaults": {}, **ENVIRONMENTS}


def render_service(destination: Path, name: str, kind: str = "worker") -> Path:
    return chart_checks.render_project(destination, kind, name, port=8101) / "chart"


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_service(tmp_path_factory.mktemp("service") / SERVICE, SERVICE)


# ---------------------------------------------------------------------------------------------
# The chart's files and the real validators


def test_chart_metadata_names_the_worker(chart: Path) -> None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert (meta["apiVersion"], meta["name"], meta["version"]) == ("v2", SERVICE, "0.1.0")
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert values["image"]["repository"] == f"{REGISTRY}/{SERVICE}"
    assert values["amqp"] == {"exchange": "events", "subscribes": "*.item.published"}
    assert (chart / "values.schema.json").is_file() and (chart / ".helmignore").is_file()
    chart_checks.assert_no_template_leftovers(chart)


@pytest.mark.parametrize("case", CASES)
def test_helm_lint_strict(chart: Path, case: str) -> None:
    validators.helm_lint(chart, CASES[case])


@pytest.mark.parametrize("case", CASES)
def test_manifests_match_kubernetes_schemas(chart: Path, case: str) -> None:
    chart_checks.assert_valid_in(chart, CASES[case], namespace_of(case))


def test_checkov_finds_nothing_for_any_environment(chart: Path, tmp_path: Path) -> None:
    chart_checks.assert_checkov_passes(chart, CASES, tmp_path)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"unknownKey": True}, "unknownKey"),
        ({"service": {"port": 80}}, "service"),
        ({"amqp": {"subscribes": "orders item"}}, "/amqp/subscribes"),
        ({"amqp": {"subscribes": ""}}, "/amqp/subscribes"),
        ({"amqp": {"exchange": "with space"}}, "/amqp/exchange"),
        ({"worker": {"prefetch": 0}}, "/worker/prefetch"),
        ({"worker": {"retryDelays": "1,soon"}}, "/worker/retryDelays"),
        ({"worker": {"shutdownTimeoutSeconds": "20"}}, "/worker/shutdownTimeoutSeconds"),
        ({"secret": {"amqpKey": "not/a/key"}}, "/secret/amqpKey"),
        ({"networkPolicy": {"ingress": {"gateway": {"from": [{"podSelector": {}}]}}}}, "gateway"),
        ({"networkPolicy": {"egress": {"amqp": {"port": 0}}}}, "/networkPolicy/egress/amqp/port"),
        ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
    ],
    ids=values_id,
)
def test_schema_rejects(chart: Path, values: dict[str, Any], where: str) -> None:
    chart_checks.assert_schema_rejects(chart, values, where)


def test_shutdown_must_fit_in_the_grace_period(chart: Path) -> None:
    values = {"terminationGracePeriodSeconds": 20, "worker": {"shutdownTimeoutSeconds": 20}}
    with pytest.raises(helm.HelmRenderError, match="terminationGracePeriodSeconds must exceed"):
        render(chart, values)


# ---------------------------------------------------------------------------------------------
# What a worker's chart is


def test_no_service_for_traffic_only_a_headless_metrics_service(chart: Path) -> None:
    docs = render(chart)
    service = only(docs, "Service")
    assert service["spec"]["clusterIP"] == "None"
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [("metrics", 9000, "metrics")]
    pod = only(docs, "Deployment")["spec"]["template"]
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    assert [(p["name"], p["containerPort"]) for p in container(docs)["ports"]] == [("metrics", 9000)]
    monitor = only(docs, "ServiceMonitor")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    assert not [d for d in docs if d["kind"] in {"Ingress", "HTTPRoute"}]


def test_only_prometheus_and_the_test_pod_come_in_and_only_dependencies_go_out(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["production"], namespace="shop-production")
    policy = only(docs, "NetworkPolicy")
    pod_labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels)
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress = policy["spec"]["ingress"]
    assert {p["port"] for rule in ingress for p in rule["ports"]} == {"metrics"}
    prometheus, test_pod = ingress
    assert prometheus["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    test_labels = only(docs, "Pod", hook=TEST_HOOK)["metadata"]["labels"]
    assert selects(test_pod["from"][0]["podSelector"]["matchLabels"], test_labels)
    egress = {p["port"]: rule.get("to", []) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert set(egress) == {53, 5432, 5671, 4318}
    assert egress[5671][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "messaging"}
    assert egress[5432] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


def test_hardened_like_every_service(chart: Path) -> None:
    docs = render(chart, {"image": {"digest": DIGEST}})
    assert_restricted(pod_spec(docs))
    assert_restricted(only(docs, "Pod", hook=TEST_HOOK)["spec"])
    assert_restricted(only(docs, "Job", hook=MIGRATE_HOOK)["spec"]["template"]["spec"])
    c = container(docs)
    assert c["image"] == f"{REGISTRY}/{SERVICE}@{DIGEST}"
    assert c["securityContext"]["runAsUser"] >= 10000
    assert only(docs, "ServiceAccount")["automountServiceAccountToken"] is False


def test_probes_and_the_grace_period(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["production"], namespace="shop-production")
    c = container(docs)
    assert c["startupProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    pod = pod_spec(docs)
    env = env_of(c)
    assert pod["terminationGracePeriodSeconds"] == 60
    assert env["WORKER_SHUTDOWN_TIMEOUT"] == "45"


def test_configuration_reaches_the_worker_and_secrets_are_files(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["staging"], namespace="shop-staging")
    env = env_of(container(docs))
    assert env["WORKER_SUBSCRIBES"] == "orders.item.published,inventory.#"
    assert env["AMQP_EXCHANGE"] == "events"
    assert env["WORKER_PREFETCH"] == "8"
    assert env["WORKER_RETRY_DELAYS"] == "1,10,60"
    assert env["METRICS_PORT"] == "9000"
    assert env["DATABASE_URL_FILE"] == "/run/secrets/database/DATABASE_URL"
    assert env["AMQP_URL_FILE"] == "/run/secrets/amqp/AMQP_URL"
    assert "DATABASE_URL" not in env and "AMQP_URL" not in env
    assert "deployment.environment.name=staging" in env["OTEL_RESOURCE_ATTRIBUTES"]
    assert env["OTEL_SERVICE_NAME"] == SERVICE
    volumes = pod_spec(docs)["volumes"]
    secrets = {v["name"]: v["secret"] for v in volumes if "secret" in v}
    assert {s["secretName"] for s in secrets.values()} == {"shop-staging-secrets"}
    assert [i["key"] for i in secrets["amqp"]["items"]] == ["AMQP_URL"]
    assert [i["key"] for i in secrets["database"]["items"]] == ["DATABASE_URL"]


def test_disruption_budget_autoscaler_and_migrations(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["production"], namespace="shop-production")
    assert only(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    chart_checks.assert_autoscaled(docs, 3, 10)
    job = only(docs, "Job", hook=MIGRATE_HOOK)
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert env_of(migrate) == {"DATABASE_URL_FILE": "/run/secrets/database/DATABASE_URL"}, "no broker secret"


def test_helm_test_waits_for_readiness_on_the_metrics_port(chart: Path) -> None:
    docs = render(chart)
    _, _, script = chart_checks.helm_test_pod(docs, ["python", "-c"])
    compile(script, "test-connection", "exec")
    assert f'"http://{RELEASE}-{SERVICE}:9000/readyz"' in script
    policy = only(docs, "NetworkPolicy", hook=TEST_HOOK)
    assert {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]} == {53, 9000}


def test_a_backend_and_a_worker_as_subcharts_of_one_umbrella(chart: Path, tmp_path: Path) -> None:
    """Named templates are global across subcharts: the two kinds' helpers must not collide."""
    backend = render_service(tmp_path / BACKEND, BACKEND, kind="backend")
    values = {
        "global": {"environment": "staging", "secretName": "shop-staging-secrets"},
        BACKEND: {"enabled": True, "amqp": {"enabled": True}},
        SERVICE: {"enabled": True},
    }
    umbrella = chart_checks.umbrella_chart(tmp_path, {BACKEND: backend, SERVICE: chart}, values)
    docs = chart_checks.assert_umbrella_valid(umbrella)
    deployments = deployments_by_name(docs)
    assert set(deployments) == {f"{RELEASE}-{BACKEND}", f"{RELEASE}-{SERVICE}"}
    components = {
        name: d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for name, d in deployments.items()
    }
    assert components == {f"{RELEASE}-{BACKEND}": "server", f"{RELEASE}-{SERVICE}": "worker"}
    for deployment in deployments.values():
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["AMQP_URL_FILE"] == "/run/secrets/amqp/AMQP_URL"
    validators.checkov(validators.write_manifests(docs, tmp_path / "manifests"), "kubernetes")
