"""`scaffold update --all` over a fleet of 20 services (issue 4, test 8), in parallel.

The fleet (a custom template at 1.0.0 and a meta-project with 20 services) is generated once per
session, with template 2.0.0 released; each test updates its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import TemplateRepo, built_once, commit_all, meta_project, status

SERVICES = tuple(f"svc{i:02d}" for i in range(1, 21))

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Fleet:
    template: TemplateRepo
    root: Path


def _build(base: Path) -> None:
    template = TemplateRepo(base / "template")
    template.release("1.0.0")
    meta_project(base, template, *SERVICES)
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("fleet"))')
    template.release("2.0.0")


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = built_once(tmp_path_factory, "update-fleet", _build)
    return Fleet(TemplateRepo(base / "template"), base / "shop")


def copy(fleet: Fleet, tmp_path: Path) -> Path:
    return shutil.copytree(fleet.root, tmp_path / "shop", symlinks=True)


def test_8_a_fleet_of_20_in_one_command_one_conflict_named_exactly(fleet: Fleet, tmp_path: Path) -> None:
    root = copy(fleet, tmp_path)
    config = root / "services/svc07/config.ini"
    config.write_text(config.read_text().replace("level = info", "level = debug"))
    commit_all(root, "svc07 logs more")

    proc = scaffold("update", "--all", "--json", cwd=root, check=False)

    assert proc.returncode == 6, proc.stderr
    report = json.loads(proc.stdout)
    by_status: dict[str, list[str]] = {}
    for target in report["targets"]:
        by_status.setdefault(target["status"], []).append(target["name"])
    assert by_status == {"updated": ["shop", *(s for s in SERVICES if s != "svc07")], "conflicts": ["svc07"]}
    svc07 = next(t for t in report["targets"] if t["name"] == "svc07")
    assert svc07["conflicts"] == ["services/svc07/config.ini"]
    for name in SERVICES:
        config_text = (root / "services" / name / "config.ini").read_text()
        app = (root / "services" / name / "app.py").read_text()
        assert 'greet("fleet")' in app
        if name == "svc07":
            assert "<<<<<<< svc07 (yours)\nlevel = debug\n=======\nlevel = warning\n>>>>>>>" in config_text
        else:
            assert "level = warning\n" in config_text and "<<<<<<<" not in config_text


def test_the_text_report_has_one_row_per_target(fleet: Fleet, tmp_path: Path) -> None:
    root = copy(fleet, tmp_path)
    proc = scaffold("update", "--all", "--dry-run", cwd=root)
    rows = [line for line in proc.stdout.splitlines() if line.split()[:1] and line.split()[0] in {"shop", *SERVICES}]
    assert len(rows) == 21 and all("would update" in row and "1.0.0 -> 2.0.0" in row for row in rows)
    assert status(root) == ""


def test_parallel_and_sequential_runs_write_the_same_bytes(fleet: Fleet, tmp_path: Path) -> None:
    parallel = copy(fleet, tmp_path / "parallel")
    sequential = copy(fleet, tmp_path / "sequential")
    scaffold("update", "--all", "--jobs", "4", cwd=parallel)
    scaffold("update", "--all", "--jobs", "1", cwd=sequential)
    assert diff(snapshot(parallel), snapshot(sequential)) == []


def test_template_versions_are_prepared_once_per_run_not_once_per_service(fleet: Fleet, tmp_path: Path) -> None:
    root = copy(fleet, tmp_path)
    cache = tmp_path / "cache"
    scaffold("update", "--all", cwd=root, env={"XDG_CACHE_HOME": str(cache)})
    checkouts = sorted(p.name for p in (cache / "scaffold" / "checkouts").iterdir())
    assert len(checkouts) == 2  # one checkout of 1.0.0 and one of 2.0.0, shared by the 21 targets


def test_progress_bar_on_a_terminal_only(fleet: Fleet, tmp_path: Path) -> None:
    piped = scaffold("update", "--all", "--dry-run", cwd=copy(fleet, tmp_path / "piped"))
    assert "updating [" not in piped.stderr
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "update", "--all", "--dry-run"],
        cwd=str(copy(fleet, tmp_path / "terminal")),
        env={**{k: v for k, v in os.environ.items() if k != "CI"}, "COLUMNS": "200"},  # CI hides the bar
        encoding="utf-8",
        timeout=120,
    )
    child.expect(r"updating \[[#.]+\] \d+/21")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
