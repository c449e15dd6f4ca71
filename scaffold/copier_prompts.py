"""Copier imported without its questionnaire stack, which loads for real when copier asks a question.

Importing copier costs the render process (scaffold.render_process) about 0.25-0.35 s of CPU, and
0.1-0.15 s of that is questionary, prompt_toolkit, pygments and wcwidth, which copier imports at
module level for its questionnaire (issue 16, goal 3). Scaffold's renders never let copier ask:
every answer is passed as data with `defaults=True` (scaffold asks its own questions in the
command's process, before the render).

A lazily executed module (importlib.util.LazyLoader) would not help: copier binds six names from
that stack when it is imported (`from questionary import confirm, unsafe_prompt` in copier._main;
`PygmentsLexer`, `JsonLexer`, `YamlLexer` and questionary's `Choice` in copier._user_data), and
`from x import y` executes x at once, and importing a submodule executes its package. So, while
copier itself is being imported and only then, the four modules it takes those names from are
stand-ins in `sys.modules` that hold this module's functions of the same names. They are taken out
again as soon as copier is imported: any later `import questionary` (scaffold's own prompts, a
test) gets the real package. What copier holds then:

- `confirm`, `unsafe_prompt` and `PygmentsLexer` import the real package on their first call and
  call it; `JsonLexer` and `YamlLexer` name pygments' classes, resolved when `PygmentsLexer` gets
  them. Those calls happen only when copier prompts.
- `Choice` is also called without prompting: copier checks an answer against a question's
  `choices` by building questionary Choices and reading their `value` and `disabled`. Until
  questionary is loaded it returns a PendingChoice, which holds the arguments and derives `value`
  as questionary does; `unsafe_prompt` turns pending choices into questionary's before questionary
  sees them. Once questionary is loaded, `Choice` returns questionary's own.

If a copier release imports any other name from these modules (or uses one at import time), the
stand-ins cannot provide it: copier is then imported again the usual way, its whole stack with it.
Only the time is lost.
tests/test_copier_prompts.py proves the render path does not load the stack and that copier still
asks its questions through the real one.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any, Final

# The modules copier imports names from at module level, and those names (copier 9.x).
_STAND_INS: Final = {
    "questionary": ("confirm", "unsafe_prompt"),
    "questionary.prompts.common": ("Choice",),
    "prompt_toolkit.lexers": ("PygmentsLexer",),
    "pygments.lexers.data": ("JsonLexer", "YamlLexer"),
}
# What is not imported on the render path: the packages above and wcwidth (prompt_toolkit's).
DEFERRED_PACKAGES: Final = ("questionary", "prompt_toolkit", "pygments", "wcwidth")


class _StandIn(types.ModuleType):
    """Stands for one of the modules of _STAND_INS while copier is imported."""


def import_copier() -> None:
    """Import copier; its questionnaire stack stays unimported until copier asks a question.

    Copier already imported, or any of those packages already loaded: a plain import (it costs
    nothing more, and copier then binds the real names)."""
    if "copier" in sys.modules or any(name in sys.modules for name in DEFERRED_PACKAGES):
        import copier

        return
    this = sys.modules[__name__]
    placed = {name: _StandIn(name) for name in _STAND_INS}
    for name, module in placed.items():
        for attribute in _STAND_INS[name]:
            setattr(module, attribute, getattr(this, attribute))
    sys.modules.update(placed)
    try:
        import copier

        return
    except Exception:  # noqa: BLE001 - a copier that needs more of a stand-in: imported again below, as usual
        _forget("copier")
    finally:
        for name, module in placed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    import copier  # noqa: F401


def _forget(package: str) -> None:
    for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
        del sys.modules[name]


def _real(module: str, name: str) -> Any:
    """`name` of the real `module` (imported now if it is not yet)."""
    return getattr(importlib.import_module(module), name)


def confirm(*args: Any, **kwargs: Any) -> Any:
    """questionary.confirm (copier asks whether to overwrite a file)."""
    return _real("questionary", "confirm")(*args, **kwargs)


def unsafe_prompt(questions: Mapping[str, Any] | Iterable[Mapping[str, Any]], *args: Any, **kwargs: Any) -> Any:
    """questionary.unsafe_prompt, the questions' pending choices made questionary's first."""
    prompt = _real("questionary", "unsafe_prompt")
    if isinstance(questions, Mapping):
        return prompt(_with_real_choices(questions), *args, **kwargs)
    return prompt([_with_real_choices(question) for question in questions], *args, **kwargs)


def _with_real_choices(question: Mapping[str, Any]) -> dict[str, Any]:
    """The question with questionary Choices for pending ones, one per pending choice: questionary
    finds a question's default among its choices by identity."""
    made: dict[int, Any] = {}

    def real(value: Any) -> Any:
        if not isinstance(value, PendingChoice):
            return value
        if id(value) not in made:
            made[id(value)] = value.real()
        return made[id(value)]

    result = dict(question)
    if "default" in result:
        result["default"] = real(result["default"])
    if isinstance(result.get("choices"), list):
        result["choices"] = [real(choice) for choice in result["choices"]]
    return result


def Choice(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - the name copier imports (a class there)
    """questionary's Choice once questionary is loaded, a PendingChoice before."""
    common = sys.modules.get("questionary.prompts.common")
    if common is not None and not isinstance(common, _StandIn):
        return common.Choice(*args, **kwargs)
    return PendingChoice(*args, **kwargs)


class PendingChoice:
    """questionary's Choice before questionary is loaded: its arguments, with `value` derived as
    questionary derives it (what copier reads, with `disabled`, to check an answer)."""

    def __init__(
        self,
        title: Any,
        value: Any = None,
        disabled: str | None = None,
        checked: bool | None = False,
        shortcut_key: str | bool | None = True,
        description: str | None = None,
    ) -> None:
        self.title = title
        self.disabled = disabled
        self.checked = checked if checked is not None else False
        self.shortcut_key = shortcut_key
        self.description = description
        if value is not None:
            self.value = value
        elif isinstance(title, list):  # prompt_toolkit's formatted text: (style, text) pairs
            self.value = "".join(token[1] for token in title)
        else:
            self.value = title

    def real(self) -> Any:
        """The questionary Choice these arguments make (questionary imported now)."""
        return _real("questionary", "Choice")(
            self.title, self.value, self.disabled, self.checked, self.shortcut_key, self.description
        )


class _PygmentsLexerName:
    """A lexer class of pygments.lexers.data, by name (copier hands it to PygmentsLexer)."""

    def __init__(self, name: str) -> None:
        self.name = name


JsonLexer: Final = _PygmentsLexerName("JsonLexer")
YamlLexer: Final = _PygmentsLexerName("YamlLexer")


def PygmentsLexer(lexer: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - the name copier imports
    """prompt_toolkit's PygmentsLexer of the named pygments lexer."""
    if isinstance(lexer, _PygmentsLexerName):
        lexer = _real("pygments.lexers.data", lexer.name)
    return _real("prompt_toolkit.lexers", "PygmentsLexer")(lexer, *args, **kwargs)
