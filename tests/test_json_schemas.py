"""Every command's `--json` output is described by a JSON Schema in docs/schemas/, and real output fits it.

The schemas come from the result types (scaffold/json_schema.py, written by `make docs`); here they
must be current, cover every command that has --json, and validate what the commands print, run
for real on a meta-project (deploy, rollback and status need a Kubernetes API: their outputs are
checked by the tests that stand in for one, tests/test_delivery*.py, only through the types).
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scaffold.cli import app
from scaffold.json_schema import COMMANDS
from tests.helpers import scaffold
from tests.make_docs import SCHEMAS, schema_files
from tests.update_helpers import commit_all

# deploy, rollback and status need a Kubernetes API, build and test a container engine: their outputs
# are validated where one runs (tests/test_delivery*.py, tests/test_images_*.py).
RUN_HERE = set(COMMANDS) - {"deploy", "rollback", "status", "build", "test"}


def validate(command: str, output: str) -> None:
    schema = json.loads((SCHEMAS / f"{command}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(output))


def test_the_schemas_in_docs_are_current() -> None:
    files = schema_files()
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(files), "run `make docs`"
    for name, text in files.items():
        assert (SCHEMAS / name).read_text() == text, f"docs/schemas/{name} is stale: run `make docs`"


def test_every_command_with_json_output_has_a_schema() -> None:
    with_json = set()
    for command in app.registered_commands:
        assert command.callback is not None
        if "as_json" in inspect.signature(command.callback).parameters:
            with_json.add(command.name or command.callback.__name__.rstrip("_").replace("_", "-"))
    assert with_json == set(COMMANDS)


def test_a_schema_refuses_output_of_another_shape() -> None:
    """The check below can fail: a field missing, or one the type does not have, is refused."""
    schema = json.loads((SCHEMAS / "sync.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    good = {"root": "/x", "wiring": [{"path": "compose.yaml", "action": "update"}], "dry_run": True}
    validator.validate(good)
    for bad in (
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "dry_run"},
        {**good, "wiring": [{"path": "x", "action": "move"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> dict[str, list[str]]:
    """What each command prints with --json, run for real (some of them more than once)."""
    parent = tmp_path_factory.mktemp("json")
    root = parent / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    seen: dict[str, list[str]] = {}

    def run(*args: str, cwd: Path = root, ok: tuple[int, ...] = (0,)) -> Any:
        proc = scaffold(*args, "--json", cwd=cwd, check=False)
        assert proc.returncode in ok, proc.stdout + proc.stderr
        seen.setdefault(args[0], []).append(proc.stdout)

    run("init", "elsewhere", "--defaults", "--dry-run", cwd=parent)
    run("new", "backend", "orders", "--defaults")
    run("new", "worker", "fulfilment", "--defaults")
    commit_all(root, "services")
    run("list")
    run("list", "--outdated")
    run("diff", "orders")
    run("sync", "--dry-run")
    run("check", "--no-checkov")
    run("update", "--all", "--dry-run")
    run("graph")
    run("doctor", ok=(0, 3))
    run("onboard", "--step", "2")
    run("changes", "--since", "HEAD")
    run("remove", "fulfilment", "--dry-run")
    legacy = root / "services" / "legacy"
    legacy.mkdir()
    (legacy / "app.py").write_text("print('legacy')\n")
    commit_all(root, "legacy")
    run("adopt", "services/legacy", "--kind", "backend")
    return seen


@pytest.mark.parametrize("command", sorted(RUN_HERE - {"propose-updates"}))  # that one: tests/test_propose_updates.py
def test_real_output_of_each_command_fits_its_schema(outputs: dict[str, list[str]], command: str) -> None:
    assert outputs.get(command), f"{command} was not run"
    for output in outputs[command]:
        validate(command, output)
