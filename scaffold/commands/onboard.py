"""`scaffold onboard`: the walkthrough for a newcomer, step by step, resumable.

The steps' text comes from scaffold.onboarding (the same text as the meta-project's
docs/onboarding.md); this module runs what a step does (step 1: the doctor's checks, step 3: a
first service through `scaffold new`'s own code path) and remembers the steps done in
`.scaffold/onboarding.json`, a per-person file the meta-project's .gitignore leaves out.

With a terminal, a `Guide` shows each step, asks for the kind and name of the first service and
whether to go on; without one, `--defaults` runs the remaining steps and `--step N` runs one, and
the result carries the text.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from scaffold import ecosystem_file
from scaffold.commands.doctor import doctor
from scaffold.commands.new import check_kind, new_service
from scaffold.errors import NotFoundError, ScaffoldError, UsageError
from scaffold.model import KINDS, Ecosystem, Kind
from scaffold.names import check_name, check_new_service_name
from scaffold.onboarding import LAST_STEP, STEP_TITLES, available_kinds, step_markdown, steps
from scaffold.project import STATE_DIR, find_root
from scaffold.results import NewResult, OnboardResult, StepReport
from scaffold.templates import builtin_templates_dir
from scaffold.wiring.onboarding_guide import layout

PROGRESS_FILE: Final = "onboarding.json"
FIRST_NAMES: Final[dict[Kind, str]] = {"backend": "hello", "worker": "hello-worker", "frontend": "hello-web"}


class Guide(Protocol):
    """The terminal side of the walkthrough (scaffold.onboarding_terminal)."""

    def welcome(self, ecosystem: str, completed: Sequence[int], first: int, notice: str | None) -> None: ...

    def show_step(self, number: int, total: int, title: str, text: str) -> None: ...

    def show_outcome(self, report: StepReport) -> None: ...

    def choose(self, message: str, choices: Sequence[str], default: str) -> str: ...

    def ask(self, message: str, default: str, check: Callable[[str], str | None]) -> str: ...

    def proceed(self, number: int, title: str) -> bool: ...


@dataclass(frozen=True)
class Progress:
    completed: tuple[int, ...] = ()
    service: str | None = None  # the service step 3 created

    def with_step(self, number: int, service: str | None) -> Progress:
        return Progress(tuple(sorted({*self.completed, number})), service or self.service)

    def next_step(self) -> int | None:
        return next((n for n in range(1, LAST_STEP + 1) if n not in self.completed), None)


def progress_path(root: Path) -> Path:
    return root / STATE_DIR / PROGRESS_FILE


def load_progress(root: Path) -> Progress:
    path = progress_path(root)
    if not path.exists():
        return Progress()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        completed = tuple(sorted({int(n) for n in data["completed"] if 1 <= int(n) <= LAST_STEP}))
        service = data.get("service")
        return Progress(completed, str(service) if service else None)
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"{path} is not a progress file scaffold can read.", "Run `scaffold onboard --restart` to start over."
        ) from None


def save_progress(root: Path, progress: Progress) -> None:
    path = progress_path(root)
    path.parent.mkdir(exist_ok=True)
    text = json.dumps({"completed": list(progress.completed), "service": progress.service}, indent=2) + "\n"
    fd, temporary = tempfile.mkstemp(prefix="txn-onboarding-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _free_name(ecosystem: Ecosystem, kind: Kind) -> str:
    taken = {s.name for s in ecosystem.services}
    base = FIRST_NAMES[kind]
    candidates = (base, *(f"{base}-{n}" for n in range(2, 100)))
    return next(c for c in candidates if c not in taken)


def _templates() -> list[Kind]:
    directory = builtin_templates_dir()
    return [k for k in KINDS if (directory / k).is_dir() and any((directory / k).iterdir())]


def _kind(ecosystem: Ecosystem, given: Kind | None, interactive: Guide | None) -> Kind:
    offered = available_kinds(ecosystem, _templates())
    if given is not None:
        if given not in _templates():
            raise NotFoundError(
                f"This version of scaffold has no {given} template yet.",
                f"Choose one of: {', '.join(offered)}.",
            )
        return given
    if not offered:
        raise NotFoundError("No template is available for a first service.", "Reinstall scaffold.")
    if interactive is None:
        return offered[0]
    return check_kind(interactive.choose("What kind of service?", offered, offered[0]))


def _name_error(ecosystem: Ecosystem) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        try:
            check_new_service_name(text, (s.name for s in ecosystem.services), ecosystem.name)
        except ScaffoldError as err:
            return err.message
        return None

    return check


def _create(
    root: Path,
    ecosystem: Ecosystem,
    *,
    kind: Kind | None,
    name: str | None,
    data: list[str],
    interactive: Guide | None,
) -> NewResult:
    chosen = _kind(ecosystem, kind, interactive)
    default = _free_name(ecosystem, chosen)
    if name is None:
        name = default if interactive is None else interactive.ask("Its name?", default, _name_error(ecosystem))
    # The same code path as `scaffold new`; values other than kind and name take their defaults.
    return new_service(root, chosen, name, data=data, defaults=True, dry_run=False, asker=None)


def _first_service_notice(root: Path, kind: Kind | None, name: str | None) -> str:
    """What step 3 will create without asking, said before anything runs."""
    ecosystem = ecosystem_file.load(root).model
    chosen = _kind(ecosystem, kind, None)
    named = name or _free_name(ecosystem, chosen)
    choose = "" if kind and name else " (`--kind KIND --name NAME` choose another)"
    return (
        f"Step 3 creates a first service: a {chosen} named '{named}' in services/{named}, with default answers{choose}."
    )


def _run_step(
    root: Path,
    number: int,
    progress: Progress,
    *,
    kind: Kind | None,
    name: str | None,
    data: list[str],
    guide: Guide | None,
    ask: bool,
) -> StepReport:
    """Show step `number` (with a terminal) and do what it does: step 1 checks, step 3 creates."""
    ecosystem = ecosystem_file.load(root).model
    current = steps(ecosystem, layout(), progress.service)[number - 1]
    text = step_markdown(current, style="terminal")
    if guide is not None:
        guide.show_step(number, LAST_STEP, current.title, text)
    if number == 1:
        return StepReport(number, current.title, text, tools=doctor(root).tools)
    if number == 3:
        created = _create(root, ecosystem, kind=kind, name=name, data=data, interactive=guide if ask else None)
        return StepReport(number, current.title, text, created=created)
    return StepReport(number, current.title, text)


def onboard(
    start: Path,
    *,
    step: int | None = None,
    defaults: bool = False,
    restart: bool = False,
    kind: str | None = None,
    name: str | None = None,
    data: list[str] | None = None,
    guide: Guide | None = None,
) -> OnboardResult:
    if step is not None and not 1 <= step <= LAST_STEP:
        raise UsageError(f"There is no step {step}.", f"Steps are numbered 1 to {LAST_STEP}.")
    checked_kind = check_kind(kind) if kind is not None else None
    if name is not None:
        check_name(name)
    root = find_root(start)
    progress = Progress() if restart else load_progress(root)
    if guide is None and step is None and not defaults:
        raise UsageError(
            "No terminal to walk you through the steps.",
            "Pass --defaults to run the remaining steps without questions, or --step N to run one step.",
        )
    todo = [step] if step is not None else [n for n in range(1, LAST_STEP + 1) if n not in progress.completed]
    notice = _first_service_notice(root, checked_kind, name) if 3 in todo and defaults else None
    if guide is not None and step is None and todo:
        guide.welcome(ecosystem_file.load(root).model.name, progress.completed, todo[0], notice)
    reports: list[StepReport] = []
    for position, number in enumerate(todo):
        report = _run_step(
            root, number, progress, kind=checked_kind, name=name, data=data or [], guide=guide, ask=not defaults
        )
        progress = progress.with_step(number, report.created.service.name if report.created else None)
        save_progress(root, progress)
        reports.append(report)
        if guide is not None:
            guide.show_outcome(report)
        following = todo[position + 1] if position + 1 < len(todo) else None
        if following is None or guide is None or defaults or step is not None:
            continue
        if not guide.proceed(following, STEP_TITLES[following - 1]):
            break
    return OnboardResult(
        root=root,
        notice=notice,
        steps=tuple(reports),
        completed=progress.completed,
        next_step=progress.next_step(),
        shown=guide is not None,
    )
