"""helm and kubectl against one environment: the exact command lines, run with their output captured.

Every command names its target explicitly (kubeconfig context or API server, namespace), so a
delivery never depends on kubectl's current context. Programs are found on PATH (then in
scaffold's own environment, as `scaffold doctor` finds them); the Helm CLI must be 4.1 or newer:
`helm test --logs` reads the logs of test pods that `hook-succeeded` deletes only from 4.1 on, and
`--rollback-on-failure` (formerly `--atomic`) is 4.x's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from scaffold.errors import NotFoundError
from scaffold.model import Environment
from scaffold.prerequisites import HELM_MIN, helm_version_ok, requirement, which

Progress = Callable[[str], None]

QUICK_TIMEOUT: Final = 60.0  # seconds for a question to the cluster (version, get, history)
TIMEOUT_EXIT: Final = 124  # what `timeout` returns: the command did not finish in time


def quiet(_: str) -> None:
    """No progress lines (--json, tests)."""


@dataclass(frozen=True)
class Outcome:
    """A finished command."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def reason(self) -> str:
        """The command's own last word on a failure: the last line of its error output."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        if not lines:
            return f"{self.command[0].rsplit('/', 1)[-1]} exited with {self.returncode}"
        return lines[-1].removeprefix("Error: ").removeprefix("error: ")


def run(command: Sequence[str], *, timeout: float) -> Outcome:
    try:
        proc = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(tuple(command), TIMEOUT_EXIT, "", f"did not finish within {timeout:.0f} s")
    except OSError as err:
        return Outcome(tuple(command), 127, "", str(err))
    return Outcome(tuple(command), proc.returncode, proc.stdout, proc.stderr)


def _program(name: str) -> str:
    found = which(name)
    if found is None:
        needed = requirement(name)
        raise NotFoundError(f"{name} is not installed; it is needed for {needed.needed_for}.", needed.install)
    return found


@dataclass(frozen=True)
class Cluster:
    """One environment's cluster as helm and kubectl reach it, and the ecosystem's release in it."""

    environment: Environment
    release: str
    helm_binary: str
    kubectl_binary: str

    @classmethod
    def locate(cls, environment: Environment, release: str) -> Cluster:
        """Find helm (>= 4.1) and kubectl; stop with how to get them otherwise."""
        helm = _program("helm")
        version = run([helm, "version", "--short"], timeout=QUICK_TIMEOUT)
        if not version.ok:
            raise NotFoundError(
                f"{helm} does not answer `helm version`: {version.reason}.", requirement("helm").install
            )
        ok, found = helm_version_ok(version.stdout)
        if not ok:
            minimum = ".".join(map(str, HELM_MIN))
            raise NotFoundError(
                f"Helm {found} is older than {minimum}: `helm test --logs` loses the logs of passing test pods "
                "and --rollback-on-failure does not exist before it.",
                f"Install Helm {minimum} or newer: {requirement('helm').install}",
            )
        return cls(environment, release, helm, _program("kubectl"))

    @property
    def where(self) -> str:
        """The environment as a person names it: 'test (context shop-test, namespace shop-test)'."""
        target = f"context {self.environment.context}" if self.environment.context else self.environment.api_server
        return f"{self.environment.name} ({target}, namespace {self.environment.namespace})"

    def kubectl_command(self, *args: str) -> list[str]:
        if self.environment.context:
            target = ["--context", self.environment.context]
        else:
            target = ["--server", str(self.environment.api_server)]
        return [self.kubectl_binary, *target, *args]

    def helm_command(self, *args: str) -> list[str]:
        if self.environment.context:
            target = ["--kube-context", self.environment.context]
        else:
            target = ["--kube-apiserver", str(self.environment.api_server)]
        return [self.helm_binary, *args, "--namespace", self.environment.namespace, *target]

    def kubectl(self, *args: str, timeout: float = QUICK_TIMEOUT) -> Outcome:
        return run(self.kubectl_command(*args), timeout=timeout)

    def helm(self, *args: str, timeout: float = QUICK_TIMEOUT) -> Outcome:
        return run(self.helm_command(*args), timeout=timeout)
