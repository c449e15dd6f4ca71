"""The typed model of an ecosystem, as read from `ecosystem.yaml`.

Every stage after parsing (wiring, listing, commands) works on these frozen dataclasses, never on
raw dicts, so a field that is renamed is renamed everywhere by the type checker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Literal

Kind = Literal["backend", "worker", "frontend"]
KINDS: Final[tuple[Kind, ...]] = ("backend", "worker", "frontend")

Infrastructure = Literal["postgres", "rabbitmq", "redis"]
INFRASTRUCTURE: Final[tuple[Infrastructure, ...]] = ("postgres", "rabbitmq", "redis")
# The kinds whose template can use Redis (its `redis` question): a backend caches its reads there.
# A worker's state is its database (idempotency, results), so neither its template nor the
# validator offers Redis to it; docs/ecosystem-yaml.md says so.
REDIS_KINDS: Final[tuple[Kind, ...]] = ("backend",)

# Compose services (and Kubernetes names) of the shared infrastructure; no service may take one.
INFRASTRUCTURE_SERVICES: Final[tuple[str, ...]] = (
    "gateway",
    "gateway-auth",
    "otel-collector",
    "jaeger",
    "prometheus",
    "loki",
    "grafana",
    "postgres",
    "rabbitmq",
    "redis",
)

# Paths the gateway answers itself (the local issuer, the aggregated API document): no service's
# route may be one of them or a prefix above one.
LOCAL_ISSUER_PATH: Final = "/auth"
API_DOCS_PATH: Final = "/api/docs"
GATEWAY_PATHS: Final[tuple[str, ...]] = (LOCAL_ISSUER_PATH, API_DOCS_PATH)

Lifecycle = Literal["experimental", "production", "deprecated"]

ENVIRONMENT_NAMES: Final[tuple[str, ...]] = ("test", "staging", "production")

# Host ports the root compose.yaml publishes (or keeps free) for the shared infrastructure.
INFRASTRUCTURE_HOST_PORTS: Final = frozenset({3000, 4317, 4318, 5432, 5672, 6379, 8080, 9090, 15672, 16686})

# The top-level entries the wiring derives (tests/test_containment.py checks that wiring writes
# nowhere else): the only places `.scaffold/derived.json` may name, so a record committed by someone
# else cannot make `sync` delete ecosystem.yaml, a service's file or git's own state as "left over".
DERIVED_ENTRIES: Final[frozenset[str]] = frozenset(
    {
        ".github",
        "catalog-info.yaml",
        "catalog",
        "compose.yaml",
        "gateway",
        "deploy",
        "monitoring",
        "docs",
        "postgres",
    }
)
# The meta-project's own top-level entries: the derived ones, its own files, git's and scaffold's
# state. A service's path may not be one of them or inside one; services go under SERVICES_DIR by default.
SERVICES_DIR: Final = "services"
META_PROJECT_ENTRIES: Final[frozenset[str]] = DERIVED_ENTRIES | frozenset(
    {
        ".git",
        ".scaffold",
        ".gitignore",
        ".env",
        ".env.example",
        ".copier-answers.yml",
        "README.md",
        "renovate.json",
        "ecosystem.yaml",
    }
)

# Ports inside service containers; the host port for local development is Service.port.
APP_PORT: Final = 8000  # backend HTTP API
FRONTEND_PORT: Final = 8080  # frontend's unprivileged web server
METRICS_PORT: Final = 9000  # Prometheus metrics (and, for workers, /livez and /readyz)

# Messaging conventions shared by the templates and the wiring: backends publish events to one
# durable topic exchange with routing keys "<backend>.<event>"; a worker's queue is bound to it
# with the topic patterns the worker subscribes to.
EVENTS_EXCHANGE: Final = "events"


@dataclass(frozen=True)
class TemplateRef:
    """Where a service's template comes from and which version rendered it."""

    source: str  # "builtin" or a git URL / path of a template repository
    version: str  # a version tag of that repository, e.g. "0.1.0"


@dataclass(frozen=True)
class Environment:
    """A Kubernetes environment the ecosystem is delivered to."""

    name: str
    namespace: str
    secret: str  # name of the Secret object holding this environment's credentials
    context: str | None = None  # kubeconfig context, or ...
    api_server: str | None = None  # ... an API endpoint
    values: dict[str, object] = field(default_factory=dict)  # overrides merged into values-<env>.yaml
    approval: bool = False  # each delivery waits for a reviewer (GitHub environment <name>-approval)


@dataclass(frozen=True)
class Service:
    name: str
    kind: Kind
    path: str  # POSIX path relative to the meta-project root, e.g. "services/orders"
    port: int  # host port for local development
    route: str | None  # gateway path prefix, e.g. "/api/orders"; None when not routed
    template: TemplateRef
    needs: tuple[Infrastructure, ...] = ()
    publishes: tuple[str, ...] = ()  # routing keys of the events it publishes (backends)
    subscribes: tuple[str, ...] = ()  # topic patterns of the events it consumes (workers)
    calls: tuple[str, ...] = ()  # services whose API it calls through the gateway (frontends)
    repository: str | None = None  # git URL of the service's own repository, checked out at `path`
    commit: str | None = None  # with `repository`: the commit of it the meta-project builds and delivers
    owner: str | None = None  # the team owning it (CODEOWNERS, alert routing, the Backstage catalog)
    lifecycle: Lifecycle = "production"  # its lifecycle in the Backstage catalog

    @property
    def package(self) -> str:
        """The Python package name of the service."""
        return self.name.replace("-", "_")

    @property
    def route_prefix(self) -> str | None:
        """The gateway path prefix without a trailing slash ("/" for the root), or None when not routed."""
        if not self.route:
            return None
        return "/" + self.route.strip("/") if self.route.strip("/") else "/"

    @property
    def container_port(self) -> int:
        """The port the service answers HTTP on inside its container."""
        return FRONTEND_PORT if self.kind == "frontend" else APP_PORT


# When the generated template-update workflow runs (cron, UTC): Mondays at 06:00.
DEFAULT_UPDATE_SCHEDULE: Final = "0 6 * * 1"


@dataclass(frozen=True)
class CiSettings:
    """How the generated workflows run scaffold itself (`ci:` in ecosystem.yaml)."""

    scaffold: str | None = None  # the pip requirement CI installs scaffold from; None: not set yet
    update_schedule: str = DEFAULT_UPDATE_SCHEDULE  # cron of the template-update workflow


@dataclass(frozen=True)
class Alerting:
    """Where alerts go: the once-per-cluster part (relay, cluster and node rules) and the receivers."""

    namespace: str = "monitoring"  # namespace of the platform release (rollback relay, cluster and node rules)
    github_repository: str | None = None  # OWNER/NAME the rollback relay sends repository_dispatch to
    receivers: dict[str, dict[str, object]] = field(default_factory=dict)  # level -> Alertmanager receiver fields


@dataclass(frozen=True)
class Auth:
    """The ecosystem's OIDC issuer (`auth:` in ecosystem.yaml): whose bearer tokens the APIs take."""

    issuer: str
    audience: str
    jwks_url: str


@dataclass(frozen=True)
class Team:
    """A team that owns services (`teams.<name>` in ecosystem.yaml)."""

    github: str | None = None  # its GitHub handle for CODEOWNERS (@org/team or @user)
    receiver: dict[str, object] = field(default_factory=dict)  # Alertmanager receiver fields of its service alerts


@dataclass(frozen=True)
class Mirrors:
    """Where builds fetch what they need instead of the public registries (`mirrors:` in ecosystem.yaml).

    Every field is optional; none holds a credential (the machine's or the pipeline's own registry
    login, pip and npm configuration carry those).
    """

    images: str | None = None  # registry prefix standing in for docker.io, e.g. "registry.example.com/hub"
    pypi: str | None = None  # PyPI index (simple API) URL
    npm: str | None = None  # npm registry URL
    ca_bundle: str | None = None  # PEM file relative to the meta-project: CAs of a network that re-signs TLS


@dataclass(frozen=True)
class Ecosystem:
    name: str
    description: str
    registry: str  # image repository prefix, images are "<registry>/<service>:<tag>"
    template: TemplateRef  # the template that rendered the meta-project itself
    environments: tuple[Environment, ...]
    services: tuple[Service, ...]
    alerting: Alerting = field(default_factory=Alerting)
    ci: CiSettings = field(default_factory=CiSettings)
    owner: str | None = None  # the team owning the meta-project itself
    teams: dict[str, Team] = field(default_factory=dict)
    auth: Auth | None = None  # None: the APIs take no tokens
    mirrors: Mirrors = field(default_factory=Mirrors)

    def service(self, name: str) -> Service | None:
        return self._by_name.get(name)

    def needs(self, infrastructure: Infrastructure) -> bool:
        return infrastructure in self._needed

    # Looked up once per service by the wiring: indexes, so an ecosystem of hundreds of services
    # is not searched service by service (cached_property writes the instance's __dict__, which a
    # frozen dataclass allows).
    @cached_property
    def _by_name(self) -> dict[str, Service]:
        return {s.name: s for s in reversed(self.services)}  # the first of a duplicated name wins

    @cached_property
    def _needed(self) -> frozenset[str]:
        return frozenset(n for s in self.services for n in s.needs)
