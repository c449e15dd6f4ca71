"""The wiring's fast YAML emitter writes exactly what PyYAML writes (scaffold/wiring/_emit.py).

Two kinds of evidence: every derived file of real ecosystems (every kind, environment values,
alerting, custom template sources) is the same byte for byte with the emitter and with PyYAML
alone; and random documents made of awkward strings (indicators, quotes, YAML 1.1 words, numbers,
dates, unicode, line breaks) either come out the same or are declined, never written differently.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from scaffold import ecosystem_file
from scaffold.kinds import service_entry
from scaffold.model import Ecosystem, Kind, TemplateRef
from scaffold.wiring import _emit, _render, derive

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = TemplateRef(source="builtin", version="0.1.0")


def with_services(base: Ecosystem, count: int) -> Ecosystem:
    """`base` plus `count` services of every kind, as `scaffold new` makes them."""
    import dataclasses

    model = base
    kinds: tuple[Kind, ...] = ("backend", "worker")
    for index in range(count):
        kind = kinds[index % 2]
        answers = {"subscribes": "*.item.published, orders.#"}
        service = service_entry(kind, f"svc-{index:03d}", 8100 + index, answers, model, TEMPLATE)
        model = dataclasses.replace(model, services=(*model.services, service))
    frontend = service_entry("frontend", "web", 8099, {"api_service": "svc-000"}, model, TEMPLATE)
    return dataclasses.replace(model, services=(*model.services, frontend))


def ecosystems() -> list[Ecosystem]:
    example = ecosystem_file.parse((REPO / "examples/shop/ecosystem.yaml").read_text()).model
    text = (REPO / "examples/shop/ecosystem.yaml").read_text()
    document = ecosystem_file.parse(text)
    tree = document.tree
    # Values per environment with strings PyYAML must quote, alerting receivers, CI settings.
    tree["environments"]["production"]["values"] = {
        "gateway": {"hostname": "shop.example.com", "annotations": {"note": "yes: quoted", "n": "010"}},
        "replicas": 3,
        "empty": {},
        "flags": [True, False, None, "on", "- dash", "#hash", "multi\nline\n"],
    }
    tree["alerting"] = {
        "github_repository": "example/shop",
        "receivers": {"service": {"slack_configs": [{"channel": "#ops", "api_url_file": "/etc/slack"}]}},
    }
    tree["ci"] = {"scaffold": "scaffold @ git+https://git.example.com/platform/scaffold@v0.1.0"}
    edited = ecosystem_file.parse(ecosystem_file.dump(tree).decode()).model
    import dataclasses

    return [example, edited, with_services(dataclasses.replace(edited, services=()), 30)]


@pytest.mark.parametrize("index", range(3))
def test_every_derived_file_is_what_pyyaml_writes(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ecosystems()[index]
    fast = derive(model)

    def declined(*_: Any, **__: Any) -> str:
        raise _emit.Unsupported("the reference run")

    monkeypatch.setattr(_emit, "dump", declined)
    reference = derive(model)
    assert [f.path for f in fast] == [f.path for f in reference]
    different = [f.path for f, r in zip(fast, reference, strict=True) if f.content != r.content]
    assert different == []


AWKWARD = [
    "",
    " ",
    "plain",
    "with space",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "null",
    "~",
    "true",
    "1",
    "010",
    "0x1F",
    "1_000",
    "1:20",
    "1.5",
    ".5",
    ".inf",
    "-.inf",
    ".NaN",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "=",
    "<<",
    "-",
    "- x",
    "-x",
    "--",
    "---",
    "--- x",
    "...",
    "?",
    "? x",
    "?x",
    ":",
    ":x",
    "a:",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "#a",
    "&a",
    "*a",
    "!a",
    "|a",
    ">a",
    "'a",
    '"a',
    "%a",
    "@a",
    "`a",
    "a,b",
    "[a]",
    "{a}",
    "a ",
    " a",
    "a\tb",
    "é",
    "naïve café",
    "\u2028",
    "snow ☃",
    "back\\slash",
    "${VAR}",
    "$(cmd)",
    "/path/to",
    "./rel",
    "127.0.0.1:8001:8000",
    ">=1.27.0-0",
    "CMD-SHELL",
    "postgresql+psycopg://u:p@h:5432/d",
    "{{ $labels.service }} p95",
    "line\nbreak",
    "line\nbreak\n",
    "\nleading break",
    " leading space\nline",
    "trailing space \nline",
    "two\n\nbreaks\n",
    "keeps\n\n",
    "tab\tin\nblock",
]


def random_document(rng: random.Random, depth: int = 0) -> Any:
    def scalar() -> Any:
        choice = rng.random()
        if choice < 0.7:
            return rng.choice(AWKWARD) if rng.random() < 0.6 else "".join(rng.choices(AWKWARD[:40], k=2))
        if choice < 0.8:
            return rng.randint(-5, 10**6)
        if choice < 0.9:
            return rng.choice([True, False, None])
        return rng.choice(AWKWARD)

    def node(level: int) -> Any:
        roll = rng.random()
        if level > 3 or roll < 0.5:
            return scalar()
        if roll < 0.75:
            return [node(level + 1) for _ in range(rng.randint(0, 4))]
        keys = [str(scalar()) if rng.random() < 0.9 else rng.randint(0, 9) for _ in range(rng.randint(0, 4))]
        return {key: node(level + 1) for key in keys}

    if rng.random() < 0.8:
        return {f"k{i}": node(1) for i in range(rng.randint(0, 5))}
    return [node(1) for _ in range(rng.randint(0, 5))]


def test_random_documents_are_written_as_pyyaml_writes_them_or_declined() -> None:
    rng = random.Random(20261207)
    written = declined = 0
    for _ in range(3000):
        document = random_document(rng)
        sort_keys = rng.random() < 0.3
        reference = _render.pyyaml_dump(document, sort_keys=sort_keys)
        try:
            fast = _emit.dump(document, _render._Dumper, sort_keys=sort_keys)
        except _emit.Unsupported:
            declined += 1
            continue
        written += 1
        assert fast == reference, document
    assert written > 2000, (written, declined)


def test_what_the_emitter_declines_still_comes_out_as_pyyaml_writes_it() -> None:
    for document in ({"long": "x " * 3000}, {"keeps": "a\n\n"}, {"number": 1.5}, {"k" * 200: 1}):
        with pytest.raises(_emit.Unsupported):
            _emit.dump(document, _render._Dumper, sort_keys=False)
        assert _render.dump_yaml(document) == _render.pyyaml_dump(document)
