"""Clean errors in the corners (issue 10, items 10 and 11): a closed standard input, Ctrl-C or SIGTERM
at start-up and in the middle of a change, bad bytes on the command line, an unwritable cache, a
damaged template store, a full disk, an unreachable template source, `--to 3`, and a binary conflict
with `--conflict rej`. Each gives one `error:` line and one `hint:` line with the documented exit
code, and leaves the meta-project as it was before the command (or, for a signal that came after
the change was made, as the command left it)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import TemplateRepo, commit_all, meta_project

USAGE, UPDATE_CONFLICTS, UPDATE_FAILED, INTERRUPTED, TERMINATED = 2, 6, 7, 130, 143


def _two_lines(stderr: str) -> list[str]:
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), stderr
    assert "Traceback" not in stderr
    return lines


def _closed_stdin() -> None:
    os.close(0)


# --- item 10: standard input closed, signals ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["new", "backend", "orders", "--defaults"], 0),
        (["new", "backend", "orders"], USAGE),
        (["onboard"], USAGE),
    ],
)
def test_a_closed_standard_input_is_no_terminal(ecosystem: Path, args: list[str], code: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scaffold", *args],
        cwd=ecosystem,
        capture_output=True,
        text=True,
        preexec_fn=_closed_stdin,
    )
    assert proc.returncode == code, proc.stderr
    if code:
        assert "No terminal" in _two_lines(proc.stderr)[0]


def test_init_with_a_closed_standard_input(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scaffold", "init", "shop", "--defaults"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=_closed_stdin,
    )
    assert proc.returncode == 0, proc.stderr


_SIGNAL_WHILE_IMPORTING_TYPER = textwrap.dedent(
    """
    import importlib.abc, os, signal, sys

    WHICH = getattr(signal, sys.argv[1])

    class Deliver(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "typer":
                os.kill(os.getpid(), WHICH)
            return None

    sys.meta_path.insert(0, Deliver())
    sys.argv = ["scaffold", "list"]
    from scaffold.start import main
    main()
    """
)


@pytest.mark.parametrize(("name", "code"), [("SIGINT", INTERRUPTED), ("SIGTERM", TERMINATED)])
def test_a_signal_while_starting_is_one_error_line(ecosystem: Path, name: str, code: int) -> None:
    """The signal arrives while the CLI imports typer, the slowest part of start-up."""
    proc = subprocess.run(
        [sys.executable, "-c", _SIGNAL_WHILE_IMPORTING_TYPER, name], cwd=ecosystem, capture_output=True, text=True
    )
    assert proc.returncode == code, proc.stderr
    assert "while starting" in _two_lines(proc.stderr)[0]


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, INTERRUPTED), (signal.SIGTERM, TERMINATED)])
def test_a_signal_in_the_middle_of_new_leaves_before_or_after(
    ecosystem: Path, tmp_path: Path, sent: int, code: int
) -> None:
    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)
    after_root = tmp_path / "after" / "shop"
    after_root.parent.mkdir()
    subprocess.run(["cp", "-a", str(ecosystem), str(after_root.parent)], check=True)
    scaffold("new", "backend", "billing", "--defaults", cwd=after_root)
    after = snapshot(after_root)
    outcomes: list[str] = []
    codes: list[int] = []
    for delay in (0.3, 0.8, 1.3, 1.8, 2.5):
        child = subprocess.Popen(
            [sys.executable, "-m", "scaffold", "new", "backend", "billing", "--defaults"],
            cwd=ecosystem,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            child.send_signal(sent)
        _, stderr = child.communicate(timeout=120)
        codes.append(child.returncode)
        now = snapshot(ecosystem)
        if child.returncode == 0:
            assert diff(after, now) == [] or diff(after, now) == [".scaffold/templates/builtin.bundle"]
            scaffold("remove", "billing", "--delete-code", cwd=ecosystem)
            outcomes.append("finished")
            continue
        if child.returncode == -sent:
            # The default action: before Python had installed scaffold's handler (nothing done), or
            # after the command had finished, while the interpreter shut down (CPython restores the
            # default handlers then): before or after, nothing in between.
            assert stderr == "", stderr
            if diff(before, now) == []:
                outcomes.append("before")
                continue
            assert diff(after, now) in ([], [".scaffold/templates/builtin.bundle"]), (delay, diff(after, now))
            scaffold("remove", "billing", "--delete-code", cwd=ecosystem)
            outcomes.append("finished")
            continue
        assert child.returncode == code, stderr
        _two_lines(stderr)
        verdict = "before" if diff(before, now) == [] else "after"
        assert diff(before if verdict == "before" else after, now) == [], (delay, diff(before, now))
        outcomes.append(verdict)
        if verdict == "after":
            scaffold("remove", "billing", "--delete-code", cwd=ecosystem)
    assert "before" in outcomes, outcomes  # at least one signal landed before the change was complete
    assert code in codes, codes  # and at least one was handled by scaffold (not the default action)


# --- item 11: bad input or environment is not "report it" ---------------------------------------------


def test_a_non_utf8_value_is_refused(ecosystem: Path) -> None:
    before = snapshot(ecosystem)
    proc = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"scaffold",
            b"new",
            b"backend",
            b"orders",
            b"--defaults",
            b"--data",
            b"description=caf\xe9",
        ],
        cwd=ecosystem,
        capture_output=True,
    )
    assert proc.returncode == USAGE, proc.stderr
    assert "not UTF-8" in _two_lines(proc.stderr.decode(errors="replace"))[0]
    assert diff(before, snapshot(ecosystem)) == []


def test_a_services_directory_that_is_a_file_is_named(ecosystem: Path) -> None:
    """`services` replaced by a file: the new service's path goes through it (was NotADirectoryError, exit 1)."""
    subprocess.run(["rm", "-rf", str(ecosystem / "services")], check=True)
    (ecosystem / "services").write_text("not a directory\n")
    before = snapshot(ecosystem)
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE, proc.stderr
    assert "goes through a file (services)" in _two_lines(proc.stderr)[0]
    assert diff(before, snapshot(ecosystem)) == []


def test_an_unwritable_cache_directory_is_named(ecosystem: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    as_root = os.geteuid() == 0
    subprocess.run(["chattr", "+i", str(cache)] if as_root else ["chmod", "a-w", str(cache)], check=True)
    try:
        before = snapshot(ecosystem)
        proc = scaffold(
            "new", "backend", "orders", "--defaults", cwd=ecosystem, env={"XDG_CACHE_HOME": str(cache)}, check=False
        )
    finally:
        subprocess.run(["chattr", "-i", str(cache)] if as_root else ["chmod", "u+w", str(cache)], check=True)
    assert proc.returncode == USAGE, proc.stderr
    error, hint = _two_lines(proc.stderr)
    assert "Cannot write" in error and str(cache) in error and "XDG_CACHE_HOME" in hint
    assert diff(before, snapshot(ecosystem)) == []


def test_a_damaged_template_store_is_named(ecosystem: Path) -> None:
    (ecosystem / ".scaffold" / "templates" / "builtin.bundle").write_text("not a bundle\n")
    before = snapshot(ecosystem)
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem, check=False)
    assert proc.returncode == USAGE, proc.stderr
    error, hint = _two_lines(proc.stderr)
    assert "is not a git bundle" in error and "git checkout" in hint
    assert diff(before, snapshot(ecosystem)) == []


def test_a_full_disk_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """What any write does when the disk is full (ENOSPC), through the CLI's one error handler."""
    import typer

    from scaffold.cli import _run

    def write() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/srv/shop/compose.yaml")

    with pytest.raises(typer.Exit) as stopped:
        _run(write)
    assert stopped.value.exit_code == USAGE
    error, hint = _two_lines(capsys.readouterr().err)
    assert "No space left on the device (/srv/shop/compose.yaml)" in error and "report" not in hint


def test_to_a_version_without_its_zeros_means_that_version(ecosystem: Path) -> None:
    from scaffold import __version__

    short = __version__.removesuffix(".0")
    for to in (short, f"v{short}"):
        proc = scaffold("update", "--all", "--to", to, cwd=ecosystem, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "up to date" in proc.stdout


def test_to_a_major_version_alone_means_its_first_release(tmp_path: Path) -> None:
    """The issue's words: `--to 3` and `--to v3` mean 3.0.0 (not the newest 3.x, not "not a version")."""
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders", "billing")
    for version in ("2.0.0", "3.0.0", "3.1.0"):
        template.write("backend/version.txt", f"{version}\n")
        template.release(version)
    for name, to in (("orders", "3"), ("billing", "v3")):
        proc = scaffold("update", name, "--to", to, cwd=root, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (root / "services" / name / "version.txt").read_text() == "3.0.0\n"


def test_an_unreachable_template_source_is_not_up_to_date(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    template.path.rename(tmp_path / "moved")
    proc = scaffold("update", "--all", cwd=root, check=False)
    assert proc.returncode == UPDATE_FAILED, proc.stdout + proc.stderr
    assert "cannot be read" in proc.stdout and "up to date" not in proc.stdout


def test_a_binary_conflict_with_rej_sets_the_templates_side_aside(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    (template.path / "backend" / "logo.bin").write_bytes(b"\x00template 1\x00")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    (root / "services" / "orders" / "logo.bin").write_bytes(b"\x00ours\x00")
    commit_all(root, "our logo")
    (template.path / "backend" / "logo.bin").write_bytes(b"\x00template 2\x00")
    template.release("2.0.0")
    proc = scaffold("update", "orders", "--conflict", "rej", cwd=root, check=False)
    assert proc.returncode == UPDATE_CONFLICTS, proc.stdout + proc.stderr
    service = root / "services" / "orders"
    assert (service / "logo.bin").read_bytes() == b"\x00ours\x00"
    assert (service / "logo.bin~template-2.0.0").read_bytes() == b"\x00template 2\x00"
    assert "git refuses" not in proc.stdout and "logo.bin~template-2.0.0" in proc.stdout
