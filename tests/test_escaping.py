"""A value a user types is escaped for the format it lands in, or refused (issue 10, item 7).

A description with quotes, backslashes or a triple quote works, escaped: pyproject.toml parses to the
same text and the package's docstring is the same text (nothing runs on import); a description that
is not one line, a registry that is not an image prefix, a system namespace as the ecosystem's name
and a Python keyword as a service's name are refused with one message. Routes, contexts, namespaces
and template sources in ecosystem.yaml are refused by the one validator (test_one_validator.py).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot

USAGE = 2
DESCRIPTIONS = [
    'say "hi" to the \\N{oops} service',
    '"""; import os; os.system("touch pwned"); """',
    'ends with a quote"',
    "back\\slash\\",
    "é'<>&${{ secrets.X }}{{ 7 * 7 }}",
]


@pytest.mark.parametrize("kind", ["backend", "worker"])
def test_a_description_with_quotes_is_escaped_where_it_lands(ecosystem: Path, kind: str) -> None:
    for index, description in enumerate(DESCRIPTIONS):
        name = f"svc{index}"
        scaffold("new", kind, name, "--defaults", "--data", f"description={description}", cwd=ecosystem)
        service = ecosystem / "services" / name
        assert tomllib.loads((service / "pyproject.toml").read_text())["project"]["description"] == description
        module = ast.parse((service / "src" / name / "__init__.py").read_text())
        assert ast.get_docstring(module, clean=False) == description + "."
        assert all(isinstance(node, ast.Expr | ast.Assign) for node in module.body)  # nothing else to run
    assert not (ecosystem / "pwned").exists()
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    lint = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ecosystem / "services" / "svc1", capture_output=True)
    assert lint.returncode == 0, lint.stdout.decode()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["new", "backend", "orders", "--defaults", "--data", "description=two\nlines"], "not one line"),
        (["new", "backend", "orders", "--defaults", "--data", "description=" + "x" * 91], "at most 90"),
        (["new", "backend", "class", "--defaults"], "Python keyword"),
        (["new", "backend", "import", "--defaults"], "Python keyword"),
        (["new", "backend", "json", "--defaults"], "standard library"),
        (["init", "kube-system", "--defaults"], "system namespace"),
        (["init", "default", "--defaults"], "system namespace"),
        (["init", "shop2", "--defaults", "--data", "registry=r.io/x\nservices: {evil: 1}"], "image repository"),
        (["init", "shop2", "--defaults", "--data", "registry=Evil.IO/x y"], "image repository"),
        (["init", "shop2", "--defaults", "--templates", "--upload-pack=touch pwned"], "cannot be read"),
    ],
    ids=lambda value: " ".join(value)[:40] if isinstance(value, list) else None,
)
def test_values_that_cannot_be_escaped_are_refused(ecosystem: Path, args: list[str], words: str) -> None:
    cwd = ecosystem.parent if args[0] == "init" else ecosystem
    before = snapshot(cwd)
    proc = scaffold(*args, cwd=cwd, check=False)
    assert proc.returncode in (USAGE, 3), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and words in lines[0], proc.stderr
    assert diff(before, snapshot(cwd)) == []
    assert not (cwd / "pwned").exists()
