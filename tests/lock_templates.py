"""Regenerate the locked requirements shipped in the Python templates: `python -m tests.lock_templates`
(what `make locks` runs; it asks the package index).

Generation must work offline, so the locks are computed here, by the template's maintainers, and
shipped: each Python kind is rendered under a sample name, its own `scripts/lock.sh` runs (uv, the
version pinned in the repository's constraints), and the two files go back into the template with
the sample name turned into `{{ name }}` (it appears only in uv's `# via <name> (pyproject.toml)`
annotations). The versions already locked are kept unless pyproject.toml's ranges exclude them;
pass `--upgrade` to move everything to the newest versions the ranges allow.
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


def lock(kind: str, scratch: Path, extra_args: list[str]) -> None:
    project = render_template(scratch / kind / SAMPLE_NAME, kind=kind, name=SAMPLE_NAME, ecosystem="shop")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["bash", "scripts/lock.sh", *extra_args], cwd=project, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"scripts/lock.sh of the {kind} failed:\n{proc.stderr}")
    for name in LOCK_FILES:
        text = (project / name).read_text()
        (TEMPLATES / kind / f"{name}.jinja").write_text(
            text.replace(f"{SAMPLE_NAME} (pyproject.toml", "{{ name }} (pyproject.toml")
        )
        print(f"wrote templates/{kind}/{name}.jinja")


def main(extra_args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for kind in PYTHON_KINDS:
            lock(kind, Path(scratch), extra_args)


if __name__ == "__main__":
    main(sys.argv[1:])
