"""What the per-kind service tests (test_<kind>_service.py) share: render a service of a kind, and
the checks of its files a user's CI would run (no leftover markers, hashed locks, its own ruff, the
compose file and Dockerfile parts the Python kinds take from templates/shared/) and of its own
check script.

Each kind's file keeps what only that kind has (its layout, ports, commands, the worker's
shutdown, the frontend's nginx)."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from scaffold.wiring import api_docs
from tests import validators
from tests.helpers import render_template
from tests.service_venv import clean_env, pytest_summary

ECOSYSTEM = "shop"

Model = dict[str, Any]


def render_kind(destination: Path, kind: str, name: str, **answers: object) -> Path:
    """A service of `kind` named `name` in the ecosystem ECOSYSTEM, rendered by Copier into
    `destination` with these other answers (the rest default). Returns `destination`."""
    return render_template(destination, kind=kind, name=name, ecosystem=ECOSYSTEM, **answers)


def package_of(name: str) -> str:
    """The Python package of a service name (a dash is not allowed in one)."""
    return name.replace("-", "_")


# ---------------------------------------------------------------------------------------------
# The project's files


def assert_no_leftover_markers(project: Path) -> None:
    """No TODO/FIXME/XXX and no unrendered Jinja outside chart/ (Helm's own `{{` lives there) and
    the vendored Swagger UI (a third party's minified files, copied as they are)."""
    vendored = api_docs.VENDOR_IN_TEMPLATES.name
    found = [
        f"{path.relative_to(project)}:{number}"
        for path in project.rglob("*")
        if path.is_file() and not {"chart", vendored} & set(path.relative_to(project).parts)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if re.search(r"\b(TODO|FIXME|XXX)\b|\{\{|\{%", line)
    ]
    assert not found, f"TODO markers or unrendered Jinja: {found}"


LOCK_FILES = ("requirements.txt", "requirements-dev.txt")


def read_lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """A requirements file as uv writes it: {name: (version, hashes)}. Fails unless every
    requirement is pinned with `==` and carries at least one sha256 hash."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *hashes = line.split(" --hash=")
        parsed = Requirement(requirement.strip())
        (specifier,) = parsed.specifier
        assert specifier.operator == "==", f"{path.name}: {requirement} is not pinned exactly"
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip()) for h in hashes), line
        entries[canonicalize_name(parsed.name)] = (Version(specifier.version), [h.strip() for h in hashes])
    return entries


def assert_requirements_locked(project: Path) -> None:
    """requirements.txt and requirements-dev.txt are complete locks with hashes of what
    pyproject.toml declares (runtime; runtime + group `dev`), made by the project's own
    scripts/lock.sh (their headers name its commands), the dev lock at the runtime lock's versions."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    runtime, dev = (read_lock(project / name) for name in LOCK_FILES)
    declared = {
        "requirements.txt": [Requirement(r) for r in pyproject["project"]["dependencies"]],
        "requirements-dev.txt": [
            Requirement(r) for r in [*pyproject["project"]["dependencies"], *pyproject["dependency-groups"]["dev"]]
        ],
    }
    for name, lock in (("requirements.txt", runtime), ("requirements-dev.txt", dev)):
        for requirement in declared[name]:
            key = canonicalize_name(requirement.name)
            assert key in lock, f"{name} does not lock {requirement.name}"
            assert requirement.specifier.contains(lock[key][0], prereleases=True), f"{name}: {requirement}"
            for extra in requirement.extras:
                assert extra != "binary" or f"{key}-binary" in lock, f"{name} lacks {key}[{extra}]"
    for package, (version, _) in runtime.items():
        assert dev[package][0] == version, f"requirements-dev.txt moves {package} off {version}"
    commands = [
        " ".join(line.split())
        for line in (project / "scripts" / "lock.sh").read_text().replace("\\\n", " ").splitlines()
        if line.startswith("uv pip compile")
    ]
    for name, command in zip(LOCK_FILES, commands, strict=True):
        header = (project / name).read_text().splitlines()[1].lstrip("# ").strip()
        assert header == command.replace(' "$@"', ""), f"{name} was not made by scripts/lock.sh: {header}"


def assert_passes_its_own_ruff(project: Path) -> None:
    """`ruff check` and `ruff format --check` with the project's own configuration."""
    ruff = validators._bin("ruff")
    for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        proc = subprocess.run([ruff, *args], cwd=project, capture_output=True, text=True)
        assert proc.returncode == 0, f"ruff {' '.join(args)}:\n{proc.stdout}{proc.stderr}"


# ---------------------------------------------------------------------------------------------
# compose.yaml


def published_ports(service: Model) -> list[tuple[str, str, int]]:
    """A compose service's ports as (host address, host port, container port)."""
    return [(p["host_ip"], str(p["published"]), p["target"]) for p in service["ports"]]


def watch_actions(service: Model) -> set[tuple[str, str]]:
    """A compose service's `develop.watch` as (action, name of the watched path)."""
    return {(w["action"], Path(w["path"]).name) for w in service["develop"]["watch"]}


def assert_python_compose_services(services: dict[str, Model], name: str) -> None:
    """What a Python kind's compose.yaml takes from templates/shared/compose/: the app `name`,
    `<name>-migrate` after a healthy PostgreSQL, `<name>-db` and `<name>-mq` pinned, with a volume
    and a real health check each (`<name>-test` is behind a profile)."""
    assert set(services) == {name, f"{name}-db", f"{name}-mq", f"{name}-migrate"}
    app, db, mq, migrate = (services[n] for n in (name, f"{name}-db", f"{name}-mq", f"{name}-migrate"))
    assert app["depends_on"][f"{name}-migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"][f"{name}-db"]["condition"] == "service_healthy"
    assert "alembic upgrade head" in " ".join(migrate["command"])
    # Docker Hub in full unless IMAGE_MIRROR names a mirror (docs/mirrors.md)
    assert re.fullmatch(r"docker\.io/library/postgres:\d+\.\d+-\w+", db["image"]), db["image"]
    assert re.fullmatch(r"docker\.io/library/rabbitmq:\d+\.\d+\.\d+-management", mq["image"]), mq["image"]
    # Health checks in shell form: Podman before 5.8 splits the exec form's arguments at spaces.
    assert db["healthcheck"]["test"][0] == mq["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pg_isready" in db["healthcheck"]["test"][1]
    assert "rabbitmq-diagnostics" in mq["healthcheck"]["test"][1]
    for backing in (db, mq):
        assert any(v["type"] == "volume" for v in backing["volumes"]), backing["image"]
    assert re.fullmatch(rf"amqp://[^@]+@{name}-mq:5672/", app["environment"]["AMQP_URL"])
    assert app["environment"]["OTEL_TRACES_EXPORTER"] == "none"
    assert ("rebuild", "requirements.txt") in watch_actions(app)


def assert_python_compose_takes_credentials_from_env_file(project: Path, scratch: Path) -> tuple[Model, Model]:
    """A copy of the project with a .env (from .env.example, another password): the password
    reaches PostgreSQL, RabbitMQ and the app's and the `test` service's URLs. The two models, without
    and with the `test` profile."""
    copy = scratch / project.name
    shutil.copytree(project, copy)
    password = secrets.token_hex(8)
    (copy / ".env").write_text((copy / ".env.example").read_text().replace("local-dev-only", password))

    model = validators.compose_config(copy / "compose.yaml")
    full = validators.compose_config(copy / "compose.yaml", env={"COMPOSE_PROFILES": "test"})

    name = project.name
    services = model["services"]
    assert services[f"{name}-db"]["environment"]["POSTGRES_PASSWORD"] == password
    assert services[f"{name}-mq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == password
    assert f":{password}@{name}-db:5432/" in services[name]["environment"]["DATABASE_URL"]
    assert f":{password}@{name}-mq:5672/" in services[name]["environment"]["AMQP_URL"]
    test = full["services"][f"{name}-test"]
    assert test["build"]["target"] == "test"
    assert f":{password}@" in test["environment"]["DATABASE_URL"]
    assert f":{password}@{name}-mq:5672/" in test["environment"]["AMQP_URL"]
    assert {d: c["condition"] for d, c in test["depends_on"].items()} == {
        f"{name}-db": "service_healthy",
        f"{name}-mq": "service_healthy",
    }
    return model, full


# ---------------------------------------------------------------------------------------------
# Dockerfile


def stage_lines(lines: list[str], stage: str) -> list[str]:
    """The Dockerfile's stripped lines from `FROM ... AS <stage>` to the end."""
    return lines[lines.index(next(line for line in lines if line.endswith(f"AS {stage}"))) :]


def python_runtime_stage(project: Path) -> list[str]:
    """Check what a Python kind's Dockerfile takes from templates/shared/docker/ (stages base,
    deps and test installing the hashed locks, test running scripts/check.sh, then dev and runtime;
    a pinned slim Python) and what its runtime stage must be (a non-root UID, a HEALTHCHECK, no dev
    tool); the runtime stage's lines."""
    lines = [line.strip() for line in (project / "Dockerfile").read_text().splitlines()]
    stages = [line.split() for line in lines if line.startswith("FROM ")]
    assert [s[-1] for s in stages] == ["base", "deps", "test", "dev", "runtime"]
    assert re.fullmatch(r"\$\{IMAGE_MIRROR\}/library/python:3\.12\.\d+-slim-bookworm", stages[0][1]), stages[0][1]
    assert 'CMD ["bash", "scripts/check.sh"]' in stage_lines(lines, "test")
    install = re.compile(r"pip install .*--require-hashes -r ([\w.-]+\.txt)")
    installs = [install.search(line) for line in lines if "pip install" in line]
    assert [m.group(1) if m else None for m in installs] == list(LOCK_FILES), "the locks, with their hashes"
    runtime = stage_lines(lines, "runtime")
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and all(int(part) >= 10000 for part in users[-1].split(":")), users
    assert any(line.startswith("HEALTHCHECK") for line in runtime)
    assert not any(re.search(r"requirements-dev|pytest|ruff", line) for line in runtime)
    return runtime


def runtime_command(runtime: list[str]) -> list[str]:
    """The runtime stage's CMD (the last one: the HEALTHCHECK's CMD comes first)."""
    cmd = [line for line in runtime if line.startswith("CMD ")][-1]
    command: list[str] = json.loads(cmd.removeprefix("CMD "))
    return command


# ---------------------------------------------------------------------------------------------
# The project's own check script and test suite (end to end)


def run_python_check_script(project: Path, env: dict[str, str], junit: Path, *, timeout: float) -> set[str]:
    """scripts/check.sh of a Python kind passes: its tests all pass (none skipped), unit and
    integration tests among them, and the licences are checked. The test modules it ran."""
    proc = subprocess.run(
        ["bash", "scripts/check.sh", f"--junitxml={junit}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"scripts/check.sh failed:\n{output[-8000:]}"

    counts = pytest_summary(proc.stdout)
    assert counts["passed"] > 0, counts
    assert counts["failed"] == counts["skipped"] == counts["error"] == counts["xfailed"] == 0, counts
    modules = {case.get("classname", "") for case in ET.parse(junit).getroot().iter("testcase")}
    assert {"unit", "integration"} <= {m.split(".")[1] for m in modules}, modules
    assert "== mypy (strict)" in proc.stdout and "Success: no issues found" in proc.stdout
    assert "== licences" in proc.stdout and "packages checked" in proc.stdout
    assert "== vulnerabilities (pip-audit)" in proc.stdout
    assert "== all checks passed" in proc.stdout
    return modules


def assert_integration_tests_need_a_database(project: Path, venv: Path) -> None:
    """Without DATABASE_URL the project's integration tests fail (and say what to set): none
    passes or is skipped."""
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "tests/integration"],
        cwd=project,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "set DATABASE_URL" in proc.stdout
    counts = pytest_summary(proc.stdout)
    assert counts["passed"] == counts["skipped"] == 0, counts


def migrate(project: Path, venv: Path, database_url: str) -> None:
    """`alembic upgrade head` of the project against `database_url`."""
    proc = subprocess.run(
        [str(venv / "bin" / "alembic"), "upgrade", "head"],
        cwd=project,
        env=clean_env(venv, DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def assert_audit_never_passes_unheard(project: Path, venv: Path) -> None:
    """With PyPI's advisory data out of reach (a proxy nothing listens on), scripts/check.sh says
    the audit did not pass and how to skip it: "could not look" never reads as "nothing found".
    By default the run goes on (the same default as the pipeline's); CHECK_STRICT=1 fails it.
    (pytest only collects here: the audit is the step under test.)"""
    for strict in ("0", "1"):
        proc = subprocess.run(
            ["bash", "scripts/check.sh", "--collect-only", "-q"],
            cwd=project,
            env=clean_env(
                venv,
                CHECK_AUDIT="1",
                CHECK_OUTDATED="0",
                CHECK_STRICT=strict,
                HTTPS_PROXY="http://127.0.0.1:9",
                NO_PROXY="",
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "== vulnerabilities (pip-audit)" in proc.stdout
        assert "CHECK_AUDIT=0" in proc.stderr
        if strict == "1":
            assert proc.returncode != 0 and "== all checks passed" not in proc.stdout, proc.stdout
            assert "the vulnerability audit: failed (CHECK_STRICT=1)" in proc.stderr
        else:
            assert proc.returncode == 0 and "== all checks passed" in proc.stdout, proc.stdout + proc.stderr
            assert "warning: the vulnerability audit did not pass" in proc.stderr
