"""Image tags come from git: the commit of the repository holding the service, `-dirty` when its
files have uncommitted changes; `scaffold build` and `scaffold test` agree on them, and bad input
stops them with one message before any engine is asked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from scaffold import ecosystem_file
from scaffold.errors import UsageError
from scaffold.image_tags import service_images, version_of
from tests.helpers import scaffold

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _git(root: Path, *args: str) -> str:
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    return subprocess.run([*git, *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def shop(ecosystem: Path) -> Path:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    scaffold("new", "worker", "fulfilment", "--defaults", cwd=ecosystem)
    _git(ecosystem, "add", "-A")
    _git(ecosystem, "commit", "-qm", "two services")
    return ecosystem


def test_a_clean_service_is_tagged_with_the_commit(shop: Path) -> None:
    model = ecosystem_file.load(shop).model
    orders = model.service("orders")
    assert orders is not None
    images = service_images(shop, model, orders)
    head = _git(shop, "rev-parse", "HEAD")
    assert images.runtime == f"{model.registry}/orders:{head[:12]}"
    assert images.test == f"{model.registry}/orders:{head[:12]}-test"


def test_uncommitted_changes_mark_only_the_service_they_touch(shop: Path) -> None:
    (shop / "services" / "orders" / "src" / "orders" / "new_module.py").write_text("X = 1\n")  # untracked
    (shop / "README.md").write_text("edited\n")  # outside every service
    model = ecosystem_file.load(shop).model
    tags = {s.name: service_images(shop, model, s).version.tag for s in model.services}
    head = _git(shop, "rev-parse", "HEAD")[:12]
    assert tags == {"orders": f"{head}-dirty", "fulfilment": head}


def test_a_service_with_its_own_repository_is_tagged_with_its_commit(shop: Path) -> None:
    service_dir = shop / "services" / "fulfilment"
    _git(service_dir, "init", "-q")
    _git(service_dir, "add", "-A")
    _git(service_dir, "commit", "-qm", "own history")
    model = ecosystem_file.load(shop).model
    fulfilment = model.service("fulfilment")
    assert fulfilment is not None
    version = service_images(shop, model, fulfilment).version
    assert version.commit == _git(service_dir, "rev-parse", "HEAD") != _git(shop, "rev-parse", "HEAD")
    assert not version.dirty


def test_a_repository_without_a_commit_cannot_tag_images(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    with pytest.raises(UsageError, match="no git commit"):
        version_of(tmp_path)


@pytest.mark.parametrize("command", ["build", "test"])
def test_an_unknown_service_is_refused_with_the_known_ones(shop: Path, command: str) -> None:
    proc = scaffold(command, "nosuch", cwd=shop, env=NO_ENGINE, check=False)
    assert proc.returncode == 3 and "nosuch" in proc.stderr and "orders" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", ["build", "test"])
def test_without_an_engine_the_message_says_how_to_get_one(shop: Path, command: str) -> None:
    proc = scaffold(command, cwd=shop, env=NO_ENGINE, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "No container engine answered" in proc.stderr and "hint:" in proc.stderr and "DOCKER_HOST" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["build", "test"])
def test_jobs_must_be_positive(shop: Path, command: str) -> None:
    proc = scaffold(command, "--jobs", "0", cwd=shop, env=NO_ENGINE, check=False)
    assert proc.returncode == 2 and "--jobs 0" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", ["build", "test"])
def test_an_ecosystem_without_services_has_nothing_to_build(ecosystem: Path, command: str) -> None:
    proc = scaffold(command, cwd=ecosystem, env=NO_ENGINE, check=False)
    assert proc.returncode == 2 and "no services" in proc.stderr, proc.stderr


def test_an_images_file_without_push_is_refused(shop: Path) -> None:
    proc = scaffold("build", "--images-file", "out.json", cwd=shop, env=NO_ENGINE, check=False)
    assert proc.returncode == 2 and "--push" in proc.stderr and not (shop / "out.json").exists(), proc.stderr
