"""Bad input: one error line with a hint, a documented exit code, no traceback, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot

USAGE, NOT_FOUND, CONFLICT = 2, 3, 4

CASES = [
    # (id, arguments, exit code, words the message must contain)
    ("uppercase", ["new", "backend", "Orders", "--defaults"], USAGE, "DNS-1123"),
    ("leading digit", ["new", "backend", "1orders", "--defaults"], USAGE, "DNS-1123"),
    ("trailing dash", ["new", "backend", "orders-", "--defaults"], USAGE, "DNS-1123"),
    ("double dash", ["new", "backend", "a--b", "--defaults"], USAGE, "--"),
    ("space", ["new", "backend", "my orders", "--defaults"], USAGE, "DNS-1123"),
    ("dots", ["new", "backend", "..", "--defaults"], USAGE, "DNS-1123"),
    ("slash", ["new", "backend", "a/b", "--defaults"], USAGE, "DNS-1123"),
    ("shell", ["new", "backend", "a;rm", "--defaults"], USAGE, "DNS-1123"),
    ("unicode", ["new", "backend", "bestellungen-ü", "--defaults"], USAGE, "DNS-1123"),
    ("too long", ["new", "backend", "a" * 31, "--defaults"], USAGE, "limit is 30"),
    ("reserved", ["new", "backend", "gateway", "--defaults"], USAGE, "reserved"),
    ("unknown kind", ["new", "database", "orders", "--defaults"], USAGE, "Unknown kind"),
    ("data not typed", ["new", "backend", "orders", "--defaults", "--data", "port=abc"], USAGE, "whole number"),
    ("data unknown key", ["new", "backend", "orders", "--defaults", "--data", "colour=red"], USAGE, "no such question"),
    ("data without =", ["new", "backend", "orders", "--defaults", "--data", "port"], USAGE, "key=value"),
    ("data set by scaffold", ["new", "backend", "orders", "--defaults", "--data", "name=x"], USAGE, "cannot be set"),
    ("port taken by infra", ["new", "backend", "orders", "--defaults", "--data", "port=8080"], CONFLICT, "8080"),
    ("port out of range", ["new", "backend", "orders", "--defaults", "--data", "port=80"], USAGE, "between"),
    ("no terminal", ["new", "backend", "orders"], USAGE, "No terminal"),
    ("remove unknown", ["remove", "nosuch"], NOT_FOUND, "no service named"),
    ("init into existing", ["init", "services", "--defaults"], CONFLICT, "not empty"),
]


@pytest.mark.parametrize(("args", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(ecosystem: Path, args: list[str], code: int, words: str) -> None:
    scaffold("sync", cwd=ecosystem)  # the lock file exists before the snapshot
    before = snapshot(ecosystem)
    proc = scaffold(*args, cwd=ecosystem, check=False)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and words in lines[0], proc.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert diff(before, snapshot(ecosystem)) == []


def test_duplicate_name_is_refused(ecosystem: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    before = snapshot(ecosystem)
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == CONFLICT and "already exists" in proc.stderr
    assert diff(before, snapshot(ecosystem)) == []


def test_no_meta_project(tmp_path: Path) -> None:
    proc = scaffold("list", cwd=tmp_path, check=False)
    assert proc.returncode == NOT_FOUND
    assert "No meta-project" in proc.stderr and "hint: " in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_corrupt_ecosystem_yaml_names_the_line(ecosystem: Path) -> None:
    path = ecosystem / "ecosystem.yaml"
    path.write_text(path.read_text().replace("services: {}", "services: {orders: [}"))
    before = snapshot(ecosystem)
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE and "line " in proc.stderr and "ecosystem.yaml" in proc.stderr
    assert diff(before, snapshot(ecosystem)) == []


def test_invalid_ecosystem_field_names_line_and_column(ecosystem: Path) -> None:
    path = ecosystem / "ecosystem.yaml"
    path.write_text(path.read_text().replace("namespace: shop-test", "namespace: 42"))
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE
    assert "'namespace' must be a non-empty string" in proc.stderr and "column" in proc.stderr


def test_a_second_command_stops_while_one_holds_the_lock(ecosystem: Path) -> None:
    from scaffold.project import locked

    before = snapshot(ecosystem)
    with locked(ecosystem):
        proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == CONFLICT and "Another scaffold command" in proc.stderr
    assert diff(before, snapshot(ecosystem)) == []
