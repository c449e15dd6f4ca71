"""`docs/ecosystem.md`: the services, a diagram of how they are wired, the environments."""

from __future__ import annotations

import re

from scaffold.model import Ecosystem, Service
from scaffold.wiring._render import MARKDOWN_HEADER, text_file
from scaffold.wiring.compose import GATEWAY_PORT, JAEGER_UI_PORT, PROMETHEUS_PORT
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.gateway import route_prefix
from scaffold.wiring.umbrella import SIZING, environments


def node_id(name: str) -> str:
    """A mermaid node id for a service name (ids may not contain '-')."""
    return "svc_" + re.sub(r"[^a-zA-Z0-9]", "_", name)


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
        prefix = route_prefix(s)
        route = f"`{prefix}/`" if prefix else "—"
        template = f"{s.template.source} {s.template.version}"
        needs = ", ".join(sorted(s.needs)) or "—"
        rows.append(
            f"| {_cell(s.name)} | {s.kind} | `{_cell(s.path)}` | {s.port} | {route} | {_cell(template)} | {needs} |"
        )
    return rows


def mermaid(ecosystem: Ecosystem) -> list[str]:
    lines = ["```mermaid", "flowchart LR"]
    lines.append('    client(["client"]) --> gateway["gateway"]')
    for s in _services(ecosystem):
        lines.append(f'    {node_id(s.name)}["{s.name}"]')
    if ecosystem.needs("postgres"):
        lines.append('    postgres[("postgres")]')
    lines.append('    collector["otel-collector"] --> jaeger["jaeger"]')
    lines.append('    prometheus["prometheus"]')
    for s in _services(ecosystem):
        sid = node_id(s.name)
        prefix = route_prefix(s)
        if prefix:
            lines.append(f'    gateway -- "{prefix}/" --> {sid}')
        if "postgres" in s.needs:
            lines.append(f"    {sid} --> postgres")
        lines.append(f"    {sid} -. traces .-> collector")
        lines.append(f"    prometheus -. scrapes .-> {sid}")
    lines.append("```")
    return lines


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


def markdown(ecosystem: Ecosystem) -> str:
    parts = [
        MARKDOWN_HEADER.rstrip("\n"),
        f"# The {ecosystem.name} ecosystem",
        "",
        ecosystem.description,
        "",
        f"Images are pushed as `{ecosystem.registry}/<service>:<commit>`.",
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
        "Delivered by `.github/workflows/delivery.yml`, promoted in the order above.",
    ]
    return "\n".join(parts) + "\n"


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [text_file("docs/ecosystem.md", markdown(ecosystem))]
