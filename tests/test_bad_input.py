"""Bad input: one error line with a hint, a documented exit code, no traceback, nothing changed.

CASES are run through the real CLI with no terminal; MORE_CASES first set the meta-project up
(a damaged file, a service, an environment variable) or need a terminal or a directory nobody may
write to. `scaffold check` reports what it finds in a table and closes with the same two lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest

from tests.helpers import diff, scaffold, snapshot

USAGE, NOT_FOUND, CONFLICT, CHECK_FAILED, INTERRUPTED = 2, 3, 4, 5, 130

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
    assert "'environments.test.namespace' must be a string, not a number" in proc.stderr and "column" in proc.stderr


def test_a_second_command_stops_while_one_holds_the_lock(ecosystem: Path) -> None:
    from scaffold.project import locked

    before = snapshot(ecosystem)
    with locked(ecosystem):
        proc = scaffold(
            "new", "backend", "orders", "--defaults", cwd=ecosystem, env={"SCAFFOLD_LOCK_TIMEOUT": "0"}, check=False
        )
    assert proc.returncode == CONFLICT and "Another scaffold command" in proc.stderr
    assert diff(before, snapshot(ecosystem)) == []


# --- cases that set the meta-project up first, or need a terminal or an unwritable directory -------------


def _new_orders(root: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=root)


def _edit(relative: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, count))

    return edit


def _write(relative: str, content: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)

    return write


def _delete(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


def _then(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(root: Path) -> None:
        for step in steps:
            step(root)

    return run


def _service_template(key: str, value: str) -> Callable[[Path], None]:
    """Set orders' template source or version in ecosystem.yaml (after creating orders)."""

    def edit(root: Path) -> None:
        _new_orders(root)
        path = root / "ecosystem.yaml"
        text = path.read_text()
        start = text.index("  orders:")
        at = text.index(f"{key}: ", start)
        path.write_text(text[:at] + f"{key}: {value}" + text[text.index("\n", at) :])

    return edit


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    code: int
    words: str  # in the error line (or, for `scaffold check`, in its report)
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    how: str = "plain"  # plain | terminal (answer the prompt with Ctrl-C) | unwritable (the directory)


MORE_CASES = [
    Case("duplicate", ["new", "backend", "orders", "--defaults"], CONFLICT, "already exists", _new_orders),
    Case(
        "target exists with files",
        ["new", "backend", "orders", "--defaults"],
        CONFLICT,
        "already exists",
        _write("services/orders/notes.txt", "mine\n"),
    ),
    Case("-C is a file", ["list", "-C", "ecosystem.yaml"], NOT_FOUND, "is not a directory"),
    Case("init onto a file", ["init", "plans", "--defaults"], CONFLICT, "not a directory", _write("../plans", "x\n")),
    Case("init name uppercase", ["init", "Shop", "--defaults"], USAGE, "DNS-1123"),
    Case("init name too long", ["init", "s" * 31, "--defaults"], USAGE, "limit is 30"),
    Case("init unknown data", ["init", "shop2", "--defaults", "--data", "colour=red"], USAGE, "no such question"),
    Case("ecosystem.yaml missing", ["sync"], NOT_FOUND, "No meta-project", _delete("ecosystem.yaml")),
    Case(
        "ecosystem.yaml corrupt",
        ["sync"],
        USAGE,
        "not valid YAML: line",
        _edit("ecosystem.yaml", "services: {}", "services: {orders: [}"),
    ),
    Case("ecosystem.yaml not a mapping", ["list"], USAGE, "mapping", _write("ecosystem.yaml", "- shop\n")),
    Case(
        "ecosystem.yaml wrong type",
        ["new", "backend", "orders", "--defaults"],
        USAGE,
        "'environments.test.namespace' must be a string, not a number",
        _edit("ecosystem.yaml", "namespace: shop-test", "namespace: 42"),
    ),
    Case(
        "ecosystem.yaml unknown kind",
        ["sync"],
        USAGE,
        "'services.orders.kind' must be one of backend, worker, frontend; got 'database'",
        _then(_new_orders, _edit("ecosystem.yaml", "kind: backend", "kind: database")),
    ),
    Case(
        "ecosystem.yaml empty repository",
        ["sync"],
        USAGE,
        "'services.orders.repository' must be one git URL or path",
        _then(_new_orders, _edit("ecosystem.yaml", "    kind: backend", "    kind: backend\n    repository: ''")),
    ),
    Case("unknown option", ["new", "backend", "orders", "--bogus"], USAGE, "No such option: --bogus"),
    Case("unknown command", ["frobnicate"], USAGE, "No such command 'frobnicate'"),
    Case("missing argument", ["new", "backend"], USAGE, "Missing argument 'name'"),
    Case("option not a number", ["update", "--all", "--jobs", "many"], USAGE, "Invalid value for '--jobs'"),
    Case("derived.json corrupt", ["sync"], USAGE, "is corrupt", _write(".scaffold/derived.json", "{nope")),
    Case(
        "derived file edited",
        ["sync"],
        CONFLICT,
        "edited by hand: compose.yaml",
        _edit("compose.yaml", "name: shop", "name: shop  # mine"),
    ),
    Case(
        "answers missing",
        ["check", "--no-checkov"],
        CHECK_FAILED,
        "missing: the service cannot be updated from its template",
        _then(_new_orders, _delete("services/orders/.copier-answers.yml")),
    ),
    Case(
        "answers corrupt",
        ["check", "--no-checkov"],
        CHECK_FAILED,
        "not valid YAML",
        _then(_new_orders, _write("services/orders/.copier-answers.yml", "_commit: [v0.1.0\n")),
    ),
    Case(
        "unknown template version",
        ["check", "--no-checkov"],
        CHECK_FAILED,
        "Template version 9.9.9 of builtin is not available",
        _service_template("version", "9.9.9"),
    ),
    Case(
        "unreachable template source (ecosystem.yaml)",
        ["check", "--no-checkov"],
        CHECK_FAILED,
        "cannot be read",
        _service_template("source", "https://127.0.0.1:9/templates.git"),
    ),
    Case(
        "unreachable template source (--templates)",
        ["init", "shop2", "--defaults", "--templates", "https://127.0.0.1:9/templates.git"],
        NOT_FOUND,
        "cannot be read",
    ),
    Case(
        "frontend calls no backend",
        ["new", "frontend", "web", "--defaults", "--data", "api_service=nosuch"],
        USAGE,
        "is not a backend",
    ),
    Case(
        "worker pattern with a space",
        ["new", "worker", "jobs", "--defaults", "--data", "subscribes=a b"],
        USAGE,
        "not an AMQP topic pattern",
    ),
    Case("check unknown service", ["check", "nosuch"], NOT_FOUND, "No service named 'nosuch'"),
    Case("check no jobs", ["check", "--jobs", "0"], USAGE, "at least one check"),
    Case("lock timeout not a number", ["sync"], USAGE, "is not a number", env={"SCAFFOLD_LOCK_TIMEOUT": "soon"}),
    Case("ctrl-c at a prompt", ["new", "backend", "orders"], INTERRUPTED, "nothing was changed", how="terminal"),
    Case(
        "unwritable meta-project",
        ["new", "backend", "orders", "--defaults"],
        USAGE,
        "is not writable",
        how="unwritable",
    ),
    Case("unwritable parent", ["init", "shop2", "--defaults"], USAGE, "is not writable", how="unwritable"),
]


@contextmanager
def _unwritable(directory: Path) -> Iterator[None]:
    """Nobody may write to `directory`, root included (an immutable directory), while inside."""
    as_root = os.geteuid() == 0
    command = ["chattr", "+i", str(directory)] if as_root else ["chmod", "a-w", str(directory)]
    subprocess.run(command, check=True)
    try:
        yield
    finally:
        undo = ["chattr", "-i", str(directory)] if as_root else ["chmod", "u+w", str(directory)]
        subprocess.run(undo, check=True)


def _at_a_prompt_press_ctrl_c(args: list[str], cwd: Path) -> tuple[int, str, str]:
    child = pexpect.spawn(sys.executable, ["-m", "scaffold", *args], cwd=str(cwd), encoding="utf-8", timeout=120)
    child.expect("What does the service do")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before or "")
    lines = [line.strip() for line in screen.splitlines() if line.strip().startswith(("error: ", "hint: "))]
    return int(child.exitstatus if child.exitstatus is not None else -1), "\n".join(lines), screen


def test_at_least_thirty_bad_inputs_are_covered() -> None:
    assert len(CASES) + len(MORE_CASES) >= 30


@pytest.mark.parametrize("case", MORE_CASES, ids=[c.id for c in MORE_CASES])
def test_more_bad_input_is_refused_cleanly(ecosystem: Path, case: Case) -> None:
    scaffold("sync", cwd=ecosystem)  # the lock file exists before the snapshot
    if case.setup is not None:
        case.setup(ecosystem)
    cwd = ecosystem.parent if case.args[0] == "init" else ecosystem
    before = snapshot(cwd)
    if case.how == "terminal":
        code, stderr, stdout = _at_a_prompt_press_ctrl_c(case.args, cwd)
    else:
        with _unwritable(cwd) if case.how == "unwritable" else _nothing():
            proc = scaffold(*case.args, cwd=cwd, env=case.env, check=False)
        code, stderr, stdout = proc.returncode, proc.stderr, proc.stdout
    assert code == case.code, f"{stderr}\n{stdout}"
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), stderr
    assert case.words in (lines[0] if case.code != CHECK_FAILED else stdout), f"{stderr}\n{stdout}"
    assert "Traceback" not in stderr + stdout
    assert diff(before, snapshot(cwd)) == []


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def test_no_traceback_even_for_an_unexpected_failure(ecosystem: Path) -> None:
    """The last line of defence: an error nobody foresaw is still one line with a hint."""
    scaffold("sync", cwd=ecosystem)
    shutil.rmtree(ecosystem / "deploy")
    (ecosystem / "deploy").write_text("a file where a directory belongs\n")
    before = snapshot(ecosystem)
    proc = scaffold("sync", cwd=ecosystem, check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), proc.stderr
    assert diff(before, snapshot(ecosystem)) == []
