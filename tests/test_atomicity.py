"""Failures injected at every step of `new`, `remove` and `sync` leave the meta-project as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaffold import transaction
from scaffold.commands.new import new_service
from scaffold.commands.remove import remove_service
from scaffold.errors import ScaffoldError
from tests.helpers import diff, scaffold, snapshot


class Injected(RuntimeError):
    pass


def _fail_after(monkeypatch: pytest.MonkeyPatch, method: str, calls: int) -> None:
    """Make Transaction.<method> raise on its `calls`-th call (after the earlier ones succeed)."""
    original = getattr(transaction.Transaction, method)
    seen = {"n": 0}

    def failing(self: transaction.Transaction, *args: object, **kwargs: object) -> None:
        seen["n"] += 1
        if seen["n"] == calls:
            raise Injected(f"{method} #{calls}")
        original(self, *args, **kwargs)

    monkeypatch.setattr(transaction.Transaction, method, failing)


def _count_writes(ecosystem: Path, tmp_path: Path) -> int:
    """How many writes a real `scaffold new` makes (on a throwaway copy)."""
    import shutil

    copy = tmp_path / "count"
    shutil.copytree(ecosystem, copy, symlinks=True)
    counted = {"n": 0}
    original = transaction.Transaction.write

    def counting(self: transaction.Transaction, *args: object, **kwargs: object) -> None:
        counted["n"] += 1
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    transaction.Transaction.write = counting  # type: ignore[method-assign]
    try:
        new_service(copy, "backend", "orders", data=[], defaults=True, dry_run=False, asker=None)
    finally:
        transaction.Transaction.write = original  # type: ignore[method-assign]
    return counted["n"]


def test_new_rolls_back_at_every_write(ecosystem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)
    writes = _count_writes(ecosystem, tmp_path)
    assert writes >= 5
    for n in range(1, writes + 1):
        with monkeypatch.context() as patch:
            _fail_after(patch, "write", n)
            with pytest.raises(Injected):
                new_service(ecosystem, "backend", "orders", data=[], defaults=True, dry_run=False, asker=None)
        assert diff(before, snapshot(ecosystem)) == [], f"after a failure at write #{n}"


@pytest.mark.parametrize("method", ["move_in", "symlink"])
def test_new_rolls_back_when_moving_or_linking_fails(
    ecosystem: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)
    _fail_after(monkeypatch, method, 1)
    with pytest.raises(Injected):
        new_service(ecosystem, "backend", "orders", data=[], defaults=True, dry_run=False, asker=None)
    assert diff(before, snapshot(ecosystem)) == []


def test_new_leaves_nothing_when_rendering_fails(ecosystem: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scaffold import templates

    scaffold("sync", cwd=ecosystem)
    before = snapshot(ecosystem)

    def broken_render(*args: object, **kwargs: object) -> None:
        raise ScaffoldError("template exploded", "none")

    monkeypatch.setattr(templates, "_render_here", broken_render)
    with pytest.raises(ScaffoldError):
        new_service(ecosystem, "backend", "orders", data=[], defaults=True, dry_run=False, asker=None)
    assert diff(before, snapshot(ecosystem)) == []


def test_remove_rolls_back_at_every_write(ecosystem: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    before = snapshot(ecosystem)
    for n in range(1, 4):
        with monkeypatch.context() as patch:
            _fail_after(patch, "write", n)
            with pytest.raises(Injected):
                remove_service(ecosystem, "orders", delete_code=True, dry_run=False)
        assert diff(before, snapshot(ecosystem)) == [], f"after a failure at write #{n}"
