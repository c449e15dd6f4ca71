"""Who owns what: `.github/CODEOWNERS` and the Backstage catalog of the ecosystem.

Ownership is said once, in ecosystem.yaml: `owner` of the meta-project, `services.<name>.owner`,
and per team (`teams.<name>`) its GitHub handle. From them:
- CODEOWNERS: the meta-project's files to its owner, each service's directory to the service's
  team (GitHub asks those reviewers on every pull request that touches them). A team without a
  GitHub handle gets a comment line instead of a rule GitHub would flag as unknown; services in a
  repository of their own are reviewed there.
- the Backstage catalog (`catalog-info.yaml`, a Location, and `catalog/*.yaml`): the ecosystem as
  a System with its shared infrastructure as Resources, one file per service with its Component
  (owner, lifecycle, what it depends on).
Alert routing by owner is in monitoring.alertmanager_config.
"""

from __future__ import annotations

import posixpath
from typing import Any, Final

from scaffold import graph
from scaffold.model import Ecosystem, Infrastructure, Service
from scaffold.wiring._render import YAML_HEADER, dump_yaml, text_file
from scaffold.wiring.files import DerivedFile

CODEOWNERS: Final = ".github/CODEOWNERS"
CATALOG_INFO: Final = "catalog-info.yaml"
CATALOG_DIR: Final = "catalog"
SERVICES_CATALOG: Final = f"{CATALOG_DIR}/services"  # one file per service
BACKSTAGE_API_VERSION: Final = "backstage.io/v1alpha1"
# The owner Backstage shows for what nobody claimed yet: set `owner` in ecosystem.yaml.
UNOWNED: Final = "unowned"

# What Backstage calls the shared infrastructure (Resource spec.type).
RESOURCE_TYPES: Final[dict[Infrastructure, str]] = {
    "postgres": "database",
    "rabbitmq": "message-broker",
    "redis": "cache",
}
COMPONENT_TYPES: Final = {"backend": "service", "worker": "service", "frontend": "website"}


def _sorted(ecosystem: Ecosystem) -> list[Service]:
    return sorted(ecosystem.services, key=lambda s: s.name)


def github_handle(ecosystem: Ecosystem, team: str | None) -> str | None:
    if team is None:
        return None
    settings = ecosystem.teams.get(team)
    return settings.github if settings else None


def owner_of(ecosystem: Ecosystem, service: Service) -> str | None:
    """The service's team, or the meta-project's when the service names none."""
    return service.owner or ecosystem.owner


def codeowners(ecosystem: Ecosystem) -> str:
    lines = [
        YAML_HEADER.rstrip("\n"),
        "# Reviewers GitHub asks for: ecosystem.yaml's `owner` for the meta-project, `services.<name>.owner`",
        "# for each service; handles come from `teams.<team>.github`. The last matching line wins.",
    ]
    default = github_handle(ecosystem, ecosystem.owner)
    if default:
        lines.append(f"* {default}")
    elif ecosystem.owner:
        lines.append(f"# *: team {ecosystem.owner} has no GitHub handle (teams.{ecosystem.owner}.github)")
    for service in _sorted(ecosystem):
        team = owner_of(ecosystem, service)
        if service.repository is not None or team is None:
            continue
        handle = github_handle(ecosystem, team)
        pattern = "/" + posixpath.normpath(service.path) + "/"
        if handle:
            lines.append(f"{pattern} {handle}")
        else:
            lines.append(f"# {pattern}: team {team} has no GitHub handle (teams.{team}.github)")
    return "\n".join(lines) + "\n"


def _group(team: str | None) -> str:
    return f"group:default/{team or UNOWNED}"


def resource_name(ecosystem: Ecosystem, infrastructure: Infrastructure) -> str:
    return f"{ecosystem.name}-{infrastructure}"


def _entity(kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": BACKSTAGE_API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def system_entities(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    owner = _group(ecosystem.owner)
    entities = [
        _entity(
            "System",
            {"name": ecosystem.name, "description": ecosystem.description or f"The {ecosystem.name} ecosystem"},
            {"owner": owner},
        )
    ]
    for infrastructure, kind in RESOURCE_TYPES.items():
        if ecosystem.needs(infrastructure):
            entities.append(
                _entity(
                    "Resource",
                    {
                        "name": resource_name(ecosystem, infrastructure),
                        "description": f"The {infrastructure} the {ecosystem.name} services share",
                    },
                    {"type": kind, "owner": owner, "system": ecosystem.name},
                )
            )
    return entities


def _depends_on(ecosystem: Ecosystem, service: Service, subscriptions: graph.Subscriptions) -> list[str]:
    """Resources it needs, and the backends whose events reach it (a worker) or whose API it calls."""
    refs = [f"resource:default/{resource_name(ecosystem, n)}" for n in RESOURCE_TYPES if n in service.needs]
    publishers = subscriptions.publishers(service) if service.kind == "worker" else []
    refs += [f"component:default/{name}" for name in sorted({*publishers, *service.calls})]
    return refs


def service_entities(
    ecosystem: Ecosystem, service: Service, subscriptions: graph.Subscriptions | None = None
) -> list[dict[str, Any]]:
    owner = _group(owner_of(ecosystem, service))
    spec: dict[str, Any] = {
        "type": COMPONENT_TYPES[service.kind],
        "lifecycle": service.lifecycle,
        "owner": owner,
        "system": ecosystem.name,
    }
    depends = _depends_on(ecosystem, service, subscriptions or graph.Subscriptions(ecosystem))
    if depends:
        spec["dependsOn"] = depends
    metadata: dict[str, Any] = {
        "name": service.name,
        "description": f"The {service.name} {service.kind} of the {ecosystem.name} ecosystem",
        "tags": [service.kind],
    }
    return [_entity("Component", metadata, spec)]


def _documents(entities: list[dict[str, Any]]) -> str:
    return "---\n".join(dump_yaml(entity) for entity in entities)


def catalog_location(ecosystem: Ecosystem) -> dict[str, Any]:
    targets = [f"./{CATALOG_DIR}/{ecosystem.name}.yaml"]
    targets += [f"./{SERVICES_CATALOG}/{s.name}.yaml" for s in _sorted(ecosystem)]
    return _entity(
        "Location",
        {"name": ecosystem.name, "description": f"Every entity of the {ecosystem.name} ecosystem"},
        {"targets": targets},  # no type: the targets are read the way this file was (url or file)
    )


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    comment = "# The Backstage catalog of the ecosystem; register this file's URL in Backstage (docs/platform.md).\n"
    files = [
        text_file(CODEOWNERS, codeowners(ecosystem)),
        text_file(CATALOG_INFO, YAML_HEADER + comment + dump_yaml(catalog_location(ecosystem))),
        text_file(f"{CATALOG_DIR}/{ecosystem.name}.yaml", YAML_HEADER + _documents(system_entities(ecosystem))),
    ]
    subscriptions = graph.Subscriptions(ecosystem)
    for service in _sorted(ecosystem):
        files.append(
            text_file(
                f"{SERVICES_CATALOG}/{service.name}.yaml",
                YAML_HEADER + _documents(service_entities(ecosystem, service, subscriptions)),
            )
        )
    return files
