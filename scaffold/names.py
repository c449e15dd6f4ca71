"""Validation of service and ecosystem names.

A name becomes a compose service, a DNS name, a Helm release/chart name and the prefix of
Kubernetes object names (`<name>-db`, `<release>-<name>-test-connection`), so it must be a
DNS-1123 label short enough to survive the longest prefix and suffix scaffold adds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from scaffold.errors import ConflictError, UsageError
from scaffold.model import INFRASTRUCTURE_SERVICES

MAX_NAME_LENGTH: Final = 30  # 63 (DNS label) minus the longest suffix/prefix scaffold composes
_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

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
    if not name:
        raise UsageError(f"The {what} name is empty.", "Give a name such as 'orders'.")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"The {what} name '{name}' is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.",
            "Kubernetes object names are built from it with prefixes and suffixes: choose a shorter name.",
        )
    if not _LABEL.match(name):
        raise UsageError(
            f"The {what} name {name!r} is not a lowercase DNS-1123 label.",
            "Use lowercase letters, digits and '-', starting with a letter and not ending with '-', "
            "e.g. 'order-history'.",
        )
    if "--" in name:
        raise UsageError(
            f"The {what} name '{name}' contains '--'.",
            "Use single dashes between words, e.g. 'order-history'.",
        )
    return name


def check_new_service_name(name: str, existing: Iterable[str]) -> str:
    check_name(name)
    if name in RESERVED_NAMES:
        raise UsageError(
            f"The name '{name}' is reserved for the ecosystem's own infrastructure or directories.",
            f"Choose another name, e.g. '{name}-api' or '{name}-service'.",
        )
    if name in set(existing):
        raise ConflictError(
            f"A service named '{name}' already exists in this ecosystem.",
            "Choose another name, or run `scaffold remove " + name + "` first.",
        )
    return name
