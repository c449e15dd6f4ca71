"""`scaffold changes`: only the services that changed since the base commit (or have no delivered
image) are built and rolled, in a real git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scaffold.errors import ExitCode
from tests.helpers import scaffold

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
PIN = "0123456789abcdef0123456789abcdef01234567"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("changes")
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    scaffold("new", "backend", "inventory", "--defaults", cwd=root)
    text = (root / "ecosystem.yaml").read_text(encoding="utf-8")
    text += (
        "  payments:\n    kind: backend\n    path: services/payments\n"
        "    repository: https://git.example.com/shop/payments.git\n"
        f"    commit: {PIN}\n    port: 8009\n    template: {{source: builtin, version: 0.1.0}}\n"
    )
    (root / "ecosystem.yaml").write_text(text, encoding="utf-8")
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "services/payments/\n")
    scaffold("sync", cwd=root)
    commit(root, "three services")
    return root


@pytest.fixture
def root(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "shop"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def changes(root: Path, *args: str) -> dict[str, str]:
    proc = scaffold("changes", *args, "--json", cwd=root)
    reasons: dict[str, str] = json.loads(proc.stdout)["reasons"]
    return reasons


def delivered(root: Path, *services: str) -> Path:
    digest = "sha256:" + "1" * 64
    images = {s: {"repository": f"registry.example.com/shop/{s}", "tag": "t", "digest": digest} for s in services}
    path = root.parent / "delivered.json"
    path.write_text(json.dumps({"schema": 1, "commit": "a" * 40, "dirty": False, "images": images}))
    return path


ALL = ("inventory", "orders", "payments")


def test_only_the_service_whose_files_changed_is_built(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    (root / "services" / "orders" / "src" / "orders" / "extra.py").write_text("VALUE = 1\n")
    commit(root, "orders changes")
    assert changes(root, "--since", base, "--delivered", str(delivered(root, *ALL))) == {
        "orders": "files changed under services/orders"
    }


def test_a_moved_pin_rebuilds_the_service_of_its_own_repository(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    text = (root / "ecosystem.yaml").read_text(encoding="utf-8").replace(PIN, "f" * 40)
    (root / "ecosystem.yaml").write_text(text, encoding="utf-8")
    commit(root, "payments moves")
    assert changes(root, "--since", base, "--delivered", str(delivered(root, *ALL))) == {
        "payments": f"pinned commit moved to {'f' * 40}"
    }


def test_an_unrelated_change_builds_nothing(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    (root / "README.md").write_text("changed\n")
    commit(root, "docs")
    assert changes(root, "--since", base, "--delivered", str(delivered(root, *ALL))) == {}
    assert "No service needs a new image" in scaffold("changes", "--since", base, cwd=root).stdout


def test_a_service_without_a_delivered_image_is_built(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    assert changes(root, "--since", base, "--delivered", str(delivered(root, "orders", "payments"))) == {
        "inventory": "no image delivered yet"
    }


def test_without_a_record_of_the_last_delivery_everything_is_built(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    found = changes(root, "--since", base, "--delivered", str(root.parent / "absent.json"))
    assert sorted(found) == list(ALL)


def test_a_base_that_is_not_a_commit_is_refused(root: Path) -> None:
    proc = scaffold("changes", "--since", "no-such-branch", cwd=root, check=False)
    assert proc.returncode == ExitCode.USAGE
    assert "fetch-depth: 0" in proc.stderr
