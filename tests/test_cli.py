"""The CLI end to end through the real entry point: init, new, list, remove, sync."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.helpers import diff, scaffold, snapshot


def test_help_lists_every_command_with_an_example(tmp_path: Path) -> None:
    out = scaffold("--help", cwd=tmp_path).stdout
    for command in ("init", "new", "list", "remove", "sync"):
        line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
        assert f"scaffold {command}" in line, line


def test_help_and_the_docs_list_every_exit_code(tmp_path: Path) -> None:
    """A script (or CI) acts on the exit code: each one scaffold can give is in `--help` and docs/cli.md."""
    from scaffold.errors import ExitCode

    help_text = " ".join(scaffold("--help", cwd=tmp_path).stdout.split())
    listed = help_text.split("Exit codes: ", 1)[1].split(".", 1)[0]
    in_help = {int(code) for code in re.findall(r"(?:^|, )(\d+) ", listed)}
    docs = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    in_docs = {int(code) for code in re.findall(r"^\| (\d+) \|", docs, re.MULTILINE)}
    assert in_help == in_docs == {int(code) for code in ExitCode}


def test_init_makes_a_committed_git_repository_with_derived_wiring(pristine_ecosystem: Path) -> None:
    root = pristine_ecosystem
    log = subprocess.run(["git", "log", "--oneline"], cwd=root, capture_output=True, text=True, check=True)
    assert len(log.stdout.splitlines()) == 1
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    ecosystem = yaml.safe_load((root / "ecosystem.yaml").read_text())
    assert ecosystem["name"] == "shop"
    assert set(ecosystem["environments"]) == {"test", "staging", "production"}
    for derived in (
        "compose.yaml",
        "deploy/chart/Chart.yaml",
        "monitoring/alerts.yml",
        ".github/workflows/delivery.yml",
        "docs/ecosystem.md",
    ):
        assert (root / derived).is_file(), derived
    answers = yaml.safe_load((root / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v0.1.0" and answers["kind"] == "ecosystem"


def test_init_is_deterministic(tmp_path: Path) -> None:
    for parent in ("a", "b"):
        (tmp_path / parent).mkdir()
        scaffold("init", "shop", "--defaults", cwd=tmp_path / parent)
    assert diff(snapshot(tmp_path / "a" / "shop"), snapshot(tmp_path / "b" / "shop")) == []


def test_new_backend_is_wired_and_keeps_comments(ecosystem: Path) -> None:
    text = (ecosystem / "ecosystem.yaml").read_text()
    (ecosystem / "ecosystem.yaml").write_text(text.replace("registry:", "# our registry, ask ops\nregistry:"))
    scaffold("sync", cwd=ecosystem)
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    scaffold("new", "backend", "order-history", "--defaults", "--data", "port=8100", cwd=ecosystem)
    text = (ecosystem / "ecosystem.yaml").read_text()
    assert "# our registry, ask ops" in text
    assert "# One entry per service" in text
    services = yaml.safe_load(text)["services"]
    assert list(services) == ["orders", "order-history"]
    assert services["orders"] == {
        "kind": "backend",
        "path": "services/orders",
        "port": 8001,
        "route": "/api/orders",
        "template": {"source": "builtin", "version": "0.1.0"},
        "needs": ["postgres"],
        "publishes": ["orders.item.published"],
    }
    assert services["order-history"]["port"] == 8100
    answers = yaml.safe_load((ecosystem / "services/orders/.copier-answers.yml").read_text())
    assert answers["_commit"] == "v0.1.0" and answers["name"] == "orders" and answers["ecosystem"] == "shop"
    compose = yaml.safe_load((ecosystem / "compose.yaml").read_text())
    assert {"orders", "order-history", "postgres", "gateway"} <= set(compose["services"])
    listed = json.loads(scaffold("list", "--json", cwd=ecosystem).stdout)
    assert [s["name"] for s in listed["ecosystem"]["services"]] == ["orders", "order-history"]
    table = scaffold("list", cwd=ecosystem / "services" / "orders" / "src").stdout
    assert "orders" in table and "order-history" in table and "8100" in table
    assert scaffold("sync", cwd=ecosystem).stdout.startswith("Everything derived")


def test_directory_option_finds_the_meta_project(ecosystem: Path, tmp_path: Path) -> None:
    out = scaffold("list", "-C", str(ecosystem), cwd=tmp_path).stdout
    assert "no services yet" in out


def test_dry_run_writes_nothing(ecosystem: Path) -> None:
    before = snapshot(ecosystem)
    out = scaffold("new", "backend", "orders", "--defaults", "--dry-run", cwd=ecosystem).stdout
    assert "compose.yaml" in out and "dry run" in out
    assert diff(before, snapshot(ecosystem)) == []
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    middle = snapshot(ecosystem)
    scaffold("remove", "orders", "--delete-code", "--dry-run", cwd=ecosystem)
    assert diff(middle, snapshot(ecosystem)) == []


def test_remove_undoes_new(ecosystem: Path) -> None:
    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    assert diff(before, snapshot(ecosystem)) != []
    scaffold("remove", "orders", "--delete-code", cwd=ecosystem)
    assert diff(before, snapshot(ecosystem)) == []


def test_remove_keeps_the_code_unless_asked(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    scaffold("remove", "orders", cwd=ecosystem)
    assert (ecosystem / "services/orders/Dockerfile").is_file()
    assert "orders" not in (yaml.safe_load((ecosystem / "ecosystem.yaml").read_text())["services"] or {})
    assert "orders" not in yaml.safe_load((ecosystem / "compose.yaml").read_text())["services"]


def test_hand_edited_derived_file_stops_the_command(ecosystem: Path) -> None:
    compose = ecosystem / "compose.yaml"
    compose.write_text(compose.read_text() + "# my local tweak\n")
    before = snapshot(ecosystem)
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == 4
    assert "compose.yaml" in proc.stderr and "hint:" in proc.stderr
    assert diff(before, snapshot(ecosystem)) == []
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode == 4 and "compose.yaml" in proc.stderr
    assert diff(before, snapshot(ecosystem)) == []


def test_edited_ecosystem_yaml_is_derived_by_sync(ecosystem: Path) -> None:
    path = ecosystem / "ecosystem.yaml"
    path.write_text(path.read_text().replace("namespace: shop-test", "namespace: shop-qa"))
    out = scaffold("sync", "--dry-run", cwd=ecosystem).stdout
    assert "update" in out and not out.startswith("Everything derived"), out
    scaffold("sync", cwd=ecosystem)
    assert scaffold("sync", cwd=ecosystem).stdout.startswith("Everything derived")
