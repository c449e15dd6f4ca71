"""What each kind of service brings to an ecosystem: its route, infrastructure and messaging.

The templates implement these conventions (see scaffold.model for the shared constants); this
module turns a kind, a name and the template answers into the `Service` entry of ecosystem.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from scaffold.errors import ConflictError, UsageError
from scaffold.model import Ecosystem, Kind, Service, TemplateRef
from scaffold.prompts import Prompt

# What `scaffold new KIND NAME` makes, in a line (help, docs/cli.md, docs/ecosystem-yaml.md).
SUMMARIES: Final[dict[Kind, str]] = {
    "backend": "an HTTP API (FastAPI) with PostgreSQL, publishing events",
    "worker": "a RabbitMQ consumer with retries, dead letters and graceful shutdown",
    "frontend": "a single-page app (Vite, TypeScript) served by nginx, calling a backend through the gateway",
}


def extra_prompts(kind: Kind, ecosystem: Ecosystem) -> list[Prompt]:
    """Questions a kind asks beyond description and port."""
    if kind == "worker":
        return [Prompt("subscribes", "Events to consume (topic patterns, comma-separated)", "*.item.published")]
    if kind == "frontend":
        backends = [s.name for s in ecosystem.services if s.kind == "backend"]
        return [Prompt("api_service", "Backend whose API the page calls", backends[0] if backends else "orders")]
    return []


def _patterns(text: object) -> tuple[str, ...]:
    patterns = tuple(p.strip() for p in str(text).split(",") if p.strip())
    for pattern in patterns:
        words = pattern.split(".")
        if not all(w == "*" or w == "#" or w.replace("-", "").replace("_", "").isalnum() for w in words):
            raise UsageError(
                f"'{pattern}' is not an AMQP topic pattern.",
                "Use dot-separated words, '*' for one word and '#' for any, e.g. --data subscribes=orders.#",
            )
    if not patterns:
        raise UsageError("A worker must subscribe to at least one event.", "Example: --data subscribes=orders.#")
    return patterns


def service_entry(
    kind: Kind,
    name: str,
    port: int,
    answers: Mapping[str, object],
    ecosystem: Ecosystem,
    template: TemplateRef,
    path: str | None = None,
) -> Service:
    """The ecosystem.yaml entry of a service; `path` defaults to services/NAME (where `new` puts it)."""
    path = path or f"services/{name}"
    if kind == "backend":
        return Service(
            name=name,
            kind=kind,
            path=path,
            port=port,
            route=f"/api/{name}",
            template=template,
            needs=("postgres", "redis") if answers.get("redis") is True else ("postgres",),
            publishes=(f"{name}.item.published",),
        )
    if kind == "worker":
        return Service(
            name=name,
            kind=kind,
            path=path,
            port=port,
            route=None,
            template=template,
            needs=("postgres", "rabbitmq"),
            subscribes=_patterns(answers["subscribes"]),
        )
    api = str(answers["api_service"])
    backends = [s.name for s in ecosystem.services if s.kind == "backend"]
    if api not in backends:
        raise UsageError(
            f"The frontend's api_service '{api}' is not a backend of this ecosystem.",
            f"Create it first (`scaffold new backend {api}`) or pass --data api_service=NAME "
            f"(backends: {', '.join(backends) or 'none yet'}).",
        )
    owner = next((s.name for s in ecosystem.services if s.route == "/"), None)
    if owner:
        raise ConflictError(
            f"The gateway route '/' is already served by the frontend '{owner}'.",
            "An ecosystem has one frontend at '/'; extend that one instead.",
        )
    return Service(
        name=name,
        kind=kind,
        path=path,
        port=port,
        route="/",
        template=template,
        calls=(api,),
    )
