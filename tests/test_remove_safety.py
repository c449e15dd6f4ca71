"""`scaffold remove NAME --delete-code` never deletes work that exists nowhere else (real git
repositories): edits to committed files, files added next to them, and, for a service in its own
repository, uncommitted files, commits no remote has and stashes. `--force` deletes anyway; a
service never committed (just made by `scaffold new`) is deleted, so remove still undoes new."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import commit_all, git

CONFLICT = 4


def _committed_orders(root: Path) -> Path:
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    commit_all(root, "orders")
    return root / "services" / "orders"


def _refused(root: Path, *words: str) -> None:
    before = snapshot(root)
    proc = scaffold("remove", "orders", "--delete-code", cwd=root, check=False)
    assert proc.returncode == CONFLICT, proc.stdout + proc.stderr
    error, hint = proc.stderr.strip().splitlines()
    assert error.startswith("error: Deleting services/orders would lose work") and all(w in error for w in words)
    assert "--force" in hint
    assert diff(before, snapshot(root)) == []


def test_an_edit_to_a_committed_file_stops_the_deletion_and_force_overrides(ecosystem: Path) -> None:
    service = _committed_orders(ecosystem)
    (service / "README.md").write_text("ours\n")

    _refused(ecosystem, "uncommitted changes to committed files (services/orders/README.md)")

    scaffold("remove", "orders", "--delete-code", "--force", cwd=ecosystem)
    assert not service.exists()


def test_a_file_added_next_to_committed_ones_stops_the_deletion(ecosystem: Path) -> None:
    service = _committed_orders(ecosystem)
    (service / "NOTES.md").write_text("ideas\n")

    _refused(ecosystem, "files never committed (services/orders/NOTES.md)")


def test_a_committed_service_with_nothing_pending_is_deleted(ecosystem: Path) -> None:
    service = _committed_orders(ecosystem)
    scaffold("remove", "orders", "--delete-code", cwd=ecosystem)
    assert not service.exists()


def test_a_service_in_its_own_repository_keeps_unpushed_commits_and_stashes(ecosystem: Path, tmp_path: Path) -> None:
    service = _committed_orders(ecosystem)
    git(ecosystem, "rm", "-r", "--cached", "--quiet", "services/orders")
    (ecosystem / ".gitignore").write_text((ecosystem / ".gitignore").read_text() + "services/orders/\n")
    commit_all(ecosystem, "orders has its own repository")
    git(service, "init", "--quiet", "--initial-branch=main")
    commit_all(service, "orders")

    _refused(ecosystem, "1 commit(s) no remote has")

    server = tmp_path / "orders.git"
    git(tmp_path, "init", "--quiet", "--bare", str(server))
    git(service, "remote", "add", "origin", str(server))
    git(service, "push", "--quiet", "origin", "main")
    (service / "README.md").write_text("work in progress\n")
    git(service, "stash", "--quiet")

    _refused(ecosystem, "1 stash(es)")

    git(service, "stash", "drop", "--quiet")
    scaffold("remove", "orders", "--delete-code", cwd=ecosystem)
    assert not service.exists()


def test_files_the_user_ignores_globally_are_not_unsaved_work(ecosystem: Path, tmp_path: Path) -> None:
    service = _committed_orders(ecosystem)
    (service / "app.py.swp").write_text("editor state\n")
    excludes = tmp_path / "global-ignore"
    excludes.write_text("*.swp\n")
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\texcludesFile = {excludes}\n")

    scaffold("remove", "orders", "--delete-code", cwd=ecosystem, env={"GIT_CONFIG_GLOBAL": str(config)})

    assert not service.exists()
