"""The command line: parses arguments, calls a command, hands its result to scaffold.output.

Only typer is imported at start-up; every command imports what it needs (copier, ruamel.yaml,
questionary) when it runs, so `scaffold --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from scaffold import __version__

if TYPE_CHECKING:
    from scaffold.prompts import Asker

T = TypeVar("T")

app = typer.Typer(
    name="scaffold",
    help=(
        "Create, run, test, deliver and update the services of a Docker + Kubernetes ecosystem.\n\n"
        "Each command below shows an example; `scaffold COMMAND --help` tells more.\n\n"
        "Exit codes: 0 ok, 1 failure (rolled back), 2 bad input, 3 not found, 4 conflict, 130 interrupted."
    ),
    rich_markup_mode=None,  # plain help: rich would cost a tenth of a second at every start
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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


def _run(command: Callable[[], T]) -> T:
    """Run a command; turn every error into one message with a hint and an exit code."""
    from scaffold.errors import ExitCode, ScaffoldError
    from scaffold.output import error

    try:
        return command()
    except ScaffoldError as err:
        error(err)
        raise typer.Exit(int(err.exit_code)) from None
    except KeyboardInterrupt:
        print("error: interrupted; nothing was changed.", file=sys.stderr)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception as err:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("SCAFFOLD_DEBUG"):
            traceback.print_exc()
        error(
            ScaffoldError(
                f"unexpected failure ({type(err).__name__}: {err}); nothing was changed.",
                "Run again with SCAFFOLD_DEBUG=1 for the details and report it.",
            )
        )
        raise typer.Exit(int(ExitCode.FAILURE)) from None


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
) -> None:
    """Create a meta-project. Example: scaffold init shop --defaults"""
    from scaffold.commands.init import init as run
    from scaffold.output import show

    result = _run(
        lambda: run(_start(directory), name, data=data or [], defaults=defaults, dry_run=dry_run, asker=_asker())
    )
    show(result, as_json=as_json)


@app.command(short_help="Render a service and wire it in: scaffold new backend orders")
def new(
    kind: Annotated[str, typer.Argument(help="What to create: backend.")],
    name: Annotated[str, typer.Argument(help="Service name: lowercase letters, digits, '-'.")],
    directory: Directory = None,
    data: Data = None,
    defaults: Defaults = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Render a service and wire it in. Example: scaffold new backend orders --defaults"""
    from scaffold.commands.new import new_service
    from scaffold.output import show

    result = _run(
        lambda: new_service(
            _start(directory), kind, name, data=data or [], defaults=defaults, dry_run=dry_run, asker=_asker()
        )
    )
    show(result, as_json=as_json)


@app.command("list", short_help="Show the services: scaffold list --json")
def list_(directory: Directory = None, as_json: Json = False) -> None:
    """Show the services. Example: scaffold list --json"""
    from scaffold.commands.list_services import list_services
    from scaffold.output import show

    show(_run(lambda: list_services(_start(directory))), as_json=as_json)


@app.command(short_help="Unwire a service: scaffold remove orders [--delete-code]")
def remove(
    name: Annotated[str, typer.Argument(help="The service to unwire.")],
    directory: Directory = None,
    delete_code: Annotated[bool, typer.Option("--delete-code", help="Also delete the service's directory.")] = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Unwire a service; its code stays unless --delete-code. Example: scaffold remove orders"""
    from scaffold.commands.remove import remove_service
    from scaffold.output import show

    result = _run(lambda: remove_service(_start(directory), name, delete_code=delete_code, dry_run=dry_run))
    show(result, as_json=as_json)


@app.command(short_help="Re-derive the wiring from ecosystem.yaml: scaffold sync --dry-run")
def sync(directory: Directory = None, dry_run: DryRun = False, as_json: Json = False) -> None:
    """Re-derive compose, chart, routes, monitoring, pipeline and docs. Example: scaffold sync --dry-run"""
    from scaffold.commands.sync import sync as run
    from scaffold.output import show

    show(_run(lambda: run(_start(directory), dry_run=dry_run)), as_json=as_json)


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


def run() -> NoReturn:
    sys.exit(app())
