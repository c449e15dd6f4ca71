"""Regenerate the locked requirements shipped in the Python templates: `python -m tests.lock_templates`
(what `make locks` runs; it asks the package index).

Generation must work offline, so the locks are computed here, by the template's maintainers, and
shipped: each Python kind is rendered under a sample name, its own `scripts/lock.sh` runs (uv, the
version pinned in the repository's constraints), and the two files go back into the template with
the sample name turned into `{{ name }}` (it appears only in uv's `# via <name> (pyproject.toml)`
annotations). The versions already locked are kept unless pyproject.toml's ranges exclude them;
pass `--upgrade` to move everything to the newest versions the ranges allow.

A yes/no answer that adds dependencies (a backend's `redis`) is locked both ways; the packages only
the "yes" lock holds (or holds differently) are wrapped in `{% if <answer> %}` in the template, so
both renderings are exactly what the lock script makes for them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import render_template

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PYTHON_KINDS = ("backend", "worker")
LOCK_FILES = ("requirements.txt", "requirements-dev.txt")
SAMPLE_NAME = "lock-sample"


# The yes/no answers of each kind that add dependencies of their own.
OPTIONAL_DEPENDENCIES: dict[str, tuple[str, ...]] = {"backend": ("redis",), "worker": ()}


def _locked(kind: str, scratch: Path, extra_args: list[str], answers: dict[str, object]) -> dict[str, str]:
    """The lock files the kind's own lock script makes when rendered with `answers`."""
    where = scratch / kind / "-".join(["plain", *answers]) / SAMPLE_NAME
    project = render_template(where, kind=kind, name=SAMPLE_NAME, ecosystem="shop", **answers)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["bash", "scripts/lock.sh", *extra_args], cwd=project, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"scripts/lock.sh of the {kind} failed:\n{proc.stderr}")
    return {
        name: (project / name).read_text().replace(f"{SAMPLE_NAME} (pyproject.toml", "{{ name }} (pyproject.toml")
        for name in LOCK_FILES
    }


def _entries(text: str) -> tuple[str, dict[str, str]]:
    """uv's lock text as its header and its entries by package (a pin and its indented lines)."""
    header: list[str] = []
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines(keepends=True):
        if line[:1].isspace() and current is not None:
            current.append(line)
        elif line.startswith("#") and not entries:
            header.append(line)
        else:
            current = entries.setdefault(line.split("==")[0].strip().lower(), [])
            current.append(line)
    return "".join(header), {name: "".join(lines) for name, lines in entries.items()}


def with_answer(plain: str, answered: str, answer: str) -> str:
    """One template of two locks: `plain`'s entries, and where the lock made with `answer` differs,
    its entries inside `{% if answer %}` (whitespace control keeps both renderings byte-exact)."""
    header, without = _entries(plain)
    header_with, with_ = _entries(answered)
    if header != header_with:
        raise SystemExit(f"the locks with and without {answer} have different headers")
    parts = [header]
    for name in sorted({*without, *with_}):
        ours, theirs = without.get(name), with_.get(name)
        if ours == theirs:
            parts.append(str(ours))
        elif ours is None:
            parts.append(f"{{% if {answer} -%}}\n{theirs}{{% endif -%}}\n")
        else:
            shown = f"{{% else -%}}\n{ours}" if theirs is not None else ""
            parts.append(f"{{% if {answer} -%}}\n{theirs or ''}{shown}{{% endif -%}}\n")
    return "".join(parts)


def lock(kind: str, scratch: Path, extra_args: list[str]) -> None:
    files = _locked(kind, scratch, extra_args, {})
    for answer in OPTIONAL_DEPENDENCIES[kind]:
        answered = _locked(kind, scratch, extra_args, {answer: True})
        files = {name: with_answer(text, answered[name], answer) for name, text in files.items()}
    for name, text in files.items():
        (TEMPLATES / kind / f"{name}.jinja").write_text(text)
        print(f"wrote templates/{kind}/{name}.jinja")


def main(extra_args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for kind in PYTHON_KINDS:
            lock(kind, Path(scratch), extra_args)


if __name__ == "__main__":
    main(sys.argv[1:])
