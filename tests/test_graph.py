"""`scaffold graph` and the diagram in docs/ecosystem.md: one model, checked by the tools that draw it.

The snapshots in tests/snapshots/ were reviewed by rendering them (graphviz, mermaid-cli) and
looking at the picture; regenerate them with SCAFFOLD_UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scaffold import ecosystem_file, graph
from scaffold.model import Ecosystem, Environment, Service, TemplateRef
from scaffold.wiring import derive
from tests.helpers import diff, scaffold, snapshot
from tests.hidden_tools import path_without
from tests.npm_packages import installed

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = REPO / "tests" / "snapshots"
EXAMPLE = REPO / "examples" / "shop"
CHROMIUM = "/usr/bin/chromium"
T = TemplateRef("builtin", "0.1.0")


def backend(name: str, port: int) -> Service:
    return Service(
        name, "backend", f"services/{name}", port, f"/api/{name}", T, ("postgres",), (f"{name}.item.published",)
    )


def worker(name: str, port: int, *patterns: str) -> Service:
    return Service(name, "worker", f"services/{name}", port, None, T, ("postgres", "rabbitmq"), subscribes=patterns)


def full_ecosystem() -> Ecosystem:
    """Every kind: two backends, two workers (one matching both backends' events), a frontend."""
    return Ecosystem(
        name="shop",
        description="A shop",
        registry="registry.example.com/shop",
        template=T,
        environments=(Environment("test", "shop-test", "shop-test-secrets", context="shop-test"),),
        services=(
            backend("orders", 8001),
            backend("inventory", 8002),
            worker("mailer", 8003, "orders.#"),
            worker("audit", 8004, "*.item.published"),
            worker("idle", 8006, "payments.*"),
            Service("web", "frontend", "services/web", 8005, "/", T, calls=("orders",)),
        ),
    )


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("SCAFFOLD_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.read_text() == text, f"{name} changed: review it, then SCAFFOLD_UPDATE_SNAPSHOTS=1"


# --- AMQP topic matching ----------------------------------------------------------------------------

TOPICS = [
    ("orders.#", "orders.item.published", True),
    ("orders.#", "orders", True),  # '#' matches zero words
    ("orders.*", "orders.item.published", False),
    ("orders.*", "orders.item", True),
    ("*.item.published", "orders.item.published", True),
    ("*.item.published", "item.published", False),
    ("*.published", "orders.item.published", False),
    ("#.published", "orders.item.published", True),
    ("#", "orders.item.published", True),
    ("*", "orders", True),
    ("*", "orders.item", False),
    ("orders.*.published", "orders.item.published", True),
    ("inventory.#", "orders.item.published", False),
    ("a.#.b", "a.b", True),
    ("a.#.b", "a.x.y.b", True),
    ("a.#.b", "a.x.y.c", False),
    ("#.#", "a", True),
    ("orders.item.published", "orders.item.published", True),
    ("orders.item.published", "orders.item", False),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), TOPICS)
def test_topic_patterns_match_as_amqp_does(pattern: str, key: str, expected: bool) -> None:
    assert graph.topic_matches(pattern, key) is expected


@pytest.mark.e2e
def test_topic_matching_agrees_with_a_real_rabbitmq() -> None:
    """Every (pattern, key) of the table above, routed by a real topic exchange."""
    import pika

    from tests.servers import rabbitmq_server

    patterns = sorted({p for p, _, _ in TOPICS})
    keys = sorted({k for _, k, _ in TOPICS})
    with rabbitmq_server() as url:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare("events", exchange_type="topic")
            queues = {}
            for pattern in patterns:
                queue = channel.queue_declare("", exclusive=True).method.queue
                channel.queue_bind(queue, "events", routing_key=pattern)
                queues[pattern] = queue
            for key in keys:
                channel.basic_publish("events", key, key.encode())
            for pattern, queue in queues.items():
                received = set()
                while (message := channel.basic_get(queue, auto_ack=True))[0] is not None:
                    received.add(message[2].decode())
                assert received == {k for k in keys if graph.topic_matches(pattern, k)}, pattern
        finally:
            connection.close()


# --- the graph model --------------------------------------------------------------------------------


def _edges(picture: graph.Graph) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in picture.edges}


def test_queues_connect_each_backend_to_the_workers_whose_patterns_match() -> None:
    edges = _edges(graph.build(full_ecosystem()))
    assert ("svc_orders", "queue_mailer", "orders.item.published") in edges
    assert ("svc_orders", "queue_audit", "orders.item.published") in edges
    assert ("svc_inventory", "queue_audit", "inventory.item.published") in edges
    assert not any(s == "svc_inventory" and t == "queue_mailer" for s, t, _ in edges)
    assert not any(t == "queue_idle" for _, t, _ in edges), "nobody publishes payments.*"
    assert ("queue_idle", "svc_idle", "") in edges


def test_routes_infrastructure_and_calls() -> None:
    picture = graph.build(full_ecosystem())
    edges = _edges(picture)
    assert ("gateway", "svc_orders", "/api/orders/") in edges
    assert ("gateway", "svc_web", "/") in edges
    assert ("svc_web", "svc_orders", "calls /api/orders/") in edges
    assert {("svc_mailer", "postgres", ""), ("svc_orders", "postgres", "")} <= edges
    assert ("gateway", "collector", "browser traces") in edges
    assert not any(s == "svc_web" and t == "collector" for s, t, _ in edges), "the frontend has no server spans"
    groups = {n.id: n.group for n in picture.nodes}
    assert groups["svc_orders"] == "backends" and groups["svc_mailer"] == "workers" and groups["svc_web"] == "frontends"
    assert groups["queue_mailer"] == "rabbitmq"


def test_no_rabbitmq_without_workers_and_no_postgres_without_a_user() -> None:
    empty = Ecosystem("shop", "d", "r", T, (), ())
    ids = {n.id for n in graph.build(empty).nodes}
    assert ids == {"client", "gateway", "collector", "jaeger", "prometheus"}
    only_backends = Ecosystem("shop", "d", "r", T, (), (backend("orders", 8001),))
    assert not [g for g in graph.build(only_backends).groups if g.id == "rabbitmq"]


def test_a_non_worker_that_needs_rabbitmq_uses_the_broker() -> None:
    publisher = Service("feed", "backend", "services/feed", 8001, "/api/feed", T, ("rabbitmq",), ("feed.x",))
    picture = graph.build(Ecosystem("shop", "d", "r", T, (), (publisher,)))
    assert ("svc_feed", "rabbitmq_broker", "") in _edges(picture)
    assert "postgres" not in {n.id for n in picture.nodes}


def test_the_graph_is_deterministic() -> None:
    eco = full_ecosystem()
    shuffled = Ecosystem(eco.name, eco.description, eco.registry, eco.template, (), tuple(reversed(eco.services)))
    assert graph.mermaid(graph.build(eco)) == graph.mermaid(graph.build(shuffled))
    assert graph.dot(graph.build(eco)) == graph.dot(graph.build(shuffled))


# --- snapshots, reviewed ----------------------------------------------------------------------------


def test_example_ecosystem_matches_the_reviewed_snapshots() -> None:
    mermaid = scaffold("graph", "-C", str(EXAMPLE), cwd=REPO).stdout
    dot = scaffold("graph", "--format", "dot", "-C", str(EXAMPLE), cwd=REPO).stdout
    check_snapshot("graph-shop.mmd", mermaid)
    check_snapshot("graph-shop.dot", dot)


def test_every_kind_matches_the_reviewed_snapshots() -> None:
    picture = graph.build(full_ecosystem())
    check_snapshot("graph-full.mmd", graph.mermaid(picture))
    check_snapshot("graph-full.dot", graph.dot(picture))


def test_docs_ecosystem_md_holds_the_same_diagram_as_scaffold_graph() -> None:
    mermaid = scaffold("graph", "-C", str(EXAMPLE), cwd=REPO).stdout
    files = derive(ecosystem_file.load(EXAMPLE).model)  # what `scaffold sync` writes (test_examples: on disk)
    doc = next(f for f in files if f.path == "docs/ecosystem.md").content.decode()
    (block,) = re.findall(r"```mermaid\n(.*?)```", doc, flags=re.DOTALL)
    assert block == mermaid


# --- graphviz ---------------------------------------------------------------------------------------


def _svg_texts(svg: str) -> set[str]:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return {t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")}


@pytest.mark.parametrize("ecosystem", ["example", "full"])
def test_dot_is_rendered_by_graphviz_without_a_warning(ecosystem: str, tmp_path: Path) -> None:
    eco = ecosystem_file.load(EXAMPLE).model if ecosystem == "example" else full_ecosystem()
    dot = shutil.which("dot")
    assert dot, "graphviz is not installed: `make system-packages`"
    proc = subprocess.run([dot, "-Tsvg"], input=graph.dot(graph.build(eco)), capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    texts = _svg_texts(proc.stdout)
    assert {s.name for s in eco.services} | {"gateway", "otel-collector", "prometheus"} <= texts


def test_svg_format_through_the_cli() -> None:
    svg = scaffold("graph", "--format", "svg", "-C", str(EXAMPLE), cwd=REPO).stdout
    assert {"orders", "inventory", "postgres", "/api/orders/"} <= _svg_texts(svg)


def test_svg_without_graphviz_says_how_to_get_it(tmp_path: Path) -> None:
    before = snapshot(EXAMPLE)
    path = path_without(tmp_path / "bin", "dot")
    proc = scaffold("graph", "--format", "svg", "-C", str(EXAMPLE), cwd=REPO, env={"PATH": path}, check=False)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "graphviz" in lines[0], lines
    assert lines[1].startswith("hint: ") and "apt-get install graphviz" in lines[1]
    assert proc.stdout == ""
    # mermaid and dot need nothing installed
    assert scaffold("graph", "--format", "dot", "-C", str(EXAMPLE), cwd=REPO, env={"PATH": path}).stdout
    assert diff(before, snapshot(EXAMPLE)) == []


@pytest.mark.parametrize("args", [["--format", "png"], ["--format", ""]])
def test_unknown_format_is_bad_input(args: list[str], tmp_path: Path) -> None:
    proc = scaffold("graph", *args, "-C", str(EXAMPLE), cwd=REPO, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: Unknown format") and "\nhint: Use one of: mermaid, dot, svg" in proc.stderr


def test_outside_a_meta_project(tmp_path: Path) -> None:
    proc = scaffold("graph", cwd=tmp_path, check=False)
    assert proc.returncode == 3 and proc.stderr.startswith("error: No meta-project found")


def test_json_output_carries_the_text() -> None:
    data = json.loads(scaffold("graph", "--format", "dot", "--json", "-C", str(EXAMPLE), cwd=REPO).stdout)
    assert data["format"] == "dot" and data["text"].startswith('digraph "shop" {')


# --- mermaid, rendered by mermaid-cli in Debian's Chromium -------------------------------------------


def _mermaid_cli() -> Path:
    """mermaid-cli installed from tests/mermaid's lock file, cached outside the repository."""
    return installed("mermaid", {"PUPPETEER_SKIP_DOWNLOAD": "1"}) / "node_modules" / ".bin" / "mmdc"


@pytest.mark.e2e
def test_mermaid_diagrams_render_with_mermaid_cli(tmp_path: Path) -> None:
    """docs/ecosystem.md and docs/onboarding.md of an ecosystem with every kind, rendered by mermaid."""
    assert Path(CHROMIUM).exists(), "chromium is not installed: `make system-packages`"
    mmdc = _mermaid_cli()
    config = tmp_path / "puppeteer.json"
    config.write_text(
        json.dumps(
            {
                "executablePath": CHROMIUM,
                "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            }
        )
    )
    docs = {f.path: f.content for f in derive(full_ecosystem()) if f.path.startswith("docs/")}
    assert set(docs) == {"docs/ecosystem.md", "docs/onboarding.md"}
    for path, content in docs.items():
        source = tmp_path / Path(path).name
        source.write_bytes(content)
        out = tmp_path / f"rendered-{source.name}"
        proc = subprocess.run(
            [str(mmdc), "-p", str(config), "-i", str(source), "-o", str(out)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, f"{path}: {proc.stdout}\n{proc.stderr}"
        (svg,) = tmp_path.glob(f"rendered-{source.stem}-1.svg")
        texts = "".join(ET.fromstring(svg.read_text()).itertext())
        for label in ("mailer queue: orders.#", "orders.item.published", "calls /api/orders/"):
            assert label in texts, (path, label)
