"""Shell habits: completion installed with one command and used by a real bash, progress on a terminal only.

A terminal is a real pseudo-terminal (pexpect); CI is the `CI` variable GitHub Actions and others set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect

from scaffold.progress import wanted
from tests.helpers import scaffold

SCAFFOLD_BIN = Path(sys.executable).parent


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "HOME": str(home), "PATH": f"{SCAFFOLD_BIN}{os.pathsep}{env['PATH']}", "TERM": "dumb", **extra}


def test_completion_installs_with_one_command_and_completes_commands_kinds_and_services(
    ecosystem: Path, tmp_path: Path
) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, SHELL="/bin/bash")
    installed = subprocess.run(["bash", "-c", "scaffold --install-completion"], env=env, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "bash completion installed" in installed.stdout
    shell = pexpect.spawn("bash", ["--noprofile", "-i"], cwd=str(ecosystem), env=env, encoding="utf-8", timeout=60)
    try:
        shell.sendline("PS1='$ '")
        shell.expect_exact("$ ")
        shell.send("scaffold upd\t")
        shell.expect_exact("scaffold update ")
        shell.send("or\t")
        shell.expect_exact("orders ")  # "or" echoed, "ders " completed
        shell.sendcontrol("c")  # a new line
        shell.expect_exact("$ ")
        shell.send("scaffold new fr\t")
        shell.expect_exact("ontend ")  # "fr" echoed, "ontend " completed
    finally:
        shell.close(force=True)


def _check_in_a_terminal(root: Path, env: dict[str, str]) -> str:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "check", "--no-checkov"],
        cwd=str(root),
        env=env,
        encoding="utf-8",
        timeout=600,
    )
    output = child.read()
    child.close()
    return str(output)


def test_check_shows_progress_on_a_terminal_and_stays_quiet_in_ci_and_in_pipes(ecosystem: Path, tmp_path: Path) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    shown = _check_in_a_terminal(ecosystem, _env(tmp_path))
    assert "checking [" in shown and "\r" in shown
    assert "checking [" not in _check_in_a_terminal(ecosystem, _env(tmp_path, CI="true"))
    piped = scaffold("check", "--no-checkov", cwd=ecosystem, env={"CI": ""}, check=False)
    assert "checking [" not in piped.stdout + piped.stderr


def test_a_bar_is_wanted_only_on_a_terminal_outside_ci_and_not_for_json(tmp_path: Path) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    assert wanted(as_json=False, env={}, stream=terminal)  # type: ignore[arg-type]
    assert not wanted(as_json=True, env={}, stream=terminal)  # type: ignore[arg-type]
    assert not wanted(as_json=False, env={"CI": "true"}, stream=terminal)  # type: ignore[arg-type]
    with (tmp_path / "log").open("w") as file:
        assert not wanted(as_json=False, env={}, stream=file)
    assert shutil.which("bash")
