"""`compose.yaml` at the meta-project root: the whole ecosystem for local development.

Each service runs from its own directory's Dockerfile (target `runtime`): backends and workers
against one shared PostgreSQL server with a database per service, workers and publishing
backends against one shared RabbitMQ, backends that need it against one shared Redis (each
keeping its keys under its own name), everything routed behind the gateway, with traces going
through an OpenTelemetry collector to Jaeger, logs through it to Loki (searched in Grafana, linked
to the traces both ways) and metrics scraped by Prometheus. Everything
published is bound to 127.0.0.1. Credentials are local-development defaults that `.env` may
override; real ones live in each environment's Secret.
"""

from __future__ import annotations

from typing import Any, Final

from scaffold import mirrors
from scaffold.model import APP_PORT, EVENTS_EXCHANGE, INFRASTRUCTURE_SERVICES, METRICS_PORT, Ecosystem, Service
from scaffold.wiring import api_docs, gateway_auth
from scaffold.wiring._render import GENERATED, text_file, yaml_file
from scaffold.wiring.files import DerivedFile

RESERVED_NAMES: Final = INFRASTRUCTURE_SERVICES

# Exact image tags of the shared infrastructure on Docker Hub (bump them together, then run the tests);
# compose.yaml names them fully qualified, through the image mirror when ecosystem.yaml sets one.
IMAGES: Final[dict[str, str]] = {
    "gateway": "nginxinc/nginx-unprivileged:1.29.3-alpine",
    "otel-collector": "otel/opentelemetry-collector-contrib:0.131.0",
    "jaeger": "jaegertracing/jaeger:2.11.0",
    "prometheus": "prom/prometheus:v3.5.0",
    "loki": "grafana/loki:3.5.5",
    "grafana": "grafana/grafana:12.2.0",
    "postgres": "postgres:17.7-bookworm",
    "rabbitmq": "rabbitmq:4.1.4-management",
    "redis": "redis:8.10.2-trixie",
}

GATEWAY_PORT: Final = 8080  # nginx-unprivileged listens on 8080, published on the same host port
JAEGER_UI_PORT: Final = 16686
PROMETHEUS_PORT: Final = 9090
RABBITMQ_UI_PORT: Final = 15672
OTLP_HTTP_PORT: Final = 4318
OTLP_GRPC_PORT: Final = 4317
COLLECTOR_HEALTH_PORT: Final = 13133
OTLP_BROWSER_PATH: Final = "/otlp"  # the gateway's route to the collector's OTLP/HTTP port
LOKI_PORT: Final = 3100
GRAFANA_PORT: Final = 3000

COLLECTOR_CONFIG = "monitoring/otel-collector.yaml"
GRAFANA_DATASOURCES = "monitoring/grafana/datasources.yaml"
POSTGRES_INIT = "postgres/init-databases.sql"

# Same defaults as the meta-project's .env.example: local-only values, never real credentials.
POSTGRES_USER = "${POSTGRES_USER:-ecosystem}"
POSTGRES_PASSWORD = "${POSTGRES_PASSWORD:-local-development-only}"
RABBITMQ_USER = "${RABBITMQ_USER:-ecosystem}"
RABBITMQ_PASSWORD = "${RABBITMQ_PASSWORD:-local-development-only}"
AMQP_URL: Final = f"amqp://{RABBITMQ_USER}:{RABBITMQ_PASSWORD}@rabbitmq:5672/"
REDIS_PASSWORD = "${REDIS_PASSWORD:-local-development-only}"
REDIS_PORT: Final = 6379
# The default user with a password: locally one Redis serves every service that needs it, each
# under a key prefix of its own; in Kubernetes each service's URL is a key of its own in the Secret.
REDIS_URL: Final = f"redis://:{REDIS_PASSWORD}@redis:{REDIS_PORT}/0"


def _sorted(services: tuple[Service, ...]) -> list[Service]:
    return sorted(services, key=lambda s: s.name)


def database_url(service: Service) -> str:
    return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@postgres:5432/{service.name}"


def _frontend_environment(ecosystem: Ecosystem, service: Service) -> dict[str, str]:
    """The frontend's run-time configuration (served as /config.json): the browser reaches the API
    and the collector through the gateway, on the page's own origin, and logs in at the local
    issuer when the API takes tokens."""
    env = {
        "API_BASE_URL": "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_BROWSER_PATH,
        "OTEL_RESOURCE_ATTRIBUTES": f"service.namespace={ecosystem.name},deployment.environment.name=local",
        "OTEL_SERVICE_NAME": service.name,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }
    if ecosystem.auth is not None:
        env.update(gateway_auth.frontend_settings(ecosystem, service, GATEWAY_PORT))
    return env


def _app_environment(ecosystem: Ecosystem, service: Service) -> dict[str, str]:
    if service.kind == "frontend":
        return _frontend_environment(ecosystem, service)
    env: dict[str, str] = {}
    if "postgres" in service.needs:
        env["DATABASE_URL"] = database_url(service)
    if "rabbitmq" in service.needs or (service.publishes and ecosystem.needs("rabbitmq")):
        env["AMQP_URL"] = AMQP_URL
        env["AMQP_EXCHANGE"] = EVENTS_EXCHANGE
    if "redis" in service.needs:
        env["REDIS_URL"] = REDIS_URL
    if service.subscribes:
        env["WORKER_SUBSCRIBES"] = ",".join(service.subscribes)
    if service.kind == "backend" and ecosystem.auth is not None:
        env.update(gateway_auth.service_settings(ecosystem, GATEWAY_PORT))
    if service.kind == "backend" and service.route_prefix not in (None, "/"):
        # behind the gateway's prefix: its /docs asks for <prefix>/openapi.json, whose servers say <prefix>
        env["ROOT_PATH"] = str(service.route_prefix)
    env.update(
        {
            "LOG_LEVEL": "INFO",
            "METRICS_PORT": str(METRICS_PORT),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://otel-collector:{OTLP_HTTP_PORT}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_LOGS_EXPORTER": "otlp",  # through the collector into Loki (docs/platform.md)
            "OTEL_RESOURCE_ATTRIBUTES": f"service.namespace={ecosystem.name},deployment.environment.name=local",
            "OTEL_SERVICE_NAME": service.name,
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        }
    )
    return env


def _build(ecosystem: Ecosystem, context: str, target: str | None = "runtime") -> dict[str, Any]:
    """The target (a service's runtime) with the mirrors as build arguments, and the CA bundle as the
    build secret the Dockerfiles mount while they download (BuildKit: Docker; with Podman, `scaffold
    build`)."""
    build: dict[str, Any] = {"context": context, **({"target": target} if target else {})}
    arguments = mirrors.variables(ecosystem.mirrors)
    if arguments:
        build["args"] = arguments
    if ecosystem.mirrors.ca_bundle:
        build["secrets"] = [mirrors.CA_SECRET]
    return build


def _image_of(ecosystem: Ecosystem, name: str) -> str:
    return mirrors.image(IMAGES[name], ecosystem.mirrors)


def _shell(command: str) -> list[str]:
    """A health check in shell form: Podman before 5.8 splits the exec form's arguments at spaces."""
    return ["CMD-SHELL", command]


def _image(ecosystem: Ecosystem, service: Service) -> str:
    return f"{ecosystem.registry}/{service.name}:local"


def _published_port(service: Service) -> int:
    """The container port published on the service's host port: workers have only their
    metrics and health server; backends and frontends their HTTP port."""
    return METRICS_PORT if service.kind == "worker" else service.container_port


def _healthcheck(service: Service) -> dict[str, Any]:
    if service.kind == "frontend":  # the web server image has no python: busybox wget
        test = _shell(f"wget -q -O /dev/null http://127.0.0.1:{service.container_port}/readyz")
    else:
        port = METRICS_PORT if service.kind == "worker" else APP_PORT
        probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/readyz', timeout=3)"
        test = _shell(f'python -c "{probe}"')
    return {"test": test, "interval": "10s", "timeout": "5s", "retries": 5, "start_period": "20s"}


def _app(ecosystem: Ecosystem, service: Service) -> dict[str, Any]:
    depends_on: dict[str, Any] = {}
    if "postgres" in service.needs:
        depends_on[f"{service.name}-migrate"] = {"condition": "service_completed_successfully"}
        depends_on["postgres"] = {"condition": "service_healthy", "restart": True}
    if "AMQP_URL" in (environment := _app_environment(ecosystem, service)):
        depends_on["rabbitmq"] = {"condition": "service_healthy", "restart": True}
    if "redis" in service.needs:
        depends_on["redis"] = {"condition": "service_healthy", "restart": True}
    depends_on["otel-collector"] = {"condition": "service_started"}
    return {
        "build": _build(ecosystem, f"./{service.path}"),
        "image": _image(ecosystem, service),
        "environment": environment,
        "ports": [f"127.0.0.1:{service.port}:{_published_port(service)}"],
        "depends_on": depends_on,
        "healthcheck": _healthcheck(service),
        "restart": "unless-stopped",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _migrate_command(service: Service) -> str:
    if service.kind == "backend":  # schema first, then the service's own idempotent fixtures
        return f"alembic upgrade head && python -m {service.package}.fixtures"
    return "alembic upgrade head"


def _migrate(ecosystem: Ecosystem, service: Service) -> dict[str, Any]:
    # One-shot, before the service starts.
    return {
        "build": _build(ecosystem, f"./{service.path}"),
        "image": _image(ecosystem, service),
        "command": ["sh", "-c", _migrate_command(service)],
        "environment": {"DATABASE_URL": database_url(service), "OTEL_SDK_DISABLED": "true"},
        "depends_on": {"postgres": {"condition": "service_healthy"}},
        "restart": "no",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _gateway(ecosystem: Ecosystem, routed: list[Service]) -> dict[str, Any]:
    checks_tokens = {gateway_auth.SERVICE: {"condition": "service_healthy", "restart": True}} if ecosystem.auth else {}
    return {
        "image": _image_of(ecosystem, "gateway"),
        "volumes": [
            "./gateway/nginx.conf:/etc/nginx/nginx.conf:ro",
            *([f"./{api_docs.DIRECTORY}:{api_docs.MOUNT}:ro"] if api_docs.documented(ecosystem) else []),
        ],
        "ports": [f"127.0.0.1:{GATEWAY_PORT}:{GATEWAY_PORT}"],
        # nginx resolves upstream names when it starts: start it after the services, and again
        # whenever one of them is restarted (its address may change).
        "depends_on": {
            **{s.name: {"condition": "service_healthy", "restart": True} for s in routed},
            # browser traces go through the gateway to the collector (see gateway.py)
            **(
                {"otel-collector": {"condition": "service_started"}}
                if any(s.kind == "frontend" for s in routed)
                else {}
            ),
            **checks_tokens,
        },
        "healthcheck": {
            "test": _shell(f"wget -q -O /dev/null http://127.0.0.1:{GATEWAY_PORT}/healthz"),
            "interval": "10s",
            "timeout": "3s",
            "retries": 3,
        },
        "restart": "unless-stopped",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _collector(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "image": _image_of(ecosystem, "otel-collector"),
        "command": ["--config=/etc/otelcol-contrib/config.yaml"],
        "volumes": [f"./{COLLECTOR_CONFIG}:/etc/otelcol-contrib/config.yaml:ro"],
        "depends_on": {"jaeger": {"condition": "service_started"}, "loki": {"condition": "service_started"}},
        "restart": "unless-stopped",
        "read_only": True,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _jaeger(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "image": _image_of(ecosystem, "jaeger"),
        "ports": [f"127.0.0.1:{JAEGER_UI_PORT}:{JAEGER_UI_PORT}"],
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _loki(ecosystem: Ecosystem) -> dict[str, Any]:
    """The log store: Loki's single-binary image with its own local configuration (filesystem
    storage, structured metadata on), which takes OTLP logs at /otlp."""
    return {
        "image": _image_of(ecosystem, "loki"),
        "command": ["-config.file=/etc/loki/local-config.yaml"],
        "volumes": ["loki-data:/loki"],
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _grafana(ecosystem: Ecosystem) -> dict[str, Any]:
    """Logs searched in Grafana (Explore, Loki), each line linking to its trace, each trace (Jaeger
    data source) to its logs; local only, so anonymous access, bound to 127.0.0.1."""
    return {
        "image": _image_of(ecosystem, "grafana"),
        "environment": {
            "GF_AUTH_ANONYMOUS_ENABLED": "true",
            "GF_AUTH_ANONYMOUS_ORG_ROLE": "Admin",
            "GF_AUTH_DISABLE_LOGIN_FORM": "true",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_PLUGINS_PREINSTALL_DISABLED": "true",
        },
        "volumes": [
            f"./{GRAFANA_DATASOURCES}:/etc/grafana/provisioning/datasources/ecosystem.yaml:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "ports": [f"127.0.0.1:{GRAFANA_PORT}:{GRAFANA_PORT}"],
        "depends_on": {"loki": {"condition": "service_started"}, "jaeger": {"condition": "service_started"}},
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _prometheus(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "image": _image_of(ecosystem, "prometheus"),
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--web.enable-lifecycle",
        ],
        "volumes": [
            "./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "./monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro",
            "prometheus-data:/prometheus",
        ],
        "ports": [f"127.0.0.1:{PROMETHEUS_PORT}:{PROMETHEUS_PORT}"],
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def _postgres(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "image": _image_of(ecosystem, "postgres"),
        "environment": {
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_PASSWORD": POSTGRES_PASSWORD,
            "POSTGRES_DB": "postgres",
        },
        "volumes": [
            f"./{POSTGRES_INIT}:/docker-entrypoint-initdb.d/10-databases.sql:ro",
            "postgres-data:/var/lib/postgresql/data",
        ],
        "healthcheck": {
            "test": _shell('pg_isready -U "$${POSTGRES_USER}" -d postgres'),
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
            "start_period": "10s",
        },
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
    }


def _rabbitmq(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "image": _image_of(ecosystem, "rabbitmq"),
        "environment": {"RABBITMQ_DEFAULT_USER": RABBITMQ_USER, "RABBITMQ_DEFAULT_PASS": RABBITMQ_PASSWORD},
        "ports": [f"127.0.0.1:{RABBITMQ_UI_PORT}:{RABBITMQ_UI_PORT}"],
        "volumes": ["rabbitmq-data:/var/lib/rabbitmq"],
        "healthcheck": {
            "test": _shell("rabbitmq-diagnostics -q ping"),
            "interval": "10s",
            "timeout": "5s",
            "retries": 10,
            "start_period": "20s",
        },
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
    }


def _redis(ecosystem: Ecosystem) -> dict[str, Any]:
    """Redis with a password (`.env` REDIS_PASSWORD); the health check runs in a shell (CMD-SHELL):
    Podman before 5.8 splits an exec-form test at spaces, and REDISCLI_AUTH keeps the password off
    redis-cli's command line."""
    return {
        "image": _image_of(ecosystem, "redis"),
        "command": ["sh", "-c", 'exec redis-server --requirepass "$${REDIS_PASSWORD}"'],
        "environment": {"REDIS_PASSWORD": REDIS_PASSWORD},
        "volumes": ["redis-data:/data"],
        "healthcheck": {
            "test": _shell('REDISCLI_AUTH="$${REDIS_PASSWORD}" redis-cli ping | grep -q PONG'),
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
            "start_period": "5s",
        },
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
    }


def compose_model(ecosystem: Ecosystem) -> dict[str, Any]:
    """The compose file as data (services sorted by name; infrastructure after them)."""
    services: dict[str, Any] = {}
    for service in _sorted(ecosystem.services):
        if "postgres" in service.needs:
            services[f"{service.name}-migrate"] = _migrate(ecosystem, service)
        services[service.name] = _app(ecosystem, service)
    routed = [s for s in _sorted(ecosystem.services) if s.route]
    services["gateway"] = _gateway(ecosystem, routed)
    if ecosystem.auth is not None:
        build = _build(ecosystem, f"./{gateway_auth.DIRECTORY}", target=None)
        services[gateway_auth.SERVICE] = gateway_auth.compose_service(ecosystem, GATEWAY_PORT, build)
    services["otel-collector"] = _collector(ecosystem)
    services["jaeger"] = _jaeger(ecosystem)
    services["prometheus"] = _prometheus(ecosystem)
    services["loki"] = _loki(ecosystem)
    services["grafana"] = _grafana(ecosystem)
    volumes: dict[str, Any] = {"grafana-data": {}, "loki-data": {}, "prometheus-data": {}}
    if ecosystem.needs("postgres"):
        services["postgres"] = _postgres(ecosystem)
        volumes["postgres-data"] = {}
    if ecosystem.needs("rabbitmq"):
        services["rabbitmq"] = _rabbitmq(ecosystem)
        volumes["rabbitmq-data"] = {}
    if ecosystem.needs("redis"):
        services["redis"] = _redis(ecosystem)
        volumes["redis-data"] = {}
    model: dict[str, Any] = {"name": ecosystem.name, "services": services, "volumes": dict(sorted(volumes.items()))}
    if ecosystem.mirrors.ca_bundle and ecosystem.services:
        model["secrets"] = {mirrors.CA_SECRET: {"file": f"./{ecosystem.mirrors.ca_bundle}"}}
    return model


def collector_config() -> dict[str, Any]:
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{COLLECTOR_HEALTH_PORT}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
            "batch": {},
        },
        "exporters": {
            "otlp/jaeger": {"endpoint": f"jaeger:{OTLP_GRPC_PORT}", "tls": {"insecure": True}},
            # Loki's native OTLP ingest (the exporter appends /v1/logs): service.name and
            # deployment.environment.name become labels, trace_id and span_id structured metadata.
            "otlphttp/loki": {"endpoint": f"http://loki:{LOKI_PORT}/otlp"},
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["otlp/jaeger"],
                },
                "logs": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["otlphttp/loki"],
                },
            },
        },
    }


LOKI_UID: Final = "loki"
JAEGER_UID: Final = "jaeger"


def grafana_datasources(ecosystem: Ecosystem) -> dict[str, Any]:
    """Grafana's provisioned data sources: Loki (a line's trace_id opens the trace), Jaeger (a
    trace's "Logs for this span" queries Loki for every line of the trace) and Prometheus.
    `$$` is a literal `$` in Grafana's provisioning files, which expand environment variables."""
    logs_of_trace = f'{{service_namespace="{ecosystem.name}"}} | trace_id="$${{__trace.traceId}}"'
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Loki",
                "type": "loki",
                "uid": LOKI_UID,
                "access": "proxy",
                "url": f"http://loki:{LOKI_PORT}",
                "jsonData": {
                    "derivedFields": [
                        {
                            "name": "trace_id",
                            "matcherType": "label",
                            "matcherRegex": "trace_id",
                            "datasourceUid": JAEGER_UID,
                            "url": "$${__value.raw}",
                            "urlDisplayLabel": "Trace",
                        }
                    ]
                },
            },
            {
                "name": "Jaeger",
                "type": "jaeger",
                "uid": JAEGER_UID,
                "access": "proxy",
                "url": f"http://jaeger:{JAEGER_UI_PORT}",
                "jsonData": {
                    "tracesToLogsV2": {
                        "datasourceUid": LOKI_UID,
                        "spanStartTimeShift": "-5m",
                        "spanEndTimeShift": "5m",
                        "customQuery": True,
                        "query": logs_of_trace,
                    }
                },
            },
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": "prometheus",
                "access": "proxy",
                "url": f"http://prometheus:{PROMETHEUS_PORT}",
                "isDefault": True,
            },
        ],
    }


def postgres_init_sql(ecosystem: Ecosystem) -> str:
    names = sorted(s.name for s in ecosystem.services if "postgres" in s.needs)
    header = [
        f"-- {GENERATED}",
        "-- One database per service that needs PostgreSQL; runs once, on an empty data volume.",
    ]
    return "\n".join([*header, *(f'CREATE DATABASE "{name}";' for name in names)]) + "\n"


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    files = [
        yaml_file(
            "compose.yaml",
            compose_model(ecosystem),
            comment="Local development: `cp .env.example .env && docker compose up --build`.",
        ),
        yaml_file(
            COLLECTOR_CONFIG,
            collector_config(),
            comment="OpenTelemetry collector of compose.yaml: OTLP in; traces to Jaeger, logs to Loki.",
        ),
        yaml_file(
            GRAFANA_DATASOURCES,
            grafana_datasources(ecosystem),
            comment="Grafana of compose.yaml (http://127.0.0.1:3000): logs in Loki, traces in Jaeger, linked.",
        ),
    ]
    if ecosystem.needs("postgres"):
        files.append(text_file(POSTGRES_INIT, postgres_init_sql(ecosystem)))
    return files


__all__ = ["IMAGES", "RESERVED_NAMES", "collector_config", "compose_model", "derive"]
