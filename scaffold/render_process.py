"""A second process that renders the template, started before the command needs it.

Importing copier takes about 0.3 s of CPU (its questionnaire stack, pydantic models, plumbum),
half of what `scaffold new` spends, and the command itself spends as much before it renders
anything (reading ecosystem.yaml, asking, validating, deriving the wiring). On a machine with
more than one core both can happen at once: `start()` forks a child as the command begins; the
child imports copier and waits; the first `templates.render` of the command hands its arguments
to the child, which renders (while the command goes on: `scaffold new` derives the wiring meanwhile)
and answers with nothing or the error it met. The child writes only
where the command told it to (the staging directory); it dies with the command (as the update
workers do), and a command that never renders kills it on exit.

Where fork is not available (not Linux) or only one CPU is usable, nothing is started and
rendering happens in the command's own process, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, Final

from scaffold.errors import ScaffoldError

_STARTED: list[RenderProcess] = []
# What `scaffold new` and the render both import (the render for copier; the command for its
# answers, ecosystem.yaml and results), measured with `-X importtime` in both processes: imported
# before the fork, once, instead of once in each (about 40 ms of CPU). The child is ready no later,
# the command imports them anyway.
SHARED_MODULES: Final = ("jinja2", "yaml", "packaging.version", "http.client", "scaffold.templates")


class RenderProcess:
    """A forked child that imports copier, then runs one render sent to it."""

    def __init__(self) -> None:
        requests_in, self._requests = os.pipe()
        self._replies, replies_out = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the command
            try:
                os.close(self._requests)
                os.close(self._replies)
                _serve(requests_in, replies_out)
            finally:
                os._exit(0)
        os.close(requests_in)
        os.close(replies_out)
        self.pid: int | None = pid

    def send(self, work: Callable[..., None], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Have the child start `work(*args, **kwargs)`; `wait` gives its outcome. Until then the
        command goes on with its own work (the two overlap)."""
        try:
            _write_all(self._requests, pickle.dumps((work, args, kwargs)))
            os.close(self._requests)
        except OSError:
            self.close()
            raise

    def wait(self) -> None:
        """The outcome of the work sent: nothing, or its ScaffoldError raised here."""
        try:
            reply = _read_all(self._replies)
        finally:
            self.close()
        if not reply:
            raise ScaffoldError(
                "The process rendering the template stopped before it finished; nothing was changed.",
                "Run the command again; set SCAFFOLD_DEBUG=1 to see more.",
            )
        kind, value = pickle.loads(reply)
        if kind == "error":
            raise value
        if kind == "crash":
            raise RuntimeError(f"rendering failed in its process:\n{value}")

    def close(self) -> None:
        """Stop the child (if it still runs) and collect it."""
        if self.pid is None:
            return
        for fd in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)
        self.pid = None


def _serve(requests: int, replies: int) -> None:
    from scaffold.project import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the command reports it, the child just goes
    die_with_parent()
    try:
        from scaffold import copier_prompts, templates  # noqa: F401 - templates: what the render needs besides

        copier_prompts.import_copier()  # the reason this process exists; copier never asks here
    except ImportError:
        pass  # the render below meets the same error and reports it
    request = _read_all(requests)
    if not request:
        return
    try:
        work, args, kwargs = pickle.loads(request)
        work(*args, **kwargs)
        reply: tuple[str, Any] = ("done", None)
    except ScaffoldError as err:
        reply = ("error", err)
    except BaseException:  # noqa: BLE001 - a bug: its traceback goes to the command
        reply = ("crash", traceback.format_exc())
    _write_all(replies, pickle.dumps(reply))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def start() -> None:
    """Start the child for this command's first render, when it can help."""
    if _STARTED or sys.platform != "linux" or os.environ.get("SCAFFOLD_RENDER_INLINE"):
        return
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return
        for name in SHARED_MODULES:
            importlib.import_module(name)
        _STARTED.append(RenderProcess())
    except OSError:
        return
    atexit.register(_close_all)


def take() -> RenderProcess | None:
    """The started child, once (the first render uses it; later ones render in this process)."""
    while _STARTED:
        process = _STARTED.pop()
        if process.pid is not None:
            return process
    return None


def _close_all() -> None:
    while _STARTED:
        _STARTED.pop().close()
