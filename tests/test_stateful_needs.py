"""Stateful services as needs: a backend made with `--data redis=true` needs Redis, and the
meta-project brings it — the compose service (checked by the Compose v2 binary), the connection
URL from each environment's Secret under a key of the service's own (the umbrella chart rendered
by Helm, checked against the Kubernetes schemas and by checkov), and `scaffold check` passes. The
one validator refuses Redis where no template uses it, and check finds ecosystem.yaml and the
service's answers disagreeing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scaffold.errors import ExitCode
from scaffold.model import REDIS_KINDS
from tests import validators
from tests.helpers import scaffold

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A meta-project with `orders` (cached in Redis) and `catalog` (PostgreSQL only)."""
    parent = tmp_path_factory.mktemp("needs")
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    scaffold("new", "backend", "orders", "--defaults", "--data", "redis=true", cwd=root)
    scaffold("new", "backend", "catalog", "--defaults", cwd=root)
    return root


def test_a_backend_made_with_redis_needs_it_in_ecosystem_yaml(shop: Path) -> None:
    services = yaml.safe_load((shop / "ecosystem.yaml").read_text())["services"]
    assert services["orders"]["needs"] == ["postgres", "redis"]
    assert services["catalog"]["needs"] == ["postgres"]
    answers = yaml.safe_load((shop / "services/orders/.copier-answers.yml").read_text())
    assert answers["redis"] is True


def test_compose_runs_redis_for_the_backends_that_need_it(shop: Path) -> None:
    services = validators.compose_config(shop / "compose.yaml")["services"]
    redis, orders, catalog = services["redis"], services["orders"], services["catalog"]
    # Shell form: Podman before 5.8 splits an exec-form test at its spaces.
    assert redis["healthcheck"]["test"][0] == "CMD-SHELL"
    assert orders["depends_on"]["redis"]["condition"] == "service_healthy"
    url = urlsplit(orders["environment"]["REDIS_URL"])
    assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)
    assert url.password == redis["environment"]["REDIS_PASSWORD"]
    assert "REDIS_URL" not in catalog["environment"] and "redis" not in catalog["depends_on"]
    assert not any(p.get("published") for p in redis.get("ports", [])), "Redis is not published on the host"


def test_compose_takes_the_redis_password_from_the_env_file(shop: Path) -> None:
    services = validators.compose_config(shop / "compose.yaml", env={"REDIS_PASSWORD": "from-dotenv"})["services"]
    assert services["redis"]["environment"]["REDIS_PASSWORD"] == "from-dotenv"
    assert urlsplit(services["orders"]["environment"]["REDIS_URL"]).password == "from-dotenv"


def test_no_redis_in_compose_when_no_service_needs_it(tmp_path: Path) -> None:
    scaffold("init", "shop", "--defaults", cwd=tmp_path)
    scaffold("new", "backend", "catalog", "--defaults", cwd=tmp_path / "shop")
    model = validators.compose_config(tmp_path / "shop" / "compose.yaml")
    assert "redis" not in model["services"] and "redis-data" not in model.get("volumes", {})


def _umbrella(shop: Path, env: str) -> list[dict[str, Any]]:
    chart = shop / "deploy" / "chart"
    values = yaml.safe_load((chart / f"values-{env}.yaml").read_text())
    validators.helm_lint(chart, values)
    namespace = yaml.safe_load((shop / "ecosystem.yaml").read_text())["environments"][env]["namespace"]
    docs = validators.helm_render(chart, values, name="shop", namespace=namespace)
    validators.kubernetes_validate(docs)
    return docs


@pytest.mark.parametrize("env", ["test", "staging", "production"])
def test_the_umbrella_chart_points_each_service_at_its_own_redis_url_in_the_environment_secret(
    shop: Path, env: str
) -> None:
    secret = yaml.safe_load((shop / "ecosystem.yaml").read_text())["environments"][env]["secret"]
    deployments = {d["metadata"]["name"]: d for d in _umbrella(shop, env) if d["kind"] == "Deployment"}
    pod = deployments["shop-orders"]["spec"]["template"]["spec"]
    env_vars = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    volume = next(v for v in pod["volumes"] if v["name"] == "redis")
    assert volume["secret"]["secretName"] == secret
    assert volume["secret"]["items"] == [{"key": "ORDERS_REDIS_URL", "path": "ORDERS_REDIS_URL"}]
    assert env_vars["REDIS_URL_FILE"] == "/run/secrets/redis/ORDERS_REDIS_URL"
    catalog = deployments["shop-catalog"]["spec"]["template"]["spec"]
    assert "redis" not in {v["name"] for v in catalog["volumes"]}


def test_the_ecosystem_with_redis_passes_scaffold_check_with_checkov(shop: Path) -> None:
    proc = scaffold("check", "--json", cwd=shop, env={"CHECKOV": validators.checkov_binary()}, check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, json.dumps([r for r in report["runs"] if r["status"] != "passed"], indent=1)
    assert report["not_run"] == 0


def test_the_docs_name_the_redis_url_key_of_the_secret(shop: Path) -> None:
    assert "`ORDERS_REDIS_URL` | Redis |" in (shop / "docs" / "ecosystem.md").read_text()


def test_check_finds_ecosystem_yaml_and_the_answers_disagreeing_on_redis(shop: Path, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(shop, root, symlinks=True)
    # Checked once as it was made: check remembers the answers check, and must not answer from
    # that memory once ecosystem.yaml says something else.
    assert scaffold("check", "--json", "--no-checkov", "orders", cwd=root, check=False).returncode == 0
    path = root / "ecosystem.yaml"
    data = yaml.safe_load(path.read_text())
    data["services"]["orders"]["needs"] = ["postgres"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    scaffold("sync", cwd=root)
    proc = scaffold("check", "--json", "--no-checkov", "orders", cwd=root, check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == int(ExitCode.CHECK_FAILED)
    (answers,) = [r for r in report["runs"] if r["subject"] == "orders" and r["check"] == "answers"]
    assert any("'redis' is True" in f["message"] for f in answers["findings"]), answers


def test_a_worker_cannot_need_redis(shop: Path, tmp_path: Path) -> None:
    assert "worker" not in REDIS_KINDS
    root = tmp_path / "shop"
    shutil.copytree(shop, root, symlinks=True)
    scaffold("new", "worker", "audit", "--defaults", cwd=root)
    path = root / "ecosystem.yaml"
    data = yaml.safe_load(path.read_text())
    data["services"]["audit"]["needs"].append("redis")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = scaffold("sync", cwd=root, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "a worker cannot need redis" in proc.stderr


def test_only_the_kinds_that_use_redis_are_asked_about_it() -> None:
    from scaffold.answers import questions_for

    for kind in ("backend", "worker", "frontend"):
        assert ("redis" in questions_for(TEMPLATES, kind)) is (kind in REDIS_KINDS), kind
