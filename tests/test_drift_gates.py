"""The drift gate for CI: `scaffold list --outdated` fails while anything is behind its template.

Real git template repositories: a fleet at 1.0.0, a template release 2.0.0, the gate before and
after `scaffold update --all`. (`scaffold check` failing on wiring out of sync with ecosystem.yaml
is tests/test_check.py::test_derived_files_out_of_sync_are_named; the pipeline job that runs both
on pull requests is tested in tests/test_wiring.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scaffold.errors import ExitCode
from tests.helpers import scaffold
from tests.update_helpers import TemplateRepo, commit_all, meta_project

OUTDATED = int(ExitCode.OUTDATED)


def test_a_fleet_behind_by_one_version_fails_the_gate_until_it_is_updated(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders", "billing")

    current = scaffold("list", "--outdated", cwd=root)
    assert "Every service and the meta-project are on their template's newest version." in current.stdout

    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.release("2.0.0")
    behind = scaffold("list", "--outdated", cwd=root, check=False)
    assert behind.returncode == OUTDATED, behind.stdout + behind.stderr
    rows = {
        line.split()[0]: line.split()[1:]
        for line in behind.stdout.splitlines()[1:]
        if line.startswith(("shop", "orders", "billing"))
    }
    assert rows == {name: [str(template.path), "1.0.0", "2.0.0"] for name in ("shop", "orders", "billing")}
    error, hint = behind.stderr.splitlines()
    assert error.startswith("error: 3 behind the newest template version") and hint.startswith(
        "hint: Run `scaffold update --all`"
    )

    as_json = scaffold("list", "--outdated", "--json", cwd=root, check=False)
    assert as_json.returncode == OUTDATED
    report = json.loads(as_json.stdout)
    assert report["outdated_only"] is True
    assert {t["name"]: (t["version"], t["latest"], t["update_available"]) for t in report["templates"]} == {
        name: ("1.0.0", "2.0.0", True) for name in ("shop", "orders", "billing")
    }

    scaffold("update", "--all", cwd=root)
    commit_all(root, "template 2.0.0")
    assert scaffold("list", "--outdated", cwd=root).returncode == 0


def test_a_template_source_that_cannot_be_read_fails_the_gate(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    shutil.move(template.path, tmp_path / "moved")
    proc = scaffold("list", "--outdated", cwd=root, check=False)
    assert proc.returncode == int(ExitCode.NOT_FOUND), proc.stdout + proc.stderr
    assert "? (source not readable)" in proc.stdout
    assert f"error: The template source {template.path} cannot be read" in proc.stderr
    # Plain `list` still shows the fleet (drift unknown), as before.
    assert scaffold("list", cwd=root).returncode == 0


def test_the_built_in_templates_of_this_release_are_current(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    assert scaffold("list", "--outdated", cwd=ecosystem).returncode == 0
