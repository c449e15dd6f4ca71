"""The command line: parses arguments, calls a command, hands its result to scaffold.output.

Only typer is imported at start-up; every command imports what it needs (copier, ruamel.yaml,
questionary) when it runs, so `scaffold --help` stays fast.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from scaffold import __version__
from scaffold.model import KINDS

if TYPE_CHECKING:
    from scaffold.errors import ScaffoldError
    from scaffold.prompts import Asker

T = TypeVar("T")

app = typer.Typer(
    name="scaffold",
    help=(
        "Create, run, test, deliver and update the services of a Docker + Kubernetes ecosystem.\n\n"
        "Each command below shows an example; `scaffold COMMAND --help` tells more.\n\n"
        "Exit codes: 0 ok, 1 failure (rolled back), 2 bad input, 3 not found, 4 conflict, 5 check found errors,\n"
        "6 update left conflicts, 7 update failed for a service, 8 outdated, 9 build failed, 10 tests failed,\n"
        "11 delivery failed (rolled back), 130 interrupted, 143 terminated."
    ),
    rich_markup_mode=None,  # plain help: rich would cost a tenth of a second at every start
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=True,  # --install-completion: one command to set up completion for your shell
    context_settings={"help_option_names": ["-h", "--help"]},
)

_KINDS = ", ".join(KINDS)


def _complete_kinds(incomplete: str) -> list[str]:
    """Shell completion of a kind (`scaffold --install-completion` sets completion up)."""
    return [kind for kind in KINDS if kind.startswith(incomplete)]


def _complete_services(incomplete: str) -> list[str]:
    """Shell completion of a service name: the services of the meta-project the shell is in."""
    try:
        from scaffold import ecosystem_file
        from scaffold.project import find_root

        services = ecosystem_file.load(find_root(Path.cwd())).model.services
    except Exception:  # noqa: BLE001 - outside a meta-project, or a broken one: nothing to offer
        return []
    return [s.name for s in services if s.name.startswith(incomplete)]


Directory = Annotated[
    Path | None,
    typer.Option("-C", "--directory", help="Run as if started in this directory.", show_default=False),
]
Data = Annotated[
    list[str] | None,
    typer.Option("--data", "-d", help="Answer a template question: key=value (repeatable).", show_default=False),
]
Defaults = Annotated[bool, typer.Option("--defaults", help="Accept the default of every value not given.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Trust = Annotated[
    bool,
    typer.Option("--trust", help="Allow a template from outside scaffold to run its tasks and migrations."),
]


def _run(command: Callable[[], T]) -> T:
    """Run a command; turn every error into one message with a hint and an exit code."""
    from scaffold.errors import ExitCode, ScaffoldError, Terminated
    from scaffold.output import error

    try:
        return command()
    except ScaffoldError as err:
        error(err)
        _EXPLAINED.append(int(err.exit_code))
        raise typer.Exit(int(err.exit_code)) from None
    except KeyboardInterrupt:  # typer would turn it into a silent exit 130
        raise typer.Exit(_stopped(int(ExitCode.INTERRUPTED), "interrupted (Ctrl-C)")) from None
    except Terminated:
        raise typer.Exit(_stopped(int(ExitCode.TERMINATED), "terminated (SIGTERM)")) from None
    except OSError as err:
        known = _environment_error(err)
        if known is None:
            raise _unexpected(err) from None
        error(known)
        raise typer.Exit(int(known.exit_code)) from None
    except Exception as err:  # noqa: BLE001 - the last line of defence: never a traceback
        raise _unexpected(err) from None


def _unexpected(err: Exception) -> typer.Exit:
    from scaffold.errors import ExitCode, ScaffoldError
    from scaffold.output import error

    if os.environ.get("SCAFFOLD_DEBUG"):
        traceback.print_exception(err)
    error(
        ScaffoldError(
            f"unexpected failure ({type(err).__name__}: {' '.join(str(err).split())}); nothing was changed.",
            "Run again with SCAFFOLD_DEBUG=1 for the details and report it.",
        )
    )
    return typer.Exit(int(ExitCode.FAILURE))


def _environment_error(err: OSError) -> ScaffoldError | None:
    """A full disk, a read-only file system or a directory nobody may write to: the machine, not scaffold."""
    import errno

    from scaffold.errors import UsageError

    where = f" ({err.filename})" if err.filename else ""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return UsageError(
            f"No space left on the device{where}; nothing was changed.",
            "Free some space (or raise the quota), then run the command again.",
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        from scaffold.template_repo import cache_dir

        in_cache = str(err.filename or "").startswith(str(cache_dir().parent))
        return UsageError(
            f"Cannot write{where}: {err.strerror or 'permission denied'}; nothing was changed.",
            "scaffold keeps template checkouts in $XDG_CACHE_HOME/scaffold: point XDG_CACHE_HOME at a writable "
            "directory, or fix its permissions."
            if in_cache
            else "Run the command as a user who may write there, or fix its permissions.",
        )
    return None


def _fail(err: ScaffoldError) -> NoReturn:
    """A command that reported its result and failed a gate: the error line, then its exit code."""
    from scaffold.output import error

    error(err)
    raise typer.Exit(int(err.exit_code))


def _start(directory: Path | None) -> Path:
    return directory if directory is not None else Path.cwd()


def _asker() -> Asker | None:
    from scaffold.prompts import terminal_asker

    return terminal_asker()


@app.command(short_help="Create a meta-project: scaffold init shop")
def init(
    name: Annotated[str, typer.Argument(help="Name of the ecosystem; the directory ./NAME is created.")],
    directory: Directory = None,
    data: Data = None,
    defaults: Defaults = False,
    dry_run: DryRun = False,
    as_json: Json = False,
    templates: Annotated[
        str | None,
        typer.Option(
            "--templates",
            help="Use these templates instead of the built-in ones: a git repository (URL or path) with version tags.",
            show_default=False,
        ),
    ] = None,
    trust: Trust = False,
) -> None:
    """Create a meta-project. Example: scaffold init shop --defaults"""
    from scaffold.commands.init import init as run
    from scaffold.output import show

    result = _run(
        lambda: run(
            _start(directory),
            name,
            data=data or [],
            defaults=defaults,
            dry_run=dry_run,
            asker=_asker(),
            templates=templates,
            trust=trust,
        )
    )
    show(result, as_json=as_json)


@app.command(short_help="Render a service and wire it in: scaffold new backend orders")
def new(
    kind: Annotated[
        str, typer.Argument(help=f"What to create: {_KINDS}.", show_default=False, autocompletion=_complete_kinds)
    ],
    name: Annotated[str, typer.Argument(help="Service name: lowercase letters, digits, '-'.")],
    directory: Directory = None,
    data: Data = None,
    defaults: Defaults = False,
    dry_run: DryRun = False,
    as_json: Json = False,
    trust: Trust = False,
) -> None:
    """Render a service and wire it in. Example: scaffold new backend orders --defaults"""
    from scaffold import render_process

    render_process.start()  # imports copier in a second process while the command reads and asks
    from scaffold.commands.new import new_service
    from scaffold.output import show

    result = _run(
        lambda: new_service(
            _start(directory),
            kind,
            name,
            data=data or [],
            defaults=defaults,
            dry_run=dry_run,
            asker=_asker(),
            trust=trust,
        )
    )
    show(result, as_json=as_json)


@app.command("list", short_help="Show the services: scaffold list --json")
def list_(
    directory: Directory = None,
    outdated: Annotated[
        bool,
        typer.Option("--outdated", help="Only what is behind its template; exit code 8 when anything is (a CI gate)."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Show the services, their template version and whether a newer one exists.
    Example: scaffold list --outdated (exit code 8 when a service is behind its template)"""
    from scaffold.commands.list_services import list_services
    from scaffold.output import show

    result = _run(lambda: list_services(_start(directory), outdated=outdated))
    show(result, as_json=as_json)
    if outdated:
        from scaffold.commands.list_services import gate

        failure = gate(result)
        if failure is not None:
            _fail(failure)


@app.command(short_help="Unwire a service: scaffold remove orders [--delete-code]")
def remove(
    name: Annotated[str, typer.Argument(help="The service to unwire.", autocompletion=_complete_services)],
    directory: Directory = None,
    delete_code: Annotated[bool, typer.Option("--delete-code", help="Also delete the service's directory.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="With --delete-code: delete even uncommitted or unpushed work."),
    ] = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Unwire a service; its code stays unless --delete-code. Example: scaffold remove orders"""
    from scaffold.commands.remove import remove_service
    from scaffold.output import show

    result = _run(
        lambda: remove_service(_start(directory), name, delete_code=delete_code, dry_run=dry_run, force=force)
    )
    show(result, as_json=as_json)


@app.command(short_help="Re-derive the wiring from ecosystem.yaml: scaffold sync --dry-run")
def sync(directory: Directory = None, dry_run: DryRun = False, as_json: Json = False) -> None:
    """Re-derive compose, chart, routes, monitoring, pipeline and docs. Example: scaffold sync --dry-run"""
    from scaffold.commands.sync import sync as run
    from scaffold.output import show

    show(_run(lambda: run(_start(directory), dry_run=dry_run)), as_json=as_json)


@app.command(short_help="Walk a newcomer through the ecosystem: scaffold onboard")
def onboard(
    directory: Directory = None,
    step: Annotated[int | None, typer.Option("--step", help="Run this step (1-5) only.", show_default=False)] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Kind of the first service (step 3).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the first service (step 3).")] = None,
    data: Data = None,
    defaults: Defaults = False,
    restart: Annotated[bool, typer.Option("--restart", help="Forget the steps done; start at step 1.")] = False,
    as_json: Json = False,
) -> None:
    """Check, explain, create, run, deliver: five steps, resumable. Example: scaffold onboard --defaults"""
    from scaffold.commands.onboard import onboard as run
    from scaffold.onboarding_terminal import terminal_guide
    from scaffold.output import show

    guide = None if as_json else terminal_guide()
    result = _run(
        lambda: run(
            _start(directory),
            step=step,
            defaults=defaults,
            restart=restart,
            kind=kind,
            name=name,
            data=data or [],
            guide=guide,
        )
    )
    show(result, as_json=as_json)


@app.command(short_help="Check this machine's tools: scaffold doctor")
def doctor(
    directory: Directory = None,
    delivery: Annotated[
        bool, typer.Option("--delivery", help="Also require Helm, kubectl and each environment's context.")
    ] = False,
    as_json: Json = False,
) -> None:
    """What is installed, its version, what it is for and how to get it; installs nothing.
    Exit code 3 when something required is missing. Example: scaffold doctor --delivery"""
    from scaffold.commands.doctor import doctor as run
    from scaffold.errors import ExitCode
    from scaffold.output import show

    result = _run(lambda: run(_start(directory), delivery=delivery))
    show(result, as_json=as_json)
    if result.missing:
        raise typer.Exit(int(ExitCode.NOT_FOUND))


@app.command(short_help="Draw the ecosystem: scaffold graph --format dot")
def graph(
    directory: Directory = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="mermaid (default), dot or svg (needs graphviz).")
    ] = "mermaid",
    as_json: Json = False,
) -> None:
    """Services by kind, routes, infrastructure, queues. Example: scaffold graph --format svg > ecosystem.svg"""
    from scaffold.commands.graph import render
    from scaffold.output import show

    show(_run(lambda: render(_start(directory), format=output_format)), as_json=as_json)


@app.command(short_help="Validate everything generated with real validators: scaffold check [NAME...]")
def check(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Services to check (default: the whole ecosystem).",
            show_default=False,
            autocompletion=_complete_services,
        ),
    ] = None,
    directory: Directory = None,
    no_checkov: Annotated[bool, typer.Option("--no-checkov", help="Leave checkov out even when installed.")] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Checks run at once (default: CPUs).", show_default=False)
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every check; read and keep nothing in scaffold's cache.")
    ] = False,
    clear_cache: Annotated[
        bool, typer.Option("--clear-cache", help="Empty scaffold's cache of check results first, then check.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Validate the ecosystem as it stands: ecosystem.yaml, derived files, every service's compose file,
    chart, Dockerfile and answers file. A check whose inputs did not change since the last run gives
    its remembered findings (see docs/check.md). Example: scaffold check orders --json"""
    from scaffold.commands.check import check as run
    from scaffold.errors import ExitCode
    from scaffold.output import error, show

    progress = _progress("checking", as_json)
    result = _run(
        lambda: run(
            _start(directory),
            names or [],
            checkov=not no_checkov,
            jobs=jobs,
            progress=progress,
            cache=not no_cache,
            clear_cache=clear_cache,
        )
    )
    show(result, as_json=as_json)
    if not result.ok:
        from scaffold.checks.report import failure

        error(failure(result))
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


@app.command(short_help="Pull template updates into services: scaffold update --all --dry-run")
def update(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Services to update (the ecosystem's own name: the meta-project).",
            show_default=False,
            autocompletion=_complete_services,
        ),
    ] = None,
    all_targets: Annotated[bool, typer.Option("--all", help="Every service and the meta-project.")] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Template version to move to (default: the newest).", show_default=False)
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show per service the diff and the conflicts; write nothing.")
    ] = False,
    conflict: Annotated[
        str, typer.Option("--conflict", help="inline: conflict markers in the file; rej: a .rej file next to it.")
    ] = "inline",
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Services planned at once (default: CPUs).", show_default=False)
    ] = None,
    data: Data = None,
    trust: Trust = False,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Three-way merge of a newer template version into services: your edits are kept, conflicts are
    marked and reported. Exit code 0 all updated or current, 6 conflicts, 7 a service failed or had
    uncommitted changes. Example: scaffold update --all --dry-run"""
    from scaffold.commands.update import update as run
    from scaffold.output import show

    progress = _progress("updating", as_json, estimate=True)
    result = _run(
        lambda: run(
            _start(directory),
            names or [],
            all_targets=all_targets,
            to=to,
            dry_run=dry_run,
            conflict=conflict,
            jobs=jobs,
            data=data or [],
            trust=trust,
            progress=progress,
        )
    )
    show(result, as_json=as_json)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command(short_help="Bring an existing service under the templates: scaffold adopt services/x --kind backend")
def adopt(
    path: Annotated[str, typer.Argument(help="The service's directory, inside the meta-project.")],
    kind: Annotated[
        str, typer.Option("--kind", help=f"What it is: {_KINDS}.", show_default=False, autocompletion=_complete_kinds)
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Its name (default: from its answers, else the directory's).")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="The template version it is taken to be made from.", show_default=False),
    ] = None,
    data: Data = None,
    dry_run: DryRun = False,
    trust: Trust = False,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Record a service's answers and base template version and wire it in (as `cruft link`), so the next
    `scaffold update` is a three-way merge that keeps its edits. Reads a plain `copier copy`'s answers file or
    a cruft-managed Cookiecutter service's .cruft.json; a hand-written service gets the defaults.
    Example: scaffold adopt services/payments --kind backend"""
    from scaffold.commands.adopt import adopt as run
    from scaffold.output import show

    start = _start(directory)
    result = _run(
        lambda: run(start, path, kind, name=name, data=data or [], version=version, dry_run=dry_run, trust=trust)
    )
    show(result, as_json=as_json)


@app.command(short_help="A service's own changes against its template: scaffold diff orders")
def diff(
    name: Annotated[str, typer.Argument(help="The service.", autocompletion=_complete_services)],
    trust: Trust = False,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """The service's own changes against the template version it is on (as `cruft diff`): a unified diff,
    template -> service, and each file added, modified or deleted. Example: scaffold diff orders"""
    from scaffold.commands.diff import diff as run
    from scaffold.output import show

    show(_run(lambda: run(_start(directory), name, trust=trust)), as_json=as_json)


@app.command(
    "propose-updates", short_help="Template updates as one pull request per repository: scaffold propose-updates"
)
def propose_updates(
    branch: Annotated[str, typer.Option("--branch", help="The branch scaffold pushes its proposal to.")] = (
        "scaffold/template-updates"
    ),
    remote: Annotated[str, typer.Option("--remote", help="The remote of the meta-project to push to.")] = "origin",
    no_pull_requests: Annotated[
        bool, typer.Option("--no-pull-requests", help="Push the branches only; open no pull request.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Services planned at once (default: CPUs).", show_default=False)
    ] = None,
    trust: Trust = False,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Run `scaffold update --all`, then push one branch per changed repository (the meta-project and each
    service in its own repository) and open or update its pull request with the report; never pushes to
    the base branch. Needs GITHUB_TOKEN (what the template-update workflow runs). Exit code 0, or 7 when
    a service or a repository failed. Example: scaffold propose-updates --no-pull-requests"""
    from scaffold.commands.propose_updates import propose_updates as run
    from scaffold.output import show

    result = _run(
        lambda: run(
            _start(directory),
            branch=branch,
            remote=remote,
            pull_requests=not no_pull_requests,
            jobs=jobs,
            trust=trust,
            progress=_progress("updating", as_json, estimate=True),
        )
    )
    show(result, as_json=as_json)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _progress(label: str, as_json: bool, *, estimate: bool = False) -> Callable[[int, int, str], None] | None:
    """A progress bar on a terminal; nothing in CI logs or with --json (scaffold.progress)."""
    from scaffold.progress import terminal_progress

    return terminal_progress(label, as_json=as_json, estimate=estimate)


Environment = Annotated[str, typer.Argument(help="The environment: test, staging, production (ecosystem.yaml).")]
Timeout = Annotated[
    int, typer.Option("--timeout", help="Seconds the rollout (or rollback) may take to become ready.", min=30)
]


def _delivery_progress(line: str) -> None:
    """Steps of a delivery as they happen, on standard error (a rollout takes minutes)."""
    print(line, file=sys.stderr, flush=True)


@app.command(short_help="Deliver to an environment: scaffold deploy test --images images.json")
def deploy(
    environment: Environment,
    images: Annotated[
        list[Path] | None,
        typer.Option(
            "--images",
            help="An images file (`scaffold build --push` writes images.json); repeatable, a later file wins.",
            show_default=False,
        ),
    ] = None,
    delivered_images: Annotated[
        Path | None,
        typer.Option(
            "--delivered-images",
            help="Write every image delivered to this file (what a later environment is promoted with).",
            show_default=False,
        ),
    ] = None,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Accept images built from uncommitted changes.")
    ] = False,
    platform: Annotated[
        bool,
        typer.Option(
            "--platform", help="Install the once-per-cluster part instead (cluster and node alerts, rollback relay)."
        ),
    ] = False,
    timeout: Timeout = 600,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Pre-flight (cluster, namespace, Secret, custom APIs), helm upgrade with every image pinned by digest,
    smoke tests (helm test), roll back on failure: the pipeline's steps. Exit code 11 when the delivery
    failed (and was rolled back). Example: scaffold deploy test --images images.json"""
    from scaffold.commands.deploy import DeployOptions
    from scaffold.commands.deploy import deploy as run
    from scaffold.output import show

    options = DeployOptions(
        images=tuple(images or ()),
        delivered_images=delivered_images,
        allow_dirty=allow_dirty,
        timeout=timeout,
        platform=platform,
    )
    show(_run(lambda: run(_start(directory), environment, options, _delivery_progress)), as_json=as_json)


@app.command(short_help="Roll an environment back: scaffold rollback production [--to 7]")
def rollback(
    environment: Environment,
    to: Annotated[
        int | None,
        typer.Option("--to", help="Return to this revision (default: the last good one).", show_default=False),
    ] = None,
    timeout: Timeout = 600,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Return the environment's release to its last good revision, then smoke test it. Does nothing when
    the current revision is already a rollback (unless --to). Example: scaffold rollback production"""
    from scaffold.commands.rollback import rollback as run
    from scaffold.output import show

    show(_run(lambda: run(_start(directory), environment, to, timeout, _delivery_progress)), as_json=as_json)


@app.command(short_help="What runs in an environment: scaffold status production")
def status(environment: Environment, directory: Directory = None, as_json: Json = False) -> None:
    """The release's revisions, each service's image and readiness, the custom APIs the cluster lacks.
    Example: scaffold status production --json"""
    from scaffold.commands.status import status as run
    from scaffold.output import show

    show(_run(lambda: run(_start(directory), environment, _delivery_progress)), as_json=as_json)


@app.command(short_help="Services whose images must be built: scaffold changes --since main")
def changes(
    since: Annotated[str, typer.Option("--since", help="The base commit (or branch) to compare HEAD with.")],
    delivered: Annotated[
        Path | None,
        typer.Option(
            "--delivered",
            help="The images file delivered at the base commit; services without an image there are built too. "
            "A missing file means nothing was delivered: every service is built.",
            show_default=False,
        ),
    ] = None,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """The services whose image must be built for HEAD: changed since --since (files under their path,
    or their pinned commit), new, or without a delivered image. Example: scaffold changes --since main --json"""
    from scaffold.commands.changes import changes as run
    from scaffold.output import show

    show(_run(lambda: run(_start(directory), since, delivered)), as_json=as_json)


Jobs = Annotated[
    int | None, typer.Option("--jobs", "-j", help="Services worked on at once (default: CPUs).", show_default=False)
]


@app.command(short_help="Build every service's test and runtime images: scaffold build [NAME...] [--push]")
def build(
    names: Annotated[
        list[str] | None, typer.Argument(help="Services to build (default: every one).", show_default=False)
    ] = None,
    push: Annotated[
        bool, typer.Option("--push", help="Push the runtime images and record their digests for delivery.")
    ] = False,
    images_file: Annotated[
        Path | None,
        typer.Option(
            "--images-file",
            help="Where --push records the digests (default: images.json at the root).",
            show_default=False,
        ),
    ] = None,
    jobs: Jobs = None,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Build the `test` and `runtime` targets of every service's Dockerfile through the engine's Docker API
    (Docker or Podman), tagged <registry>/<service>:<commit> (-dirty with uncommitted changes), with the
    mirrors of ecosystem.yaml. Exit code 9 when a service failed. Example: scaffold build --push"""
    from scaffold.commands.build import build as run
    from scaffold.output import progress, show

    result = _run(
        lambda: run(
            _start(directory), names or [], push_images=push, images_path=images_file, jobs=jobs, progress=progress
        )
    )
    show(result, as_json=as_json)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command("test", short_help="Run every service's built test image: scaffold test [NAME...] [--strict]")
def test_images(
    names: Annotated[
        list[str] | None, typer.Argument(help="Services to test (default: every one).", show_default=False)
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on a newer dependency release or a known vulnerability (CHECK_STRICT=1)."),
    ] = False,
    jobs: Jobs = None,
    directory: Directory = None,
    as_json: Json = False,
) -> None:
    """Run each service's test image (from `scaffold build`) with the dependencies of its compose file's
    test profile; the test output of a failing service is shown. Exit code 10 when a service failed.
    Example: scaffold test orders"""
    from scaffold.commands.run_tests import run_tests
    from scaffold.output import progress, show

    result = _run(lambda: run_tests(_start(directory), names or [], strict=strict, jobs=jobs, progress=progress))
    show(result, as_json=as_json)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _version(value: bool) -> None:
    if value:
        print(f"scaffold {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    pass


# typer vendors click and exports only BadParameter; its base class is click's UsageError, which
# every mistake on the command line raises (unknown option or command, missing or bad argument).
_ClickUsageError: type[Exception] = typer.BadParameter.__mro__[1]


def _terminate(signum: int, frame: FrameType | None) -> None:
    from scaffold.errors import Terminated

    raise Terminated


_EXPLAINED: list[int] = []  # exit codes whose error this process has printed (typer may exit with one again)


def _stopped(code: int, how: str) -> int:
    from scaffold.errors import ScaffoldError
    from scaffold.output import error

    if not _EXPLAINED:
        error(ScaffoldError(f"{how}; a change in progress was undone.", "Run the command again when ready."))
        _EXPLAINED.append(code)
    return code


def run() -> NoReturn:
    """Run the command line: click's own usage errors get scaffold's `error:` + `hint:` form too, and
    Ctrl-C (130) or SIGTERM (143) one error line: a transaction in progress rolls back as the
    exception passes through it, so the meta-project is as it was before the command or after it."""
    from scaffold.errors import ExitCode, Terminated

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(standalone_mode=False)
    except _ClickUsageError as err:
        sys.exit(_usage_error(err))
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(_stopped(int(ExitCode.INTERRUPTED), "interrupted (Ctrl-C)"))
    except Terminated:
        sys.exit(_stopped(int(ExitCode.TERMINATED), "terminated (SIGTERM)"))
    if code == int(ExitCode.INTERRUPTED):  # typer's own answer to a Ctrl-C outside a command
        code = _stopped(code, "interrupted (Ctrl-C)")
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(err: Exception) -> int:
    from scaffold.errors import ExitCode, UsageError
    from scaffold.output import error

    context = getattr(err, "ctx", None)
    if type(err).__name__ == "NoArgsIsHelpError":  # `scaffold` alone: the help is the answer
        print(str(err), file=sys.stderr)
        return int(ExitCode.USAGE)
    format_message = getattr(err, "format_message", None)
    message = (format_message() if callable(format_message) else str(err)).strip()
    command = context.command_path if context is not None else "scaffold"
    error(UsageError(message if message.endswith((".", "?")) else f"{message}.", f"See `{command} --help`."))
    return int(ExitCode.USAGE)
