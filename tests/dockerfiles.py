"""A Dockerfile read as data: its stages and their instructions, with each instruction's flags.

The rules are the Dockerfile reference's: a parser directive (`# escape=`) may open the file, a
line whose first non-blank character is `#` is a comment (also between continued lines), a line
ending in the escape character continues on the next, and an instruction is its keyword (any case),
then flags of the form `--name=value` (RUN, COPY, ADD, FROM), then its arguments. Heredocs are not
read (the templates use none: a heredoc would fail the parse of the next instruction).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_FLAG = re.compile(r"^--([a-z-]+)(?:=(.*))?$")
_FLAGGED = frozenset({"RUN", "COPY", "ADD", "FROM"})


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    flags: tuple[tuple[str, str], ...]  # ("mount", "type=cache,target=/root/.npm"), in order
    arguments: str  # the rest of the logical line, continuations joined
    line: int  # where it starts (1-based)

    def flag_values(self, name: str) -> list[str]:
        return [value for flag, value in self.flags if flag == name]

    def mounts(self) -> list[dict[str, str]]:
        """RUN --mount flags as key=value maps (`type=cache,target=/root/.npm`)."""
        return [dict(_pair(part) for part in value.split(",")) for value in self.flag_values("mount")]


def _pair(option: str) -> tuple[str, str]:
    key, sep, value = option.partition("=")
    return key, value if sep else "true"


@dataclass(frozen=True)
class Stage:
    name: str  # its `AS` name, or its index when it has none
    base: str  # the image or earlier stage it starts from
    instructions: tuple[Instruction, ...]  # after FROM


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives: only at the very top, before any comment or blank line
        match = _DIRECTIVE.match(line)
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments go, also between continued lines
        if not pending:
            start = number
        body = raw.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)])
            continue
        pending.append(body)
        logical.append((start, " ".join(part.strip() for part in pending if part.strip())))
        pending = []
    if pending:
        logical.append((start, " ".join(part.strip() for part in pending if part.strip())))
    return logical


def _instruction(line: int, text: str) -> Instruction:
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    flags: list[tuple[str, str]] = []
    rest = rest.strip()
    while keyword in _FLAGGED and rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        match = _FLAG.match(token)
        if match is None:
            break
        flags.append((match.group(1), match.group(2) or "true"))
        rest = remainder.strip()
    return Instruction(keyword, tuple(flags), rest, line)


def parse(path: Path) -> list[Stage]:
    """The build stages of a Dockerfile, in order (instructions before the first FROM are ARGs)."""
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    for line, text in _logical_lines(path.read_text(encoding="utf-8")):
        instruction = _instruction(line, text)
        if instruction.keyword == "FROM":
            words = shlex.split(instruction.arguments)
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(stages))
            current = []
            stages.append(Stage(name, words[0], ()))
        elif current is not None:
            current.append(instruction)
            stages[-1] = Stage(stages[-1].name, stages[-1].base, tuple(current))
    return stages


def copy_sources(instruction: Instruction) -> list[str]:
    """What a COPY or ADD takes from the build context (or from `--from`), its destination left out."""
    words = shlex.split(instruction.arguments)
    return words[:-1]


def lineage(stages: list[Stage], target: str) -> list[Stage]:
    """The stages whose files can reach `target`: the chain of FROM and every COPY --from, in file order."""
    by_name = {stage.name: stage for stage in stages}
    needed: set[str] = set()
    pending = [target]
    while pending:
        name = pending.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        stage = by_name[name]
        pending.append(stage.base)
        pending += [value for i in stage.instructions for value in i.flag_values("from")]
    return [stage for stage in stages if stage.name in needed]
