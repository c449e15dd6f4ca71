"""Prompts through a real terminal (a pseudo-terminal driven by pexpect), as a user types them."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import yaml

from tests.helpers import diff, scaffold, snapshot

ENTER = "\r"
CLEAR = "\x15"  # Ctrl-U: the default is pre-filled, a user clears it before typing


def _spawn(args: list[str], cwd: Path) -> pexpect.spawn[str]:
    return pexpect.spawn(
        sys.executable, ["-m", "scaffold", *args], cwd=str(cwd), encoding="utf-8", timeout=60, dimensions=(40, 120)
    )


def test_new_asks_for_missing_values_and_validates_them(ecosystem: Path) -> None:
    child = _spawn(["new", "backend", "orders"], ecosystem)
    child.expect("What does the service do")
    child.send(CLEAR + "Takes orders" + ENTER)
    child.expect("Local development port")
    child.send(CLEAR + "8080" + ENTER)  # the gateway's port: refused, the prompt stays
    child.expect("already used")
    child.send(CLEAR + "8123" + ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    service = yaml.safe_load((ecosystem / "ecosystem.yaml").read_text())["services"]["orders"]
    assert service["port"] == 8123
    answers = yaml.safe_load((ecosystem / "services/orders/.copier-answers.yml").read_text())
    assert answers["description"] == "Takes orders" and answers["port"] == 8123


def test_ctrl_c_at_a_prompt_changes_nothing(ecosystem: Path) -> None:
    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)
    child = _spawn(["new", "backend", "orders"], ecosystem)
    child.expect("What does the service do")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in (child.before or "")
    assert diff(before, snapshot(ecosystem)) == []
