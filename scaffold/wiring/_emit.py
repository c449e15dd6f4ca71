"""Block YAML, byte for byte what PyYAML writes with the wiring's dumper settings, in a fraction of its time.

The derived files of an ecosystem of 500 services are about 1.5 MB of YAML; PyYAML's pure-Python
serializer and emitter spend seconds on them, which made every `scaffold new` slower than the one
before it. The wiring emits only plain data (dicts, lists, strings, integers, booleans, None) in
block style, and for that subset the output is simple to produce directly: this module does, and
gives up (`Unsupported`) on anything else, so the caller falls back to PyYAML for that document.

Scalars are where YAML is subtle. A string that is plainly safe (`_plain`: printable ASCII, no
indicator where YAML reads one, and PyYAML's own resolver keeps it a string rather than a number,
boolean, null or date) is written as it is; any other single-line string is written the way
PyYAML writes it alone (asked once per distinct string); a multi-line string is a literal block
when PyYAML's own analysis allows one. tests/test_emit.py compares this module with PyYAML on
every derived file of several ecosystems and on random documents made of awkward strings.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable
from typing import Any, Final

import yaml

MAX_SCALAR: Final = 1000  # longer single-line strings could be folded at PyYAML's width: left to PyYAML
MAX_KEY: Final = 128  # PyYAML writes longer keys, and the empty one, as complex keys ("? key")
_BREAKS: Final = "\n\x85\u2028\u2029"


class Unsupported(Exception):
    """The data holds something this emitter does not write exactly as PyYAML would."""


Dumper = type[yaml.SafeDumper]


def dump(data: Any, dumper: Dumper, *, sort_keys: bool) -> str:
    """The YAML text PyYAML's `yaml.dump(data, Dumper=dumper, default_flow_style=False,
    allow_unicode=True, width=4096, indent=2)` gives; raises Unsupported when unsure."""
    scalar = _scalar_writer(dumper)
    out: list[str] = []
    if type(data) is dict:
        if not data:
            return "{}\n"
        _mapping(data, 0, None, out, scalar, sort_keys)
    elif type(data) is list:
        if not data:
            return "[]\n"
        _sequence(data, 0, None, out, scalar, sort_keys)
    else:
        raise Unsupported("a top-level scalar")
    return "".join(out)


def _items(data: dict[Any, Any], sort_keys: bool) -> list[tuple[Any, Any]]:
    items = list(data.items())
    if sort_keys:
        with contextlib.suppress(TypeError):  # as PyYAML's representer does
            items = sorted(items)
    return items


def _mapping(
    data: dict[Any, Any], indent: int, lead: str | None, out: list[str], scalar: Callable[[Any], str], sort: bool
) -> None:
    pad = " " * indent
    first = pad if lead is None else lead
    for key, value in _items(data, sort):
        name = scalar(key)
        if len(name) >= MAX_KEY or key == "":
            raise Unsupported("a key PyYAML writes as a complex key")
        kind = type(value)
        if kind is dict:
            if value:
                out.append(f"{first}{name}:\n")
                _mapping(value, indent + 2, None, out, scalar, sort)
            else:
                out.append(f"{first}{name}: {{}}\n")
        elif kind is list:
            if value:
                out.append(f"{first}{name}:\n")
                _sequence(value, indent + 2, None, out, scalar, sort)
            else:
                out.append(f"{first}{name}: []\n")
        elif kind is str and "\n" in value:
            out.append(f"{first}{name}: {_literal(value, indent + 2)}")
        else:
            out.append(f"{first}{name}: {scalar(value)}\n")
        first = pad


def _sequence(
    data: list[Any], indent: int, lead: str | None, out: list[str], scalar: Callable[[Any], str], sort: bool
) -> None:
    pad = " " * indent
    dash = (pad if lead is None else lead) + "- "
    for item in data:
        kind = type(item)
        if kind is dict:
            if item:
                _mapping(item, indent + 2, dash, out, scalar, sort)
            else:
                out.append(f"{dash}{{}}\n")
        elif kind is list:
            if item:
                _sequence(item, indent + 2, dash, out, scalar, sort)
            else:
                out.append(f"{dash}[]\n")
        elif kind is str and "\n" in item:
            out.append(f"{dash}{_literal(item, indent + 2)}")
        else:
            out.append(f"{dash}{scalar(item)}\n")
        dash = pad + "- "


def _literal(text: str, indent: int) -> str:
    """`|` block of a multi-line string (what the wiring's representer asks for), lines at `indent`."""
    if len(text) > 100_000 or not _analysis(text).allow_block:
        raise Unsupported("a multi-line string PyYAML would quote")
    hints = ""
    if text[0] in " " + _BREAKS:
        hints += "2"
    if text[-1] not in _BREAKS:
        hints += "-"
    elif len(text) == 1 or text[-2] in _BREAKS:
        raise Unsupported("a literal block that keeps trailing line breaks")
    if any(c in text for c in "\x85\u2028\u2029\r"):
        raise Unsupported("line breaks other than LF")
    pad = " " * indent
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    body = "".join(f"{pad}{line}\n" if line else "\n" for line in lines)
    return f"|{hints}\n{body}"


@functools.cache
def _analyzer() -> yaml.SafeDumper:
    return yaml.SafeDumper(io.StringIO(), allow_unicode=True)


@functools.lru_cache(maxsize=4096)
def _analysis(text: str) -> Any:
    return _analyzer().analyze_scalar(text)


def _scalar_writer(dumper: Dumper) -> Callable[[Any], str]:
    strings = _STRINGS.setdefault(dumper, {})

    def scalar(value: Any) -> str:
        kind = type(value)
        if kind is str:
            written = strings.get(value)
            if written is None:
                written = strings[value] = _string(dumper, value)
            return written
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return str(value)
        if value is None:
            return "null"
        raise Unsupported(f"a {kind.__name__}")

    return scalar


_STRINGS: dict[Dumper, dict[str, str]] = {}  # how each string is written, per dumper (a few thousand strings)


def _string(dumper: Dumper, value: str) -> str:
    if len(value) >= MAX_SCALAR or any(c in value for c in _BREAKS + "\r"):
        raise Unsupported("a long or multi-line string")
    if _plain(value):
        return value
    return _asked(dumper, value)


def _plain(text: str) -> bool:
    """Whether PyYAML writes the string as it is: nothing in it is an indicator or special, and
    YAML 1.1 does not resolve it to another type (a number, a boolean, null, a date)."""
    if not text or not (text.isascii() and text.isprintable()):
        return False
    first = text[0]
    if first in _LEADING_INDICATORS or text[-1] == " " or text.endswith(":"):
        return False
    if first in "?:-" and (len(text) == 1 or text[1] == " "):
        return False
    if text.startswith(("---", "...")) or ": " in text or " #" in text:
        return False
    resolved: str = _analyzer().resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return resolved == _STR_TAG


_LEADING_INDICATORS: Final = "#,[]{}&*!|>'\"%@` "
_STR_TAG: Final = "tag:yaml.org,2002:str"


def _asked(dumper: Dumper, value: str) -> str:
    """How PyYAML writes one single-line string as a block mapping value (style does not depend on
    the place for single-line strings shorter than the width)."""
    text = yaml.dump({"k": value}, Dumper=dumper, default_flow_style=False, allow_unicode=True, width=4096, indent=2)
    if not text.startswith("k: ") or text.count("\n") != 1:
        raise Unsupported("a string PyYAML spreads over lines")
    return text[3:-1]
