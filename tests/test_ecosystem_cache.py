"""ecosystem.yaml read once per content, and `scaffold new` appending its entry (scaffold/ecosystem_file.py).

What is remembered must be what a fresh read gives, an appended entry must be byte for byte what
ruamel's round-trip edit writes, and neither may let a problem through.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaffold import cache, ecosystem_file
from scaffold.kinds import service_entry
from scaffold.model import Service
from scaffold.templates import builtin_ref

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "examples/shop/ecosystem.yaml").read_text()


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache directory of this test's own, and nothing remembered in this process."""
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    monkeypatch.setattr(ecosystem_file, "_KNOWN", {})
    yield tmp_path / "cache"


def fresh(text: str, monkeypatch: pytest.MonkeyPatch) -> ecosystem_file.EcosystemDocument:
    """The document read from scratch: nothing remembered, no cache."""
    with monkeypatch.context() as patch:
        patch.setenv(cache.ENV_OFF, "1")
        patch.setattr(ecosystem_file, "_KNOWN", {})
        return ecosystem_file.parse(text)


def backend(document: ecosystem_file.EcosystemDocument, name: str, port: int | None = None) -> Service:
    used = {s.port for s in document.model.services}
    free = port or next(p for p in range(8100, 9000) if p not in used)
    return service_entry("backend", name, free, {}, document.model, builtin_ref())


def round_trip_edit(document: ecosystem_file.EcosystemDocument, service: Service, mp: pytest.MonkeyPatch) -> bytes:
    """What with_service writes through ruamel's round-trip edit alone."""
    with mp.context() as patch:
        patch.setattr(ecosystem_file, "_KNOWN", {})
        patch.setenv(cache.ENV_OFF, "1")
        unknown = dataclasses.replace(document, appendable=False)
        return ecosystem_file.with_service(unknown, service)


TRAILING_COMMENT = EXAMPLE + "# the last line is a comment\n"
BLANK_LINES = EXAMPLE + "\n\n"
SERVICES_FIRST = EXAMPLE.replace("name: shop\n", "", 1) + "name: shop\n"
INDENTED_BY_FOUR = EXAMPLE.replace("\n  ", "\n    ")


@pytest.mark.parametrize(
    ("text", "appends"),
    [
        (EXAMPLE, True),
        (TRAILING_COMMENT, False),  # ruamel writes the new entry before that comment
        (BLANK_LINES, False),
        (SERVICES_FIRST, False),
        (INDENTED_BY_FOUR, False),
    ],
    ids=["example", "trailing-comment", "blank-lines", "services-not-last", "four-spaces"],
)
def test_an_appended_entry_is_what_the_round_trip_edit_writes(
    text: str, appends: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = ecosystem_file.parse(text)
    service = backend(document, "ledger")
    assert ecosystem_file.with_service(document, service) == round_trip_edit(document, service, monkeypatch)
    assert ecosystem_file.parse(text).appendable is appends  # what the edit showed is remembered
    following = ecosystem_file.parse(ecosystem_file.with_service(document, service).decode())
    assert following.appendable is (True if appends else None)


def test_a_chain_of_appends_is_what_a_chain_of_round_trip_edits_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = slow = ecosystem_file.parse(EXAMPLE)
    for index in range(6):
        service = backend(fast, f"ledger-{index}")
        fast = ecosystem_file.parse(ecosystem_file.with_service(fast, service).decode())
        slow = fresh(round_trip_edit(slow, service, monkeypatch).decode(), monkeypatch)
        assert fast.text == slow.text
        assert fast.model == slow.model and fast.data == slow.data
        assert fast.appendable is True


def test_what_is_remembered_is_what_a_fresh_read_gives(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ecosystem_file.parse(EXAMPLE)
    appended = ecosystem_file.with_service(first, backend(first, "ledger")).decode()
    monkeypatch.setattr(ecosystem_file, "_KNOWN", {})  # another process: only the disk cache
    remembered = ecosystem_file.parse(appended)
    assert "tree" not in remembered.__dict__  # it was not read again
    assert remembered.model == fresh(appended, monkeypatch).model
    assert remembered.data == fresh(appended, monkeypatch).data
    assert list((own_cache / "ecosystem").rglob("*.json"))


def test_an_append_that_breaks_a_rule_is_refused_with_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    document = ecosystem_file.parse(EXAMPLE)
    taken = document.model.services[0]
    clash = dataclasses.replace(backend(document, "ledger"), port=taken.port)
    text = ecosystem_file.with_service(document, clash).decode()
    with pytest.raises(ecosystem_file.EcosystemFileError) as raised:
        ecosystem_file.parse(text)
    assert f"port {taken.port} is also the port of '{taken.name}'" in raised.value.message
    assert raised.value.problem.line is not None


def test_a_remembered_text_edited_by_hand_is_read_again_and_its_problem_found() -> None:
    ecosystem_file.parse(EXAMPLE)
    broken = EXAMPLE.replace("registry: registry.example.com/shop", "registry: Not A Registry")
    with pytest.raises(ecosystem_file.EcosystemFileError) as raised:
        ecosystem_file.parse(broken)
    assert "registry" in raised.value.message


def test_a_corrupt_cache_entry_is_read_as_missing(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ecosystem_file.parse(EXAMPLE)
    for entry in (own_cache / "ecosystem").rglob("*.json"):
        entry.write_text(json.dumps({"data": "not a mapping"}))
    monkeypatch.setattr(ecosystem_file, "_KNOWN", {})
    assert ecosystem_file.parse(EXAMPLE).model == fresh(EXAMPLE, monkeypatch).model


def test_another_scaffold_does_not_read_what_this_one_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    ecosystem_file.parse(EXAMPLE)
    key = ecosystem_file._key(EXAMPLE)
    monkeypatch.setattr(cache, "fingerprint", lambda: "another scaffold")
    assert ecosystem_file._key(EXAMPLE) != key


def test_no_cache_reads_and_writes_nothing(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_OFF, "1")
    ecosystem_file.parse(EXAMPLE)
    assert not own_cache.exists()


def test_a_store_keeps_its_most_recently_used_entries(own_cache: Path) -> None:
    store = cache.Store("probe", limit=3)
    keys = [cache.digest(str(i)) for i in range(5)]
    for key in keys:
        store.put(key, {"value": key})
    store.get(keys[0])  # used: kept
    store.prune()
    kept = {p.stem for p in (own_cache / "probe").rglob("*.json")}
    assert keys[0] in kept and len(kept) == 3
