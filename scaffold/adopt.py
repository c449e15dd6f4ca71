"""What an existing service says about how it was made, as answers to a kind's questions.

`scaffold adopt` brings a service scaffold did not make under the templates (as `cruft link`
does). It may come from a plain `copier copy` (a `.copier-answers.yml`: its answers and `_commit`
are read as they are), from a Cookiecutter template kept up to date with cruft (a `.cruft.json`:
its context is read with the cookiecutter library and its answers mapped onto the kind's questions
by name or a known alias), or be written by hand (nothing to read). Answers that cannot be mapped
are reported with the reason, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from scaffold.answers import SET_BY_SCAFFOLD, Question, convert
from scaffold.errors import ScaffoldError, UsageError
from scaffold.template_repo import parse_version

CRUFT_FILE: Final = ".cruft.json"
CRUFT_EXTRA: Final = "pip install 'scaffold[cruft]'"
# Cookiecutter variable names that mean one of scaffold's questions (first match wins).
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "name": ("name", "service_name", "project_slug", "service_slug", "app_name", "slug"),
    "description": ("description", "project_short_description", "short_description", "project_description"),
    "port": ("port", "http_port", "service_port", "app_port"),
    "python_version": ("python_version",),
    "subscribes": ("subscribes",),
    "api_service": ("api_service",),
}

Made = Literal["copier", "cruft", "hand-written"]


@dataclass(frozen=True)
class Unmapped:
    """An answer of the service's template that scaffold's kind has no place for."""

    key: str
    value: str
    why: str


@dataclass(frozen=True)
class Origin:
    made: Made
    answers: dict[str, object]  # scaffold's question (or "name") -> typed value
    mapped: tuple[tuple[str, str], ...]  # (their variable, our question)
    unmapped: tuple[Unmapped, ...]
    template: str | None = None  # the template it names (copier's _src_path, cruft's template)
    version: str | None = None  # the version it names, when that is a version (copier's _commit)
    commit: str | None = None  # cruft's commit of its template


def read(directory: Path, answers_file: str, questions: Mapping[str, Question], kind: str) -> Origin:
    if (directory / answers_file).is_file():
        return _copier(directory / answers_file, questions, kind)
    if (directory / CRUFT_FILE).is_file():
        return _cruft(directory / CRUFT_FILE, questions)
    return Origin("hand-written", {}, (), ())


def _copier(path: Path, questions: Mapping[str, Question], kind: str) -> Origin:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UsageError(f"{path.name} cannot be read: {err}", "Fix or remove it, then adopt again.") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"{path.name} is not a mapping of answers.", "Fix or remove it, then adopt again.")
    made_as = loaded.get("kind")
    if made_as is not None and made_as != kind:
        raise UsageError(
            f"{path.name} says the service was made as a {made_as}, not a {kind}.", f"Adopt it with --kind {made_as}."
        )
    public = {str(k): v for k, v in loaded.items() if not str(k).startswith("_") and k != "kind"}
    answers, mapped, unmapped = _map({k: k for k in public}, public, questions)
    commit = loaded.get("_commit")
    version = parse_version(str(commit)) if commit else None
    source = loaded.get("_src_path")
    return Origin(
        "copier",
        answers,
        mapped,
        unmapped,
        str(source) if source else None,
        str(version) if version is not None and str(commit).lstrip("v") == str(version) else None,
    )


def _cruft(path: Path, questions: Mapping[str, Question]) -> Origin:
    """`.cruft.json`: {template, commit, checkout, context: {cookiecutter: {...}}, ...}.

    The context is put through cookiecutter's own reading (`prompt_for_config` without input):
    private variables (`_template`, `_output_dir`, ...) stay as they are and are not answers,
    anything still templated is rendered as cookiecutter would.
    """
    try:
        from cookiecutter.prompt import prompt_for_config
    except ImportError:
        raise UsageError(
            f"{path.name} is read with the cookiecutter library, which is not installed.", f"Install it: {CRUFT_EXTRA}"
        ) from None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        context = record["context"]["cookiecutter"]
        assert isinstance(context, dict)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AssertionError):
        raise UsageError(
            f"{path.name} is not a cruft record (template, commit, context.cookiecutter).", "Fix or remove it."
        ) from None
    try:
        rendered: dict[str, Any] = dict(prompt_for_config({"cookiecutter": dict(context)}, no_input=True))
    except Exception as err:  # noqa: BLE001 - cookiecutter's rendering errors have no common base
        raise ScaffoldError(f"{path.name}'s context cannot be read: {err}", "Fix the context in the file.") from None
    public = {k: v for k, v in rendered.items() if not k.startswith("_")}
    chosen: dict[str, str] = {}
    for question, aliases in ALIASES.items():
        found = next((a for a in aliases if a in public), None)
        if found is not None:
            chosen[found] = question
    answers, mapped, unmapped = _map(chosen, public, questions)
    commit = record.get("commit")
    template = record.get("template")
    return Origin(
        "cruft", answers, mapped, unmapped, str(template) if template else None, None, str(commit) if commit else None
    )


def _map(
    chosen: Mapping[str, str], values: Mapping[str, Any], questions: Mapping[str, Question]
) -> tuple[dict[str, object], tuple[tuple[str, str], ...], tuple[Unmapped, ...]]:
    """Their variables onto our questions: `chosen` says which variable answers which question."""
    answers: dict[str, object] = {}
    mapped: list[tuple[str, str]] = []
    unmapped: list[Unmapped] = []
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        question = chosen.get(key)
        if question == "name":
            answers["name"] = text
            mapped.append((key, "name"))
        elif question is not None and question in questions:
            try:
                answers[question] = convert(questions[question], text)
            except UsageError as err:
                unmapped.append(Unmapped(key, text, err.message))
                continue
            mapped.append((key, question))
        elif key in SET_BY_SCAFFOLD:
            unmapped.append(Unmapped(key, text, "scaffold sets it from ecosystem.yaml"))
        else:
            unmapped.append(Unmapped(key, text, "the kind has no such question"))
    return answers, tuple(mapped), tuple(unmapped)
