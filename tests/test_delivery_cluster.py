"""Delivery against a real Kubernetes cluster: deploy → smoke test → a forced failure → rollback.

Runs only where a cluster exists: KUBECONFIG names one (its current context is used for the `test`
environment), a Helm 4.1+ binary is on PATH, and an images file names a frontend image the cluster
can pull (SCAFFOLD_E2E_IMAGES, as `scaffold build --push` writes it for a service named `web`).
None of these can exist on the machines this suite normally runs on (no API server, no helm
binary, no registry), so there it is skipped and says why; docs/delivery.md says it was not run
there. The same commands are checked one by one against a recording stand-in in test_delivery.py.

The test makes its own namespace and Secret and deletes them after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from scaffold.errors import ExitCode
from scaffold.prerequisites import helm_version_ok
from tests.helpers import scaffold

pytestmark = pytest.mark.e2e

KUBECONFIG = os.environ.get("KUBECONFIG", "")
IMAGES = os.environ.get("SCAFFOLD_E2E_IMAGES", "")


def _missing() -> str:
    if not KUBECONFIG or not Path(KUBECONFIG).is_file():
        return "KUBECONFIG does not name a cluster's kubeconfig"
    helm = shutil.which("helm")
    if helm is None:
        return "no helm binary on PATH"
    version = subprocess.run([helm, "version", "--short"], capture_output=True, text=True).stdout
    if not helm_version_ok(version)[0]:
        return f"helm {version.strip()} is older than 4.1"
    if not IMAGES or not Path(IMAGES).is_file():
        return "SCAFFOLD_E2E_IMAGES does not name an images file with the image of a frontend named `web`"
    return ""


MISSING = _missing()


def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, check=False)


@pytest.mark.skipif(bool(MISSING), reason=f"needs a real cluster: {MISSING}")
def test_deploy_smoke_test_forced_failure_and_rollback_on_a_real_cluster(tmp_path: Path) -> None:
    context = kubectl("config", "current-context").stdout.strip()
    namespace = f"scaffold-e2e-{uuid.uuid4().hex[:8]}"
    scaffold("init", "shop", "--defaults", cwd=tmp_path)
    root = tmp_path / "shop"
    scaffold("new", "frontend", "web", "--defaults", cwd=root)
    # The test environment points at this cluster and a namespace of the test's own.
    text = (root / "ecosystem.yaml").read_text(encoding="utf-8")
    text = text.replace("context: shop-test", f"context: {context}").replace(
        "namespace: shop-test", f"namespace: {namespace}"
    )
    (root / "ecosystem.yaml").write_text(text, encoding="utf-8")
    scaffold("sync", cwd=root)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "commit", "-qm", "e2e"], cwd=root)
    assert kubectl("create", "namespace", namespace).returncode == 0
    try:
        missing = scaffold("deploy", "test", "--images", IMAGES, cwd=root, check=False)
        assert missing.returncode == ExitCode.NOT_FOUND and "Secret shop-test-secrets" in missing.stderr
        created = kubectl(
            "--namespace", namespace, "create", "secret", "generic", "shop-test-secrets", "--from-literal=unused=1"
        )
        assert created.returncode == 0, created.stderr

        first = scaffold("deploy", "test", "--images", IMAGES, "--json", cwd=root, check=False)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["revision"] == 1

        # A forced failure: the same image under a digest no registry has never becomes ready.
        broken = json.loads(Path(IMAGES).read_text(encoding="utf-8"))
        broken["images"]["web"]["digest"] = "sha256:" + "0" * 64
        (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
        failed = scaffold(
            "deploy", "test", "--images", str(tmp_path / "broken.json"), "--timeout", "90", cwd=root, check=False
        )
        assert failed.returncode == ExitCode.DELIVERY_FAILED, failed.stderr
        assert "Helm rolled shop back to revision 1" in failed.stderr

        again = scaffold("deploy", "test", "--images", IMAGES, "--json", cwd=root, check=False)
        assert again.returncode == 0, again.stderr
        rolled = scaffold("rollback", "test", "--json", cwd=root, check=False)
        assert rolled.returncode == 0, rolled.stderr
        assert json.loads(rolled.stdout)["target"] == 3, "the revision Helm's own rollback made, not the failed one"
        status = json.loads(scaffold("status", "test", "--json", cwd=root).stdout)
        assert status["revisions"][-1]["description"] == "Rollback to 3"
        assert all(d["ready"] == d["desired"] for d in status["deployments"])
    finally:
        subprocess.run(["helm", "uninstall", "shop", "--namespace", namespace, "--kube-context", context], check=False)
        kubectl("delete", "namespace", namespace, "--wait=false")
