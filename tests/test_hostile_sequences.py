"""Random sequences of commands with hostile values and random kills (issue 10, "Done when").

Each sequence drives the real CLI on one meta-project: `new`, `remove`, `sync`, `update` with
values picked from hostile pools (names, `--data` values, hand edits of ecosystem.yaml, planted
journals, derived records and links), and at least one command stopped at a random moment by
SIGKILL, Ctrl-C (SIGINT) or SIGTERM. After every step:

- nothing outside the meta-project changed: a sentinel tree beside it is hashed;
- every edit made in a service still exists (unless that service's code was deleted on purpose);
- a command that failed gave one `error:` and one `hint:` line, no traceback, and changed nothing;
- `scaffold check` agrees with the commands: after a success (or a kill, once the next command has
  finished or undone it) ecosystem.yaml, the derived files, the answers files and the service
  directories have no error; after a refusal it finds what it found before.

The number of sequences and steps is bounded (SCAFFOLD_HOSTILE_SEQUENCES, default 3, and
SCAFFOLD_HOSTILE_STEPS, default 14) and sequence N is seeded with N, so a failure names its seed and
the command that replays it. The counts (hostile inputs tried, clean errors, state changes on
failure, writes outside the root; the last two must be 0) are printed with `-s` and appended as one
JSON line per sequence to SCAFFOLD_HOSTILE_REPORT when set; `python -m tests.test_hostile_sequences
REPORT` adds them up.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot
from tests.test_containment import tree_hash

SEQUENCES = int(os.environ.get("SCAFFOLD_HOSTILE_SEQUENCES", "3"))
STEPS = int(os.environ.get("SCAFFOLD_HOSTILE_STEPS", "14"))
CLEAN_CODES = {2, 3, 4, 6, 7, 130, 143}
EDIT = "\n# an edit the developers made by hand\n"

HOSTILE_NAMES = [
    "class", "import", "email", "json", "gateway", "kube-system", "default", "a--b", "Orders", "1st",
    "x" * 31, "../sentinel", "a/b", ".git", "services", "$(touch pwned)", "a;rm -rf ~", "ünï", "",
    "orders-migrate", "billing-test-connection", "-h", "--help=x",
]  # fmt: skip
HOSTILE_DESCRIPTIONS = [
    'say "hi"', '"""\nimport os; os.system("touch pwned")\n"""', "back\\slash \\N{oops}", "two\nlines",
    "${{ secrets.KUBECONFIG }}", "{{ 7 * 7 }}", "tab\there", "'; DROP TABLE items; --", "\x1b[31mred", "é" * 600,
]  # fmt: skip
HOSTILE_DATA = [
    "port=80", "port=abc", "port=8080", "port=99999", "subscribes=a b", "subscribes=#.x;y", "name=evil",
    "api_service=../x", "registry=evil.io/x\nservices: {}", "colour=red", "description",
]  # fmt: skip
HOSTILE_EDITS: list[tuple[str, str]] = [  # (old, new) in ecosystem.yaml
    ("path: services/", "path: ../sentinel/"),
    ("path: services/", "path: .git/"),
    ("path: services/", "path: /tmp/"),
    ("route: /api/", "route: '/api/x { return 200; } location /'"),
    ("context: shop-test", "context: '${{ secrets.KUBECONFIG }}'"),
    ("namespace: shop\n", "namespace: kube-system\n"),
    ("namespace: shop-test", "namespace: 'Shop Test!'"),
    ("registry: registry.example.com/shop", "registry: 'x.io/y\"; rm -rf ~'"),
    ("services:", "x-a: &a [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
        f"x-{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 10)}]\n" for i in range(7)
    ) + "services:"),
    ("services:", "unknown: 1\nservices:"),
]  # fmt: skip
HOSTILE_JOURNALS: list[list[dict[str, object]]] = [
    [{"op": "put", "path": "../sentinel"}],
    [{"op": "move", "path": "services/../../sentinel/nested"}],
    [{"op": "commit", "deleted": ["../sentinel/keep.txt"]}],
]


@dataclass
class Counts:
    hostile: int = 0  # hostile inputs tried
    clean_errors: int = 0  # refused with error + hint and a documented exit code
    accepted: int = 0  # hostile-looking values that are legitimate and were handled (e.g. quotes, escaped)
    state_changes: int = 0  # a refused command that changed the meta-project (goal 0)
    outside_writes: int = 0  # steps after which the sentinel beside the root had changed (goal 0)
    kills: int = 0
    steps: int = 0
    problems: list[str] = field(default_factory=list)
    accepted_inputs: list[str] = field(default_factory=list)  # what `accepted` counted, to be read by a person


@dataclass
class World:
    root: Path
    sentinel: Path
    sentinel_hash: str
    rng: random.Random
    counts: Counts
    edits: dict[str, Path] = field(default_factory=dict)  # service -> the file we edited in it
    names: int = 0

    def fresh_name(self) -> str:
        self.names += 1
        return f"svc{self.names}"


def _services(root: Path) -> list[str]:
    import yaml

    data = yaml.safe_load((root / "ecosystem.yaml").read_text())
    return sorted((data.get("services") or {}).keys())


def _findings(root: Path) -> list[tuple[str, str, str | None, str]]:
    """What `scaffold check` finds with the checks that need no external validator."""
    from scaffold.checks import runner
    from scaffold.checks.tools import Tools
    from scaffold.templates import library

    library.cache_clear()
    none = Tools(compose=None, hadolint=None, checkov=None, helm=False, kubernetes=False)
    runs = runner.run(root, tools=none, checkov_asked=False, jobs=1)
    return sorted((r.subject, r.check, f.file, f.message) for r in runs for f in r.findings if f.severity == "error")


def _clean(proc: subprocess.CompletedProcess[str]) -> bool:
    lines = proc.stderr.strip().splitlines()
    lines = [line for line in lines if not line.startswith("note: ")]
    return (
        proc.returncode in CLEAN_CODES
        and len(lines) == 2
        and lines[0].startswith("error: ")
        and lines[1].startswith("hint: ")
        and "Traceback" not in proc.stderr + proc.stdout
    )


def _commit(root: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, capture_output=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "step", "--no-verify"],
        cwd=root,
        check=False,
        capture_output=True,
    )


def _edit_service(world: World, name: str) -> None:
    """What a developer does after `new`: commit the service, then edit a file in it."""
    _commit(world.root)
    readme = world.root / "services" / name / "README.md"
    readme.write_text(readme.read_text() + EDIT)
    _commit(world.root)
    world.edits[name] = readme


def _run(world: World, *args: str, hostile: bool) -> subprocess.CompletedProcess[str]:
    before = snapshot(world.root)
    found_before = _findings(world.root)
    proc = scaffold(*args, cwd=world.root, check=False, env={"SCAFFOLD_LOCK_TIMEOUT": "5"})
    world.counts.hostile += hostile
    if proc.returncode == 0:
        world.counts.accepted += hostile
        if hostile:
            world.counts.accepted_inputs.append(" ".join(args))
        found = _findings(world.root)
        if found:
            world.counts.problems.append(f"{args}: succeeded but check finds {found}")
    else:
        if _clean(proc):
            world.counts.clean_errors += 1
        else:
            world.counts.problems.append(f"{args}: not a clean error ({proc.returncode}): {proc.stderr[-500:]}")
        if diff(before, snapshot(world.root)):
            world.counts.state_changes += 1
            world.counts.problems.append(f"{args}: refused but changed {diff(before, snapshot(world.root))[:5]}")
        if _findings(world.root) != found_before:
            world.counts.problems.append(f"{args}: refused, and check now finds something else")
    return proc


# --- the steps --------------------------------------------------------------------------------------


def step_new_valid(world: World) -> None:
    name = world.fresh_name()
    kind = world.rng.choice(["backend", "worker"])
    args = ["new", kind, name, "--defaults"]
    description = world.rng.choice(['the "quoted" service', "a \\ backslash", "plain", "ünïcode"])
    args += ["--data", f"description={description}"]
    if _run(world, *args, hostile=True).returncode == 0:
        _edit_service(world, name)


def step_new_hostile_name(world: World) -> None:
    _run(world, "new", "backend", world.rng.choice(HOSTILE_NAMES), "--defaults", hostile=True)


def step_new_hostile_data(world: World) -> None:
    data = world.rng.choice([f"description={d}" for d in HOSTILE_DESCRIPTIONS] + HOSTILE_DATA)
    name = world.fresh_name()
    if _run(world, "new", "backend", name, "--defaults", "--data", data, hostile=True).returncode == 0:
        _edit_service(world, name)
        package = world.root / "services" / name / "src" / name / "__init__.py"
        compiled = subprocess.run([sys.executable, "-c", f"import ast; ast.parse(open({str(package)!r}).read())"])
        if compiled.returncode != 0:
            world.counts.problems.append(f"--data {data!r}: the generated package does not parse")


def step_remove(world: World) -> None:
    services = _services(world.root)
    name = world.rng.choice([*services, "nosuch", "../sentinel"]) if services else "nosuch"
    args = ["remove", name, *world.rng.choice([[], ["--delete-code"], ["--delete-code", "--force"]])]
    proc = _run(world, *args, hostile=name not in services)
    if proc.returncode == 0:
        _commit(world.root)
        if "--delete-code" in args:
            world.edits.pop(name, None)


def step_sync(world: World) -> None:
    _run(world, "sync", hostile=False)


def step_update(world: World) -> None:
    services = _services(world.root)
    args = world.rng.choice(
        [
            ["update", "--all"],
            ["update", "--all", "--to", "3"],
            ["update", "--all", "--data", "description=everyone"],
            ["update", *(services[:1] or ["nosuch"]), "--data", "subscribes=x.#"],
            ["update", *(services[:1] or ["nosuch"]), "--data", "port=9001"],
            ["update", "--all", "--conflict", "sideways"],
        ]
    )
    _run(world, *args, hostile=args != ["update", "--all"])


def step_hand_edit(world: World) -> None:
    """A user writes a hostile value into ecosystem.yaml: every command refuses it; then they undo it."""
    path = world.root / "ecosystem.yaml"
    original = path.read_bytes()
    text = original.decode()
    options = [(old, new) for old, new in HOSTILE_EDITS if old in text]
    if not options:
        return
    old, new = world.rng.choice(options)
    path.write_text(text.replace(old, new, 1))
    services = _services(world.root)
    commands = [["sync"], ["new", "backend", world.fresh_name(), "--defaults"], ["list"]]
    commands += [["remove", services[0], "--delete-code", "--force"]] if services else []
    command = world.rng.choice(commands)
    proc = _run(world, *command, hostile=True)
    if proc.returncode == 0:
        world.counts.problems.append(f"ecosystem.yaml with {new!r}: `{' '.join(command)}` accepted it")
    path.write_bytes(original)


def step_planted_journal(world: World) -> None:
    scratch = world.root / ".scaffold" / "txn-planted"
    scratch.mkdir()
    journal = world.rng.choice(HOSTILE_JOURNALS)
    (scratch / "journal").write_text("".join(json.dumps(r) + "\n" for r in journal))
    command = world.rng.choice(["list", "sync"])
    if _run(world, command, hostile=True).returncode == 0:
        world.counts.problems.append(f"`{command}` replayed a planted journal {journal}")
    shutil.rmtree(scratch, ignore_errors=True)  # gone when it was replayed


def step_planted_record(world: World) -> None:
    """`.scaffold/derived.json` naming, with its right hash, a file the wiring never derives: `sync` would
    delete it as a left-over derived file."""
    record_path = world.root / ".scaffold" / "derived.json"
    original = record_path.read_bytes()
    victims = [
        "ecosystem.yaml",
        ".git/config",
        "README.md",
        *(str(p.relative_to(world.root)) for p in world.edits.values()),
    ]
    victim = world.rng.choice(victims)
    record = json.loads(original)
    record["files"][victim] = hashlib.sha256((world.root / victim).read_bytes()).hexdigest()
    record_path.write_text(json.dumps(record))
    if _run(world, "sync", hostile=True).returncode == 0:
        world.counts.problems.append(f"`sync` accepted a derived record naming {victim}")
    if (world.root / ".scaffold").is_dir():
        record_path.write_bytes(original)


def step_planted_link(world: World) -> None:
    directory = world.rng.choice(["monitoring", "gateway", "docs"])
    aside = world.root.parent / f"{directory}-aside"
    (world.root / directory).rename(aside)
    (world.root / directory).symlink_to(world.sentinel / "empty")
    _run(world, "sync", hostile=True)
    (world.root / directory).unlink()
    aside.rename(world.root / directory)


KILLS = [(signal.SIGKILL, None), (signal.SIGINT, 130), (signal.SIGTERM, 143)]  # (signal, scaffold's exit code)


def step_killed(world: World) -> None:
    """A command killed at a random moment (SIGKILL, Ctrl-C or SIGTERM): the next command finishes or
    undoes what SIGKILL left; Ctrl-C and SIGTERM are one error line and a rolled-back change."""
    services = _services(world.root)
    name = world.fresh_name()
    command = world.rng.choice(
        [["new", "backend", name, "--defaults"], ["sync"]] + ([["remove", services[0]]] if services else [])
    )
    sent, code = world.rng.choice(KILLS)
    child = subprocess.Popen(
        [sys.executable, "-m", "scaffold", *command],
        cwd=world.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(world.rng.uniform(0.2, 2.5))
    if child.poll() is None:
        os.kill(child.pid, sent)
        world.counts.kills += 1
    _, stderr = child.communicate()
    if child.returncode not in (0, -sent, code):
        world.counts.problems.append(f"{command} killed by {sent.name}: exit {child.returncode}: {stderr[-500:]}")
    elif (
        code is not None
        and child.returncode == code
        and not _clean(subprocess.CompletedProcess(command, code, "", stderr))
    ):
        world.counts.problems.append(f"{command} stopped by {sent.name}: not one error line: {stderr[-500:]}")
    proc = scaffold("list", cwd=world.root, check=False, env={"SCAFFOLD_LOCK_TIMEOUT": "10"})
    if proc.returncode != 0:
        world.counts.problems.append(f"list after a killed {command}: {proc.stderr}")
    found = _findings(world.root)
    if found:
        world.counts.problems.append(f"after a killed {command}: check finds {found}")
    if command[0] == "new" and name in _services(world.root):
        _edit_service(world, name)
    elif command[0] == "remove" and command[1] not in _services(world.root):
        _commit(world.root)


STEPS_BY_WEIGHT: list[tuple[Callable[[World], None], int]] = [
    (step_new_valid, 3),
    (step_new_hostile_name, 3),
    (step_new_hostile_data, 3),
    (step_remove, 2),
    (step_sync, 1),
    (step_update, 2),
    (step_hand_edit, 3),
    (step_planted_journal, 2),
    (step_planted_record, 1),
    (step_planted_link, 1),
    (step_killed, 2),
]


def _sequence(world: World, steps: int) -> None:
    functions = [f for f, weight in STEPS_BY_WEIGHT for _ in range(weight)]
    killed_at = world.rng.randrange(steps)  # every sequence has at least one kill
    for index in range(steps):
        step = step_killed if index == killed_at else world.rng.choice(functions)
        step(world)
        world.counts.steps += 1
        if tree_hash(world.sentinel) != world.sentinel_hash:
            world.counts.outside_writes += 1
            world.counts.problems.append(f"{step.__name__}: the sentinel beside the root changed")
            world.sentinel_hash = tree_hash(world.sentinel)
        for service, edited in world.edits.items():
            if not edited.is_file() or EDIT not in edited.read_text():
                world.counts.problems.append(f"{step.__name__}: the edit in {service} is gone")
        if world.counts.problems:
            return


def summarize(report: Path) -> dict[str, int]:
    """The counts of every sequence in a report written by the test (SCAFFOLD_HOSTILE_REPORT), added up."""
    totals: dict[str, int] = {}
    for line in report.read_text(encoding="utf-8").splitlines():
        for key, value in json.loads(line).items():
            if isinstance(value, int) and key != "seed":
                totals[key] = totals.get(key, 0) + value
    return totals


@pytest.mark.e2e
@pytest.mark.parametrize("seed", range(SEQUENCES))
def test_random_hostile_sequences_touch_nothing_outside_and_lose_nothing(
    pristine_ecosystem: Path, tmp_path: Path, seed: int
) -> None:
    from tests.test_containment import _sentinel

    root = Path(shutil.copytree(pristine_ecosystem, tmp_path / "shop", symlinks=True))
    sentinel = _sentinel(tmp_path)
    world = World(root, sentinel, tree_hash(sentinel), random.Random(seed), Counts())
    _sequence(world, STEPS)
    counts = world.counts
    summary = {k: v for k, v in counts.__dict__.items() if isinstance(v, int)}
    print(f"\nseed {seed}: {summary}")
    report = os.environ.get("SCAFFOLD_HOSTILE_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as handle:
            handle.write(
                json.dumps(
                    {"seed": seed, **summary, "problems": counts.problems, "accepted_inputs": counts.accepted_inputs}
                )
                + "\n"
            )
    again = (
        f"seed {seed} after {counts.steps} steps (again: SCAFFOLD_HOSTILE_SEQUENCES={seed + 1} "
        f"SCAFFOLD_HOSTILE_STEPS={STEPS} pytest 'tests/test_hostile_sequences.py::"
        f"test_random_hostile_sequences_touch_nothing_outside_and_lose_nothing[{seed}]')"
    )
    assert counts.problems == [], f"{again}: {counts.problems}"
    assert counts.state_changes == 0 and counts.outside_writes == 0, again
    assert counts.steps == STEPS and counts.hostile > 0, again


if __name__ == "__main__":  # python -m tests.test_hostile_sequences REPORT: the totals of a run
    print(json.dumps(summarize(Path(sys.argv[1])), indent=2))
