"""The generated pipeline, read as data: which jobs and steps run on which event, in which order, with
which images; actionlint (with shellcheck) on every workflow. The expressions are evaluated with
GitHub's semantics (tests/github_actions.py), the shell scripts are parsed into commands (shlex)
or run for real (the merge gate with bash and jq, the checkout of services at their pins with git).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.model import CiSettings, Ecosystem
from scaffold.prerequisites import helm_version_ok
from scaffold.wiring import derive
from scaffold.wiring._actions import ACTIONS
from scaffold.wiring.pipeline import PROMOTE_WORKFLOW, ROLLBACK_WORKFLOW, WORKFLOW
from tests import validators
from tests.github_actions import Context, evaluate, interpolate, simulate, steps_that_run
from tests.test_wiring import backend, make_ecosystem, write_files

REQUIREMENT = "scaffold[validate,delivery] @ git+https://git.example.com/platform/scaffold@v0.1.0"
PIN = "0123456789abcdef0123456789abcdef01234567"
WORKFLOWS = (WORKFLOW, PROMOTE_WORKFLOW, ROLLBACK_WORKFLOW)


def ecosystem(*, repository: str = "https://github.com/acme/payments.git", pin: str | None = PIN) -> Ecosystem:
    """Two services of the meta-project and one in its own repository, pinned."""
    base = make_ecosystem((backend("orders", 8001), backend("catalog", 8003, route=False, postgres=False)))
    own = dataclasses.replace(backend("payments", 8009), repository=repository, commit=pin)
    # As ecosystem.yaml's defaults have it: every environment but test waits for an approval.
    approved = tuple(dataclasses.replace(e, approval=e.name != "test") for e in base.environments)
    return dataclasses.replace(
        base, services=(*base.services, own), environments=approved, ci=CiSettings(scaffold=REQUIREMENT)
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pipeline")
    write_files(derive(ecosystem()), directory)
    return directory


def load(root: Path, workflow: str) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((root / workflow).read_text(encoding="utf-8"))
    if True in loaded:  # an unquoted `on` is a boolean to PyYAML (YAML 1.1), the triggers to GitHub
        loaded["on"] = loaded.pop(True)
    return loaded


def events(workflow: dict[str, Any]) -> set[str]:
    return set(workflow["on"])


def commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, as argument lists (comments and control words aside)."""
    found = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] not in ("if", "then", "else", "fi", "for", "do", "done"):
            found.append(words)
    return found


def substituted(script: str) -> list[str]:
    """The command inside the first `$( ... )` of a script."""
    match = re.search(r"\$\((.*?)\)\n", script)
    assert match, script
    return shlex.split(match.group(1))


def scaffold_calls(job: dict[str, Any]) -> list[list[str]]:
    return [c for step in job["steps"] for c in commands(step.get("run", "")) if c[0] == "scaffold"]


def github(event: str, **extra: Any) -> dict[str, Any]:
    return {"github": {"event_name": event, "ref": "refs/heads/main", **extra}, "inputs": {}}


# --- every workflow --------------------------------------------------------------------------------


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed: `apt-get install -y shellcheck` (make test does it)"
    command = [validators._bin("actionlint"), "-no-color", "-shellcheck", shellcheck, *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.mark.parametrize("variant", ["services", "own-repository-unpinned", "no-services"])
def test_actionlint_accepts_every_workflow(variant: str, tmp_path: Path) -> None:
    eco = {
        "services": ecosystem(),
        "own-repository-unpinned": ecosystem(pin=None),
        "no-services": dataclasses.replace(make_ecosystem(()), ci=CiSettings(scaffold=REQUIREMENT)),
    }[variant]
    write_files(derive(eco), tmp_path)
    proc = _actionlint(*(tmp_path / w for w in WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(root: Path, tmp_path: Path) -> None:
    """The check above can fail: a dangling `needs` is rejected."""
    workflow = load(root, WORKFLOW)
    workflow["jobs"]["ready"]["needs"] = ["deliver-tset"]
    (tmp_path / "delivery.yml").write_text(yaml.safe_dump(workflow), encoding="utf-8")
    proc = _actionlint(tmp_path / "delivery.yml")
    assert proc.returncode == 1 and "deliver-tset" in proc.stdout


def test_every_action_is_pinned_by_commit(root: Path) -> None:
    for workflow in WORKFLOWS:
        text = (root / workflow).read_text(encoding="utf-8")
        lines = [line.strip() for line in text.splitlines() if re.match(r"\s*(- )?uses:", line)]
        assert lines, workflow
        for line in lines:
            match = re.fullmatch(r"(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)", line)
            assert match, f"{workflow}: not pinned by commit with a version comment: {line}"
            assert ACTIONS[match.group(1)] == (match.group(2), match.group(3))


def test_permissions_are_the_least_each_job_needs(root: Path) -> None:
    allowed = {"contents": "read", "actions": "read"}
    for workflow in WORKFLOWS:
        loaded = load(root, workflow)
        assert loaded["permissions"] == {"contents": "read"}, workflow
        for name, job in loaded["jobs"].items():
            assert "permissions" in job, f"{workflow} {name}"
            assert job["permissions"].items() <= allowed.items(), f"{workflow} {name}: {job['permissions']}"
    jobs = load(root, WORKFLOW)["jobs"]
    needs_actions = {name for name, job in jobs.items() if job["permissions"].get("actions")}
    assert needs_actions == {"plan"}, "only the job that reads another run's artifacts may read Actions"


def test_helm_in_the_pipeline_is_4_1_or_newer(root: Path) -> None:
    versions = [
        step["with"]["version"]
        for workflow in WORKFLOWS
        for job in load(root, workflow)["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("azure/setup-helm@")
    ]
    assert versions and all(helm_version_ok(v)[0] for v in versions), versions


def test_no_github_expression_reaches_a_shell_script(root: Path) -> None:
    """Values from events (a dispatch payload, inputs) reach scripts through env only."""
    for workflow in WORKFLOWS:
        for name, job in load(root, workflow)["jobs"].items():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), f"{workflow} {name}: {step['name']}"


# --- delivery.yml: pull requests and the merge queue ---------------------------------------------


def test_the_pipeline_runs_on_pull_requests_and_the_merge_queue(root: Path) -> None:
    workflow = load(root, WORKFLOW)
    assert events(workflow) == {"pull_request", "merge_group"}
    on = workflow["on"]
    assert on["pull_request"]["branches"] == ["main"] and on["merge_group"]["branches"] == ["main"]


SERVICES = {"plan": {"services": '["orders"]'}}


def test_the_merge_queue_runs_the_six_steps_in_order(root: Path) -> None:
    """Up to date (merge_group) -> build -> test the image -> push -> deliver to test -> ready to merge."""
    workflow = load(root, WORKFLOW)
    run = simulate(workflow, github("merge_group"), outputs=SERVICES)
    assert run.results == {
        "gates": "skipped",
        "plan": "success",
        "image": "success",
        "deliver-test": "success",
        "ready": "success",
    }
    jobs = workflow["jobs"]
    assert jobs["image"]["needs"] == ["plan"]
    assert jobs["deliver-test"]["needs"] == ["plan", "image"]
    assert set(jobs["ready"]["needs"]) == {"gates", "plan", "image", "deliver-test"}
    assert (
        run.order.index("plan") < run.order.index("image") < run.order.index("deliver-test") < run.order.index("ready")
    )
    assert jobs["deliver-test"]["environment"] == {"name": "test"}
    image_steps = jobs["image"]["steps"]
    ran = [scaffold_calls({"steps": [image_steps[i]]}) for i in steps_that_run(jobs["image"], github("merge_group"))]
    ran_commands = [c[0][1:] for c in ran if c]
    assert ran_commands == [
        ["build", "$SERVICE"],
        ["test", "$SERVICE"],
        ["build", "$SERVICE", "--push", "--images-file", "images-$SERVICE.json"],
    ]
    plan_checks = [c for c in scaffold_calls(jobs["plan"]) if c[1] == "check"]
    assert plan_checks == [["scaffold", "check"]], "the merge queue checks the wiring of the merged result"
    assert [c[1:3] for c in scaffold_calls(jobs["deliver-test"])] == [["deploy", "test"]]


def test_a_pull_request_builds_and_tests_but_pushes_and_delivers_nothing(root: Path) -> None:
    workflow = load(root, WORKFLOW)
    run = simulate(workflow, github("pull_request"), outputs=SERVICES)
    assert run.results["deliver-test"] == "skipped"
    assert run.results["gates"] == "success" and run.results["ready"] == "success"
    image = workflow["jobs"]["image"]
    ran = [image["steps"][i] for i in steps_that_run(image, github("pull_request"))]
    assert not any("login-action" in s.get("uses", "") or "upload-artifact" in s.get("uses", "") for s in ran)
    assert not any("--push" in c for s in ran for c in commands(s.get("run", "")))


def test_nothing_is_pushed_before_the_image_passed_its_tests(root: Path) -> None:
    image = load(root, WORKFLOW)["jobs"]["image"]
    steps = image["steps"]
    test = next(i for i, s in enumerate(steps) if ["scaffold", "test", "$SERVICE"] in commands(s.get("run", "")))
    pushing = [
        i
        for i, s in enumerate(steps)
        if "login-action" in s.get("uses", "") or any("--push" in c for c in commands(s.get("run", "")))
    ]
    assert pushing and all(i > test for i in pushing)
    ran = steps_that_run(image, github("merge_group"), failing={test})
    assert not set(pushing) & set(ran), "a failed test stops the job before any push"
    registry = [i for i, s in enumerate(steps) if "REGISTRY_PASSWORD" in json.dumps(s)]
    assert registry == [i for i in pushing if "login-action" in steps[i].get("uses", "")]


def _ready(root: Path, event: str, results: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The merge gate's own script, run with bash and jq as the runner would."""
    (step,) = load(root, WORKFLOW)["jobs"]["ready"]["steps"]
    needs = json.dumps({name: {"result": result, "outputs": {}} for name, result in results.items()})
    env = {"PATH": "/usr/bin:/bin", "NEEDS": needs, "GITHUB_EVENT_NAME": event}
    assert shutil.which("jq"), "jq is not installed (make system-packages installs it)"
    return subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("failing", ["plan", "image", "deliver-test"])
def test_a_failure_anywhere_keeps_the_change_out_of_main(root: Path, failing: str) -> None:
    """`ready to merge` is the required check: it fails in the merge queue unless the delivery to test
    passed, also when the delivery was skipped because a job before it failed."""
    workflow = load(root, WORKFLOW)
    run = simulate(workflow, github("merge_group"), outcomes={failing: "failure"}, outputs=SERVICES)
    assert run.results["ready"] == "success", "the gate always runs"
    if failing != "deliver-test":
        assert run.results["deliver-test"] == "skipped"
    gate = _ready(root, "merge_group", {k: v for k, v in run.results.items() if k != "ready"})
    assert gate.returncode != 0 and "Not ready to merge" in gate.stdout


def test_the_gate_passes_what_passed(root: Path) -> None:
    workflow = load(root, WORKFLOW)
    for event in ("merge_group", "pull_request"):
        run = simulate(workflow, github(event), outputs=SERVICES)
        gate = _ready(root, event, {k: v for k, v in run.results.items() if k != "ready"})
        assert gate.returncode == 0, gate.stdout + gate.stderr


def test_only_changed_services_are_built_and_nothing_changed_still_delivers(root: Path) -> None:
    jobs = load(root, WORKFLOW)["jobs"]
    assert jobs["image"]["strategy"]["matrix"]["service"] == "${{ fromJSON(needs.plan.outputs.services) }}"
    assert jobs["plan"]["outputs"]["services"] == "${{ steps.changes.outputs.services }}"
    (changes,) = [c for c in scaffold_calls(jobs["plan"]) if c[1] == "changes"]
    assert changes[2:4] == ["--since", "$BASE"]
    run = simulate(load(root, WORKFLOW), github("merge_group"), outputs={"plan": {"services": "[]"}})
    assert run.results["image"] == "skipped" and run.results["deliver-test"] == "success"


def test_the_same_digests_go_from_build_to_production(root: Path) -> None:
    """images-<service>.json (pushed, by digest) -> deliver to test, which writes delivered-images ->
    the promotion downloads that very file for the merged commit -> staging and production."""
    jobs = load(root, WORKFLOW)["jobs"]
    (push,) = [c for c in scaffold_calls(jobs["image"]) if "--push" in c]
    written = push[push.index("--images-file") + 1].replace("$SERVICE", "${{ matrix.service }}")
    (upload,) = [s for s in jobs["image"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == written
    built_artifact = upload["with"]["name"]
    deliver = jobs["deliver-test"]
    downloads = [s["with"] for s in deliver["steps"] if "download-artifact" in s.get("uses", "")]
    fetched = next(
        d
        for d in downloads
        if re.fullmatch(
            d.get("pattern", "").replace("*", ".*"), built_artifact.replace("${{ matrix.service }}", "orders")
        )
    )
    assert fetched["merge-multiple"] is True
    (deploy_step,) = [s for s in deliver["steps"] if "scaffold deploy" in s.get("run", "")]
    assert f"for built in {fetched['path']}/images-*.json; do" in deploy_step["run"].splitlines()
    (deploy,) = [c for c in commands(deploy_step["run"]) if c[:2] == ["scaffold", "deploy"]]
    delivered_file = deploy[deploy.index("--delivered-images") + 1]
    (kept,) = [s for s in deliver["steps"] if "upload-artifact" in s.get("uses", "")]
    assert kept["with"]["path"] == delivered_file and kept["with"]["if-no-files-found"] == "error"
    delivered_artifact = kept["with"]["name"]
    promote = load(root, PROMOTE_WORKFLOW)["jobs"]
    find = promote["images"]["steps"][0]
    download = next(c for c in commands(find["run"]) if c[:3] == ["gh", "run", "download"])
    assert download[download.index("--name") + 1] == delivered_artifact
    assert find["env"]["COMMIT"] == "${{ github.sha }}", "the images of this very commit"
    listing = substituted(find["run"])
    assert listing[:3] == ["gh", "run", "list"] and listing[listing.index("--event") + 1] == "merge_group"
    promoted = promote["images"]["steps"][1]["with"]
    assert promoted["path"] == f"{download[download.index('--dir') + 1]}/{delivered_file}"
    for env in ("staging", "production"):
        job = promote[f"deliver-{env}"]
        (fetch,) = [s["with"] for s in job["steps"] if "download-artifact" in s.get("uses", "")]
        assert fetch["name"] == promoted["name"]
        calls = scaffold_calls(job)
        assert [c[:3] for c in calls] == [["scaffold", "deploy", env]]
        assert calls[0][3:] == ["--images", f"{fetch['path']}/{delivered_file}"]
    assert not any(c[1] in ("build", "test") for job in promote.values() for c in scaffold_calls(job)), (
        "nothing is rebuilt after the merge"
    )


def test_services_in_their_own_repositories_are_checked_out_at_their_pin(tmp_path: Path) -> None:
    """The generated checkout step, run with git against a real repository: the pinned commit, not
    the branch's newest, is what every job builds, checks and delivers."""
    origin = tmp_path / "payments.git"
    work = tmp_path / "payments"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for version in ("1", "2"):
        (work / "VERSION").write_text(version)
        subprocess.run(["git", *identity, "-C", str(work), "add", "-A"], check=True)
        subprocess.run(["git", *identity, "-C", str(work), "commit", "-qm", version], check=True)
    first = subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD~1"], capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(origin)], check=True)
    meta = tmp_path / "meta"
    write_files(derive(ecosystem(repository=str(origin), pin=first)), meta)
    jobs = load(meta, WORKFLOW)["jobs"] | load(meta, PROMOTE_WORKFLOW)["jobs"]
    for name, job in jobs.items():
        scaffold_index = [i for i, s in enumerate(job["steps"]) if "scaffold " in s.get("run", "")]
        uses_charts = any(c[1] in ("build", "test", "check", "deploy", "changes") for c in scaffold_calls(job))
        if not uses_charts:
            continue
        clone = [i for i, s in enumerate(job["steps"]) if "git clone" in s.get("run", "")]
        assert clone and clone[0] < scaffold_index[0], f"{name} uses the services before checking them out"
    step = next(s for s in jobs["image"]["steps"] if "git clone" in s.get("run", ""))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **{k: v for k, v in step["env"].items() if k.startswith("GIT_CONFIG")},
    }
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=meta, env=env, check=True)
    assert (meta / "services" / "payments" / "VERSION").read_text() == "1"


# --- promote.yml and rollback.yml ----------------------------------------------------------------


def test_after_the_merge_each_environment_is_promoted_after_its_approval(root: Path) -> None:
    workflow = load(root, PROMOTE_WORKFLOW)
    assert events(workflow) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    run = simulate(workflow, github("push"))
    assert run.order == ["images", "approve-staging", "deliver-staging", "approve-production", "deliver-production"]
    assert all(r == "success" for r in run.results.values())
    assert [jobs[j]["needs"] for j in run.order[1:]] == [[j] for j in run.order[:-1]]
    assert jobs["approve-staging"]["environment"] == {"name": "staging-approval"}
    assert jobs["deliver-production"]["environment"] == {"name": "production"}
    manual = simulate(workflow, {**github("workflow_dispatch"), "inputs": {"environment": "staging"}})
    assert manual.results["deliver-staging"] == "success" and manual.results["deliver-production"] == "skipped"
    refused = simulate(workflow, github("push"), outcomes={"approve-production": "failure"})
    assert refused.results["deliver-production"] == "skipped", "no delivery without its approval"


def test_an_environment_without_approval_is_promoted_directly(tmp_path: Path) -> None:
    eco = ecosystem()
    eco = dataclasses.replace(
        eco, environments=tuple(dataclasses.replace(e, approval=e.name == "production") for e in eco.environments)
    )
    write_files(derive(eco), tmp_path)
    jobs = load(tmp_path, PROMOTE_WORKFLOW)["jobs"]
    assert list(jobs) == ["images", "deliver-staging", "approve-production", "deliver-production"]
    assert jobs["deliver-staging"]["needs"] == ["images"]


ROLLBACK_CONTEXT = {"github": {"event_name": "repository_dispatch", "event": {"client_payload": {}}}, "inputs": {}}


@pytest.mark.parametrize(
    ("environment", "runs"), [("production", True), ("test", True), ("preview", False), (None, False)]
)
def test_the_rollback_job_runs_for_a_known_environment_only(root: Path, environment: str | None, runs: bool) -> None:
    workflow = load(root, ROLLBACK_WORKFLOW)
    assert workflow["on"]["repository_dispatch"] == {"types": ["rollback"]}
    contexts = {
        "github": {"event_name": "repository_dispatch", "event": {"client_payload": {"environment": environment}}},
        "inputs": {},
    }
    run = simulate(workflow, contexts)
    assert run.results["rollback"] == ("success" if runs else "skipped")
    if runs:
        job = workflow["jobs"]["rollback"]
        context = Context(contexts)
        assert interpolate(job["environment"]["name"], context) == environment
        step = next(s for s in job["steps"] if "scaffold rollback" in s.get("run", ""))
        assert evaluate(step["env"]["ENVIRONMENT"], context) == environment
        assert ["scaffold", "rollback", "$ENVIRONMENT"] in commands(step["run"])


def test_rollbacks_and_deliveries_of_an_environment_never_overlap(root: Path) -> None:
    rollback = load(root, ROLLBACK_WORKFLOW)["jobs"]["rollback"]
    groups = {
        interpolate(rollback["concurrency"]["group"], Context({**ROLLBACK_CONTEXT, "inputs": {"environment": env}}))
        for env in ("test", "staging", "production")
    }
    deliveries = {load(root, WORKFLOW)["jobs"]["deliver-test"]["concurrency"]["group"]} | {
        job["concurrency"]["group"]
        for name, job in load(root, PROMOTE_WORKFLOW)["jobs"].items()
        if name.startswith("deliver-")
    }
    assert groups == deliveries
    assert all(job.get("concurrency", {}).get("cancel-in-progress") is False for job in (rollback,))


def test_a_manual_rollback_can_name_a_revision(root: Path) -> None:
    workflow = load(root, ROLLBACK_WORKFLOW)
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["test", "staging", "production"]
    step = next(s for s in workflow["jobs"]["rollback"]["steps"] if "scaffold rollback" in s.get("run", ""))
    assert ["scaffold", "rollback", "$ENVIRONMENT", "--to", "$REVISION"] in commands(step["run"])
    run = simulate(
        workflow,
        {
            "github": {"event_name": "workflow_dispatch", "event": {}},
            "inputs": {"environment": "staging", "revision": "4"},
        },
    )
    assert run.results["rollback"] == "success"


def test_a_skipped_delivery_does_not_pass_the_merge_queue(root: Path) -> None:
    """GitHub reports a skipped job as passed: the gate itself insists the delivery ran."""
    results = {"gates": "skipped", "plan": "success", "image": "success", "deliver-test": "skipped"}
    assert _ready(root, "merge_group", results).returncode != 0
    assert _ready(root, "pull_request", results).returncode == 0
