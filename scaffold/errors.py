"""The one error type the CLI turns into a message; everything a user can get wrong raises it.

The message is shown verbatim, on one line, followed by the hint; the exit code says what kind
of problem it was (documented in docs/cli.md).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # an unexpected failure; the change was rolled back
    USAGE = 2  # bad arguments or input values
    NOT_FOUND = 3  # no meta-project, unknown service, unknown template version
    CONFLICT = 4  # a derived file was edited by hand, a target exists, a lock is held
    CHECK_FAILED = 5  # `scaffold check` found an error in what was generated
    UPDATE_CONFLICTS = 6  # `scaffold update`: a target has conflicts to resolve (nothing committed)
    UPDATE_FAILED = 7  # `scaffold update`: a target failed or was refused; the others went on
    OUTDATED = 8  # `scaffold list --outdated`: a service or the meta-project is behind its template
    BUILD_FAILED = 9  # `scaffold build`: a service's image did not build or push; the others went on
    TESTS_FAILED = 10  # `scaffold test`: a service's test image failed or could not run
    DELIVERY_FAILED = 11  # deploy / rollback: the cluster did not answer, or the delivery failed (and was undone)
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class ScaffoldError(Exception):
    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[type[ScaffoldError], tuple[str, str]]:
        """Pickled with its hint, so an error raised in a worker process reaches the command whole."""
        return type(self), (self.message, self.hint)


class UsageError(ScaffoldError):
    exit_code = ExitCode.USAGE


class NotFoundError(ScaffoldError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(ScaffoldError):
    exit_code = ExitCode.CONFLICT


class DeliveryError(ScaffoldError):
    exit_code = ExitCode.DELIVERY_FAILED


class InterruptedByUser(ScaffoldError):
    exit_code = ExitCode.INTERRUPTED


class Terminated(BaseException):
    """SIGTERM arrived (cli.run turns the signal into this): a transaction in progress is undone."""
