"""images.json, the hand-over from `scaffold build --push` to delivery: what is written reads back the
same, anything else is refused with one message, and writing never follows a link out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaffold import images_file
from scaffold.errors import NotFoundError, UsageError
from scaffold.images_file import ImagesFile, PushedImage

DIGEST = "sha256:" + "ab" * 32
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _sample() -> ImagesFile:
    return ImagesFile(
        commit=COMMIT,
        dirty=False,
        images={
            "orders": PushedImage("registry.example.com/shop/orders", "0123456789ab", DIGEST),
            "fulfilment": PushedImage("registry.example.com/shop/fulfilment", "0123456789ab-dirty", DIGEST),
        },
    )


def test_what_is_written_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    images_file.write(path, _sample())
    assert images_file.read(path) == _sample()
    document = json.loads(path.read_text())
    assert document["schema"] == 1 and list(document["images"]) == ["fulfilment", "orders"]
    assert document["images"]["orders"] == {
        "repository": "registry.example.com/shop/orders",
        "tag": "0123456789ab",
        "digest": DIGEST,
    }


def test_an_image_is_referenced_by_its_digest() -> None:
    image = _sample().images["orders"]
    assert image.reference == f"registry.example.com/shop/orders@{DIGEST}"
    assert image.tagged == "registry.example.com/shop/orders:0123456789ab"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(schema=2), "schema 2"),
        (lambda d: d.update(dirty="no"), "'dirty'"),
        (lambda d: d.update(commit="HEAD"), "'commit'"),
        (lambda d: d["images"]["orders"].update(digest="sha256:short"), "images.orders.digest"),
        (lambda d: d["images"]["orders"].update(tag="has space"), "images.orders.tag"),
        (lambda d: d["images"]["orders"].pop("repository"), "images.orders.repository"),
        (lambda d: d.update(images=[]), "'images'"),
    ],
)
def test_a_damaged_file_is_refused_with_what_is_wrong(change: object, named: str) -> None:
    document = json.loads(images_file.to_json(_sample()))
    change(document)  # type: ignore[operator]
    with pytest.raises(UsageError) as raised:
        images_file.from_json(json.dumps(document), "images.json")
    assert named in raised.value.message and raised.value.hint


def test_a_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as raised:
        images_file.read(tmp_path / "images.json")
    assert "scaffold build --push" in raised.value.hint


def test_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "images.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        images_file.read(tmp_path / "images.json")


def test_writing_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("kept")
    root = tmp_path / "root"
    root.mkdir()
    (root / "images.json").symlink_to(outside)
    images_file.write(root / "images.json", _sample())
    assert outside.read_text() == "kept"
    assert not (root / "images.json").is_symlink()
    assert images_file.read(root / "images.json") == _sample()
    assert sorted(p.name for p in root.iterdir()) == ["images.json"]
