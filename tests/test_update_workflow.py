"""scaffold in CI: the delivery pipeline's gates on pull requests and the template-update workflow.

The workflows are read as data (YAML), checked by actionlint (with shellcheck over the `run:`
scripts), and their shell steps that take values from ecosystem.yaml are run for real with bash.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.ecosystem_file import EcosystemFileError, parse, problems
from scaffold.model import CiSettings, Ecosystem, Service
from scaffold.wiring import derive
from tests.test_wiring import TEMPLATE, _actionlint, make_ecosystem, write_files
from tests.update_helpers import GIT_IDENTITY, git

REQUIREMENT = "scaffold[validate] @ git+https://git.example.com/platform/scaffold@v0.1.0"


def own_repository(name: str, port: int, repository: str) -> Service:
    return Service(
        name, "backend", f"services/{name}", port, f"/api/{name}", TEMPLATE, ("postgres",), repository=repository
    )


def configured(ecosystem: Ecosystem, **ci: Any) -> Ecosystem:
    return dataclasses.replace(ecosystem, ci=CiSettings(**ci))


def workflow(ecosystem: Ecosystem, tmp_path: Path, name: str) -> tuple[Path, dict[str, Any]]:
    write_files(derive(ecosystem), tmp_path)
    path = tmp_path / ".github" / "workflows" / name
    proc = subprocess.run([*_actionlint(), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return path, loaded


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in job["steps"] if s.get("name", "").startswith(name))
    return found


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True
    )


# --- the gates on pull requests ------------------------------------------------------------------


def test_pull_requests_run_check_and_the_drift_gate(tmp_path: Path) -> None:
    _, delivery = workflow(configured(make_ecosystem(), scaffold=REQUIREMENT), tmp_path, "delivery.yml")
    gates = delivery["jobs"]["gates"]
    assert "pull_request" in delivery["on"]
    assert gates["if"] == "github.event_name == 'pull_request'"
    assert gates["permissions"] == {"contents": "read"}
    install = step(gates, "Install scaffold")
    assert install["env"] == {"SCAFFOLD_REQUIREMENT": REQUIREMENT}
    runs = [s.get("run") for s in gates["steps"]]
    assert "scaffold check" in runs and "scaffold list --outdated" in runs
    # The drift gate runs even when `scaffold check` failed, as long as scaffold is installed.
    assert step(gates, "No service behind")["if"] == "!cancelled() && steps.install.outcome == 'success'"


def test_without_ci_scaffold_the_install_step_fails_and_says_why(tmp_path: Path) -> None:
    _, delivery = workflow(make_ecosystem(), tmp_path, "delivery.yml")
    proc = bash(step(delivery["jobs"]["gates"], "Install scaffold")["run"], tmp_path, {})
    assert proc.returncode == 1
    assert proc.stdout.startswith("::error::Set ci.scaffold in ecosystem.yaml")


def test_services_with_their_own_repository_are_cloned_whatever_their_url(tmp_path: Path) -> None:
    remote = tmp_path / "remotes" / "it's the orders"  # a quote and a space: the shell must get one word
    remote.mkdir(parents=True)
    git(remote, "init", "--quiet", "--initial-branch=main")
    (remote / "README.md").write_text("orders\n")
    git(remote, "add", "README.md")
    git(remote, "commit", "--quiet", "-m", "first")
    ecosystem = make_ecosystem((own_repository("orders", 8001, str(remote)),))
    meta = tmp_path / "meta"
    meta.mkdir()
    _, delivery = workflow(configured(ecosystem, scaffold=REQUIREMENT), meta, "delivery.yml")
    clone = step(delivery["jobs"]["gates"], "Check out the services")
    assert clone["env"]["SCAFFOLD_GIT_TOKEN"] == "${{ secrets.SCAFFOLD_TOKEN || github.token }}"
    proc = bash(
        clone["run"], meta, {**GIT_IDENTITY, **{k: v for k, v in clone["env"].items() if k != "SCAFFOLD_GIT_TOKEN"}}
    )
    assert proc.returncode == 0, proc.stderr
    assert (meta / "services" / "orders" / "README.md").read_text() == "orders\n"


@pytest.mark.parametrize(
    ("ci", "words"),
    [
        ("scaffold: 'scaffold @ git+https://x/${{ secrets.TOKEN }}'", "'scaffold' must be one pip requirement"),
        ("scaffold: '--index-url=https://evil.example.com/simple scaffold'", "'scaffold' must be one pip requirement"),
        ("update_schedule: 'every monday'", "'update_schedule' must be a cron expression"),
    ],
)
def test_ci_values_a_workflow_would_misread_are_refused(ecosystem: Path, ci: str, words: str) -> None:
    text = (ecosystem / "ecosystem.yaml").read_text() + f"ci:\n  {ci}\n"
    with pytest.raises(EcosystemFileError) as refused:
        parse(text)
    assert words.replace("'", "'ci.", 1) in refused.value.message
    assert any(words.replace("'", "'ci.", 1) in p.message for p in problems(text)), problems(text)


def test_a_repository_url_github_would_evaluate_is_refused(ecosystem: Path) -> None:
    text = (
        (ecosystem / "ecosystem.yaml")
        .read_text()
        .replace(
            "services: {}",
            "services:\n  orders:\n    kind: backend\n    path: services/orders\n    port: 8001\n"
            "    repository: https://github.com/acme/${{ github.token }}.git\n"
            "    template: {source: builtin, version: 0.1.0}\n",
        )
    )
    with pytest.raises(EcosystemFileError) as refused:
        parse(text)
    assert "'services.orders.repository' must be one git URL or path on one line" in refused.value.message
    assert [p.message.split("; got ")[0] for p in problems(text)] == [
        "'services.orders.repository' must be one git URL or path on one line (no leading '-', no '${{')"
    ]


def test_ci_settings_are_read_from_ecosystem_yaml(ecosystem: Path) -> None:
    text = (
        ecosystem / "ecosystem.yaml"
    ).read_text() + f"ci:\n  scaffold: '{REQUIREMENT}'\n  update_schedule: '30 4 * * 1-5'\n"
    assert problems(text) == []
    assert parse(text).model.ci == CiSettings(scaffold=REQUIREMENT, update_schedule="30 4 * * 1-5")


# --- the template-update workflow ------------------------------------------------------------------


def test_the_update_workflow_runs_propose_updates_on_its_schedule(tmp_path: Path) -> None:
    ecosystem = configured(make_ecosystem(), scaffold=REQUIREMENT, update_schedule="30 4 * * 1-5")
    _, updates = workflow(ecosystem, tmp_path, "template-updates.yml")
    assert updates["on"] == {"schedule": [{"cron": "30 4 * * 1-5"}], "workflow_dispatch": {}}
    assert updates["permissions"] == {"contents": "read"}
    (job,) = updates["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["steps"][0]["with"] == {"persist-credentials": False, "fetch-depth": 0}
    assert step(job, "Install scaffold")["env"] == {"SCAFFOLD_REQUIREMENT": REQUIREMENT}
    propose = step(job, "Update every service")
    assert propose["run"] == "scaffold propose-updates --branch scaffold/template-updates"
    assert propose["env"]["GITHUB_TOKEN"] == "${{ secrets.SCAFFOLD_TOKEN || github.token }}"
    assert updates["concurrency"] == {"group": "template-updates", "cancel-in-progress": False}


def test_git_gets_the_token_from_the_credential_helper_the_workflows_configure(tmp_path: Path) -> None:
    env = {k: v for k, v in make_env_of_propose_step().items() if k.startswith("GIT_CONFIG")}
    proc = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=github.com\npath=acme/orders.git\n\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env, "SCAFFOLD_GIT_TOKEN": "t0ken", "GIT_TERMINAL_PROMPT": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "username=x-access-token\n" in proc.stdout and "password=t0ken\n" in proc.stdout


def make_env_of_propose_step() -> dict[str, str]:
    from scaffold.wiring.update_workflow import workflow as update_workflow

    (job,) = update_workflow(make_ecosystem())["jobs"].values()
    env: dict[str, str] = step(job, "Update every service")["env"]
    return env
