"""The Helm chart of the `backend` template, rendered by Copier and checked with the real tools:
helm lint --strict, the chart's values.schema.json, Kubernetes 1.30 schemas and checkov."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests import chart_checks, validators
from tests.chart_checks import (
    DIGEST,
    ECOSYSTEM,
    MIGRATE_HOOK,
    REGISTRY,
    RELEASE,
    TEST_HOOK,
    assert_restricted,
    container,
    deployments_by_name,
    env_of,
    kinds,
    namespace_of,
    only,
    pod_spec,
    render,
    selects,
    values_id,
)

SERVICE = "orders"
OTHER_DIGEST = "sha256:" + "fedcba9876543210" * 4

# What the umbrella chart of the meta-project sets per environment (each in its own namespace).
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "test": {
        "global": {"environment": "test", "secretName": "shop-test-database"},
        "image": {"tag": "0.1.0"},
        "replicaCount": 1,
        "autoscaling": {"enabled": False},
        "serviceMonitor": {"enabled": False},
        "otel": {"samplerArg": "1.0"},
    },
    "staging": {
        "global": {"environment": "staging", "secretName": "shop-staging-database"},
        "image": {"tag": "0.2.0-rc.1", "digest": ""},
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4},
        "otel": {"samplerArg": "0.5", "endpoint": "http://otel-collector.observability:4318"},
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kube-prometheus-stack"}},
    },
    "production": {
        "global": {"environment": "production", "secretName": "shop-production-database"},
        "image": {"tag": "0.2.0", "digest": DIGEST},
        "secret": {"name": "orders-production-database"},
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10, "targetCPUUtilizationPercentage": 60},
        "podDisruptionBudget": {"minAvailable": 2},
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "64Mi"},
            "limits": {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "256Mi"},
        },
        "otel": {"samplerArg": "0.1"},
        "networkPolicy": {
            "egress": {
                "database": {"port": 5432, "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]},
                "otlp": {
                    "port": 4318,
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "otel-collector"}},
                        }
                    ],
                },
            },
        },
    },
}
CASES: dict[str, dict[str, Any]] = {"defaults": {}, **ENVIRONMENTS}


def render_service(destination: Path, name: str) -> Path:
    return chart_checks.render_project(destination, "backend", name, port=8001) / "chart"


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_service(tmp_path_factory.mktemp("service") / SERVICE, SERVICE)


def checkov_skips(doc: dict[str, Any]) -> dict[str, str]:
    """The checkov.io/skipN annotations of an object as {check id: reason}."""
    skips: dict[str, str] = {}
    for key, value in doc["metadata"].get("annotations", {}).items():
        if key.startswith("checkov.io/skip"):
            check_id, _, reason = value.partition("=")
            skips[check_id] = reason
    return skips


# ---------------------------------------------------------------------------------------------
# The chart's files


def test_chart_metadata_names_the_service(chart: Path) -> None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == SERVICE
    assert meta["version"] == "0.1.0"
    assert meta["appVersion"] == "0.1.0"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert values["image"] == {
        "repository": f"{REGISTRY}/{SERVICE}",
        "tag": "0.1.0",
        "digest": "",
        "pullPolicy": "IfNotPresent",
    }
    assert values["global"] == {"environment": "", "secretName": "", "apiVersions": []}
    assert values["otel"]["endpoint"] == "http://otel-collector:4318"
    assert (chart / "values.schema.json").is_file()
    assert (chart / ".helmignore").is_file()
    assert not list(chart.rglob("*.jinja")), "Copier left template suffixes in the chart"


def test_generated_chart_has_no_leftover_template_syntax(chart: Path) -> None:
    chart_checks.assert_no_template_leftovers(chart)


# ---------------------------------------------------------------------------------------------
# helm lint --strict


@pytest.mark.parametrize("case", CASES)
def test_helm_lint_strict(chart: Path, case: str) -> None:
    validators.helm_lint(chart, CASES[case])


@pytest.mark.parametrize(
    "values",
    [
        {"image": {"digest": DIGEST}},
        {"image": {"digest": "", "tag": "1.4.2"}},
        {"autoscaling": {"enabled": False}, "replicaCount": 3},
        {"serviceMonitor": {"enabled": False}},
        {"networkPolicy": {"enabled": False}},
        {"serviceAccount": {"create": False}},
        {"podDisruptionBudget": {"maxUnavailable": "25%"}},
        {"topologySpreadConstraints": []},
        {"migrations": {"enabled": False}},
        {"amqp": {"enabled": True}},
        {"enabled": True},
    ],
    ids=lambda v: json.dumps(v, sort_keys=True),
)
def test_helm_lint_strict_with_toggles(chart: Path, values: dict[str, Any]) -> None:
    validators.helm_lint(chart, values)


def test_helm_lint_reports_schema_violations(chart: Path) -> None:
    with pytest.raises(AssertionError, match="replicaCount"):
        validators.helm_lint(chart, {"replicaCount": "two"})


# ---------------------------------------------------------------------------------------------
# values.schema.json


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"replicaCount": "2"}, "/replicaCount"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"unknownKey": True}, "unknownKey"),
        ({"image": {"tag": 1}}, "/image/tag"),
        ({"image": {"registry": "docker.io"}}, "registry"),
        ({"image": {"digest": "sha256:abc"}}, "/image/digest"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"image": {"repository": "registry.example.com/shop/orders@sha256:abc"}}, "/image/repository"),
        ({"global": {"environment": 3}}, "/global/environment"),
        ({"secret": {"name": "Not_A_Name"}}, "/secret/name"),
        ({"secret": {"value": "postgresql://u:p@db/orders"}}, "value"),
        ({"otel": {"sampler": "sometimes"}}, "/otel/sampler"),
        ({"otel": {"samplerArg": 0.5}}, "/otel/samplerArg"),
        ({"otel": {"endpoint": "otel-collector:4318"}}, "/otel/endpoint"),
        ({"resources": {"limits": {"cpu": "lots"}}}, "/resources/limits/cpu"),
        ({"resources": {"requests": {"gpu": "1"}}}, "gpu"),
        ({"autoscaling": {"enabled": "yes"}}, "/autoscaling/enabled"),
        ({"autoscaling": {"targetCPUUtilizationPercentage": 150}}, "/autoscaling/targetCPUUtilizationPercentage"),
        ({"podDisruptionBudget": {"minAvailable": "half"}}, "/podDisruptionBudget/minAvailable"),
        ({"serviceMonitor": {"interval": "often"}}, "/serviceMonitor/interval"),
        ({"serviceMonitor": {"enabled": True, "port": 9000}}, "port"),
        ({"networkPolicy": {"ingress": {"gateway": {"from": []}}}}, "/networkPolicy/ingress/gateway/from"),
        ({"networkPolicy": {"egress": {"database": {"port": 70000}}}}, "/networkPolicy/egress/database/port"),
        ({"networkPolicy": {"egress": {"dns": {"to": [{"podSelectr": {}}]}}}}, "podSelectr"),
        ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
        ({"securityContext": {"runAsUser": 1001}}, "/securityContext/runAsUser"),
        ({"probes": {"startup": {"failureThreshold": 0}}}, "/probes/startup/failureThreshold"),
        ({"probes": {"liveness": {"httpGet": {"path": "/"}}}}, "httpGet"),
        ({"podLabels": {"team": 7}}, "/podLabels/team"),
        ({"migrations": {"backoffLimit": -1}}, "/migrations/backoffLimit"),
        ({"migrations": {"command": ["alembic", "downgrade"]}}, "command"),
        ({"tolerations": {"key": "x"}}, "/tolerations"),
        (
            {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Never"}]},
            "/topologySpreadConstraints/0/whenUnsatisfiable",
        ),
    ],
    ids=values_id,
)
def test_schema_rejects(chart: Path, values: dict[str, Any], where: str) -> None:
    chart_checks.assert_schema_rejects(chart, values, where)


@pytest.mark.parametrize("case", CASES)
def test_schema_accepts_environment_values(chart: Path, case: str) -> None:
    chart_checks.assert_schema_accepts(chart, CASES[case])


# ---------------------------------------------------------------------------------------------
# Kubernetes schemas and checkov


@pytest.mark.parametrize("case", CASES)
def test_manifests_match_kubernetes_schemas(chart: Path, case: str) -> None:
    chart_checks.assert_valid_in(chart, CASES[case], namespace_of(case))


@pytest.mark.parametrize("case", ["defaults", "test", "staging", "production"])
def test_checkov_finds_nothing(chart: Path, case: str, tmp_path: Path) -> None:
    chart_checks.assert_checkov_passes(chart, {case: CASES[case]}, tmp_path)


def checkov_report(directory: Path) -> list[dict[str, Any]]:
    """checkov's full JSON report (the validator runs it with --quiet, which leaves out skips)."""
    proc = subprocess.run(
        [
            validators.checkov_binary(),
            "--skip-download",
            "-d",
            str(directory),
            "--framework",
            "kubernetes",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    reports = json.loads(proc.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_checkov_skips_only_what_cannot_pass_and_says_why(chart: Path, tmp_path: Path) -> None:
    # Tag-only and digest-pinned releases side by side, in two namespaces, in one checkov run.
    by_tag = render(chart, {}, namespace="by-tag")
    by_digest = render(chart, {"image": {"digest": DIGEST}}, namespace="by-digest")
    validators.write_manifests(by_tag, tmp_path / "by-tag")
    validators.write_manifests(by_digest, tmp_path / "by-digest")
    reports = checkov_report(tmp_path)
    results = [r["results"] for r in reports]
    assert not [c for r in results for c in r["failed_checks"]]
    skipped = [c for r in results for c in r["skipped_checks"]]
    passed = [c for r in results for c in r["passed_checks"]]
    for check in skipped:
        reason = check["check_result"]["suppress_comment"]
        assert len(reason.split()) >= 8, check  # a written reason, not checkov's "No comment provided"

    def ids(checks: list[dict[str, Any]], namespace: str, kind: str) -> set[str]:
        return {c["check_id"] for c in checks if c["resource"].startswith(f"{kind}.{namespace}.")}

    assert ids(skipped, "by-tag", "Deployment") == {"CKV_K8S_43", "CKV_K8S_15"}
    assert ids(skipped, "by-digest", "Deployment") == set()
    assert {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_14"} <= ids(passed, "by-digest", "Deployment")
    assert ids(skipped, "by-tag", "Job") == {"CKV_K8S_43", "CKV_K8S_15"}
    assert ids(skipped, "by-digest", "Job") == set()
    # The test hook pod is one-shot: only its probe checks are skipped once the digest is known.
    assert ids(skipped, "by-tag", "Pod") == {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_43", "CKV_K8S_15"}
    assert ids(skipped, "by-digest", "Pod") == {"CKV_K8S_8", "CKV_K8S_9"}
    assert "CKV2_K8S_6" in {c["check_id"] for c in passed}


def test_skip_annotations_carry_a_reason_and_follow_the_digest(chart: Path) -> None:
    for values, expected in (({}, {"CKV_K8S_43", "CKV_K8S_15"}), ({"image": {"digest": DIGEST}}, set())):
        docs = render(chart, values)
        deployment = only(docs, "Deployment")
        skips = checkov_skips(deployment)
        assert set(skips) == expected
        for check_id, reason in skips.items():
            assert re.fullmatch(r"CKV2?_K8S_[0-9]+", check_id)
            assert len(reason.split()) >= 8, f"{check_id} needs a written reason: {reason!r}"
        for doc in docs:
            if doc["kind"] != "Pod":
                assert not set(checkov_skips(doc)) - expected, doc["kind"]


# ---------------------------------------------------------------------------------------------
# Behaviour


def test_probes_are_distinct(chart: Path) -> None:
    c = container(render(chart))
    startup, liveness, readiness = c["startupProbe"], c["livenessProbe"], c["readinessProbe"]
    assert startup["httpGet"] == {"path": "/livez", "port": "http"}
    assert liveness["httpGet"] == {"path": "/livez", "port": "http"}
    assert readiness["httpGet"] == {"path": "/readyz", "port": "http"}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8000, "metrics": 9000}
    # A generous start-up window, so that liveness never kills a slow start.
    startup_window = startup["failureThreshold"] * startup["periodSeconds"]
    assert startup_window >= 60
    assert startup_window > liveness["failureThreshold"] * liveness["periodSeconds"]


def test_probe_timings_follow_values(chart: Path) -> None:
    c = container(render(chart, {"probes": {"startup": {"failureThreshold": 60, "periodSeconds": 2}}}))
    assert c["startupProbe"]["failureThreshold"] == 60 and c["startupProbe"]["periodSeconds"] == 2
    assert c["startupProbe"]["httpGet"]["path"] == "/livez"


def test_security_context_is_restricted(chart: Path) -> None:
    docs = render(chart)
    assert_restricted(pod_spec(docs))
    assert_restricted(only(docs, "Pod", hook=TEST_HOOK)["spec"])
    assert_restricted(only(docs, "Job", hook=MIGRATE_HOOK)["spec"]["template"]["spec"])


def test_service_account_token_is_not_automounted(chart: Path) -> None:
    docs = render(chart)
    account = only(docs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(docs)["serviceAccountName"] == account["metadata"]["name"] != "default"
    assert pod_spec(docs)["automountServiceAccountToken"] is False


def test_digest_wins_over_tag(chart: Path) -> None:
    repository = f"{REGISTRY}/{SERVICE}"
    by_tag = render(chart, {"image": {"tag": "1.4.2"}})
    assert container(by_tag)["image"] == f"{repository}:1.4.2"
    by_digest = render(chart, {"image": {"tag": "1.4.2", "digest": DIGEST}})
    assert container(by_digest)["image"] == f"{repository}@{DIGEST}"
    assert container(by_digest)["imagePullPolicy"] == "IfNotPresent"
    for docs in (by_tag, by_digest):
        test_pod = only(docs, "Pod", hook=TEST_HOOK)["spec"]["containers"][0]
        assert test_pod["image"] == container(docs)["image"]
        assert test_pod["imagePullPolicy"] == container(docs)["imagePullPolicy"]
    assert container(render(chart, {"image": {"pullPolicy": "Always"}}))["imagePullPolicy"] == "Always"


def test_environment_reaches_opentelemetry(chart: Path) -> None:
    env = env_of(container(render(chart, ENVIRONMENTS["production"], namespace_of("production"))))
    assert env["OTEL_SERVICE_NAME"] == SERVICE
    attributes = dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes["service.namespace"] == ECOSYSTEM
    assert attributes["deployment.environment.name"] == "production"
    assert attributes["k8s.namespace.name"] == namespace_of("production")
    assert attributes["k8s.pod.name"] == "$(K8S_POD_NAME)"
    assert env["K8S_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    default_attributes = env_of(container(render(chart)))["OTEL_RESOURCE_ATTRIBUTES"]
    assert "deployment.environment.name" not in default_attributes


def test_database_url_is_a_read_only_file_from_the_secret(chart: Path) -> None:
    def secret_of(values: dict[str, Any]) -> str:
        docs = render(chart, values)
        c, pod = container(docs), pod_spec(docs)
        env = env_of(c)
        assert "DATABASE_URL" not in env
        for variable in c["env"]:
            assert "secretKeyRef" not in variable.get("valueFrom", {}), variable
        path = Path(env["DATABASE_URL_FILE"])
        mount = next(m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent)
        assert mount["readOnly"] is True
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["items"] == [{"key": "DATABASE_URL", "path": path.name}]
        assert volume["secret"]["defaultMode"] == 0o440
        name: str = volume["secret"]["secretName"]
        return name

    assert secret_of({}) == f"{RELEASE}-{SERVICE}"
    assert secret_of({"global": {"secretName": "shop-db"}}) == "shop-db"
    assert secret_of({"global": {"secretName": "shop-db"}, "secret": {"name": "orders-db"}}) == "orders-db"


def test_network_policy_selects_the_pods_and_allows_only_the_declared_traffic(chart: Path) -> None:
    docs = render(chart)
    deployment = only(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    policy = only(docs, "NetworkPolicy")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels)
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]

    ingress = policy["spec"]["ingress"]
    container_ports = {p["name"] for p in container(docs)["ports"]}
    for rule in ingress:
        assert rule["from"], "an ingress rule without peers would admit everyone"
        assert len(rule["ports"]) == 1 and rule["ports"][0]["port"] in container_ports
    http_peers = [peer for rule in ingress if rule["ports"][0]["port"] == "http" for peer in rule["from"]]
    metrics_peers = [peer for rule in ingress if rule["ports"][0]["port"] == "metrics" for peer in rule["from"]]
    # The Gateway's proxies, in whatever namespace the implementation runs them (GEP-1762 label).
    assert {
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": f"{ECOSYSTEM}-gateway"}},
    } in http_peers
    assert metrics_peers == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]

    egress_ports = {(p.get("protocol", "TCP"), p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 4318)}

    # The helm test pod is not one of the server's pods, but its own policy lets it reach them.
    test_pod = only(docs, "Pod", hook=TEST_HOOK)
    test_labels = test_pod["metadata"]["labels"]
    assert not selects(policy["spec"]["podSelector"]["matchLabels"], test_labels)
    assert any(selects(peer["podSelector"]["matchLabels"], test_labels) for peer in http_peers if "podSelector" in peer)
    test_policy = only(docs, "NetworkPolicy", hook=TEST_HOOK)
    assert selects(test_policy["spec"]["podSelector"]["matchLabels"], test_labels)
    assert test_policy["spec"]["ingress"] == []
    reach = [r for r in test_policy["spec"]["egress"] if r["ports"] == [{"protocol": "TCP", "port": 8000}]]
    assert len(reach) == 1 and selects(reach[0]["to"][0]["podSelector"]["matchLabels"], pod_labels)


def test_network_policy_selectors_are_configurable(chart: Path) -> None:
    gateway = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}}]
    values = copy.deepcopy(ENVIRONMENTS["production"])
    values["networkPolicy"]["ingress"] = {
        "gateway": {"from": gateway},
        "prometheus": {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
    }
    policy = only(render(chart, values), "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == gateway
    assert policy["spec"]["ingress"][1]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    egress = {rule["ports"][0]["port"]: rule for rule in policy["spec"]["egress"]}
    assert egress[5432]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert egress[4318]["to"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "otel-collector"}}
    assert "NetworkPolicy" not in kinds(render(chart, {"networkPolicy": {"enabled": False}}))


def test_service_routes_to_the_pods(chart: Path) -> None:
    docs = render(chart)
    service = only(docs, "Service")
    pod_labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selects(service["spec"]["selector"], pod_labels)
    assert not selects(service["spec"]["selector"], only(docs, "Pod", hook=TEST_HOOK)["metadata"]["labels"])
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"http": (80, "http"), "metrics": (9000, "metrics")}
    assert only(docs, "Deployment")["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_service_monitor_scrapes_the_metrics_port_and_toggles(chart: Path) -> None:
    docs = render(chart)
    monitor, service = only(docs, "ServiceMonitor"), only(docs, "Service")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["interval"] == "30s"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [ECOSYSTEM]}
    staging = only(render(chart, ENVIRONMENTS["staging"]), "ServiceMonitor")
    assert staging["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "ServiceMonitor" not in kinds(render(chart, {"serviceMonitor": {"enabled": False}}))


def test_hpa_and_pdb_protect_the_deployment(chart: Path) -> None:
    docs = render(chart)
    deployment = only(docs, "Deployment")
    hpa, pdb = only(docs, "HorizontalPodAutoscaler"), only(docs, "PodDisruptionBudget")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    chart_checks.assert_autoscaled(docs, 2, 5)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 75}
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    fixed = render(chart, {"autoscaling": {"enabled": False}, "replicaCount": 3})
    assert "HorizontalPodAutoscaler" not in kinds(fixed)
    assert only(fixed, "Deployment")["spec"]["replicas"] == 3
    assert only(fixed, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_pdb_never_blocks_node_drains(chart: Path) -> None:
    single = render(chart, ENVIRONMENTS["test"])  # one replica, no autoscaling
    assert "PodDisruptionBudget" not in kinds(single)
    percent = only(render(chart, {"podDisruptionBudget": {"maxUnavailable": "25%"}}), "PodDisruptionBudget")
    assert percent["spec"]["maxUnavailable"] == "25%"
    assert "minAvailable" not in percent["spec"]
    assert only(render(chart, ENVIRONMENTS["production"]), "PodDisruptionBudget")["spec"]["minAvailable"] == 2


def test_hpa_rejects_min_above_max(chart: Path) -> None:
    chart_checks.assert_refuses_min_above_max(chart)


def test_the_container_pauses_before_sigterm_so_endpoints_go_first(chart: Path) -> None:
    lifecycle = container(render(chart))["lifecycle"]
    assert lifecycle == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    assert "lifecycle" not in container(render(chart, {"preStop": {"sleepSeconds": 0}}))
    # The pause and uvicorn's 20 s graceful shutdown must fit in the grace period.
    with pytest.raises(helm.HelmRenderError, match="terminationGracePeriodSeconds must exceed"):
        render(chart, {"preStop": {"sleepSeconds": 15}, "terminationGracePeriodSeconds": 30})


def test_topology_spread_prefers_nodes_and_zones(chart: Path) -> None:
    docs = render(chart)
    pod_labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    constraints = pod_spec(docs)["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in constraints} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in constraints:
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
        assert selects(constraint["labelSelector"]["matchLabels"], pod_labels)
    assert "topologySpreadConstraints" not in pod_spec(render(chart, {"topologySpreadConstraints": []}))


def test_pod_labels_and_annotations_cannot_override_selectors(chart: Path) -> None:
    docs = render(
        chart,
        {
            "podLabels": {"team": "checkout", "app.kubernetes.io/name": "other"},
            "podAnnotations": {"example.com/owner": "checkout"},
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"}],
        },
    )
    template = only(docs, "Deployment")["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "checkout"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == SERVICE
    assert template["metadata"]["annotations"]["example.com/owner"] == "checkout"
    assert template["spec"]["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert template["spec"]["tolerations"][0]["key"] == "dedicated"
    validators.kubernetes_validate(docs)


def test_every_object_is_labelled_part_of_the_ecosystem(chart: Path) -> None:
    docs = render(chart, ENVIRONMENTS["staging"], "shop-staging")
    chart_checks.assert_labelled_part_of_the_ecosystem(docs, SERVICE, "0.2.0-rc.1", "shop-staging")


def test_helm_test_pod_checks_readiness_through_the_service(chart: Path) -> None:
    docs = render(chart, {"image": {"digest": DIGEST}})
    _, c, script = chart_checks.helm_test_pod(docs, ["python", "-c"])
    service = only(docs, "Service")
    compile(script, "test-connection", "exec")
    assert "urllib.request" in script
    assert f'"http://{service["metadata"]["name"]}:80/readyz"' in script
    assert c["image"] == f"{REGISTRY}/{SERVICE}@{DIGEST}"


def test_migrations_run_before_install_and_upgrade_with_the_same_image(chart: Path) -> None:
    docs = render(chart, {"image": {"digest": DIGEST}, "global": {"secretName": "shop-db"}})
    job = only(docs, "Job", hook=MIGRATE_HOOK)
    account = only(docs, "ServiceAccount", hook=MIGRATE_HOOK)
    policy = only(docs, "NetworkPolicy", hook=MIGRATE_HOOK)

    # The release's own ServiceAccount and NetworkPolicy do not exist yet on a first install.
    def weight(doc: dict[str, Any]) -> int:
        return int(doc["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))

    assert weight(account) < weight(job) and weight(policy) < weight(job)
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    c = pod["containers"][0]
    assert c["command"] == ["alembic", "upgrade", "head"]
    assert c["image"] == container(docs)["image"] == f"{REGISTRY}/{SERVICE}@{DIGEST}"
    assert env_of(c)["DATABASE_URL_FILE"] == env_of(container(docs))["DATABASE_URL_FILE"]
    assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == ["shop-db"]

    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["spec"]["podSelector"]["matchLabels"], job_labels)
    assert policy["spec"]["ingress"] == []
    assert {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]} == {53, 5432}
    assert not selects(only(docs, "Service")["spec"]["selector"], job_labels)
    assert not selects(only(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"], job_labels)

    disabled = render(chart, {"migrations": {"enabled": False}})
    assert not [d for d in disabled if d["metadata"]["annotations"].get("helm.sh/hook") == MIGRATE_HOOK]


def test_publishing_mounts_the_broker_url_and_opens_amqp_egress(chart: Path) -> None:
    off = render(chart)
    assert "AMQP_URL_FILE" not in env_of(container(off))
    assert 5672 not in {p["port"] for r in only(off, "NetworkPolicy")["spec"]["egress"] for p in r["ports"]}

    docs = render(chart, {"amqp": {"enabled": True, "exchange": "shop-events"}, "global": {"secretName": "shop-db"}})
    validators.kubernetes_validate(docs)
    env = env_of(container(docs))
    assert env["AMQP_URL_FILE"] == "/run/secrets/amqp/AMQP_URL"
    assert env["AMQP_EXCHANGE"] == "shop-events"
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["amqp"]["secret"]["secretName"] == "shop-db"
    assert [i["key"] for i in volumes["amqp"]["secret"]["items"]] == ["AMQP_URL"]
    mounts = {m["name"]: m for m in container(docs)["volumeMounts"]}
    assert mounts["amqp"] == {"name": "amqp", "mountPath": "/run/secrets/amqp", "readOnly": True}
    assert 5672 in {p["port"] for r in only(docs, "NetworkPolicy")["spec"]["egress"] for p in r["ports"]}
    # Readiness stays on the database: publishing is optional at run time.
    assert container(docs)["readinessProbe"] == container(off)["readinessProbe"]
    migrate = only(docs, "Job", hook=MIGRATE_HOOK)["spec"]["template"]["spec"]["containers"][0]
    assert "AMQP_URL_FILE" not in env_of(migrate)


def test_notes_render(chart: Path) -> None:
    chart_checks.notes(chart, SERVICE)


def test_hyphenated_service_names_render(tmp_path: Path) -> None:
    chart = render_service(tmp_path / "order-history", "order-history")
    chart_checks.assert_renders_under_a_hyphenated_name(chart, "order-history")


# ---------------------------------------------------------------------------------------------
# As a subchart of the umbrella chart


def test_subcharts_of_an_umbrella_chart_keep_their_own_helpers(chart: Path, tmp_path: Path) -> None:
    """Named templates are global across the subcharts of an umbrella chart: two services whose
    charts came from different template versions must not use each other's helpers."""
    payments = render_service(tmp_path / "payments", "payments")
    helpers = payments / "templates" / "_helpers.tpl"
    # Simulate a later template version changing a helper in one of the services.
    changed = helpers.read_text().replace(
        "app.kubernetes.io/part-of: {{ .Values.ecosystem }}", "app.kubernetes.io/part-of: {{ .Values.ecosystem }}-v2"
    )
    assert changed != helpers.read_text()
    helpers.write_text(changed)
    values = {
        "global": {"environment": "staging", "secretName": "shop-staging-database"},
        SERVICE: {"enabled": True, "image": {"digest": DIGEST}},
        "payments": {"enabled": True, "image": {"digest": OTHER_DIGEST}},
    }
    umbrella = chart_checks.umbrella_chart(tmp_path, {SERVICE: chart, "payments": payments}, values)
    docs = chart_checks.assert_umbrella_valid(umbrella)
    deployments = deployments_by_name(docs)
    assert set(deployments) == {f"{RELEASE}-{SERVICE}", f"{RELEASE}-payments"}
    orders, paid = deployments[f"{RELEASE}-{SERVICE}"], deployments[f"{RELEASE}-payments"]
    assert orders["metadata"]["labels"]["app.kubernetes.io/part-of"] == ECOSYSTEM
    assert paid["metadata"]["labels"]["app.kubernetes.io/part-of"] == f"{ECOSYSTEM}-v2"
    assert orders["spec"]["template"]["spec"]["containers"][0]["image"].endswith(DIGEST)
    assert paid["spec"]["template"]["spec"]["containers"][0]["image"].endswith(OTHER_DIGEST)
    for deployment in (orders, paid):
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert "deployment.environment.name=staging" in env["OTEL_RESOURCE_ATTRIBUTES"]
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {"shop-staging-database"} == {v["secret"]["secretName"] for v in volumes if "secret" in v}

    disabled = render(umbrella, {"payments": {"enabled": False}}, namespace="shop-staging")
    assert {d["metadata"]["name"] for d in disabled if d["kind"] == "Deployment"} == {f"{RELEASE}-{SERVICE}"}


# ---------------------------------------------------------------------------------------------
# A backend that needs Redis (`redis` answered yes): its URL comes from the Secret like the database's


@pytest.fixture(scope="module")
def cached_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = chart_checks.render_project(
        tmp_path_factory.mktemp("cached") / SERVICE, "backend", SERVICE, port=8001, redis=True
    )
    return project / "chart"


def test_a_backend_with_redis_mounts_its_redis_url_from_the_secret_and_opens_redis_egress(cached_chart: Path) -> None:
    for case, values in CASES.items():
        validators.helm_lint(cached_chart, values)
        chart_checks.assert_valid_in(cached_chart, values, namespace_of(case))
    values = {"global": {"secretName": "shop-staging"}, "secret": {"redisKey": "ORDERS_REDIS_URL"}}
    docs = render(cached_chart, values)
    c, pod = container(docs), pod_spec(docs)
    env = env_of(c)
    assert "REDIS_URL" not in env
    path = Path(env["REDIS_URL_FILE"])
    mount = next(m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "shop-staging"
    assert volume["secret"]["items"] == [{"key": "ORDERS_REDIS_URL", "path": path.name}]
    egress = {p["port"] for r in only(docs, "NetworkPolicy")["spec"]["egress"] for p in r["ports"]}
    assert 6379 in egress
    assert "REDIS_URL_FILE" not in env_of(
        only(docs, "Job", hook=MIGRATE_HOOK)["spec"]["template"]["spec"]["containers"][0]
    )
    chart_checks.assert_schema_rejects(cached_chart, {"secret": {"redisKey": "no spaces"}}, "redisKey")


def test_a_backend_without_redis_has_no_redis_settings(chart: Path) -> None:
    docs = render(chart)
    assert "REDIS_URL_FILE" not in env_of(container(docs))
    assert 6379 not in {p["port"] for r in only(docs, "NetworkPolicy")["spec"]["egress"] for p in r["ports"]}
    chart_checks.assert_schema_rejects(chart, {"secret": {"redisKey": "REDIS_URL"}}, "redisKey")


def test_checkov_finds_nothing_in_a_backend_with_redis(cached_chart: Path, tmp_path: Path) -> None:
    chart_checks.assert_checkov_passes(
        cached_chart, {"defaults": {}, "production": ENVIRONMENTS["production"]}, tmp_path
    )
