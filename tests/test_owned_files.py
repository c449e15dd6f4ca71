"""Files a service owns after creation (`_skip_if_exists`): updates never change them while they exist.

scaffold follows copier: a template whose v2 changes such a file leaves the service's copy as it
is (edited or not), and recreates it when the service deleted it; the result is byte for byte what
`copier update` makes. The built-in templates' list matches files they render and docs/templates.md.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from tests.helpers import TEMPLATES, diff, render_template, scaffold, snapshot
from tests.test_update_sources import copier_update
from tests.update_helpers import COPIER_YML, FILES, TemplateRepo, commit_all, git, meta_project, own_repository

REPO = Path(__file__).resolve().parent.parent


def test_an_owned_file_is_never_changed_by_an_update_and_copier_agrees(tmp_path: Path) -> None:
    files = {
        **FILES,
        "copier.yml": COPIER_YML.replace(
            "_templates_suffix", '_skip_if_exists: ["data/**", "owned.md"]\n_templates_suffix'
        ),
        "backend/owned.md": "The example, yours to change.\n",
        "backend/data/seed.json": "[1]\n",
        "backend/data/more.json": "[2]\n",
    }
    template = TemplateRepo(tmp_path / "template", files)
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    service = own_repository(root, "orders")
    (service / "data" / "seed.json").write_text("[1, 42]\n")  # edited here
    (service / "data" / "more.json").unlink()  # deleted here
    commit_all(service, "orders' own data")
    clone = tmp_path / "elsewhere" / "orders"
    git(tmp_path, "clone", "--quiet", str(service), str(clone))
    template.write("backend/owned.md", "The example, improved.\n")
    template.write("backend/data/seed.json", "[1, 2, 3]\n")
    template.write("backend/data/more.json", "[2, 3]\n")
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.release("2.0.0")

    scaffold("update", "orders", cwd=root)
    copier_update(clone)

    assert (service / "owned.md").read_text() == "The example, yours to change.\n"  # untouched though unedited
    assert (service / "data" / "seed.json").read_text() == "[1, 42]\n"
    assert (service / "data" / "more.json").read_text() == "[2, 3]\n"  # deleted here: made again, as copier does
    assert "level = warning" in (service / "config.ini").read_text()  # everything else is updated
    assert diff(snapshot(clone), snapshot(service)) == []


def _patterns() -> list[str]:
    config = yaml.safe_load((TEMPLATES / "copier.yml").read_text())
    return [str(p) for p in config["_skip_if_exists"]]


def test_every_owned_pattern_of_the_built_in_templates_matches_a_file_they_render(tmp_path: Path) -> None:
    from scaffold.update.plan import path_matcher

    rendered: set[str] = set()
    for kind, extra in (("backend", {}), ("worker", {}), ("frontend", {"api_service": "orders"})):
        target = render_template(tmp_path / kind, kind=kind, name="orders", **extra)
        rendered |= {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
        shutil.rmtree(target)
    for pattern in _patterns():
        assert any(path_matcher([pattern])(path) for path in rendered), pattern


def test_docs_list_the_owned_files() -> None:
    text = (REPO / "docs" / "templates.md").read_text()
    section = text.split("## Files a service owns", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| `([^`]+)` \|", section, flags=re.M) == _patterns()
