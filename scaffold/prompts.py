"""Asking a user for values that were not given on the command line.

Commands describe what they need as `Prompt`s and receive an `Asker`; the CLI passes a
questionary-backed asker when a terminal is attached and None otherwise, so commands stay free
of terminal handling and tests can drive them directly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from scaffold.errors import InterruptedByUser, UsageError


@dataclass(frozen=True)
class Prompt:
    name: str
    message: str
    default: str | int
    check: Callable[[str], str | None] | None = None  # returns an error text, or None when valid


class Asker(Protocol):
    def __call__(self, prompts: Sequence[Prompt]) -> dict[str, object]: ...


def resolve(
    prompts: Sequence[Prompt], given: dict[str, object], *, defaults: bool, asker: Asker | None
) -> dict[str, object]:
    """`given` completed with defaults or with the user's answers for the missing values."""
    missing = [p for p in prompts if p.name not in given]
    if not missing:
        return dict(given)
    if defaults:
        return {**given, **{p.name: p.default for p in missing}}
    if asker is None:
        names = ", ".join(p.name for p in missing)
        raise UsageError(
            f"No terminal to ask for {names}.",
            "Pass --defaults to accept the defaults, or give the values with --data key=value.",
        )
    return {**given, **asker(missing)}


def is_terminal(stream: object) -> bool:
    """Whether a standard stream is a terminal; a closed one (`<&-`: Python makes it None) is not."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):
        return False


def terminal_asker() -> Asker | None:
    """A questionary asker when stdin and stdout are terminals, else None."""
    if not (is_terminal(sys.stdin) and is_terminal(sys.stdout)):
        return None

    def ask(prompts: Sequence[Prompt]) -> dict[str, object]:
        import questionary

        answers: dict[str, object] = {}
        for prompt in prompts:
            check = prompt.check

            def validate(text: str, check: Callable[[str], str | None] | None = check) -> bool | str:
                error = check(text) if check else None
                return error if error else True

            value = questionary.text(prompt.message, default=str(prompt.default), validate=validate).ask()
            if value is None:  # Ctrl-C
                raise InterruptedByUser("Interrupted; nothing was changed.", "Run the command again when ready.")
            answers[prompt.name] = int(value) if isinstance(prompt.default, int) else value
        return answers

    return ask
