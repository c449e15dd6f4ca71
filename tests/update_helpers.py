"""Real git template repositories with version tags, built in temporary directories.

`TemplateRepo` is a small Copier template laid out like scaffold's own `templates/` (one root
copier.yml with `_subdirectory: "{{ kind }}"`, an `ecosystem` kind and a `backend` kind), so that
`scaffold init --templates` and `scaffold new backend` work with it; tests change its files and
tag releases to make the versions they update between.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from tests.helpers import scaffold

GIT_IDENTITY: Final = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

COPIER_YML: Final = """\
_subdirectory: "{{ kind }}"
_templates_suffix: .jinja
_envops:
  keep_trailing_newline: true
kind:
  type: str
  choices: [ecosystem, backend, worker, frontend]
name:
  type: str
ecosystem:
  type: str
  default: ecosystem
  when: "{{ kind != 'ecosystem' }}"
description:
  type: str
  default: "The {{ name }}"
registry:
  type: str
  default: "registry.example.com/{{ name }}"
port:
  type: int
  default: 8000
  when: "{{ kind != 'ecosystem' }}"
"""

ANSWERS: Final = (
    "# Changes here will be overwritten by Copier; do not edit by hand.\n{{ _copier_answers|to_nice_yaml -}}\n"
)

ECOSYSTEM_YAML: Final = """\
# ecosystem.yaml of {{ name }}
name: {{ name }}
description: {{ description | tojson }}
registry: {{ registry }}
template:
  source: builtin
  version: {{ (_copier_conf.vcs_ref or 'unversioned') | replace('v', '', 1) }}
environments:
  test:
    context: {{ name }}-test
    namespace: {{ name }}-test
    secret: {{ name }}-test-secrets
    values: {}
  staging:
    context: {{ name }}-staging
    namespace: {{ name }}-staging
    secret: {{ name }}-staging-secrets
    values: {}
  production:
    context: {{ name }}-production
    namespace: {{ name }}
    secret: {{ name }}-production-secrets
    values: {}
services: {}
"""

APP_PY: Final = """\
def greet(name: str) -> str:
    return f"hello {name}"


def add(a: int, b: int) -> int:
    return a + b


def main() -> None:
    print(greet("world"))
"""

FILES: Final = {
    "copier.yml": COPIER_YML,
    "ecosystem/{{ _copier_conf.answers_file }}.jinja": ANSWERS,
    "ecosystem/ecosystem.yaml.jinja": ECOSYSTEM_YAML,
    "ecosystem/README.md.jinja": "# {{ name }}\n\n{{ description }}\n",
    "ecosystem/.gitignore": ".env\n",
    "ecosystem/.scaffold/.gitignore": "lock\ntxn-*\nstaging-*\n",
    "backend/{{ _copier_conf.answers_file }}.jinja": ANSWERS,
    "backend/README.md.jinja": "# {{ name }}\n\n{{ description }}\n\nPort: {{ port }}\n",
    "backend/app.py": APP_PY,
    "backend/config.ini.jinja": "[service]\nname = {{ name }}\nport = {{ port }}\nlevel = info\n",
    "backend/notes.txt": "Notes shipped by the template.\n",
    "backend/chart/Chart.yaml.jinja": "apiVersion: v2\nname: {{ name }}\nversion: 0.1.0\n",
}


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A directory made by `build` once per test session, shared by every xdist worker (the first
    worker to arrive builds it under a lock; the others wait and reuse it). Tests copy what they change."""
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    target = base / name
    with (base / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".built").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            build(target)
            (target / ".built").touch()
    return target


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_IDENTITY})
    assert proc.returncode == 0, f"git {' '.join(args)} failed in {cwd}: {proc.stderr}"
    return proc.stdout


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "--no-verify", "--message", message)


def status(repo: Path) -> str:
    """`git status --porcelain`: empty when git sees no change."""
    return git(repo, "status", "--porcelain", "--untracked-files=all")


class TemplateRepo:
    """A custom template source: a git repository whose tags are its versions."""

    def __init__(self, path: Path, files: dict[str, str] | None = None) -> None:
        self.path = path
        if (path / ".git").is_dir():  # an existing one (made by built_once)
            return
        path.mkdir(parents=True)
        git(path, "init", "--quiet", "--initial-branch=main")
        for relative, content in (files or FILES).items():
            self.write(relative, content)

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def replace(self, relative: str, old: str, new: str) -> None:
        text = self.read(relative)
        assert old in text, f"{old!r} not in {relative}"
        self.write(relative, text.replace(old, new))

    def delete(self, relative: str) -> None:
        (self.path / relative).unlink()

    def release(self, version: str) -> None:
        commit_all(self.path, f"release {version}")
        git(self.path, "tag", f"v{version}")


def meta_project(parent: Path, template: TemplateRepo | None, *services: str, trust: bool = False) -> Path:
    """`scaffold init shop [--templates T]` plus `scaffold new backend S` for each, all committed."""
    args = ["init", "shop", "--defaults"]
    if template is not None:
        args += ["--templates", str(template.path)]
    if trust:
        args.append("--trust")
    scaffold(*args, cwd=parent)
    root = parent / "shop"
    for name in services:
        scaffold("new", "backend", name, "--defaults", cwd=root)
    commit_all(root, "services")
    return root


def own_repository(root: Path, name: str) -> Path:
    """Move service `name` of the meta-project `root` into a git repository of its own (still
    registered by its path, ignored by the meta-project): its directory, with nothing committed yet."""
    git(root, "rm", "-r", "--cached", "--quiet", f"services/{name}")
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + f"services/{name}/\n")
    commit_all(root, f"{name} has its own repository")
    service = root / "services" / name
    git(service, "init", "--quiet", "--initial-branch=main")
    return service


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def newer_scaffold(target: Path, version: str, change: dict[str, tuple[str, str]]) -> Path:
    """A copy of this scaffold release with `version` and changed built-in templates: what a user has
    after upgrading scaffold. `change` maps a template file to (old text, new text), an empty old
    text appending the new one. Returns the
    directory to put on PYTHONPATH."""
    source = Path(__file__).resolve().parent.parent
    shutil.copytree(source / "scaffold", target / "scaffold", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(source / "templates", target / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    init = target / "scaffold" / "__init__.py"
    text = init.read_text()
    init.write_text(text.replace(f'__version__ = "{_current_version(text)}"', f'__version__ = "{version}"'))
    for relative, (old, new) in change.items():  # old == "": append `new`
        path = target / "templates" / relative
        content = path.read_text()
        assert old in content, f"{old!r} not in {relative}"
        path.write_text(content + new if not old else content.replace(old, new, 1))
    return target


def _current_version(text: str) -> str:
    return text.split('__version__ = "', 1)[1].split('"', 1)[0]


def run_scaffold(pythonpath: Path, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a given scaffold release (a copy made by newer_scaffold) as a user would."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "scaffold", *args],  # -P: never the scaffold of the working directory
        cwd=cwd,
        capture_output=True,
        text=True,
        input="",
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
    )
    if check:
        assert proc.returncode == 0, (
            f"scaffold {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
