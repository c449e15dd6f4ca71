"""Alert rules at three levels, Prometheus for compose, and the Alertmanager routing of the ecosystem.

Levels (the `level` label, which the Alertmanager configuration routes by):
- service: a service's own signals, scoped to one release's namespace: its 5xx ratio and latency,
  a worker's failures (application metrics), its pods restarting and its Deployment missing
  replicas (kube-state-metrics). They go into the umbrella chart's PrometheusRule, so each
  environment's release brings its own rules, labelled with its environment.
- cluster: the Kubernetes cluster itself (nodes not ready, volumes filling up);
- node: the machines (CPU, memory, disk).
Cluster and node rules concern every release on a cluster, so they are installed once per cluster
by the platform chart (scaffold.wiring.platform), never per environment.

Rules whose firing means the last delivery should be rolled back carry `rollback: "true"`; the
derived Alertmanager configuration sends them, besides their level's receiver, to the rollback
relay, which starts the pipeline's rollback job (docs/delivery.md).

The chart's rules name their release through placeholders the chart replaces when it renders
(`RELEASE_NAMESPACE`...): a rule file read with `.Files.Get` keeps Prometheus's own `{{ $labels }}`
templates out of Helm's reach.
"""

from __future__ import annotations

from typing import Any, Final

from scaffold.model import ENVIRONMENT_NAMES, METRICS_PORT, Ecosystem
from scaffold.wiring._render import yaml_file
from scaffold.wiring.files import DerivedFile

# Metric names the backends expose (prometheus_client; counters get the _total suffix). Each
# sample gets the `service` label from its scrape target: set below for compose, by the
# Prometheus operator (the Kubernetes Service's name) for the ServiceMonitor in a cluster.
HTTP_REQUESTS: Final = "http_requests_total"
HTTP_DURATION_BUCKET: Final = "http_request_duration_seconds_bucket"

# Metrics of the workers (templates/worker; counters get the _total suffix).
WORKER_PROCESSED: Final = "worker_messages_processed_total"
WORKER_FAILED: Final = "worker_messages_failed_total"  # label action = retry | defer | dead_letter
WORKER_FAILURE_RATIO: Final = 0.05  # share of handled messages that fail, over 10 minutes

# Thresholds of the service-level alerts.
ERROR_RATIO: Final = 0.05  # share of 5xx responses over 5 minutes
LATENCY_P95_SECONDS: Final = 0.5

PROMETHEUS_CONFIG: Final = "monitoring/prometheus.yml"
ALERTS: Final = "monitoring/alerts.yml"
ALERTMANAGER_CONFIG: Final = "monitoring/alertmanager.yml"

LEVELS: Final = ("service", "cluster", "node")

# Placeholders in the umbrella chart's rule file, replaced by the chart when it renders.
RELEASE_NAMESPACE: Final = "__RELEASE_NAMESPACE__"
RELEASE_NAME: Final = "__RELEASE_NAME__"
ENVIRONMENT: Final = "__ENVIRONMENT__"
PLACEHOLDERS: Final = {
    RELEASE_NAMESPACE: ".Release.Namespace",
    RELEASE_NAME: ".Release.Name",
    ENVIRONMENT: ".Values.global.environment",
}

# The rollback relay (scaffold.wiring.platform) as the cluster's Alertmanager reaches it.
RELAY_PORT: Final = 8080
RELAY_PATH: Final = "/alerts"


def relay_name(ecosystem: Ecosystem) -> str:
    return f"{ecosystem.name}-rollback-relay"


def relay_url(ecosystem: Ecosystem) -> str:
    namespace = ecosystem.alerting.namespace
    return f"http://{relay_name(ecosystem)}.{namespace}.svc:{RELAY_PORT}{RELAY_PATH}"


def _rule(
    alert: str,
    expr: str,
    duration: str,
    severity: str,
    summary: str,
    description: str,
    *,
    level: str,
    labels: dict[str, str],
    rollback: bool = False,
) -> dict[str, Any]:
    rule_labels: dict[str, str] = {**labels, "level": level, "severity": severity}
    if rollback:
        rule_labels["rollback"] = "true"
    return {
        "alert": alert,
        "expr": expr,
        "for": duration,
        "labels": rule_labels,
        "annotations": {"summary": summary, "description": description},
    }


def _selector(*matchers: str) -> str:
    present = [m for m in matchers if m]
    return "{" + ",".join(present) + "}" if present else ""


def application_rules(ecosystem: Ecosystem, scope: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The services' application signals; `scope` is a matcher every selector gets ('' for none)."""
    every = _selector(scope)
    errors = _selector('status=~"5.."', scope)
    rules = [
        _rule(
            "ServiceHighErrorRate",
            f"sum by (service) (rate({HTTP_REQUESTS}{errors}[5m]))\n"
            f"  / sum by (service) (rate({HTTP_REQUESTS}{every}[5m])) > {ERROR_RATIO}",
            "5m",
            "critical",
            "{{ $labels.service }} answers more than 5% of requests with a 5xx status",
            "5xx ratio of {{ $labels.service }} is {{ $value | humanizePercentage }} over 5 minutes.",
            rollback=True,
            level="service",
            labels=labels,
        ),
        _rule(
            "ServiceHighLatency",
            f"histogram_quantile(0.95, sum by (service, le) (rate({HTTP_DURATION_BUCKET}{every}[5m])))\n"
            f"  > {LATENCY_P95_SECONDS}",
            "10m",
            "warning",
            "{{ $labels.service }} p95 latency is above " + f"{LATENCY_P95_SECONDS}s",
            "p95 latency of {{ $labels.service }} is {{ $value | humanizeDuration }}.",
            rollback=True,
            level="service",
            labels=labels,
        ),
    ]
    if any(s.kind == "worker" for s in ecosystem.services):
        dead = _selector('action="dead_letter"', scope)
        rules += [
            _rule(
                "WorkerHighFailureRate",
                f"sum by (service) (rate({WORKER_FAILED}{every}[10m]))\n"
                f"  / sum by (service) (rate({WORKER_PROCESSED}{every}[10m]) + rate({WORKER_FAILED}{every}[10m]))"
                f" > {WORKER_FAILURE_RATIO}",
                "10m",
                "critical",
                "{{ $labels.service }} fails more than 5% of its messages",
                "Failure ratio of {{ $labels.service }} is {{ $value | humanizePercentage }} over 10 minutes.",
                rollback=True,
                level="service",
                labels=labels,
            ),
            _rule(
                "WorkerDeadLetters",
                f"sum by (service) (increase({WORKER_FAILED}{dead}[15m])) > 0",
                "0m",
                "warning",
                "{{ $labels.service }} dead-lettered messages",
                "{{ $value }} messages of {{ $labels.service }} went to its dead-letter queue in 15 minutes.",
                level="service",
                labels=labels,
            ),
        ]
    return rules


def workload_rules(ecosystem: Ecosystem, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The release's own pods and Deployments (kube-state-metrics), named by service: a service's
    container is named after it, its Deployment is <release>-<service>."""
    names = "|".join(sorted(s.name for s in ecosystem.services))
    if not names:
        return []
    namespace = f'namespace="{RELEASE_NAMESPACE}"'
    restarts = f'kube_pod_container_status_restarts_total{{{namespace},container=~"{names}"}}'
    unavailable = f'kube_deployment_status_replicas_unavailable{{{namespace},deployment=~"{RELEASE_NAME}-({names})"}}'
    return [
        _rule(
            "ServicePodsRestarting",
            f'label_replace(increase({restarts}[15m]), "service", "$1", "container", "(.+)") > 3',
            "5m",
            "critical",
            "{{ $labels.service }}: pod {{ $labels.pod }} restarted more than 3 times in 15 minutes",
            "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} keeps restarting.",
            rollback=True,
            level="service",
            labels=labels,
        ),
        _rule(
            "ServiceReplicasUnavailable",
            f'label_replace({unavailable}, "service", "$1", "deployment", "{RELEASE_NAME}-(.+)") > 0',
            "10m",
            "warning",
            "{{ $labels.service }} has unavailable replicas",
            "{{ $value }} replicas of {{ $labels.namespace }}/{{ $labels.deployment }} are unavailable.",
            rollback=True,
            level="service",
            labels=labels,
        ),
    ]


def cluster_rules(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        _rule(
            "KubeNodeNotReady",
            'kube_node_status_condition{condition="Ready",status="true"} == 0',
            "15m",
            "critical",
            "node {{ $labels.node }} is not ready",
            "{{ $labels.node }} has not been Ready for 15 minutes; its pods are being moved.",
            level="cluster",
            labels=labels,
        ),
        _rule(
            "KubeVolumeFillingUp",
            "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.1",
            "10m",
            "warning",
            "volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has less than 10% space left",
            "Free space of {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is "
            "{{ $value | humanizePercentage }}.",
            level="cluster",
            labels=labels,
        ),
    ]


def node_rules(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        _rule(
            "NodeHighCPU",
            '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9',
            "15m",
            "warning",
            "{{ $labels.instance }} CPU is above 90%",
            "CPU use of {{ $labels.instance }} is {{ $value | humanizePercentage }}.",
            level="node",
            labels=labels,
        ),
        _rule(
            "NodeLowMemory",
            "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.1",
            "10m",
            "warning",
            "{{ $labels.instance }} has less than 10% memory available",
            "Available memory of {{ $labels.instance }} is {{ $value | humanizePercentage }}.",
            level="node",
            labels=labels,
        ),
        _rule(
            "NodeLowDisk",
            'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}\n'
            '  / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < 0.1',
            "10m",
            "warning",
            "{{ $labels.instance }} {{ $labels.mountpoint }} has less than 10% space left",
            "Free space on {{ $labels.instance }} {{ $labels.mountpoint }} is {{ $value | humanizePercentage }}.",
            level="node",
            labels=labels,
        ),
    ]


def release_rule_groups(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """The rules one environment's release brings (the umbrella's PrometheusRule): service level,
    scoped to the release's namespace and labelled with its environment."""
    labels = {"ecosystem": ecosystem.name, "environment": ENVIRONMENT}
    groups = [
        {
            "name": f"{ecosystem.name}.service",
            "rules": application_rules(ecosystem, f'namespace="{RELEASE_NAMESPACE}"', labels),
        }
    ]
    workloads = workload_rules(ecosystem, labels)
    if workloads:
        groups.append({"name": f"{ecosystem.name}.workload", "rules": workloads})
    return groups


def cluster_rule_groups(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """The rules installed once per cluster (the platform chart's PrometheusRule)."""
    labels = {"ecosystem": ecosystem.name}
    return [
        {"name": f"{ecosystem.name}.cluster", "rules": cluster_rules(labels)},
        {"name": f"{ecosystem.name}.node", "rules": node_rules(labels)},
    ]


def local_rule_groups(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """The Prometheus of compose.yaml: the application rules (there are no Kubernetes or node
    metrics on a laptop); its external labels say environment=local."""
    return [
        {
            "name": f"{ecosystem.name}.service",
            "rules": application_rules(ecosystem, "", {"ecosystem": ecosystem.name}),
        }
    ]


def prometheus_config(ecosystem: Ecosystem) -> dict[str, Any]:
    scrape_configs: list[dict[str, Any]] = [
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
    ]
    # Frontends are static files behind a web server: they have no metrics endpoint.
    for service in sorted((s for s in ecosystem.services if s.kind != "frontend"), key=lambda s: s.name):
        scrape_configs.append(
            {
                "job_name": service.name,
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [f"{service.name}:{METRICS_PORT}"], "labels": {"service": service.name}}
                ],
            }
        )
    return {
        "global": {
            "scrape_interval": "15s",
            "evaluation_interval": "15s",
            "external_labels": {"ecosystem": ecosystem.name, "environment": "local"},
        },
        "rule_files": ["alerts.yml"],
        "scrape_configs": scrape_configs,
    }


def alerts_document(ecosystem: Ecosystem) -> dict[str, Any]:
    return {"groups": local_rule_groups(ecosystem)}


def receiver_name(ecosystem: Ecosystem, purpose: str) -> str:
    return f"{ecosystem.name}-{purpose}"


def team_receiver_name(ecosystem: Ecosystem, team: str) -> str:
    return receiver_name(ecosystem, f"team-{team}")


def _teams_with_receivers(ecosystem: Ecosystem) -> list[str]:
    return sorted(name for name, team in ecosystem.teams.items() if team.receiver)


def owner_routes(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """Under the service level, one route per team with a receiver: its services' alerts go to it.

    A service alert names the service in its `service` label: the service's name in compose, its
    Kubernetes Service (`<release>-<name>`, the release being the ecosystem) in a cluster, where
    the workload rules also name it alone; the matcher takes both.
    """
    routes = []
    for team in _teams_with_receivers(ecosystem):
        owned = sorted(s.name for s in ecosystem.services if (s.owner or ecosystem.owner) == team)
        if owned:
            pattern = f"({ecosystem.name}-)?({'|'.join(owned)})"
            routes.append({"receiver": team_receiver_name(ecosystem, team), "matchers": [f'service=~"{pattern}"']})
    return routes


def alertmanager_config(ecosystem: Ecosystem) -> dict[str, Any]:
    """Alertmanager's configuration for the ecosystem's alerts: one route per level (service alerts
    to their owning team's receiver when it has one), and every rollback alert of a known
    environment also to the relay that starts the rollback job."""
    environments = sorted(
        {e.name for e in ecosystem.environments},
        key=lambda n: (ENVIRONMENT_NAMES.index(n) if n in ENVIRONMENT_NAMES else len(ENVIRONMENT_NAMES), n),
    )
    mine = f'ecosystem="{ecosystem.name}"'
    rollback_route = {
        "receiver": receiver_name(ecosystem, "rollback"),
        "matchers": ['rollback="true"', f'environment=~"{"|".join(environments)}"'],
        # One dispatch per environment: the rollback job rolls back the whole release.
        "group_by": ["environment"],
        "group_wait": "10s",
        "group_interval": "1m",
        # `scaffold rollback` does nothing for a release that is already a rollback; a repeat
        # only matters when an alert keeps firing after a new delivery.
        "repeat_interval": "1h",
        "continue": True,
    }
    level_routes: list[dict[str, Any]] = [
        {"receiver": receiver_name(ecosystem, level), "matchers": [f'level="{level}"']} for level in LEVELS
    ]
    team_routes = owner_routes(ecosystem)
    if team_routes:
        level_routes[LEVELS.index("service")]["routes"] = team_routes
    receivers: list[dict[str, Any]] = [{"name": receiver_name(ecosystem, "default")}]
    receivers.append(
        {
            "name": receiver_name(ecosystem, "rollback"),
            "webhook_configs": [{"url": relay_url(ecosystem), "send_resolved": False, "max_alerts": 0}],
        }
    )
    for level in LEVELS:
        receivers.append({"name": receiver_name(ecosystem, level), **ecosystem.alerting.receivers.get(level, {})})
    for team in _teams_with_receivers(ecosystem):
        receivers.append({"name": team_receiver_name(ecosystem, team), **ecosystem.teams[team].receiver})
    return {
        "route": {
            "receiver": receiver_name(ecosystem, "default"),
            "group_by": ["alertname", "environment", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": receiver_name(ecosystem, "default"),
                    "matchers": [mine],
                    "routes": [rollback_route, *level_routes],
                }
            ],
        },
        "receivers": receivers,
    }


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [
        yaml_file(
            PROMETHEUS_CONFIG,
            prometheus_config(ecosystem),
            comment="Prometheus of compose.yaml: every service's metrics port and Prometheus itself.",
        ),
        yaml_file(
            ALERTS,
            alerts_document(ecosystem),
            comment="Service alert rules for compose.yaml's Prometheus. In a cluster the umbrella chart's\n"
            "PrometheusRule has them per environment, and the platform chart the cluster and node rules.",
        ),
        yaml_file(
            ALERTMANAGER_CONFIG,
            alertmanager_config(ecosystem),
            comment="Alertmanager routing of the ecosystem's alerts: by level (service, cluster, node), and\n"
            'rollback: "true" alerts also to the rollback relay, which starts the pipeline\'s rollback job.\n'
            "Notification settings per level: alerting.receivers in ecosystem.yaml; service alerts go to\n"
            "their owner's receiver instead when it has one (teams.<team>.receiver). See docs/delivery.md.",
        ),
    ]
