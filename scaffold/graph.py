"""A picture of an ecosystem: one graph model, rendered as mermaid, graphviz dot or an outline.

`build(ecosystem)` is pure and deterministic (services sorted by name, edges in a fixed order), so
the diagram in `docs/ecosystem.md`, the output of `scaffold graph` and the onboarding walkthrough
always show the same thing. It shows the services grouped by kind, the gateway routes, the
infrastructure each service uses, the queues between backends and workers (a backend's routing
key matched against a worker's topic patterns, as RabbitMQ's topic exchange matches them), the
API calls of frontends, and where traces and metrics go.

This module depends on scaffold.model alone: the wiring imports it, not the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from scaffold.model import EVENTS_EXCHANGE, Ecosystem, Kind, Service

Shape = Literal["box", "stadium", "cylinder", "queue"]

# Group ids of the diagram, in the order they are drawn.
FRONTENDS: Final = "frontends"
BACKENDS: Final = "backends"
WORKERS: Final = "workers"
RABBITMQ: Final = "rabbitmq"
OBSERVABILITY: Final = "observability"
# Services are drawn by kind, in the order a request meets them.
KIND_GROUPS: Final[dict[Kind, str]] = {"frontend": FRONTENDS, "backend": BACKENDS, "worker": WORKERS}

CLIENT: Final = "client"
GATEWAY: Final = "gateway"
POSTGRES: Final = "postgres"
REDIS: Final = "redis"
BROKER: Final = "rabbitmq_broker"
COLLECTOR: Final = "collector"
JAEGER: Final = "jaeger"
PROMETHEUS: Final = "prometheus"


@dataclass(frozen=True)
class Group:
    id: str
    label: str


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    shape: Shape = "box"
    group: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dotted: bool = False


@dataclass(frozen=True)
class Graph:
    name: str
    groups: tuple[Group, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def node_id(name: str) -> str:
    """The id of a service's node (mermaid ids may not contain '-')."""
    return "svc_" + re.sub(r"[^a-zA-Z0-9]", "_", name)


def queue_id(worker: str) -> str:
    return "queue_" + re.sub(r"[^a-zA-Z0-9]", "_", worker)


def route_label(service: Service) -> str | None:
    """The gateway path a service is reached on, with a trailing slash: '/api/orders/', '/'."""
    if not service.route:
        return None
    prefix = service.route.strip("/")
    return f"/{prefix}/" if prefix else "/"


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: words are separated by '.', '*' is exactly one word, '#' zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        head, rest = p[0], p[1:]
        if head == "#":
            return any(match(rest, k[i:]) for i in range(len(k) + 1))
        if not k:
            return False
        return (head == "*" or head == k[0]) and match(rest, k[1:])

    return match(pattern.split("."), routing_key.split("."))


def deliveries(publisher: Service, worker: Service) -> tuple[str, ...]:
    """The routing keys of `publisher` that reach `worker`'s queue, in the order it publishes them."""
    return tuple(key for key in publisher.publishes if any(topic_matches(p, key) for p in worker.subscribes))


class Subscriptions:
    """Which publishers' routing keys reach each worker, for a whole ecosystem at once.

    Matching every worker's patterns against every publisher's keys one pair at a time grows with
    the square of the ecosystem (62,500 pairs at 500 services). Here each distinct pattern is
    matched once: a pattern without wildcards is a key and is looked up; one with `*` or `#` is
    matched against each distinct key (with topic_matches, the rule RabbitMQ applies)."""

    def __init__(self, ecosystem: Ecosystem) -> None:
        self._publishers: dict[str, set[str]] = {}  # routing key -> who publishes it
        for service in ecosystem.services:
            for key in service.publishes:
                self._publishers.setdefault(key, set()).add(service.name)
        self._keys = set(self._publishers)
        self._matched: dict[str, frozenset[str]] = {}
        self._reached_by: dict[str, frozenset[str]] = {}  # worker -> the keys that reach its queue

    def keys(self, pattern: str) -> frozenset[str]:
        """The routing keys published in the ecosystem that `pattern` matches."""
        found = self._matched.get(pattern)
        if found is None:
            if "*" in pattern or "#" in pattern:
                found = frozenset(k for k in self._keys if topic_matches(pattern, k))
            else:
                found = frozenset({pattern}) & self._keys
            self._matched[pattern] = found
        return found

    def _reached(self, worker: Service) -> frozenset[str]:
        reached = self._reached_by.get(worker.name)
        if reached is None:
            reached = self._reached_by[worker.name] = frozenset().union(*map(self.keys, worker.subscribes))
        return reached

    def deliveries(self, publisher: Service, worker: Service) -> tuple[str, ...]:
        """As `deliveries`, from the index."""
        reached = self._reached(worker)
        return tuple(key for key in publisher.publishes if key in reached)

    def publishers(self, worker: Service) -> list[str]:
        """The services whose events reach the worker's queue, by name."""
        return sorted({name for key in self._reached(worker) for name in self._publishers[key]})

    def pairs(self, publishers: Sequence[Service], workers: Sequence[Service]) -> Iterator[tuple[Service, Service]]:
        """Each (publisher, worker) whose events reach the worker's queue: publishers in their order, each
        one's workers in theirs, found from the workers' side (not by trying every pair: 62,500 at 500)."""
        reaching: dict[str, list[Service]] = {}  # publisher -> the workers its events reach
        for worker in workers:
            for name in self.publishers(worker):
                reaching.setdefault(name, []).append(worker)
        for publisher in publishers:
            for worker in reaching.get(publisher.name, ()):
                yield publisher, worker


def _sorted(ecosystem: Ecosystem) -> list[Service]:
    return sorted(ecosystem.services, key=lambda s: s.name)


_BUILT: list[tuple[Ecosystem, Graph]] = []  # the last ecosystem built: the wiring asks three times


def build(ecosystem: Ecosystem) -> Graph:
    if _BUILT and _BUILT[0][0] is ecosystem:
        return _BUILT[0][1]
    built = _build(ecosystem)
    _BUILT[:] = [(ecosystem, built)]
    return built


def _build(ecosystem: Ecosystem) -> Graph:
    services = _sorted(ecosystem)
    workers = [s for s in services if s.kind == "worker" and s.subscribes]
    queued = {w.name for w in workers}
    needs_broker = [s for s in services if "rabbitmq" in s.needs and s.name not in queued]

    groups: list[Group] = []
    nodes = [Node(CLIENT, "client", "stadium"), Node(GATEWAY, "gateway")]
    for kind, group in KIND_GROUPS.items():
        members = [s for s in services if s.kind == kind]
        if members:
            groups.append(Group(group, group))
            nodes += [Node(node_id(s.name), s.name, "box", group) for s in members]
    if ecosystem.needs("postgres"):
        nodes.append(Node(POSTGRES, "postgres", "cylinder"))
    if ecosystem.needs("redis"):
        nodes.append(Node(REDIS, "redis", "cylinder"))
    if workers or needs_broker:
        groups.append(Group(RABBITMQ, f"rabbitmq (exchange {EVENTS_EXCHANGE})"))
        nodes += [
            Node(queue_id(w.name), f"{w.name} queue: {', '.join(w.subscribes)}", "queue", RABBITMQ) for w in workers
        ]
        if needs_broker:
            nodes.append(Node(BROKER, "broker", "cylinder", RABBITMQ))
    groups.append(Group(OBSERVABILITY, OBSERVABILITY))
    nodes += [
        Node(COLLECTOR, "otel-collector", "box", OBSERVABILITY),
        Node(JAEGER, "jaeger", "box", OBSERVABILITY),
        Node(PROMETHEUS, "prometheus", "box", OBSERVABILITY),
    ]

    edges = [Edge(CLIENT, GATEWAY)]
    for s in services:
        route = route_label(s)
        if route:
            edges.append(Edge(GATEWAY, node_id(s.name), route))
    for s in services:
        for called in s.calls:
            target = ecosystem.service(called)
            via = route_label(target) if target else None
            if target is not None:
                edges.append(Edge(node_id(s.name), node_id(called), f"calls {via}" if via else "calls", dotted=True))
    for s in services:
        if "postgres" in s.needs:
            edges.append(Edge(node_id(s.name), POSTGRES))
        if "redis" in s.needs:
            edges.append(Edge(node_id(s.name), REDIS))
    subscriptions = Subscriptions(ecosystem)
    for publisher, worker in subscriptions.pairs(services, workers):
        keys = subscriptions.deliveries(publisher, worker)
        edges.append(Edge(node_id(publisher.name), queue_id(worker.name), ", ".join(keys)))
    for worker in workers:
        edges.append(Edge(queue_id(worker.name), node_id(worker.name)))
    for s in needs_broker:
        edges.append(Edge(node_id(s.name), BROKER))
    edges.append(Edge(COLLECTOR, JAEGER))
    # A frontend runs in the browser: its spans reach the collector through the gateway, and the
    # web server that serves its files has no metrics endpoint.
    if any(s.kind == "frontend" for s in services):
        edges.append(Edge(GATEWAY, COLLECTOR, "browser traces", dotted=True))
    observed = [s for s in services if s.kind != "frontend"]
    edges += [Edge(node_id(s.name), COLLECTOR, "traces", dotted=True) for s in observed]
    edges += [Edge(PROMETHEUS, node_id(s.name), "scrapes", dotted=True) for s in observed]
    return Graph(ecosystem.name, tuple(groups), tuple(nodes), tuple(edges))


# --- mermaid -------------------------------------------------------------------------------------

_MERMAID_SHAPES: Final[dict[Shape, tuple[str, str]]] = {
    "box": ("[", "]"),
    "stadium": ("([", "])"),
    "cylinder": ("[(", ")]"),
    "queue": ("[[", "]]"),
}


def _mermaid_text(text: str) -> str:
    """A quoted mermaid label: '#' and '"' written as entity codes ('#' starts one)."""
    return '"' + text.replace("#", "#35;").replace('"', "#quot;") + '"'


def _mermaid_node(node: Node) -> str:
    opening, closing = _MERMAID_SHAPES[node.shape]
    return f"{node.id}{opening}{_mermaid_text(node.label)}{closing}"


def _mermaid_edge(edge: Edge) -> str:
    if edge.dotted:
        label = f" {_mermaid_text(edge.label)}" if edge.label else ""
        return f"{edge.source} -.{label} .-> {edge.target}" if label else f"{edge.source} -.-> {edge.target}"
    if edge.label:
        return f"{edge.source} -- {_mermaid_text(edge.label)} --> {edge.target}"
    return f"{edge.source} --> {edge.target}"


def mermaid(graph: Graph) -> str:
    """A mermaid flowchart (without the ``` fences); ends with a newline."""
    lines = ["flowchart LR"]
    for node in graph.nodes:
        if node.group is None:
            lines.append(f"    {_mermaid_node(node)}")
    for group in graph.groups:
        lines.append(f"    subgraph {group.id}[{_mermaid_text(group.label)}]")
        lines += [f"        {_mermaid_node(n)}" for n in graph.nodes if n.group == group.id]
        lines.append("    end")
    lines += [f"    {_mermaid_edge(e)}" for e in graph.edges]
    return "\n".join(lines) + "\n"


# --- graphviz dot --------------------------------------------------------------------------------

_DOT_SHAPES: Final[dict[Shape, str]] = {
    "box": 'shape=box, style="rounded"',
    "stadium": 'shape=box, style="rounded,filled", fillcolor="#eeeeee"',
    "cylinder": "shape=cylinder",
    "queue": "shape=cds",
}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_node(node: Node) -> str:
    return f"{_dot_string(node.id)} [label={_dot_string(node.label)}, {_DOT_SHAPES[node.shape]}];"


def _dot_edge(edge: Edge, side: bool) -> str:
    attributes = []
    if edge.label:
        attributes.append(f"label={_dot_string(edge.label)}")
    if edge.dotted:
        attributes.append("style=dashed")
    if side:
        # Telemetry is drawn beside the request flow, it does not rank the nodes.
        attributes.append("constraint=false")
    suffix = f" [{', '.join(attributes)}]" if attributes else ""
    return f"{_dot_string(edge.source)} -> {_dot_string(edge.target)}{suffix};"


def dot(graph: Graph) -> str:
    """A graphviz digraph (`dot -Tsvg` renders it); ends with a newline."""
    lines = [
        f"digraph {_dot_string(graph.name)} {{",
        '    graph [rankdir=LR, fontname="Helvetica", fontsize=12];',
        '    node [fontname="Helvetica", fontsize=11];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.nodes:
        if node.group is None:
            lines.append(f"    {_dot_node(node)}")
    for group in graph.groups:
        lines.append(f"    subgraph {_dot_string('cluster_' + group.id)} {{")
        lines.append(f'        label={_dot_string(group.label)}; style="rounded,dashed";')
        lines += [f"        {_dot_node(n)}" for n in graph.nodes if n.group == group.id]
        lines.append("    }")
    observability = {n.id for n in graph.nodes if n.group == OBSERVABILITY}
    lines += [f"    {_dot_edge(e, e.source in observability or e.target in observability)}" for e in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- plain text ----------------------------------------------------------------------------------


def outline(graph: Graph) -> list[str]:
    """The edges as readable lines for a terminal: 'gateway --/api/orders/--> orders'."""
    labels = {n.id: n.label for n in graph.nodes}
    lines = []
    for edge in graph.edges:
        arrow = f"--{edge.label}-->" if edge.label else "-->"
        if edge.dotted:
            arrow = arrow.replace("--", "..")
        lines.append(f"{labels[edge.source]} {arrow} {labels[edge.target]}")
    return lines
