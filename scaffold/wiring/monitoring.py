"""`monitoring/prometheus.yml` and `monitoring/alerts.yml`.

The alert rules have three levels: service (error rate, latency), cluster (restarts, unavailable
replicas) and node (CPU, memory, disk). `rule_groups()` is their single source: alerts.yml for the
Prometheus of compose.yaml and the PrometheusRule of the umbrella chart are both written from it.
Rules whose firing means the last delivery should be rolled back carry `rollback: "true"`.
"""

from __future__ import annotations

from typing import Any, Final

from scaffold.model import METRICS_PORT, Ecosystem
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


def _rule(
    alert: str,
    expr: str,
    duration: str,
    severity: str,
    summary: str,
    description: str,
    *,
    rollback: bool = False,
    level: str,
) -> dict[str, Any]:
    labels: dict[str, str] = {"level": level, "severity": severity}
    if rollback:
        labels["rollback"] = "true"
    return {
        "alert": alert,
        "expr": expr,
        "for": duration,
        "labels": labels,
        "annotations": {"summary": summary, "description": description},
    }


def rule_groups(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """The alert rule groups of the ecosystem (Prometheus rule-file `groups`)."""
    prefix = ecosystem.name
    service_rules = [
        _rule(
            "ServiceHighErrorRate",
            f'sum by (service) (rate({HTTP_REQUESTS}{{status=~"5.."}}[5m]))\n'
            f"  / sum by (service) (rate({HTTP_REQUESTS}[5m])) > {ERROR_RATIO}",
            "5m",
            "critical",
            "{{ $labels.service }} answers more than 5% of requests with a 5xx status",
            "5xx ratio of {{ $labels.service }} is {{ $value | humanizePercentage }} over 5 minutes.",
            rollback=True,
            level="service",
        ),
        _rule(
            "ServiceHighLatency",
            f"histogram_quantile(0.95, sum by (service, le) (rate({HTTP_DURATION_BUCKET}[5m])))\n"
            f"  > {LATENCY_P95_SECONDS}",
            "10m",
            "warning",
            "{{ $labels.service }} p95 latency is above " + f"{LATENCY_P95_SECONDS}s",
            "p95 latency of {{ $labels.service }} is {{ $value | humanizeDuration }}.",
            rollback=True,
            level="service",
        ),
    ]
    if any(s.kind == "worker" for s in ecosystem.services):
        service_rules += [
            _rule(
                "WorkerHighFailureRate",
                f"sum by (service) (rate({WORKER_FAILED}[10m]))\n"
                f"  / sum by (service) (rate({WORKER_PROCESSED}[10m]) + rate({WORKER_FAILED}[10m]))"
                f" > {WORKER_FAILURE_RATIO}",
                "10m",
                "critical",
                "{{ $labels.service }} fails more than 5% of its messages",
                "Failure ratio of {{ $labels.service }} is {{ $value | humanizePercentage }} over 10 minutes.",
                rollback=True,
                level="service",
            ),
            _rule(
                "WorkerDeadLetters",
                f'sum by (service) (increase({WORKER_FAILED}{{action="dead_letter"}}[15m])) > 0',
                "0m",
                "warning",
                "{{ $labels.service }} dead-lettered messages",
                "{{ $value }} messages of {{ $labels.service }} went to its dead-letter queue in 15 minutes.",
                level="service",
            ),
        ]
    cluster_rules = [
        _rule(
            "PodRestartingOften",
            "increase(kube_pod_container_status_restarts_total[15m]) > 3",
            "5m",
            "critical",
            "{{ $labels.namespace }}/{{ $labels.pod }} restarted more than 3 times in 15 minutes",
            "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} keeps restarting.",
            rollback=True,
            level="cluster",
        ),
        _rule(
            "DeploymentReplicasUnavailable",
            "kube_deployment_status_replicas_unavailable > 0",
            "10m",
            "warning",
            "{{ $labels.namespace }}/{{ $labels.deployment }} has unavailable replicas",
            "{{ $value }} replicas of {{ $labels.namespace }}/{{ $labels.deployment }} are unavailable.",
            rollback=True,
            level="cluster",
        ),
    ]
    node_rules = [
        _rule(
            "NodeHighCPU",
            '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9',
            "15m",
            "warning",
            "{{ $labels.instance }} CPU is above 90%",
            "CPU use of {{ $labels.instance }} is {{ $value | humanizePercentage }}.",
            level="node",
        ),
        _rule(
            "NodeLowMemory",
            "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.1",
            "10m",
            "warning",
            "{{ $labels.instance }} has less than 10% memory available",
            "Available memory of {{ $labels.instance }} is {{ $value | humanizePercentage }}.",
            level="node",
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
        ),
    ]
    return [
        {"name": f"{prefix}.service", "rules": service_rules},
        {"name": f"{prefix}.cluster", "rules": cluster_rules},
        {"name": f"{prefix}.node", "rules": node_rules},
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
    return {"groups": rule_groups(ecosystem)}


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
            comment="Alert rules (service, cluster, node); the umbrella chart's PrometheusRule has the same.\n"
            'Rules labelled rollback: "true" mean the last delivery should be rolled back.',
        ),
    ]
