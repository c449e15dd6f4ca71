"""Validation of service and ecosystem names.

A name becomes a compose service, a DNS name, a Helm release/chart name and the prefix of
Kubernetes object names (`<name>-db`, `<release>-<name>-test-connection`), so it must be a
DNS-1123 label short enough to survive the longest prefix and suffix scaffold adds.
"""

from __future__ import annotations

import keyword
import sys
from collections.abc import Iterable
from typing import Final

from scaffold.errors import ConflictError, UsageError
from scaffold.model import INFRASTRUCTURE_SERVICES

MAX_NAME_LENGTH: Final = 30  # 63 (DNS label) minus the longest suffix/prefix scaffold composes

# Kubernetes namespaces of the cluster itself: an ecosystem (whose name is its production namespace by
# default) or an environment must not deploy into one (ecosystem.schema.json refuses them as namespaces).
SYSTEM_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

# Suffixes the service charts add to a service's objects (`<release>-<name>-migrate`, ...): a service
# named `orders-migrate` would own the objects of `orders`' migration job.
OBJECT_SUFFIXES: Final = ("-migrate", "-test-connection")

# Names the meta-project uses for its own infrastructure and directories.
RESERVED_NAMES: Final[frozenset[str]] = frozenset(INFRASTRUCTURE_SERVICES) | {
    "scaffold",
    "ecosystem",
    "deploy",
    "docs",
    "monitoring",
    "services",
    "test",
    "staging",
    "production",
    "default",
    "kube-system",
    "all",
    "global",
}


def check_name(name: str, what: str = "service") -> str:
    """The shape every name has (the schema's `name`: ecosystem.schema.json), explained part by part."""
    from scaffold.ecosystem_rules import definition, pattern

    if not name:
        raise UsageError(f"The {what} name is empty.", "Give a name such as 'orders'.")
    if len(name) > int(definition("$defs", "name")["maxLength"]):
        raise UsageError(
            f"The {what} name '{name}' is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.",
            "Kubernetes object names are built from it with prefixes and suffixes: choose a shorter name.",
        )
    if not pattern("$defs", "name").match(name):
        if "--" in name and pattern("$defs", "name").match(name.replace("--", "-")):
            raise UsageError(
                f"The {what} name '{name}' contains '--'.",
                "Use single dashes between words, e.g. 'order-history'.",
            )
        raise UsageError(
            f"The {what} name {name!r} is not a lowercase DNS-1123 label.",
            "Use lowercase letters, digits and '-', starting with a letter and not ending with '-', "
            "e.g. 'order-history'.",
        )
    return name


def service_name_problem(name: str, ecosystem: str) -> str | None:
    """Why a well-shaped service name cannot be used in the ecosystem `ecosystem`, or None."""
    if name in RESERVED_NAMES:
        return f"the name '{name}' is reserved for the ecosystem's own infrastructure or directories"
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or package in sys.stdlib_module_names:
        return f"the name '{name}' would make a Python package '{package}' that " + (
            "is a Python keyword" if keyword.iskeyword(package) else "hides the standard library's module"
        )
    if name in ecosystem:
        # The charts name objects `<release>-<name>`, or just `<release>` when the release name
        # contains the service's name: two such services (or one and the umbrella) would clash.
        return f"the name '{name}' is part of the ecosystem's name '{ecosystem}', so its objects would take that name"
    return None


def ecosystem_name_problem(name: str) -> str | None:
    """Why a well-shaped ecosystem name cannot be used, or None."""
    if name in SYSTEM_NAMESPACES:
        return f"the name '{name}' is a Kubernetes system namespace (production is delivered to the namespace '{name}')"
    return None


def check_ecosystem_name(name: str) -> str:
    check_name(name, "ecosystem")
    why = ecosystem_name_problem(name)
    if why is not None:
        raise UsageError(f"{why[0].upper()}{why[1:]}.", "Choose another name: it names the production namespace.")
    return name


def check_new_service_name(name: str, existing: Iterable[str], ecosystem: str) -> str:
    check_name(name)
    existing = tuple(existing)  # read twice below; a generator would be empty the second time
    why = service_name_problem(name, ecosystem)
    if why is not None:
        raise UsageError(f"{why[0].upper()}{why[1:]}.", f"Choose another name, e.g. '{name}-api' or '{name}-service'.")
    clash = next((n for n in existing for s in OBJECT_SUFFIXES if name == n + s or n == name + s), None)
    if clash is not None:
        raise ConflictError(
            f"The name '{name}' clashes with the Kubernetes objects of the service '{clash}'.",
            "Choose another name; charts name objects <service>-migrate and <service>-test-connection.",
        )
    if name in existing:
        raise ConflictError(
            f"A service named '{name}' already exists in this ecosystem.",
            "Choose another name, or run `scaffold remove " + name + "` first.",
        )
    return name
