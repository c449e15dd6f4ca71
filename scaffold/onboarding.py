"""The onboarding walkthrough's five steps, as data, with this ecosystem's own services in them.

`steps()` is pure: `scaffold onboard` shows these steps in a terminal (or prints them without
one) and the meta-project's `docs/onboarding.md` is rendered from the same steps by the wiring,
so the guide and the walkthrough cannot disagree. What only a run can tell (the doctor's
findings on this machine, the service just created) is added by the command around a step.

Depends on the model, the graph and the requirement list only; the ports and paths the wiring
owns come in as a `Layout`, so the wiring can import this module without a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from scaffold import graph
from scaffold.model import ENVIRONMENT_NAMES, KINDS, METRICS_PORT, Ecosystem, Environment, Kind, Service
from scaffold.prerequisites import REQUIREMENTS, context_requirement

DOC_PATH: Final = "docs/onboarding.md"
PLACEHOLDER: Final = "NAME"  # stands for a service name when the ecosystem has none yet


@dataclass(frozen=True)
class Layout:
    """Where the wiring puts things: local URLs of the shared infrastructure and derived paths."""

    gateway_url: str
    jaeger_url: str
    prometheus_url: str
    chart_dir: str
    workflow: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Commands:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Diagram:
    graph: graph.Graph


@dataclass(frozen=True)
class Requirements:
    """What `scaffold doctor` looks for; a walkthrough shows the findings on this machine instead."""

    table: Table


Block = Paragraph | Bullets | Commands | Table | Diagram | Requirements


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    blocks: tuple[Block, ...]


STEP_TITLES: Final[tuple[str, ...]] = (
    "Check your machine",
    "Understand the ecosystem",
    "Create your first service",
    "Run it, test it, watch it",
    "Keep it up to date and deliver it",
)
LAST_STEP: Final = len(STEP_TITLES)

# What each kind brings; the templates implement it (templates/<kind>/README.md tells more).
KIND_TEXT: Final[dict[Kind, tuple[str, str, str]]] = {
    "backend": (
        "an HTTP API (FastAPI) on its own PostgreSQL database, with migrations and fixtures; "
        "publishes `<name>.item.published` events",
        "`/api/<name>/` through the gateway",
        "postgres",
    ),
    "worker": (
        "consumes events from RabbitMQ, with retries, a dead-letter queue and a graceful shutdown",
        f"not routed; metrics and probes on port {METRICS_PORT}",
        "rabbitmq, postgres",
    ),
    "frontend": (
        "a single-page app (Vite, TypeScript) served by an unprivileged web server, configured at run time",
        "`/` through the gateway",
        "calls backends through the gateway",
    ),
}


def _code(text: str) -> str:
    return f"`{text}`"


def _names(services: Sequence[Service]) -> str:
    return ", ".join(s.name for s in services) or "none yet"


def promotion_order(ecosystem: Ecosystem) -> list[Environment]:
    known = list(ENVIRONMENT_NAMES)
    return sorted(
        ecosystem.environments, key=lambda e: (known.index(e.name) if e.name in known else len(known), e.name)
    )


def focus_service(ecosystem: Ecosystem, preferred: str | None = None) -> Service | None:
    """The service the later steps use as their example: the one just created, else the first by name."""
    chosen = ecosystem.service(preferred) if preferred else None
    if chosen is not None:
        return chosen
    services = sorted(ecosystem.services, key=lambda s: s.name)
    return services[0] if services else None


def _kubectl_flags(env: Environment) -> str:
    cluster = f"--context {env.context}" if env.context else f"--server {env.api_server}"
    return f"{cluster} -n {env.namespace}"


# --- the steps ---------------------------------------------------------------------------------------


def _check(ecosystem: Ecosystem) -> Step:
    rows: list[tuple[str, ...]] = []
    for requirement in REQUIREMENTS:
        rows.append((requirement.name, requirement.group, requirement.needed_for, requirement.install))
        if requirement.name == "kubectl":  # each environment's context right after kubectl, as doctor does
            contexts = map(context_requirement, promotion_order(ecosystem))
            rows += [(c.name, c.group, c.needed_for, c.install) for c in contexts]
    return Step(
        1,
        STEP_TITLES[0],
        (
            Paragraph(
                "Run `scaffold doctor` in this directory. It looks for what working on this ecosystem needs and "
                "prints what it found, its version, what it is needed for and how to get it. It installs nothing."
            ),
            Paragraph(
                "It exits with code 3 when something `required` is missing: that is what creating and running "
                "services on your machine needs. `delivery` tools are needed to deliver to an environment "
                "(`scaffold doctor --delivery` requires them too); `validator`s are optional, `scaffold check` "
                "and the tests use them."
            ),
            Requirements(Table(("what", "group", "needed for", "how to get it"), tuple(rows))),
            *_own_repositories(ecosystem),
        ),
    )


def _own_repositories(ecosystem: Ecosystem) -> tuple[Paragraph, ...]:
    """How to get the services that live in repositories of their own (none: nothing to say)."""
    own = sorted((s for s in ecosystem.services if s.repository is not None), key=lambda s: s.name)
    if not own:
        return ()
    listed = ", ".join(f"{_code(s.name)} ({_code(s.repository or '')} at {_code(s.path)})" for s in own)
    names = " ".join(s.name for s in own)
    return (
        Paragraph(
            f"Some services live in repositories of their own: {listed}. "
            f"`scaffold update {names}` clones those not checked out yet (with your git credentials); "
            "`scaffold list` marks a missing checkout."
        ),
    )


def _architecture(ecosystem: Ecosystem, layout: Layout) -> Step:
    services = sorted(ecosystem.services, key=lambda s: s.name)
    by_kind = {kind: [s for s in services if s.kind == kind] for kind in KINDS}
    count = f"{len(services)} service{'s' if len(services) != 1 else ''}" if services else "no services yet"
    kinds = tuple((kind, *KIND_TEXT[kind], _names(by_kind[kind])) for kind in KINDS)
    places = (
        ("`ecosystem.yaml`", "the single source of truth: environments and services; edit it, then `scaffold sync`"),
        ("`services/<name>/`", "one service: its code, tests, `README.md` and `.copier-answers.yml` (its template)"),
        ("`services/<name>/compose.yaml`", "the service alone with its dependencies: `docker compose up --watch`"),
        ("`services/<name>/Dockerfile`", "target `test` is the test image CI runs, target `runtime` what is delivered"),
        ("`services/<name>/chart/`", "the service's Helm chart, hardened (restricted Pod Security Standard)"),
        ("`compose.yaml`", "derived: the whole ecosystem on your machine, with gateway, tracing, Prometheus"),
        ("`gateway/nginx.conf`", "derived: the API gateway's routes for local development"),
        (_code(f"{layout.chart_dir}/"), "derived: the umbrella Helm chart, a `values-<environment>.yaml` each"),
        ("`monitoring/`", "derived: Prometheus scrape configuration and alert rules (the rollback signals)"),
        (_code(layout.workflow), "derived: the pipeline: build, test, deliver, roll back"),
        ("`docs/`", "derived: `ecosystem.md` (services and diagram) and this guide"),
    )
    environments = tuple(
        (env.name, env.namespace, env.context or env.api_server or "—", env.secret)
        for env in promotion_order(ecosystem)
    )
    return Step(
        2,
        STEP_TITLES[1],
        (
            Paragraph(
                f"**{ecosystem.name}**: {ecosystem.description}. It has {count}. Every service is a black box in "
                "a container: `docker compose up` starts it with its dependencies, its tests run inside its own "
                "image, and this meta-project wires the services together and delivers them to Kubernetes."
            ),
            Paragraph(
                "Requests come in through the gateway; services send traces to the OpenTelemetry collector "
                "(shown in Jaeger) and Prometheus scrapes their metrics; backends publish events that RabbitMQ "
                "routes to the workers whose topic patterns match:"
            ),
            Diagram(graph.build(ecosystem)),
            Paragraph("What each kind of service brings:"),
            Table(("kind", "what it is", "reached at", "uses", "here"), kinds),
            Paragraph("Where things live:"),
            Table(("path", "what it is"), places),
            Paragraph(
                "What is marked derived is generated from `ecosystem.yaml`: never edit it by hand (scaffold "
                "stops and names a derived file that was changed). The environments, delivered in this order:"
            ),
            Table(("environment", "namespace", "cluster", "secret"), environments),
        ),
    )


def available_kinds(ecosystem: Ecosystem, templates: Sequence[Kind]) -> list[Kind]:
    """Kinds a first service can be made of here: a template exists, and a frontend needs a free '/'."""
    kinds = [k for k in KINDS if k in templates]
    has_backend = any(s.kind == "backend" for s in ecosystem.services)
    root_taken = any(s.route == "/" for s in ecosystem.services)
    return [k for k in kinds if k != "frontend" or (has_backend and not root_taken)]


def _create(ecosystem: Ecosystem) -> Step:
    return Step(
        3,
        STEP_TITLES[2],
        (
            Paragraph(
                "`scaffold new KIND NAME` renders a service from its template into `services/NAME/` and wires it "
                "in: it adds the service to `ecosystem.yaml` and re-derives the root `compose.yaml`, the gateway, "
                "the umbrella chart, monitoring, the pipeline and the docs, all or nothing. It asks for what you "
                "did not give (`--defaults` accepts the defaults) and `--dry-run` shows what it would write."
            ),
            Commands(
                (
                    "scaffold new backend NAME --dry-run  # what would be written",
                    "scaffold new backend NAME  # a backend; also: worker, frontend",
                    "scaffold list  # the services, their port, route and template",
                )
            ),
            Paragraph(
                "Names are lowercase DNS labels (letters, digits, `-`, at most 30 characters): they name "
                "containers, charts and Kubernetes objects. Commit the result: `git add -A && git commit`."
            ),
        ),
    )


def _run_block(service: Service | None) -> tuple[str, ...]:
    name = service.name if service else PLACEHOLDER
    path = service.path if service else f"services/{PLACEHOLDER}"
    port = str(service.port) if service else "PORT"
    lines = [f"cd {path}", "docker compose up --watch  # the service and its dependencies, live reload"]
    kind = service.kind if service else "backend"
    if kind == "backend":
        lines.append(f"curl http://127.0.0.1:{port}/readyz  # in another terminal")
    elif kind == "frontend":
        lines.append(f"# open http://127.0.0.1:{port}/ in a browser")
    else:
        lines.append(f"docker compose logs -f {name}  # in another terminal: the messages it handles")
    return tuple(lines)


def _run(ecosystem: Ecosystem, layout: Layout, service: Service | None) -> Step:
    name = service.name if service else PLACEHOLDER
    path = service.path if service else f"services/{PLACEHOLDER}"
    subject = f"`{name}` ({service.kind})" if service else "a service (replace NAME with its name)"
    route = graph.route_label(service) if service else f"/api/{PLACEHOLDER}/"
    through_gateway = f"{layout.gateway_url}{route}" if route else None
    whole = [
        "cp .env.example .env  # optional: local-only settings, git-ignored",
        "docker compose up --build  # every service and the shared infrastructure",
    ]
    return Step(
        4,
        STEP_TITLES[3],
        (
            Paragraph(f"Run {subject} on its own, from its directory:"),
            Commands(_run_block(service)),
            Paragraph("Or the whole ecosystem, from the root of the meta-project:"),
            Commands(tuple(whole)),
            Paragraph(
                f"It is then reached through the gateway at {through_gateway}."
                if through_gateway
                else "Workers are not routed: they consume events from RabbitMQ."
            ),
            Paragraph(
                "Build its images and run its tests in its test image, with the dependencies of its compose "
                "file's test profile (Docker or Podman; the outdated-dependency and audit checks report without "
                "failing, as in the pipeline; `--strict` makes them fail):"
            ),
            Commands((f"scaffold build {name}", f"scaffold test {name}")),
            Paragraph(
                f"`{path}/README.md` shows how to run the same checks without Docker, and what each of them does."
            ),
            Paragraph("See what it does:"),
            Bullets(
                (
                    f"**Logs**: `docker compose logs -f {name}`: one JSON object per line, with the `trace_id` and "
                    "`span_id` of the request being handled.",
                    f"**Traces**: Jaeger at {layout.jaeger_url} (whole ecosystem): pick the service `{name}`; a "
                    "trace follows a request through the gateway, the backends and into the workers.",
                    f"**Metrics**: Prometheus at {layout.prometheus_url} (whole ecosystem), e.g. the query "
                    f'`up{{service="{name}"}}`; each service serves its own on port {METRICS_PORT}, `/metrics`.',
                )
            ),
        ),
    )


def _deliver(ecosystem: Ecosystem, layout: Layout, service: Service | None) -> Step:
    name = service.name if service else PLACEHOLDER
    versions = tuple(
        (s.name, s.template.source, s.template.version) for s in sorted(ecosystem.services, key=lambda s: s.name)
    )
    order = promotion_order(ecosystem)
    envs = " → ".join(e.name for e in order) or "no environment yet"
    blocks: list[Block] = [
        Paragraph(
            "**Template updates.** Each service remembers the template and version it was made from "
            "(`template:` in `ecosystem.yaml`, `.copier-answers.yml` in the service). When the platform team "
            "releases a new template version, an update merges it into the service three ways: your edits are "
            "kept, the template's changes applied, and lines both changed are marked as conflicts and reported."
        ),
        Commands(
            (
                "scaffold list  # each service's template version",
                f"scaffold update {name} --dry-run  # what an update would change",
                f"scaffold update {name}  # or: scaffold update --all",
            )
        ),
    ]
    if versions:
        blocks.append(Table(("service", "template", "version"), versions))
    blocks += [
        Paragraph(
            f"**Delivery.** A pull request runs `{layout.workflow}`: `scaffold check`, and a build and test of "
            "the images of the services it changes. Merging goes through GitHub's merge queue, which runs "
            "the same workflow on your change merged onto the latest `main`: the changed services' images are "
            "built once, tested, pushed by digest and delivered to the first environment with `scaffold "
            "deploy` (pre-flight, rollout, smoke tests, rollback on failure); only when that passed is the "
            f"change merged. After the merge the same images are promoted ({envs}), each environment after "
            "its approval. A rollback alert, or `scaffold rollback ENV`, returns an environment to its last "
            "good release (docs/delivery.md of scaffold explains each step)."
        ),
        Paragraph(
            f"Per-environment settings go into `environments.<env>.values` of `ecosystem.yaml` (then `scaffold "
            f"sync`), which become `{layout.chart_dir}/values-<env>.yaml`; secrets stay in each environment's "
            "Secret object and are never written to the repository."
        ),
    ]
    if order:
        first = order[0]
        blocks += [
            Paragraph(f"Look at a delivery, here in `{first.name}`:"),
            Commands(
                (
                    f"scaffold status {first.name}  # its revisions, images and readiness",
                    f"kubectl {_kubectl_flags(first)} get pods",
                    f"scaffold rollback {first.name}  # back to the last good release, smoke tested",
                )
            ),
        ]
    return Step(5, STEP_TITLES[4], tuple(blocks))


def steps(ecosystem: Ecosystem, layout: Layout, focus: str | None = None) -> tuple[Step, ...]:
    service = focus_service(ecosystem, focus)
    return (
        _check(ecosystem),
        _architecture(ecosystem, layout),
        _create(ecosystem),
        _run(ecosystem, layout, service),
        _deliver(ecosystem, layout, service),
    )


# --- rendering -----------------------------------------------------------------------------------------

Style = Literal["document", "terminal"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def block_markdown(block: Block, style: Style) -> list[str]:
    """A block as markdown lines; for a terminal, the diagram is an outline (no mermaid renderer there)
    and the requirements give way to the doctor's findings on this machine, shown after the step."""
    match block:
        case Paragraph():
            return [block.text]
        case Bullets():
            return [f"- {item}" for item in block.items]
        case Commands():
            return ["```sh", *block.lines, "```"]
        case Requirements():
            if style == "terminal":
                return ["`scaffold doctor` finds on this machine:"]
            return block_markdown(block.table, style)
        case Table():
            return [
                "| " + " | ".join(block.header) + " |",
                "|" + "---|" * len(block.header),
                *("| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows),
            ]
        case Diagram():
            if style == "document":
                return ["```mermaid", *graph.mermaid(block.graph).splitlines(), "```"]
            return ["```text", *graph.outline(block.graph), "```"]


def step_markdown(step: Step, *, style: Style = "document") -> str:
    """One step as markdown, with its `## N. Title` heading."""
    parts = [f"## {step.number}. {step.title}"]
    for block in step.blocks:
        parts += ["", *block_markdown(block, style)]
    return "\n".join(parts) + "\n"


def document(ecosystem: Ecosystem, layout: Layout, header: str) -> str:
    """The meta-project's docs/onboarding.md."""
    parts = [
        header.rstrip("\n"),
        f"# Onboarding: the {ecosystem.name} ecosystem",
        "",
        f"From a fresh clone to a running service of your own, in {LAST_STEP} steps. `scaffold onboard` walks "
        "you through the same steps interactively, remembers where you stopped (`scaffold onboard` again "
        "continues there), and runs each of them for you (`scaffold onboard --step N` runs one).",
        "",
        *(f"{step.number}. [{step.title}](#{_anchor(step)})" for step in steps(ecosystem, layout)),
    ]
    for step in steps(ecosystem, layout):
        parts += ["", step_markdown(step).rstrip("\n")]
    return "\n".join(parts) + "\n"


def _anchor(step: Step) -> str:
    """GitHub's anchor of a `## N. Title` heading."""
    text = f"{step.number}. {step.title}".lower()
    return "".join(c for c in text if c.isalnum() or c in " -").replace(" ", "-")
