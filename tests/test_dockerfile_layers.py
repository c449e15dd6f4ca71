"""Every kind's runtime image installs its dependencies in layers made from the lock files alone,
before any code is copied: a change to the code rebuilds from the code on, never the install. And
every install keeps its package manager's cache in a cache mount: out of the image, kept by the
builder, so a changed lock downloads only what changed.

The Dockerfiles are read as data (tests/dockerfiles.py): the stages the runtime image is made of,
their COPY sources and the RUN that installs (pip or npm, found among the shell command's words).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.dockerfiles import Instruction, Stage, copy_sources, lineage, parse
from tests.helpers import render_template

# The files an install reads: the lock files and the package managers' settings.
MANIFESTS = frozenset({"requirements.txt", "requirements-dev.txt", "package.json", "package-lock.json", ".npmrc"})
INSTALLERS = (("pip", "install"), ("npm", "ci"), ("npm", "install"))
# Where each installer keeps its cache when it runs as root in the build (HOME=/root).
CACHES = {"pip": "/root/.cache/pip", "npm": "/root/.npm"}
KINDS = [("backend", {}), ("worker", {}), ("frontend", {"api_service": "orders"})]


def installer(instruction: Instruction) -> str | None:
    """ "pip" or "npm" when the RUN installs packages with it."""
    if instruction.keyword != "RUN":
        return None
    words = shlex.split(instruction.arguments)
    found = [pair[0] for pair in INSTALLERS for i in range(len(words) - 1) if words[i : i + 2] == list(pair)]
    return found[0] if found else None


def installs(instruction: Instruction) -> bool:
    return installer(instruction) is not None


def check_cache_mounts(stages: list[Stage]) -> list[str]:
    """Installs without a cache mount on their installer's cache, and settings that turn the cache off."""
    problems = [
        f"line {i.line}: {tool} installs without a cache mount on {CACHES[tool]}"
        for s in stages
        for i in s.instructions
        if (tool := installer(i)) is not None
        and not any(m.get("type") == "cache" and m.get("target") == CACHES[tool] for m in i.mounts())
    ]
    problems += [
        f"line {i.line}: pip's cache is turned off ({word})"
        for s in stages
        for i in s.instructions
        if i.keyword in ("ENV", "RUN")
        for word in shlex.split(i.arguments)
        if word.startswith("PIP_NO_CACHE_DIR") or word == "--no-cache-dir"
    ]
    return problems


def from_context(instruction: Instruction) -> bool:
    return instruction.keyword in ("COPY", "ADD") and not instruction.flag_values("from")


def runtime_stages(dockerfile: Path) -> list[Stage]:
    stages = parse(dockerfile)
    assert stages[-1].name == "runtime", "the runtime image is the default (last) stage"
    return lineage(stages, "runtime")


def check_dependencies_before_code(stages: list[Stage]) -> list[str]:
    """What breaks the order: a COPY of anything but manifests before an install, or no install."""
    problems: list[str] = []
    installing = [s for s in stages if any(installs(i) for i in s.instructions)]
    if not installing:
        problems.append("no stage of the runtime image installs dependencies")
    for stage in installing:
        first_install = next(n for n, i in enumerate(stage.instructions) if installs(i))
        copied = [src for i in stage.instructions[:first_install] if from_context(i) for src in copy_sources(i)]
        if not copied:
            problems.append(f"stage {stage.name}: nothing copied before its install (the install reads no lock file)")
        problems += [
            f"stage {stage.name}: {src} is copied before the install (line {i.line})"
            for i in stage.instructions[:first_install]
            if from_context(i)
            for src in copy_sources(i)
            if Path(src).name not in MANIFESTS
        ]
    names = {s.name for s in installing}
    for stage in stages:
        if stage.base in names or stage in installing:
            continue
        froms = [n for n, i in enumerate(stage.instructions) if set(i.flag_values("from")) & names]
        code = [n for n, i in enumerate(stage.instructions) if from_context(i)]
        if froms and code and min(code) < min(froms):
            problems.append(f"stage {stage.name}: code is copied before the installed dependencies")
    return problems


@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=[k for k, _ in KINDS])
def test_the_runtime_image_installs_dependencies_from_the_lock_files_before_any_code(
    tmp_path: Path, kind: str, extra: dict[str, str]
) -> None:
    service = render_template(tmp_path / kind, kind=kind, name="orders", **extra)
    assert check_dependencies_before_code(runtime_stages(service / "Dockerfile")) == []


@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=[k for k, _ in KINDS])
def test_every_install_keeps_its_cache_in_a_cache_mount(tmp_path: Path, kind: str, extra: dict[str, str]) -> None:
    service = render_template(tmp_path / kind, kind=kind, name="orders", **extra)
    stages = parse(service / "Dockerfile")
    assert [i for s in stages for i in s.instructions if installs(i)], "the Dockerfile installs nothing"
    assert check_cache_mounts(stages) == []


def test_code_copied_before_the_install_is_found(tmp_path: Path) -> None:
    """The check itself: a Dockerfile that copies the code first (every code change reinstalls)."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "# escape=\\\n"
        "FROM python:3.12 AS deps\n"
        "COPY requirements.txt ./\n"
        "# a comment between continued lines \\\n"
        "COPY src ./src\n"
        "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
        "    # the install\n"
        "    pip install -r requirements.txt\n"
        "FROM python:3.12 AS runtime\n"
        "COPY --from=deps /opt/venv /opt/venv\n"
    )
    stages = runtime_stages(dockerfile)
    assert [s.name for s in stages] == ["deps", "runtime"]
    run = stages[0].instructions[-1]
    assert run.mounts() == [{"type": "cache", "target": "/root/.cache/pip"}] and installs(run)
    assert check_dependencies_before_code(stages) == ["stage deps: src is copied before the install (line 5)"]


def test_an_install_without_a_cache_mount_is_found(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM node:24 AS deps\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "RUN --mount=type=cache,target=/root/.cache/pip npm ci --no-audit\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
    )
    assert check_cache_mounts(parse(dockerfile)) == [
        "line 3: npm installs without a cache mount on /root/.npm",
        "line 2: pip's cache is turned off (PIP_NO_CACHE_DIR=1)",
    ]


# Instructions that only set the image's configuration: nothing in them needs the code, so after a
# code COPY each one is only another layer to commit on every rebuild after an edit.
CONFIGURATION = frozenset({"ENV", "USER", "EXPOSE", "HEALTHCHECK", "CMD", "ENTRYPOINT", "LABEL", "WORKDIR", "ARG"})


def check_code_last(stages: list[Stage]) -> list[str]:
    """Configuration after a stage's first code COPY, and installed trees copied out of a stage."""
    problems: list[str] = []
    for stage in stages:
        code = [n for n, i in enumerate(stage.instructions) if from_context(i) and not manifests_only(i)]
        after_code = stage.instructions[min(code) :] if code else ()
        problems += [
            f"stage {stage.name}: {i.keyword} after the code (line {i.line})"
            for i in after_code
            if i.keyword in CONFIGURATION
        ]
    installing = {s.name for s in stages if any(installs(i) for i in s.instructions)}
    problems += [
        f"stage {stage.name}: copies {' '.join(copy_sources(i))} out of {stage_name} (line {i.line}); start FROM it"
        for stage in stages
        for i in stage.instructions
        for stage_name in i.flag_values("from")
        if stage_name in installing
    ]
    return problems


def manifests_only(instruction: Instruction) -> bool:
    return all(Path(src).name in MANIFESTS for src in copy_sources(instruction))


@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=[k for k, _ in KINDS])
def test_in_every_stage_the_code_comes_after_the_configuration_and_no_installed_tree_is_copied(
    tmp_path: Path, kind: str, extra: dict[str, str]
) -> None:
    """What keeps a rebuild after a one-line edit small (issue 12's warm rebuild): one layer per
    stage for the changed code, and no copy of a dependency tree a builder would hash again."""
    service = render_template(tmp_path / kind, kind=kind, name="orders", **extra)
    assert check_code_last(parse(service / "Dockerfile")) == []


def test_configuration_after_the_code_and_a_copied_venv_are_found(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.12 AS deps\n"
        "COPY requirements.txt ./\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
        "FROM python:3.12 AS runtime\n"
        "COPY --from=deps /opt/venv /opt/venv\n"
        "COPY src ./src\n"
        "RUN python -m compileall src\n"
        "USER 10001\n"
    )
    assert check_code_last(parse(dockerfile)) == [
        "stage runtime: USER after the code (line 8)",
        "stage runtime: copies /opt/venv out of deps (line 5); start FROM it",
    ]


def local_state(service: Path) -> list[str]:
    """One file for each pattern of the service's .gitignore (what the tools leave in a developer's
    checkout), made there; their paths."""
    made: list[str] = []
    for line in (service / ".gitignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith(("#", "!")):
            continue
        relative = pattern.strip("/").replace("*", "local")
        path = service / relative / "local-file" if pattern.endswith("/") else service / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("local state\n")
        made.append(path.relative_to(service).as_posix())
    return made


@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=[k for k, _ in KINDS])
def test_what_git_ignores_never_reaches_the_build_context(tmp_path: Path, kind: str, extra: dict[str, str]) -> None:
    """Local state in the context would make the code's COPY miss the cache on every rebuild (and
    could carry secrets such as .env into a layer)."""
    import tarfile

    from scaffold.engine.context import build_context

    service = render_template(tmp_path / kind, kind=kind, name="orders", **extra)
    made = local_state(service)
    assert made, "the service's .gitignore ignores nothing"
    with build_context(service, {}) as context, tarfile.open(fileobj=context) as tar:
        sent = set(tar.getnames())
    assert any(name.startswith("src/") for name in sent), f"the context holds no code: {sorted(sent)}"
    assert sorted(p for p in made if p in sent) == []
