"""`scaffold update` never loses a service's file when the template turns a directory into a file or
a file into a directory (issue 10, item 4): as git does, that is a file/directory conflict, reported
by the dry run and `--json` too, exit code 6, and the other services are updated.

Template 1.0.0 has `handbook/a.md` and a file `guide`; 2.0.0 has a file `handbook` and `guide/index.md`.
- orders added `handbook/own.md` and edited `guide` (both committed): both are conflicts;
- billing has an ignored file `handbook/local.cfg` (git does not see it) and no edit: `handbook` is
  a conflict (replacing the directory would delete the ignored file), `guide` is simply updated;
- shipping changed nothing: it is updated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import TemplateRepo, built_once, commit_all, git, meta_project

UPDATE_CONFLICTS = 6
ASIDE = "~template-2.0.0"


def _build(base: Path) -> None:
    template = TemplateRepo(base / "template")
    template.write("backend/handbook/a.md", "Chapter A.\n")
    template.write("backend/guide", "The guide, one file.\n")
    template.release("1.0.0")
    root = meta_project(base, template, "orders", "billing", "shipping")
    orders, billing = root / "services" / "orders", root / "services" / "billing"
    (orders / "handbook" / "own.md").write_text("Our own chapter.\n")
    (orders / "guide").write_text("The guide, one file, with our notes.\n")
    (billing / ".gitignore").write_text("handbook/local.cfg\n")
    commit_all(root, "the developers' edits")
    (billing / "handbook" / "local.cfg").write_text("an ignored local setting\n")
    template.delete("backend/handbook/a.md")
    (template.path / "backend" / "handbook").rmdir()
    template.write("backend/handbook", "The handbook is one file now.\n")
    template.delete("backend/guide")
    template.write("backend/guide/index.md", "The guide, a directory now.\n")
    template.replace("backend/README.md.jinja", "Port: {{ port }}", "Port: {{ port }} (2.0.0)")
    template.release("2.0.0")


@pytest.fixture
def root(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    base = built_once(tmp_path_factory, "file-directory-scenario", _build)
    return Path(shutil.copytree(base / "shop", tmp_path / "shop", symlinks=True))


def test_a_directory_the_template_turns_into_a_file_keeps_the_services_own_files(root: Path) -> None:
    proc = scaffold("update", "--all", cwd=root, check=False)
    assert proc.returncode == UPDATE_CONFLICTS, proc.stdout + proc.stderr
    orders = root / "services" / "orders"
    assert (orders / "handbook" / "own.md").read_text() == "Our own chapter.\n"
    assert (orders / "handbook" / "a.md").read_text() == "Chapter A.\n"
    assert (orders / f"handbook{ASIDE}").read_text() == "The handbook is one file now.\n"
    billing = root / "services" / "billing"
    assert (billing / "handbook" / "local.cfg").read_text() == "an ignored local setting\n"
    assert (billing / f"handbook{ASIDE}").read_text() == "The handbook is one file now.\n"
    assert f"services/orders/handbook{ASIDE}" in proc.stdout


def test_a_file_the_template_turns_into_a_directory_keeps_the_services_edit(root: Path) -> None:
    proc = scaffold("update", "--all", cwd=root, check=False)
    assert proc.returncode == UPDATE_CONFLICTS, proc.stdout + proc.stderr
    orders = root / "services" / "orders"
    assert (orders / "guide").read_text() == "The guide, one file, with our notes.\n"
    assert (orders / f"guide{ASIDE}" / "index.md").read_text() == "The guide, a directory now.\n"
    # billing did not edit its guide: the template's change applies as it is.
    assert (root / "services" / "billing" / "guide" / "index.md").read_text() == "The guide, a directory now.\n"


def test_the_other_services_are_updated_and_the_conflicts_are_unmerged_in_git(root: Path) -> None:
    proc = scaffold("update", "--all", "--json", cwd=root, check=False)
    assert proc.returncode == UPDATE_CONFLICTS, proc.stdout + proc.stderr
    report = {t["name"]: t for t in json.loads(proc.stdout)["targets"]}
    assert report["shipping"]["status"] == "updated"
    assert "(2.0.0)" in (root / "services" / "shipping" / "README.md").read_text()
    assert report["orders"]["status"] == "conflicts"
    assert set(report["orders"]["conflicts"]) == {"services/orders/guide", "services/orders/handbook"}
    assert report["billing"]["conflicts"] == ["services/billing/handbook"]
    unmerged = git(root, "diff", "--name-only", "--diff-filter=U")
    assert f"services/orders/handbook{ASIDE}" in unmerged.split()


def test_the_dry_run_reports_the_same_conflicts_and_writes_nothing(root: Path) -> None:
    before = snapshot(root)
    proc = scaffold("update", "--all", "--dry-run", "--json", cwd=root, check=False)
    assert proc.returncode == UPDATE_CONFLICTS, proc.stdout + proc.stderr
    report = {t["name"]: t for t in json.loads(proc.stdout)["targets"]}
    assert set(report["orders"]["conflicts"]) == {"services/orders/guide", "services/orders/handbook"}
    assert f"services/orders/handbook{ASIDE}" in report["orders"]["diff"]
    assert diff(before, snapshot(root)) == []
