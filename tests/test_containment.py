"""Nothing outside the meta-project is ever touched: paths read from disk are proven inside the root,
links are never written through, and a journal scaffold did not leave is never replayed.

Each test puts a sentinel tree beside the meta-project (what an attacker would aim at: a sibling
directory, a file the user owns) and checks by hash that it is exactly as it was afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot

USAGE, CONFLICT = 2, 4


def _sentinel(parent: Path) -> Path:
    """A tree beside the meta-project with a file, a nested file and an empty directory."""
    tree = parent / "sentinel"
    (tree / "nested").mkdir(parents=True)
    (tree / "empty").mkdir()
    (tree / "keep.txt").write_text("the user's own file\n")
    (tree / "nested" / "deep.txt").write_text("deeper\n")
    return tree


def tree_hash(tree: Path) -> str:
    """One hash over every path, kind and content under `tree` (links by target, not followed)."""
    digest = hashlib.sha256()
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree).as_posix()
        if path.is_symlink():
            digest.update(f"L {relative} {os.readlink(path)}\n".encode())
        elif path.is_dir():
            digest.update(f"D {relative}\n".encode())
        else:
            digest.update(f"F {relative} {oct(path.stat().st_mode)} ".encode() + path.read_bytes() + b"\n")
    return digest.hexdigest()


def _error_lines(stderr: str) -> list[str]:
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), stderr
    assert "Traceback" not in stderr
    return lines


def _journal(root: Path, name: str, *records: dict[str, object]) -> Path:
    scratch = root / ".scaffold" / name
    scratch.mkdir()
    (scratch / "journal").write_text("".join(json.dumps(r) + "\n" for r in records))
    return scratch


# --- item 1: a journal can delete anything ---------------------------------------------------------

HOSTILE_JOURNALS = {
    "parent path": [{"op": "put", "path": "../sentinel"}],
    "absolute path": [{"op": "put", "path": "{sentinel}"}],
    "dot-dot inside": [{"op": "move", "path": "services/../../sentinel"}],
    "mkdir outside": [{"op": "mkdir", "path": "../sentinel/empty"}],
    "backup outside": [{"op": "put", "path": "README.md", "backup": "../../../sentinel/keep.txt"}],
    "temporary outside": [{"op": "put", "path": "README.md", "temp": "../../sentinel/keep.txt"}],
    "unknown step": [{"op": "chmod", "path": "README.md"}],
    "committed deletion outside": [{"op": "commit", "deleted": ["../sentinel/nested/deep.txt"]}],
}


@pytest.mark.parametrize("records", HOSTILE_JOURNALS.values(), ids=HOSTILE_JOURNALS.keys())
def test_a_journal_path_outside_the_root_is_refused(ecosystem: Path, records: list[dict[str, object]]) -> None:
    sentinel = _sentinel(ecosystem.parent)
    before_outside = tree_hash(sentinel)
    text = json.dumps(records).replace("{sentinel}", str(sentinel))
    scratch = _journal(ecosystem, "txn-hostile", *json.loads(text))
    before = snapshot(ecosystem)
    for command in (["list"], ["sync"], ["check", "--no-checkov"]):
        proc = scaffold(*command, cwd=ecosystem, check=False)
        assert proc.returncode == CONFLICT, proc.stderr
        lines = _error_lines(proc.stderr)
        assert "txn-hostile is not the journal of a killed scaffold command" in lines[0]
        assert "rm -r .scaffold/txn-hostile" in lines[1]
    assert tree_hash(sentinel) == before_outside
    assert diff(before, snapshot(ecosystem)) == []
    assert scratch.is_dir()


def test_a_journal_tracked_by_git_is_not_replayed(ecosystem: Path) -> None:
    """A journal committed with `git add -f` and cloned would make `list` delete a service's code."""
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    subprocess.run(["git", "add", "-A"], cwd=ecosystem, check=True)
    subprocess.run(["git", "commit", "-qm", "orders", "--no-verify"], cwd=ecosystem, check=True)
    _journal(ecosystem, "txn-committed", {"op": "move", "path": "services/orders"})
    subprocess.run(["git", "add", "-f", ".scaffold/txn-committed"], cwd=ecosystem, check=True)
    subprocess.run(["git", "commit", "-qm", "a journal", "--no-verify"], cwd=ecosystem, check=True)
    clone = ecosystem.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(ecosystem), str(clone)], check=True)
    proc = scaffold("list", cwd=clone, check=False)
    assert proc.returncode == CONFLICT, proc.stderr
    assert "git tracks it" in _error_lines(proc.stderr)[0]
    assert (clone / "services" / "orders" / "pyproject.toml").is_file()


def test_a_journal_step_through_a_symlinked_directory_is_refused(ecosystem: Path) -> None:
    sentinel = _sentinel(ecosystem.parent)
    before_outside = tree_hash(sentinel)
    (ecosystem / "elsewhere").symlink_to(sentinel)
    _journal(ecosystem, "txn-linked", {"op": "put", "path": "elsewhere/keep.txt"})
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode == CONFLICT, proc.stderr
    assert "symbolic link" in _error_lines(proc.stderr)[0]
    assert tree_hash(sentinel) == before_outside


def test_a_killed_commands_own_journal_is_still_recovered(ecosystem: Path) -> None:
    """The checks refuse only what scaffold does not write: a real leftover is undone as before."""
    (ecosystem / "added.txt").write_text("made by a command that was then killed\n")
    _journal(ecosystem, "txn-killed", {"op": "put", "path": "added.txt", "temp": ".added.txt.txn-killed-0"})
    scaffold("list", cwd=ecosystem)
    assert not (ecosystem / "added.txt").exists()
    assert not (ecosystem / ".scaffold" / "txn-killed").exists()


# --- item 3: links are not followed out of the tree ------------------------------------------------


def test_a_lock_file_that_is_a_symlink_is_not_written_through(ecosystem: Path) -> None:
    sentinel = _sentinel(ecosystem.parent)
    before_outside = tree_hash(sentinel)
    lock = ecosystem / ".scaffold" / "lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(sentinel / "keep.txt")
    for command in (["sync"], ["list"], ["check", "--no-checkov"]):
        proc = scaffold(*command, cwd=ecosystem, check=False)
        assert proc.returncode == USAGE, proc.stderr
        assert "is a symbolic link" in _error_lines(proc.stderr)[0]
    assert tree_hash(sentinel) == before_outside


def test_a_state_directory_that_is_a_symlink_is_refused(ecosystem: Path) -> None:
    sentinel = _sentinel(ecosystem.parent)
    state = ecosystem / ".scaffold"
    (sentinel / "state").mkdir()
    for entry in state.iterdir():
        entry.rename(sentinel / "state" / entry.name)
    state.rmdir()
    state.symlink_to(sentinel / "state")
    before_outside = tree_hash(sentinel)
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE, proc.stderr
    assert ".scaffold' is a symbolic link" in _error_lines(proc.stderr)[0]
    assert tree_hash(sentinel) == before_outside


@pytest.mark.parametrize("directory", ["monitoring", "deploy", "gateway", ".github"])
def test_a_derived_directory_that_is_a_symlink_out_gets_nothing_written(ecosystem: Path, directory: str) -> None:
    sentinel = _sentinel(ecosystem.parent)
    target = sentinel / "empty"
    before_outside = tree_hash(sentinel)
    subprocess.run(["rm", "-rf", str(ecosystem / directory)], check=True)
    (ecosystem / directory).symlink_to(target)
    before = snapshot(ecosystem)
    for command in (["sync"], ["new", "backend", "orders", "--defaults"]):
        proc = scaffold(*command, cwd=ecosystem, check=False)
        assert proc.returncode == USAGE, proc.stderr
        assert f"goes through a symbolic link ({directory})" in _error_lines(proc.stderr)[0]
    assert tree_hash(sentinel) == before_outside
    assert diff(before, snapshot(ecosystem)) == []


def test_a_derived_record_naming_a_path_outside_is_corrupt(ecosystem: Path) -> None:
    """`.scaffold/derived.json` lists what scaffold wrote; a path in it that leaves the meta-project (with
    the right hash, so it would count as scaffold's own and be deleted as left over) is refused."""
    sentinel = _sentinel(ecosystem.parent)
    before_outside = tree_hash(sentinel)
    record = ecosystem / ".scaffold" / "derived.json"
    data = json.loads(record.read_text())
    data["files"]["../sentinel/keep.txt"] = hashlib.sha256((sentinel / "keep.txt").read_bytes()).hexdigest()
    record.write_text(json.dumps(data))
    before = snapshot(ecosystem)
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE, proc.stderr
    assert "derived.json is corrupt" in _error_lines(proc.stderr)[0]
    assert tree_hash(sentinel) == before_outside
    assert diff(before, snapshot(ecosystem)) == []


@pytest.mark.parametrize("recorded", [".git/config", "ecosystem.yaml", "README.md", "services/README.md"])
def test_a_derived_record_naming_what_the_wiring_never_derives_is_corrupt(ecosystem: Path, recorded: str) -> None:
    """A record committed by someone else that names git's config, ecosystem.yaml or a service's file
    with its right hash would make `sync` delete it as a left-over derived file."""
    target = ecosystem / recorded
    content = target.read_bytes()
    record = ecosystem / ".scaffold" / "derived.json"
    data = json.loads(record.read_text())
    data["files"][recorded] = hashlib.sha256(content).hexdigest()
    record.write_text(json.dumps(data))
    before = snapshot(ecosystem)
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE, proc.stdout + proc.stderr
    assert "derived.json is corrupt" in _error_lines(proc.stderr)[0]
    assert target.read_bytes() == content
    assert diff(before, snapshot(ecosystem)) == []
