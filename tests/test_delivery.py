"""`scaffold deploy`, `rollback` and `status` against the exact commands they run.

No Kubernetes API server and no helm binary can be installed here, so `helm` and `kubectl` are the
recording stand-ins of tests/kube_standin.py on PATH: each test reads the command lines scaffold
ran and the values it passed, and the stand-in's release history (which follows Helm 4.1's rules,
see its docstring). tests/test_delivery_cluster.py runs the same commands against a real cluster
when KUBECONFIG names one. Every failure branch has a test here: rollout fails, smoke test fails,
first install fails, Secret missing, namespace missing, custom APIs missing, cluster unreachable,
Helm too old, release mid-operation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scaffold.delivery.history import RollbackPlan, abandoned, parse, plan_rollback
from scaffold.errors import ExitCode, UsageError
from tests import kube_standin
from tests.helpers import diff, scaffold, snapshot

REGISTRY = "registry.example.com/shop"
GOOD = "sha256:" + "1" * 64
NEWER = "sha256:" + "2" * 64
BROKEN = "sha256:" + "b" * 64
UNREADY = "sha256:" + "d" * 64


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A meta-project with one backend, committed (a delivery ships a commit)."""
    parent = tmp_path_factory.mktemp("delivery")
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *identity, "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", *identity, "commit", "-qm", "orders"], cwd=root, check=True)
    return root


@dataclass
class Lab:
    """A copy of the meta-project, the stand-ins on PATH and their cluster."""

    root: Path
    env: dict[str, str]
    log: Path
    state: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return scaffold(*args, cwd=self.root, env=self.env, check=False)

    def commands(self) -> list[list[str]]:
        """Each command line run, with the programs by name and the meta-project as $ROOT."""
        return [
            [c["program"], *(a.replace(str(self.root), "$ROOT") for a in c["args"])]
            for c in kube_standin.calls(self.log)
        ]

    def calls(self) -> list[dict[str, Any]]:
        return kube_standin.calls(self.log)

    def history(self, namespace: str = "shop-test") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = kube_standin.read_state(self.state)["releases"].get(f"{namespace}/shop", [])
        return found

    def images(self, name: str, digest: str, *, dirty: bool = False) -> Path:
        path = self.root / name
        document = {
            "schema": 1,
            "commit": "0" * 40,
            "dirty": dirty,
            "images": {"orders": {"repository": f"{REGISTRY}/orders", "tag": "abc123", "digest": digest}},
        }
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    def deploy(self, env: str = "test", digest: str = GOOD, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("deploy", env, "--images", str(self.images(f"images-{digest[7:11]}.json", digest)), *extra)


def make_lab(pristine: Path, tmp_path: Path, **cluster: Any) -> Lab:
    root = tmp_path / "shop"
    shutil.copytree(pristine, root, symlinks=True)
    log, state = tmp_path / "calls.jsonl", tmp_path / "cluster.json"
    env = kube_standin.install(tmp_path / "bin", log, state, kube_standin.cluster(**cluster))
    return Lab(root, env, log, state)


@pytest.fixture
def lab(pristine: Path, tmp_path: Path) -> Lab:
    return make_lab(pristine, tmp_path)


def head(root: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()


TEST = ["--namespace", "shop-test", "--kube-context", "shop-test"]
ROLLBACK = ["--wait=watcher", "--wait-for-jobs", "--timeout=600s", "--history-max=20"]
KUBECTL = ["kubectl", "--context", "shop-test"]
PREFLIGHT = [
    ["helm", "version", "--short"],
    [*KUBECTL, "version", "--output=json", "--request-timeout=30s"],
    [*KUBECTL, "get", "namespace", "shop-test", "--ignore-not-found", "--output=name"],
    [*KUBECTL, "get", "secret", "shop-test-secrets", "--namespace", "shop-test", "--ignore-not-found", "--no-headers"],
    [*KUBECTL, "get", "--raw", "/apis/gateway.envoyproxy.io/v1alpha1"],
    [*KUBECTL, "get", "--raw", "/apis/gateway.networking.k8s.io/v1"],
    [*KUBECTL, "get", "--raw", "/apis/monitoring.coreos.com/v1"],
    ["helm", "history", "shop", "--output", "json", "--max", "100", *TEST],
]


def upgrade_command(lab: Lab) -> list[str]:
    """The last `helm upgrade` run."""
    return [c for c in lab.commands() if c[:2] == ["helm", "upgrade"]][-1]


def test_a_first_delivery_checks_the_environment_installs_and_smoke_tests(lab: Lab) -> None:
    proc = lab.deploy("test", GOOD, "--json")
    assert proc.returncode == 0, proc.stderr
    commands = lab.commands()
    upgrade = upgrade_command(lab)
    images_values = upgrade[upgrade.index("--values", upgrade.index("--values") + 1) + 1]
    assert commands == [
        *PREFLIGHT,
        [
            "helm",
            "upgrade",
            "shop",
            "$ROOT/deploy/chart",
            "--install",
            "--values",
            "$ROOT/deploy/chart/values-test.yaml",
            "--values",
            images_values,
            "--rollback-on-failure",
            "--wait=watcher",
            "--wait-for-jobs",
            "--timeout=600s",
            "--history-max=20",
            "--description",
            f"scaffold deploy of commit {head(lab.root)}",
            *TEST,
        ],
        ["helm", "history", "shop", "--output", "json", "--max", "100", *TEST],
        ["helm", "test", "shop", "--logs", "--timeout=300s", *TEST],
    ]
    result = json.loads(proc.stdout)
    assert result["revision"] == 1 and result["previous"] is None
    assert result["images"] == {"orders": f"{REGISTRY}/orders@{GOOD}"}
    assert result["skipped"] == []
    assert [r["status"] for r in lab.history()] == ["deployed"]
    assert "POD LOGS: shop-orders-test-connection" in proc.stderr, "the smoke tests' logs are shown"


def test_each_image_is_pinned_by_digest_in_the_values_helm_gets(lab: Lab) -> None:
    assert lab.deploy("staging", NEWER).returncode == 0
    (upgrade,) = [c for c in lab.calls() if c["args"][:1] == ["upgrade"]]
    files = list(upgrade["values"].items())
    assert files[0][0] == str(lab.root / "deploy" / "chart" / "values-staging.yaml")
    assert json.loads(files[1][1]) == {
        "orders": {"image": {"repository": f"{REGISTRY}/orders", "tag": "abc123", "digest": NEWER}}
    }
    assert not Path(files[1][0]).exists(), "the values file is temporary"


def test_the_secret_is_looked_up_without_reading_its_values(lab: Lab) -> None:
    """kubectl's human-readable output is a server-side Table: metadata only, never the data."""
    assert lab.deploy().returncode == 0
    (secret,) = [c for c in lab.commands() if c[3:5] == ["get", "secret"]]
    assert not any(a.startswith(("-o", "--output", "--template", "--show-managed")) for a in secret)


def test_a_later_delivery_replaces_the_running_revision(lab: Lab) -> None:
    assert lab.deploy("test", GOOD).returncode == 0
    proc = lab.deploy("test", NEWER, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["revision"], result["previous"]) == (2, 1)
    assert [r["status"] for r in lab.history()] == ["superseded", "deployed"]


def test_a_failed_rollout_is_rolled_back_by_helm_and_reported(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, unready=[UNREADY])
    assert lab.deploy("test", GOOD).returncode == 0
    proc = lab.deploy("test", UNREADY)
    assert proc.returncode == ExitCode.DELIVERY_FAILED, proc.stderr
    assert "Helm rolled shop back to revision 1 (now revision 3)" in proc.stderr
    assert [(r["status"], r["description"].split(":")[0]) for r in lab.history()] == [
        ("superseded", "scaffold deploy of commit " + head(lab.root)),
        ("failed", 'Upgrade "shop" failed'),
        ("deployed", "Rollback to 1"),
    ]
    commands = lab.commands()
    last_upgrade = max(i for i, c in enumerate(commands) if c[:2] == ["helm", "upgrade"])
    assert [c[1] for c in commands[last_upgrade + 1 :]] == ["history"], "no smoke test and no second rollback"


def test_a_failed_first_install_is_removed_and_reported(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, unready=[UNREADY])
    proc = lab.deploy("test", UNREADY)
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert "The first install of shop into test" in proc.stderr and "Helm uninstalled it" in proc.stderr
    assert "get events --namespace shop-test" in proc.stderr
    assert lab.history() == []


def test_failed_smoke_tests_roll_back_to_the_last_good_revision(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, failing=[BROKEN])
    assert lab.deploy("test", GOOD).returncode == 0
    proc = lab.deploy("test", BROKEN)
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert "The smoke tests of revision 2 in test" in proc.stderr and "rolled back to revision 1." in proc.stderr
    assert "http://shop-orders:80/readyz 503" in proc.stderr, "the failing pod's log is shown"
    tail = lab.commands()[-3:]
    assert tail == [
        ["helm", "test", "shop", "--logs", "--timeout=300s", *TEST],
        ["helm", "history", "shop", "--output", "json", "--max", "100", *TEST],
        ["helm", "rollback", "shop", "1", *ROLLBACK, *TEST],
    ]
    assert lab.history()[-1]["description"] == "Rollback to 1"
    assert lab.history()[-1]["values"]["orders"]["image"]["digest"] == GOOD


def test_failed_smoke_tests_of_a_first_install_uninstall_it(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, failing=[BROKEN])
    proc = lab.deploy("test", BROKEN)
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert "the release was uninstalled" in proc.stderr
    assert lab.commands()[-1] == ["helm", "uninstall", "shop", "--wait=watcher", "--timeout=600s", *TEST]
    assert not any(c[1] == "rollback" for c in lab.commands() if c[0] == "helm"), "never `helm rollback shop 0`"
    assert lab.history() == []


def test_a_rollback_that_fails_after_failed_smoke_tests_says_how_to_retry(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, failing=[BROKEN])
    assert lab.deploy("test", GOOD).returncode == 0
    state = kube_standin.read_state(lab.state)
    lab.state.write_text(json.dumps({**state, "rollback_fails": True}), encoding="utf-8")
    proc = lab.deploy("test", BROKEN)
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert "the rollback to revision 1 failed too" in proc.stderr
    assert "scaffold rollback test --to 1" in proc.stderr


def _nothing_changed(lab: Lab, proc: subprocess.CompletedProcess[str]) -> None:
    changing = {"upgrade", "rollback", "uninstall", "test"}
    assert not [c for c in lab.commands() if c[0] == "helm" and c[1] in changing], proc.stderr


def test_a_missing_secret_stops_before_the_cluster_is_touched(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, secrets={"shop-test": ["other"]})
    proc = lab.deploy()
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "Secret shop-test-secrets does not exist in namespace shop-test" in proc.stderr
    assert "create secret generic shop-test-secrets" in proc.stderr
    _nothing_changed(lab, proc)


def test_a_missing_namespace_stops_before_the_cluster_is_touched(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, namespaces=["shop"])
    proc = lab.deploy()
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "Namespace shop-test of test does not exist" in proc.stderr
    _nothing_changed(lab, proc)


def test_a_deployer_that_may_not_read_namespaces_relies_on_the_secret_check(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, namespaces_forbidden=True)
    assert lab.deploy().returncode == 0


def test_missing_custom_apis_are_reported_and_the_delivery_goes_on(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, apis={"gateway.networking.k8s.io/v1": ["Gateway"]})
    proc = lab.deploy("test", GOOD, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["skipped"] == ["ServiceMonitor", "PrometheusRule", "HTTPRoute", "SecurityPolicy"]
    assert "does not serve monitoring.coreos.com/v1/PrometheusRule" in proc.stderr
    assert "no alert rolls a delivery back" in proc.stderr


def test_an_unreachable_cluster_stops_the_delivery(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, reachable=False)
    proc = lab.deploy()
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert "The cluster of test (context shop-test, namespace shop-test) does not answer" in proc.stderr
    assert lab.commands()[-1][3] == "version"


def test_an_unknown_context_stops_the_delivery(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, contexts=["elsewhere"])
    proc = lab.deploy()
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert 'context "shop-test" does not exist' in proc.stderr


def test_helm_older_than_4_1_is_refused(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, helm_version="v3.18.6+gb76a950")
    proc = lab.deploy()
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "Helm v3.18.6 is older than 4.1" in proc.stderr
    assert lab.commands() == [["helm", "version", "--short"]]


def test_a_release_in_the_middle_of_an_operation_is_not_touched(lab: Lab) -> None:
    assert lab.deploy().returncode == 0
    state = kube_standin.read_state(lab.state)
    state["releases"]["shop-test/shop"][-1]["status"] = "pending-upgrade"
    lab.state.write_text(json.dumps(state), encoding="utf-8")
    proc = lab.deploy("test", NEWER)
    assert proc.returncode == ExitCode.CONFLICT
    assert "Release shop is pending-upgrade (revision 1)" in proc.stderr
    assert sum(1 for c in lab.commands() if c[:2] == ["helm", "upgrade"]) == 1


def test_every_service_needs_an_image(lab: Lab) -> None:
    scaffold("new", "backend", "inventory", "--defaults", cwd=lab.root)
    proc = lab.deploy()
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "No image for inventory" in proc.stderr
    assert lab.calls() == []


def test_images_built_from_uncommitted_changes_need_allow_dirty(lab: Lab) -> None:
    dirty = lab.images("dirty.json", GOOD, dirty=True)
    proc = lab.run("deploy", "test", "--images", str(dirty))
    assert proc.returncode == ExitCode.USAGE and "uncommitted changes" in proc.stderr
    assert lab.calls() == []
    assert lab.run("deploy", "test", "--images", str(dirty), "--allow-dirty").returncode == 0


def test_derived_files_out_of_date_are_not_delivered(lab: Lab) -> None:
    values = lab.root / "deploy" / "chart" / "values-test.yaml"
    values.write_text(values.read_text(encoding="utf-8") + "# tuned by hand\n", encoding="utf-8")
    before = snapshot(lab.root)
    proc = lab.deploy()
    assert proc.returncode == ExitCode.CONFLICT and "deploy/chart/values-test.yaml" in proc.stderr
    assert lab.calls() == []
    assert diff(before, snapshot(lab.root)) == ["images-1111.json"]


def test_an_unknown_environment_is_refused(lab: Lab) -> None:
    proc = lab.deploy("qa")
    assert proc.returncode == ExitCode.USAGE
    assert "There is no environment named 'qa'" in proc.stderr and "test, staging, production" in proc.stderr


def test_the_delivered_images_promote_the_same_digests(lab: Lab, tmp_path: Path) -> None:
    """A later file wins per service; the complete set delivered is written for the next environment."""
    base, build = lab.images("base.json", GOOD), lab.images("build.json", NEWER)
    delivered = tmp_path / "delivered.json"
    proc = lab.run(
        "deploy", "test", "--images", str(base), "--images", str(build), "--delivered-images", str(delivered)
    )
    assert proc.returncode == 0, proc.stderr
    written = json.loads(delivered.read_text(encoding="utf-8"))
    assert written["commit"] == head(lab.root) and written["dirty"] is False
    assert written["images"]["orders"]["digest"] == NEWER
    assert lab.run("deploy", "production", "--images", str(delivered)).returncode == 0
    production = lab.history("shop")[-1]["values"]["orders"]["image"]
    assert production["digest"] == NEWER


# --- rollback ----------------------------------------------------------------------------------


def test_rollback_returns_to_the_last_good_revision_and_smoke_tests_it(lab: Lab) -> None:
    assert lab.deploy("production", GOOD).returncode == 0
    assert lab.deploy("production", NEWER).returncode == 0
    proc = lab.run("rollback", "production", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) | {"reason": ""} == {
        "environment": "production",
        "namespace": "shop",
        "release": "shop",
        "current": 2,
        "target": 1,
        "revision": 3,
        "reason": "",
    }
    prod = ["--namespace", "shop", "--kube-context", "shop-production"]
    assert lab.commands()[-5:] == [
        ["kubectl", "--context", "shop-production", "version", "--output=json", "--request-timeout=30s"],
        ["helm", "history", "shop", "--output", "json", "--max", "100", *prod],
        ["helm", "rollback", "shop", "1", *ROLLBACK, *prod],
        ["helm", "history", "shop", "--output", "json", "--max", "100", *prod],
        ["helm", "test", "shop", "--logs", "--timeout=300s", *prod],
    ]


def test_a_second_rollback_signal_does_nothing(lab: Lab) -> None:
    """An alert that keeps firing after the rollback must not walk the release back further."""
    for digest in (GOOD, NEWER):
        assert lab.deploy("test", digest).returncode == 0
    assert lab.run("rollback", "test").returncode == 0
    proc = lab.run("rollback", "test")
    assert proc.returncode == 0
    assert "Nothing rolled back in test" in proc.stdout and "already a rollback to 1" in proc.stdout
    assert sum(1 for c in lab.commands() if c[:2] == ["helm", "rollback"]) == 1
    assert lab.run("rollback", "test", "--to", "2").returncode == 0, "--to goes anywhere good, deliberately"


def test_rollback_to_a_revision_that_never_ran_is_refused(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, unready=[UNREADY])
    assert lab.deploy("test", GOOD).returncode == 0
    assert lab.deploy("test", UNREADY).returncode == ExitCode.DELIVERY_FAILED
    proc = lab.run("rollback", "test", "--to", "2")
    assert proc.returncode == ExitCode.USAGE
    assert "Revision 2 never ran successfully (status failed)" in proc.stderr


def test_rollback_of_a_release_that_is_not_installed(lab: Lab) -> None:
    proc = lab.run("rollback", "staging")
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "not installed in staging" in proc.stderr


def test_rollback_whose_smoke_tests_fail_too_says_so(pristine: Path, tmp_path: Path) -> None:
    lab = make_lab(pristine, tmp_path, failing=[])
    assert lab.deploy("test", BROKEN).returncode == 0
    assert lab.deploy("test", GOOD).returncode == 0
    state = kube_standin.read_state(lab.state)
    lab.state.write_text(json.dumps({**state, "failing": [BROKEN]}), encoding="utf-8")
    proc = lab.run("rollback", "test")
    assert proc.returncode == ExitCode.DELIVERY_FAILED
    assert "rolled back to revision 1, but its smoke tests fail too" in proc.stderr


# --- status ------------------------------------------------------------------------------------


def test_status_shows_the_revisions_images_and_readiness(lab: Lab) -> None:
    for digest in (GOOD, NEWER):
        assert lab.deploy("staging", digest).returncode == 0
    proc = lab.run("status", "staging", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert [r["number"] for r in status["revisions"]] == [1, 2]
    assert status["rollback_target"] == 1
    assert status["images"] == {"orders": f"{REGISTRY}/orders@{NEWER}"}
    assert status["deployments"] == [{"name": "shop-orders", "ready": 2, "desired": 2}]
    text = lab.run("status", "staging").stdout
    assert "`scaffold rollback staging` would return to revision 1." in text


def test_status_of_an_environment_without_the_release(lab: Lab) -> None:
    proc = lab.run("status", "test")
    assert proc.returncode == 0
    assert "shop is not installed in test" in proc.stdout
    assert not any(c[1] in ("upgrade", "rollback", "test", "uninstall") for c in lab.commands() if c[0] == "helm")


# --- choosing the rollback target (pure) -------------------------------------------------------


def _history(*entries: tuple[int, str, str]) -> str:
    return json.dumps([{"revision": n, "status": s, "chart": "shop-0.1.0", "description": d} for n, s, d in entries])


def test_the_target_skips_failed_and_rolled_back_revisions() -> None:
    history = parse(
        _history(
            (1, "superseded", "Install complete"),
            (2, "superseded", "Upgrade complete"),
            (3, "failed", "Upgrade failed"),
            (4, "superseded", "Rollback to 2"),
            (5, "superseded", "Upgrade complete"),
            (6, "superseded", "Rollback to 4"),
            (7, "deployed", "Upgrade complete"),
        )
    )
    assert abandoned(history) == {3, 5}
    plan = plan_rollback(history)
    assert plan.target is not None and plan.target.number == 6
    assert plan_rollback(history[:6]) == RollbackPlan(history[5], None, plan_rollback(history[:6]).reason)
    assert "already a rollback to 4" in plan_rollback(history[:6]).reason


def test_a_first_install_has_nothing_to_roll_back_to() -> None:
    plan = plan_rollback(parse(_history((1, "deployed", "Install complete"))))
    assert plan.target is None and "no good revision before it" in plan.reason


def test_an_explicit_target_must_have_run() -> None:
    history = parse(_history((1, "superseded", "x"), (2, "failed", "y"), (3, "deployed", "z")))
    with pytest.raises(UsageError, match="never ran successfully"):
        plan_rollback(history, 2)
    with pytest.raises(UsageError, match="is the current one"):
        plan_rollback(history, 3)
    with pytest.raises(UsageError, match="does not exist"):
        plan_rollback(history, 9)
    target = plan_rollback(history, 1).target
    assert target is not None and target.number == 1


# --- the platform chart, once per cluster ------------------------------------------------------


def test_the_platform_part_is_installed_once_per_cluster(pristine: Path, tmp_path: Path) -> None:
    """Into alerting.namespace; a second environment on the same cluster upgrades the same release."""
    lab = make_lab(pristine, tmp_path, namespaces=["shop-test", "monitoring"])
    proc = lab.run("deploy", "test", "--platform", "--json")
    assert proc.returncode == 0, proc.stderr
    monitoring = ["--namespace", "monitoring", "--kube-context", "shop-test"]
    assert lab.commands()[-2] == [
        "helm",
        "upgrade",
        "shop-platform",
        "$ROOT/deploy/platform",
        "--install",
        "--rollback-on-failure",
        "--wait=watcher",
        "--timeout=600s",
        "--history-max=20",
        *monitoring,
    ]
    assert not any(c[3:5] == ["get", "secret"] for c in lab.commands()), "no relay: no token Secret needed"
    assert json.loads(proc.stdout)["namespace"] == "monitoring"
    assert lab.run("deploy", "test", "--platform").returncode == 0
    releases = kube_standin.read_state(lab.state)["releases"]
    assert list(releases) == ["monitoring/shop-platform"] and len(releases["monitoring/shop-platform"]) == 2


def test_the_platform_part_needs_its_namespace(lab: Lab) -> None:
    proc = lab.run("deploy", "test", "--platform")
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "Namespace monitoring (alerting.namespace of ecosystem.yaml) does not exist" in proc.stderr
    _nothing_changed(lab, proc)


def test_an_ecosystem_without_services_is_delivered_without_images(pristine: Path, tmp_path: Path) -> None:
    """Right after `scaffold init` the merge queue delivers the umbrella alone (no image to pin)."""
    lab = make_lab(pristine, tmp_path)
    scaffold("remove", "orders", cwd=lab.root)
    proc = lab.run("deploy", "test", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"] == {}


def test_a_service_whose_own_repository_is_not_checked_out_is_not_delivered(lab: Lab) -> None:
    """Its path is ignored by the meta-project's git, so a fresh clone lacks it and the umbrella's link
    to its chart dangles: the delivery stops before any command, saying how to check it out at its pin."""
    pin = "0123456789abcdef0123456789abcdef01234567"
    text = (lab.root / "ecosystem.yaml").read_text(encoding="utf-8")
    text += (
        "  payments:\n    kind: backend\n    path: services/payments\n"
        "    repository: https://git.example.com/shop/payments.git\n"
        f"    commit: {pin}\n    port: 8009\n    template: {{source: builtin, version: 0.1.0}}\n"
    )
    (lab.root / "ecosystem.yaml").write_text(text, encoding="utf-8")
    scaffold("sync", cwd=lab.root)
    proc = lab.deploy()
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "No chart on disk for payments" in proc.stderr
    assert f"git -C services/payments checkout {pin}" in proc.stderr
    assert lab.calls() == []
