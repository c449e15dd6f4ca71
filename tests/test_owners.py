"""Owners (issue 14, item 5): `owner:` per service in ecosystem.yaml reaches CODEOWNERS, the
Backstage catalog (checked by Backstage's own entity validators) and, through the owning team's
receiver, the Alertmanager routing (checked by amtool, in test_alerting)."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.model import Ecosystem, Service, Team
from scaffold.wiring import derive
from scaffold.wiring.owners import CATALOG_INFO, CODEOWNERS
from tests.npm_packages import installed
from tests.test_wiring import backend, make_ecosystem, write_files

TEMPLATE_SERVICES = make_ecosystem().services


def owned_ecosystem() -> Ecosystem:
    eco = make_ecosystem()
    first, *rest = eco.services
    services = (dataclasses.replace(first, owner="payments"), *rest, backend("billing", 8050))
    return dataclasses.replace(
        eco,
        services=tuple(services),
        owner="platform",
        teams={
            "platform": Team(github="@acme/platform"),
            "payments": Team(github="@acme/payments", receiver={"webhook_configs": [{"url": "https://x.test/h"}]}),
        },
    )


def files_of(eco: Ecosystem, root: Path) -> Path:
    write_files(derive(eco), root)
    return root


def codeowner(codeowners: str, path: str) -> str | None:
    """Who GitHub asks to review `path`: the owners of the last matching line."""
    found = None
    for line in codeowners.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        anchored = pattern.lstrip("/")
        matches = (
            path.startswith(anchored) if pattern.endswith("/") else fnmatch.fnmatch(path, anchored.replace("*", "**"))
        )
        if matches:
            found = " ".join(owners)
    return found


def test_codeowners_give_each_service_directory_to_its_team(tmp_path: Path) -> None:
    eco = owned_ecosystem()
    text = (files_of(eco, tmp_path) / CODEOWNERS).read_text(encoding="utf-8")
    payments = next(s for s in eco.services if s.owner == "payments")
    assert codeowner(text, f"{payments.path}/src/app.py") == "@acme/payments"
    unowned = next(s for s in eco.services if s.owner is None)
    assert codeowner(text, f"{unowned.path}/Dockerfile") == "@acme/platform"  # the meta-project's owner
    assert codeowner(text, "ecosystem.yaml") == "@acme/platform"


def test_a_team_without_a_github_handle_gets_no_rule(tmp_path: Path) -> None:
    eco = dataclasses.replace(owned_ecosystem(), teams={})
    text = (files_of(eco, tmp_path) / CODEOWNERS).read_text(encoding="utf-8")
    assert all(codeowner(text, f"{s.path}/x") is None for s in eco.services)
    assert "teams.payments.github" in text  # says what to set


def test_a_service_in_its_own_repository_is_reviewed_there(tmp_path: Path) -> None:
    eco = owned_ecosystem()
    own = dataclasses.replace(eco.services[0], repository="git@git.example.com:shop/x.git")
    eco = dataclasses.replace(eco, services=(own, *eco.services[1:]))
    text = (files_of(eco, tmp_path) / CODEOWNERS).read_text(encoding="utf-8")
    assert codeowner(text, f"{own.path}/x") == "@acme/platform"  # only the catch-all


# --- the Backstage catalog -------------------------------------------------------------------------


def catalog(root: Path) -> list[dict[str, Any]]:
    """Every entity Backstage reads from catalog-info.yaml, following the Location's targets."""
    location = root / CATALOG_INFO
    entities = list(yaml.safe_load_all(location.read_text(encoding="utf-8")))
    for entity in list(entities):
        for target in entity["spec"].get("targets", []) if entity["kind"] == "Location" else []:
            entities += list(yaml.safe_load_all((location.parent / target).read_text(encoding="utf-8")))
    return entities


def ref(entity: dict[str, Any]) -> str:
    return f"{entity['kind'].lower()}:default/{entity['metadata']['name']}"


def test_the_catalog_has_the_system_every_service_and_their_relations(tmp_path: Path) -> None:
    eco = owned_ecosystem()
    entities = {ref(e): e for e in catalog(files_of(eco, tmp_path))}
    assert entities["system:default/shop"]["spec"]["owner"] == "group:default/platform"
    for service in eco.services:
        component = entities[f"component:default/{service.name}"]
        assert component["spec"]["system"] == "shop"
        assert component["spec"]["owner"] == f"group:default/{service.owner or 'platform'}"
        assert component["spec"]["lifecycle"] == service.lifecycle
        if "postgres" in service.needs:
            assert "resource:default/shop-postgres" in component["spec"]["dependsOn"]
    relations = [
        target
        for entity in entities.values()
        for key in ("system", "dependsOn", "providesApis", "consumesApis")
        for target in _as_list(entity["spec"].get(key))
    ]
    assert relations and all(target in entities or target == "shop" for target in relations)


def _as_list(value: object) -> list[str]:
    return [] if value is None else [str(v) for v in value] if isinstance(value, list) else [str(value)]


@pytest.mark.e2e
def test_backstage_accepts_every_entity_of_the_catalog(tmp_path: Path) -> None:
    eco = dataclasses.replace(owned_ecosystem(), services=(*owned_ecosystem().services, _worker()))
    entities = catalog(files_of(eco, tmp_path))
    proc = backstage_validate(entities)
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stdout + proc.stderr
    component = next(e for e in entities if e["kind"] == "Component")
    broken = [dict(component, spec={**component["spec"], "lifecycle": None})]
    assert backstage_validate(broken).returncode == 1  # the validator does reject


def _worker() -> Service:
    return Service(
        name="fulfilment",
        kind="worker",
        path="services/fulfilment",
        port=8060,
        route=None,
        template=TEMPLATE_SERVICES[0].template,
        needs=("postgres", "rabbitmq"),
        subscribes=("*.item.published",),
        lifecycle="experimental",
    )


def backstage_validate(entities: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    package = installed("backstage")
    return subprocess.run(
        ["node", str(package / "validate.mjs")], input=json.dumps(entities), capture_output=True, text=True
    )
