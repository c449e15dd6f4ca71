"""`scaffold doctor`: what this machine has of what working on an ecosystem needs.

Every probe runs at once (threads: they wait on version commands and sockets). Inside a
meta-project, each environment of ecosystem.yaml also needs a kubectl context. Nothing is installed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import NotFoundError
from scaffold.model import Environment
from scaffold.prerequisites import (
    PROBES,
    REQUIREMENTS,
    Probe,
    Requirement,
    ToolStatus,
    context_requirement,
    kube_contexts,
    probe_context,
)
from scaffold.project import find_root
from scaffold.results import DoctorResult


def _environments(start: Path) -> tuple[Path | None, tuple[Environment, ...]]:
    try:
        root = find_root(start)
    except NotFoundError:
        return None, ()
    return root, ecosystem_file.load(root).model.environments


def _status(requirement: Requirement, probe: Probe, *, delivery: bool) -> ToolStatus:
    return ToolStatus(
        name=requirement.name,
        group=requirement.group,
        required=requirement.group == "required" or (delivery and requirement.group == "delivery"),
        found=probe.found,
        version=probe.version,
        detail=probe.detail,
        needed_for=requirement.needed_for,
        install=requirement.install,
    )


def doctor(start: Path, *, delivery: bool = False) -> DoctorResult:
    root, environments = _environments(start)
    with ThreadPoolExecutor(max_workers=len(PROBES) + 1) as pool:
        running = {name: pool.submit(probe) for name, probe in PROBES.items()}
        contexts = pool.submit(kube_contexts)
        probes = {name: future.result() for name, future in running.items()}
        known_contexts = contexts.result()
    found: list[ToolStatus] = []
    for requirement in REQUIREMENTS:
        found.append(_status(requirement, probes[requirement.name], delivery=delivery))
        if requirement.name == "kubectl":
            found += [
                _status(context_requirement(env), probe_context(env, known_contexts), delivery=delivery)
                for env in environments
            ]
    return DoctorResult(root=root, tools=tuple(found), delivery=delivery)
