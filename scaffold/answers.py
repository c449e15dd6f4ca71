"""The template's questions and the `--data key=value` answers a user gives on the command line.

Values are converted to the question's type here, before copier runs, so a wrong value gets a
one-line message naming the key instead of copier's traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from scaffold.errors import UsageError
from scaffold.templates import load_config

if TYPE_CHECKING:
    import jinja2

# Answers scaffold sets itself from the command line and ecosystem.yaml.
SET_BY_SCAFFOLD: Final = frozenset({"kind", "name", "ecosystem", "registry"})
# Answers ecosystem.yaml holds too (a service's `port`, a worker's `subscribes`, a frontend's `calls`,
# a backend's `redis` as `needs: [redis]`): changing one in a service alone would make the two
# disagree, and the wiring follows ecosystem.yaml.
HELD_BY_ECOSYSTEM: Final = frozenset({"port", "subscribes", "api_service", "redis"})


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    help: str
    choices: tuple[str, ...]


def questions(template_dir: Path) -> dict[str, Question]:
    """The questions a user may answer (settings starting with '_' and computed values excluded)."""
    raw = load_config(template_dir)
    found: dict[str, Question] = {}
    for name, spec in raw.items():
        if name.startswith("_") or not isinstance(spec, dict) or spec.get("when") is False:
            continue
        choices = spec.get("choices") or ()
        found[name] = Question(
            name=name,
            type=str(spec.get("type", "str")),
            help=str(spec.get("help", "")),
            choices=tuple(str(c) for c in choices),
        )
    return found


def _when_environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined)


def _asked(spec: object, kind: str, environment: jinja2.Environment) -> bool:
    import jinja2

    when = spec.get("when", True) if isinstance(spec, Mapping) else True
    if not isinstance(when, str):
        return bool(when)
    try:
        rendered = environment.from_string(when).render(kind=kind)
    except jinja2.TemplateError:
        return True  # a condition on other answers: asked in some cases
    return rendered.strip().lower() not in ("", "false", "no", "0", "none")


def questions_for(template_dir: Path, kind: str) -> dict[str, Question]:
    """The questions a user may answer with `--data` for `kind` (what scaffold sets itself left out)."""
    config, environment = load_config(template_dir), _when_environment()
    return {
        name: q
        for name, q in questions(template_dir).items()
        if name not in SET_BY_SCAFFOLD and _asked(config.get(name), kind, environment)
    }


def convert(question: Question, value: str) -> object:
    """A `--data` value typed as the question wants it, or a UsageError naming the key."""
    if question.type == "int":
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f"--data {question.name} expects a whole number, got {value!r}.",
                f"Example: --data {question.name}=8001",
            ) from None
    if question.type == "bool":
        lowered = value.lower()
        if lowered in {"true", "yes", "1", "on"}:
            return True
        if lowered in {"false", "no", "0", "off"}:
            return False
        raise UsageError(
            f"--data {question.name} expects true or false, got {value!r}.", f"Example: --data {question.name}=true"
        )
    if question.choices and value not in question.choices:
        raise UsageError(
            f"--data {question.name} must be one of {', '.join(question.choices)}; got {value!r}.",
            f"Example: --data {question.name}={question.choices[0]}",
        )
    return value


# Answers that land in ecosystem.yaml or in generated files, checked by the schema's rule for them
# (scaffold/ecosystem.schema.json) before copier renders anything.
_SCHEMA_RULES: Final = {
    "description": ("$defs", "line"),
    "registry": ("properties", "registry"),
}


def check(answers: dict[str, object]) -> dict[str, object]:
    """Refuse a text answer that is not one line (every text answer lands in some file: a docstring,
    pyproject.toml, YAML, README), or that breaks its schema rule (description, registry)."""
    from scaffold.ecosystem_rules import definition, pattern, rule

    one_line = pattern("$defs", "line")
    for key, value in answers.items():
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"--data {key}: {value[:60]!r} is not UTF-8 text.",
                "Give the value in UTF-8 (check the terminal's locale).",
            ) from None
        where = _SCHEMA_RULES.get(key)
        if where is not None:
            limit = definition(*where).get("maxLength")
            if not pattern(*where).match(value) or (limit is not None and len(value) > int(limit)):
                raise UsageError(
                    f"The {key} {value[:60]!r}{'...' if len(value) > 60 else ''} is not {rule(*where)}.",
                    f"Give another {key}, e.g. --data {key}=...",
                )
        elif not one_line.match(value):
            raise UsageError(f"--data {key}: {value[:60]!r} is not one line of text.", "Remove the line breaks.")
    return answers


def parse_data(
    pairs: list[str], template_dir: Path, kind: str | None = None, *, own: frozenset[str] = frozenset()
) -> dict[str, object]:
    """Typed answers from `--data key=value`; with `kind`, only the questions that kind is asked. `own`
    are answers of SET_BY_SCAFFOLD the command lets the user give (`init` asks for the registry)."""
    every = questions(template_dir)
    known = every if kind is None else {**questions_for(template_dir, kind), **{k: every[k] for k in own if k in every}}
    answers: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--data {pair!r} is not of the form key=value.", "Example: --data port=8001")
        if key in SET_BY_SCAFFOLD - own:
            raise UsageError(
                f"--data {key} cannot be set: scaffold sets it from the command and ecosystem.yaml.",
                "Give the name on the command line; the ecosystem and registry come from ecosystem.yaml.",
            )
        if key not in known:
            allowed = ", ".join(sorted(set(known) - SET_BY_SCAFFOLD))
            which = "the template has" if kind is None else f"a {kind} has"
            raise UsageError(f"--data {key}: {which} no such question.", f"Known keys: {allowed}.")
        answers[key] = convert(known[key], value)
    return check(answers)
