"""`docs/ecosystem.md`: the services, a diagram of how they are wired (scaffold.graph), the environments."""

from __future__ import annotations

from typing import Final

from scaffold import graph
from scaffold.model import Ecosystem, Service
from scaffold.wiring._render import MARKDOWN_HEADER, text_file
from scaffold.wiring.compose import GATEWAY_PORT, JAEGER_UI_PORT, PROMETHEUS_PORT
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.umbrella import SIZING, environments, secret_keys


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _services(ecosystem: Ecosystem) -> list[Service]:
    return sorted(ecosystem.services, key=lambda s: s.name)


def _services_table(ecosystem: Ecosystem) -> list[str]:
    if not ecosystem.services:
        return ["No services yet: add one with `scaffold new backend NAME`."]
    rows = [
        "| name | kind | path | local port | route | template | infrastructure |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in _services(ecosystem):
        label = graph.route_label(s)
        route = f"`{label}`" if label else "—"
        template = f"{s.template.source} {s.template.version}"
        needs = ", ".join(sorted(s.needs)) or "—"
        rows.append(
            f"| {_cell(s.name)} | {s.kind} | `{_cell(s.path)}` | {s.port} | {route} | {_cell(template)} | {needs} |"
        )
    return rows


def mermaid(ecosystem: Ecosystem) -> list[str]:
    """The ecosystem's diagram (scaffold.graph, the same as `scaffold graph`) in a fenced block."""
    return ["```mermaid", *graph.mermaid(graph.build(ecosystem)).splitlines(), "```"]


def _environments_table(ecosystem: Ecosystem) -> list[str]:
    envs = environments(ecosystem)
    if not envs:
        return ["No environments."]
    rows = [
        "| environment | namespace | cluster | secret | replicas | values file |",
        "|---|---|---|---|---|---|",
    ]
    for env in envs:
        cluster = env.context or env.api_server or "—"
        replicas = SIZING.get(env.name, SIZING["staging"])["replicaCount"]
        rows.append(
            f"| {env.name} | {env.namespace} | {_cell(cluster)} | {env.secret} | {replicas} "
            f"| `deploy/chart/values-{env.name}.yaml` |"
        )
    return rows


# What the URL under each chart value of secret_keys points at.
SECRET_KEY_OF: Final = {"key": "PostgreSQL", "amqpKey": "RabbitMQ", "redisKey": "Redis"}


def _secrets_section(ecosystem: Ecosystem) -> list[str]:
    """The keys each environment's Secret must hold: a connection URL per service and backing
    service, never one shared by two services."""
    rows = [
        f"| {_cell(s.name)} | `{key}` | {SECRET_KEY_OF[value]} |"
        for s in sorted(ecosystem.services, key=lambda s: s.name)
        for value, key in secret_keys(ecosystem, s).items()
    ]
    if not rows:
        return []
    return [
        "",
        "Each environment's Secret holds one connection URL per service (its own database, or its",
        "own schema and role in a shared one; its own broker user; its own Redis user or database):",
        "",
        "| service | key | URL of |",
        "|---|---|---|",
        *rows,
    ]


def markdown(ecosystem: Ecosystem) -> str:
    parts = [
        MARKDOWN_HEADER.rstrip("\n"),
        f"# The {ecosystem.name} ecosystem",
        "",
        ecosystem.description,
        "",
        f"Images are pushed as `{ecosystem.registry}/<service>:<commit>`.",
        "",
        "New here? Follow [onboarding.md](onboarding.md), or run `scaffold onboard` for the same steps, interactively.",
        "",
        "## Services",
        "",
        *_services_table(ecosystem),
        "",
        "## Wiring",
        "",
        *mermaid(ecosystem),
        "",
        "Locally (`docker compose up --build`): the gateway on "
        f"http://127.0.0.1:{GATEWAY_PORT}, traces in Jaeger on http://127.0.0.1:{JAEGER_UI_PORT}, "
        f"Prometheus on http://127.0.0.1:{PROMETHEUS_PORT}.",
        "",
        "## Environments",
        "",
        *_environments_table(ecosystem),
        "",
        "Delivered to the first by the merge queue (`.github/workflows/delivery.yml`) before a change is merged, "
        "then promoted in the order above (`promote.yml`); rolled back by `rollback.yml` or `scaffold rollback`.",
        *_secrets_section(ecosystem),
    ]
    return "\n".join(parts) + "\n"


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [text_file("docs/ecosystem.md", markdown(ecosystem))]
