"""The onboarding walkthrough in a terminal: rich shows the steps, questionary asks.

Like scaffold.prompts' asker, this is the interactive edge of a command: the command decides what
happens, this module only shows and asks. `terminal_guide()` is None without a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from scaffold.errors import InterruptedByUser
from scaffold.results import StepReport

if TYPE_CHECKING:
    from rich.console import Console


def _answer(value: Any) -> Any:
    if value is None:  # questionary returns None on Ctrl-C
        raise InterruptedByUser(
            "Interrupted; the steps done so far are remembered.", "Run `scaffold onboard` to continue."
        )
    return value


class TerminalGuide:
    def __init__(self, console: Console) -> None:
        self.console = console

    def welcome(self, ecosystem: str, completed: Sequence[int], first: int, notice: str | None = None) -> None:
        from rich.panel import Panel

        if completed:
            done = ", ".join(map(str, completed))
            message = f"Welcome back. Steps done: {done}. Continuing with step {first}."
        else:
            message = (
                "This walkthrough checks your machine, explains the ecosystem, creates a first service with you "
                "and shows how to run, test, watch, update and deliver it. Leave at any time: `scaffold onboard` "
                "continues where you stopped."
            )
        if notice:
            message += f"\n\n{notice}"
        self.console.print(Panel(message, title=f"Welcome to the {ecosystem} ecosystem", expand=False))

    def show_step(self, number: int, total: int, title: str, text: str) -> None:
        from rich.markdown import Markdown
        from rich.rule import Rule

        self.console.print()
        self.console.print(Rule(f"Step {number} of {total}: {title}"))
        body = text.split("\n", 1)[1] if text.startswith("#") else text  # the rule above is the heading
        self.console.print(Markdown(body))

    def show_outcome(self, report: StepReport) -> None:
        from rich.table import Table
        from rich.text import Text

        from scaffold.output import text

        if report.tools:
            table = Table()
            for header in ("check", "status", "version", "needed for", "where / how to get it"):
                table.add_column(header, overflow="fold")  # an install hint must not be cut short
            for f in report.tools:
                status = (
                    ("ok", "green") if f.found else ("MISSING", "bold red") if f.required else ("missing", "yellow")
                )
                table.add_row(f.name, Text(*status), f.version or "-", f.needed_for, f.detail if f.found else f.install)
            self.console.print(table)
            missing = [f.name for f in report.tools if f.required and not f.found]
            if missing:
                self.console.print(
                    Text(f"Missing and required: {', '.join(missing)}. Install as shown; you can go on meanwhile.")
                )
        if report.created:
            self.console.print(Text(text(report.created)), soft_wrap=True)

    def choose(self, message: str, choices: Sequence[str], default: str) -> str:
        import questionary

        return str(_answer(questionary.select(message, choices=list(choices), default=default).ask()))

    def ask(self, message: str, default: str, check: Callable[[str], str | None]) -> str:
        import questionary

        def validate(text: str) -> bool | str:
            return check(text) or True

        return str(_answer(questionary.text(message, default=default, validate=validate).ask()))

    def proceed(self, number: int, title: str) -> bool:
        import questionary

        return bool(_answer(questionary.confirm(f"Go on to step {number}: {title}?", default=True).ask()))


def terminal_guide() -> TerminalGuide | None:
    """A guide when stdin and stdout are terminals, else None."""
    from scaffold.prompts import is_terminal

    if not (is_terminal(sys.stdin) and is_terminal(sys.stdout)):
        return None
    from rich.console import Console

    return TerminalGuide(Console(highlight=False))
