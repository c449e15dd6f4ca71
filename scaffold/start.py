"""The command's entry point: Ctrl-C or SIGTERM while the CLI is still starting (importing typer) ends
it with one error line, a hint and exit code 130 / 143 instead of a traceback; nothing has been
read or written yet. cli.run takes the signals over before it runs a command."""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import NoReturn


def _stopped_while_starting(signum: int, frame: FrameType | None) -> None:
    word, code = ("interrupted (Ctrl-C)", 130) if signum == signal.SIGINT else ("terminated (SIGTERM)", 143)
    os.write(2, f"error: {word} while starting; nothing was changed.\nhint: Run the command again.\n".encode())
    os._exit(code)


def main() -> NoReturn:
    signal.signal(signal.SIGINT, _stopped_while_starting)
    signal.signal(signal.SIGTERM, _stopped_while_starting)
    from scaffold.cli import run

    run()
