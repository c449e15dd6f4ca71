"""`scaffold check` remembers findings by the content of what each check reads, and never hides one.

An ecosystem of two backends is checked with every validator (checkov included), then again: every
check that can be remembered is answered from the cache. Then one input of every kind of check is
changed in one service and in the ecosystem (answers file, a service's and the root's `.env`, the
umbrella's values for one environment, the umbrella's own template, a Dockerfile, hadolint's
configuration): exactly those checks run again, each finds its problem, and the other service's
checks stay remembered. Put back, everything is answered from the cache again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold import cache
from scaffold.checks import dockerfile, memo, runner
from scaffold.checks.findings import ECOSYSTEM
from scaffold.checks.tools import discover
from tests import validators
from tests.helpers import scaffold

REMEMBERED = {"answers", "compose", "chart", "dockerfile", "checkov"}  # what a check may give from the cache


@pytest.fixture(scope="module")
def two_backends(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> Path:
    root = tmp_path_factory.mktemp("cached") / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    scaffold("new", "backend", "inventory", "--defaults", cwd=root)
    return root


@pytest.fixture
def shop(two_backends: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "shop"
    shutil.copytree(two_backends, root, symlinks=True)
    yield root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A cache of this test's own, and checkov."""
    return {cache.ENV_DIR: str(tmp_path / "cache"), cache.ENV_OFF: "", "CHECKOV": validators.checkov_binary()}


def check(root: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = scaffold("check", "--json", *args, cwd=root, env=env, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def runs(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["subject"], r["check"]): r for r in report["runs"]}


def ran_again(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {key for key, run in runs(report).items() if key[1] in REMEMBERED and not run["cached"]}


def messages(report: dict[str, Any], subject: str, check_name: str) -> list[str]:
    return [f"{f.get('rule') or ''} {f['message']}".strip() for f in runs(report)[(subject, check_name)]["findings"]]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_every_kind_of_check_finds_its_problem_again_once_its_input_changes(shop: Path, env: dict[str, str]) -> None:
    first = check(shop, env)
    assert first["ok"] and first["cached"] == 0
    every = {key for key in runs(first) if key[1] in REMEMBERED}
    assert {check for _, check in every} == REMEMBERED

    second = check(shop, env)
    assert second["ok"] and ran_again(second) == set()
    assert second["cached"] == len(every)
    assert [{**r, "seconds": 0, "cached": False} for r in first["runs"]] == [
        {**r, "seconds": 0, "cached": False} for r in second["runs"]
    ]

    before = {path: path.read_bytes() for path in shop.rglob("*") if path.is_file() and ".git" not in path.parts}
    orders = shop / "services/orders"
    edit(orders / ".copier-answers.yml", "name: orders", "name: orderz")
    (orders / ".env").write_text("this line is not valid\n")
    (shop / ".env").write_text('POSTGRES_USER="unterminated\n')
    staging = shop / "deploy/chart/values-staging.yaml"
    values = yaml.safe_load(staging.read_text())
    values["orders"]["replicaCount"] = "many"
    staging.write_text(yaml.safe_dump(values))
    edit(shop / "deploy/chart/templates/httproutes.yaml", "\n", "\n{{ .Values.no.such.value }}\n")
    (orders / "Dockerfile").write_text((orders / "Dockerfile").read_text() + "USER root\nRUN cd /tmp && true\n")

    changed = check(shop, env)
    assert not changed["ok"]
    assert ran_again(changed) == {
        ("orders", "answers"),
        ("orders", "compose"),
        (ECOSYSTEM, "compose"),
        ("orders", "chart"),
        (ECOSYSTEM, "chart"),
        ("orders", "dockerfile"),
        ("orders", "checkov"),
        (ECOSYSTEM, "checkov"),
    }
    assert all(runs(changed)[key]["cached"] for key in every if key[0] == "inventory")
    assert "'name' is 'orderz', ecosystem.yaml says 'orders'" in messages(changed, "orders", "answers")
    assert any("key cannot contain a space" in m for m in messages(changed, "orders", "compose"))
    assert any("unterminated" in m for m in messages(changed, ECOSYSTEM, "compose"))
    assert any(m.startswith("[staging]") and "replicaCount" in m for m in messages(changed, "orders", "chart"))
    assert any("no" in m and "nil pointer" in m for m in messages(changed, ECOSYSTEM, "chart"))
    assert any(m.startswith("DL3003") for m in messages(changed, "orders", "dockerfile"))
    assert any(m.startswith("CKV_DOCKER_8") for m in messages(changed, "orders", "checkov"))

    # hadolint's configuration is an input of the Dockerfile check too.
    (orders / ".hadolint.yaml").write_text("ignored:\n  - DL3003\n")
    configured = check(shop, env)
    assert ("orders", "dockerfile") in ran_again(configured)
    assert not any(m.startswith("DL3003") for m in messages(configured, "orders", "dockerfile"))
    assert messages(configured, "orders", "answers") == messages(changed, "orders", "answers")  # remembered

    for path in [*orders.rglob("*"), *shop.rglob(".env")]:
        if path.is_file() and path not in before:
            path.unlink()
    for path, content in before.items():
        path.write_bytes(content)
    restored = check(shop, env)
    assert restored["ok"] and ran_again(restored) == set()


def test_a_variable_the_compose_file_reads_is_part_of_what_it_is_checked_with(shop: Path, env: dict[str, str]) -> None:
    check(shop, env, "--no-checkov")
    again = check(shop, {**env, "POSTGRES_DB": "elsewhere"}, "--no-checkov")
    assert ("orders", "compose") in ran_again(again) and ("inventory", "compose") in ran_again(again)
    assert (ECOSYSTEM, "chart") not in ran_again(again)


def test_no_cache_reads_and_keeps_nothing(shop: Path, env: dict[str, str], tmp_path: Path) -> None:
    check(shop, env, "--no-checkov")
    kept = sorted((tmp_path / "cache").rglob("*.json"))
    report = check(shop, env, "--no-checkov", "--no-cache")
    assert report["cached"] == 0 and all(not r["cached"] for r in report["runs"])
    assert sorted((tmp_path / "cache").rglob("*.json")) == kept


def test_clear_cache_runs_everything_again(shop: Path, env: dict[str, str]) -> None:
    check(shop, env, "--no-checkov")
    report = check(shop, env, "--no-checkov", "--clear-cache")
    assert report["cached"] == 0
    assert check(shop, env, "--no-checkov")["cached"] > 0


def test_a_check_that_failed_itself_is_not_remembered(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(cache.ENV_OFF, raising=False)

    def crashes(*_: object, **__: object) -> list[object]:
        raise RuntimeError("hadolint vanished")

    with monkeypatch.context() as patch:
        patch.setattr(dockerfile, "hadolint", crashes)
        broken = {(r.subject, r.check): r for r in runner.run(shop, checkov_asked=False, jobs=1)}
    assert broken[("orders", "dockerfile")].findings[0].message.startswith(runner.FAILED_ITSELF)
    healthy = {(r.subject, r.check): r for r in runner.run(shop, checkov_asked=False, jobs=1)}
    assert not healthy[("orders", "dockerfile")].cached and healthy[("orders", "dockerfile")].status == "passed"
    assert healthy[("orders", "answers")].cached


def test_another_validator_or_another_scaffold_is_a_new_key(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = discover(checkov=False)
    assert tools.hadolint is not None
    keys = memo.Keys(shop, "shop", {"test": "shop-test"}, tools)
    dockerfile_key = keys.dockerfile("orders", shop / "services/orders/Dockerfile")

    copy = tmp_path / "hadolint"
    shutil.copy2(tools.hadolint, copy)
    other = memo.Keys(shop, "shop", {"test": "shop-test"}, tools.__class__(**{**tools.__dict__, "hadolint": str(copy)}))
    assert other.dockerfile("orders", shop / "services/orders/Dockerfile") != dockerfile_key

    monkeypatch.setattr(cache, "fingerprint", lambda: "another scaffold")
    assert (
        memo.Keys(shop, "shop", {"test": "shop-test"}, tools).dockerfile("orders", shop / "services/orders/Dockerfile")
        != dockerfile_key
    )
