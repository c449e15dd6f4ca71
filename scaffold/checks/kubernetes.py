"""Kubernetes objects against the API schemas of one Kubernetes version (kubernetes-validate's).

kubernetes_validate.validate() reads and parses its 1.3 MB definitions file for every object
(about 12 ms each); this module uses the same schema files and the same validator class, with
each schema loaded once per process, so an ecosystem of many services is checked in a fraction
of that. Objects of custom resources (ServiceMonitor, HTTPRoute, PrometheusRule) have no schema
there and are checked for apiVersion, kind and metadata.name only, as kubernetes-validate does.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

KUBE_VERSION: Final = "1.30.0"
MAX_PROBLEMS_PER_OBJECT: Final = 5


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@functools.cache
def _schema_dir(version: str) -> str:
    """kubernetes-validate's strict schema folder for the newest version not newer than `version`."""
    from kubernetes_validate import utils

    available = [v for v in utils.all_versions() if _minor(v) <= _minor(version)]
    if not available:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return f"v{available[-1]}-local-strict"


@functools.cache
def _definitions(schema_dir: str) -> Any:
    from kubernetes_validate import utils
    from referencing import Resource

    return Resource.from_contents(utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", ""))


@functools.cache
def _validator(kind: str, api_version: str, version: str) -> Any | None:
    """A Draft 2020-12 validator for the kind, or None when there is no schema (a custom resource)."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    schema_dir = _schema_dir(version)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{api}.json", version)
    except FileNotFoundError:
        return None
    registry = _definitions(schema_dir) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _where(error: Any) -> str:
    parts = []
    for step in error.absolute_path:
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "".join(parts).lstrip(".") or "(object)"


def identity(doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return f"{doc.get('kind', '?')}/{(metadata or {}).get('name', '?')}"


def problems(doc: Any, version: str = KUBE_VERSION) -> list[str]:
    """What is wrong with one object, as '<field>: <problem>' sentences (empty when it is valid)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or not isinstance(doc.get("apiVersion"), str):
        return ["not a Kubernetes object: apiVersion and kind are required"]
    validator = _validator(doc["kind"], doc["apiVersion"], version)
    if validator is None:
        metadata = doc.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("name"):
            return ["metadata.name is required"]
        return []
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where(e)}: {e.message}" for e in errors[:MAX_PROBLEMS_PER_OBJECT]]
