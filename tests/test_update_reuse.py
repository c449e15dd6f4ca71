"""An update renders again only what the new template version can change (issue 16, goal 4).

scaffold's update takes the old render's bytes for the files whose template did not change
(scaffold.copier_reuse, proven by scaffold.update.unchanged). Each test makes a template version
that changes something such a file depends on without changing the file itself, updates a service
by scaffold and a clone of it by plain copier (run from the git source, unpatched), and compares
them byte for byte; the service's own edit must survive both.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from scaffold import copier_reuse
from scaffold.templates import copy_from
from scaffold.update.unchanged import Unchanged
from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import FILES, TemplateRepo, commit_all, git, meta_project, own_repository

COPIER = str(Path(sys.executable).with_name("copier"))

PARTS = {
    **FILES,
    "partials/level.jinja": "info",
    "partials/macros.jinja": "{% macro banner(title) %}== {{ title }} ==\n{% endmacro %}",
    "backend/config.ini.jinja": (
        "[service]\nname = {{ name }}\nport = {{ port }}\nlevel = {% include 'partials/level.jinja' %}\n"
    ),
    "backend/banner.txt.jinja": "{% import 'partials/macros.jinja' as m %}{{ m.banner(name) }}",
    "backend/limits.txt.jinja": "replicas = {{ replicas | default(1) }}\n",
}


def _updated_by_scaffold_and_by_copier(
    tmp_path: Path, change: Callable[[TemplateRepo], None], *data: str
) -> tuple[Path, Path]:
    """orders made from 1.0.0 in a repository of its own, with our edit of app.py and config.ini,
    then updated to the 2.0.0 that `change` makes: (scaffold's result, plain copier's result)."""
    template = TemplateRepo(tmp_path / "platform-templates", PARTS)
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    service = own_repository(root, "orders")
    for name, old, new in (("app.py", "return a + b", "return a + b  # ours"), ("config.ini", "[service]", "[ours]")):
        path = service / name
        path.write_text(path.read_text().replace(old, new))
    commit_all(service, "orders, with our edits")
    clone = tmp_path / "elsewhere" / "orders"
    git(tmp_path, "clone", "--quiet", str(service), str(clone))
    change(template)
    template.release("2.0.0")

    scaffold("update", "orders", *[f"--data={d}" for d in data], cwd=root)
    proc = subprocess.run(
        [COPIER, "update", "--defaults", "--quiet", *[f"--data={d}" for d in data]],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "return a + b  # ours" in (service / "app.py").read_text()
    assert (service / "config.ini").read_text().startswith("[ours]\n")
    return service, clone


def test_a_version_that_changes_only_an_included_partial_rerenders_what_includes_it(tmp_path: Path) -> None:
    service, clone = _updated_by_scaffold_and_by_copier(tmp_path, lambda t: t.write("partials/level.jinja", "warning"))
    assert diff(snapshot(clone), snapshot(service)) == []
    assert "level = warning" in (service / "config.ini").read_text()


def test_a_version_that_changes_only_an_imported_macro_rerenders_what_imports_it(tmp_path: Path) -> None:
    service, clone = _updated_by_scaffold_and_by_copier(
        tmp_path, lambda t: t.replace("partials/macros.jinja", "== {{ title }} ==", "## {{ title }}")
    )
    assert diff(snapshot(clone), snapshot(service)) == []
    assert (service / "banner.txt").read_text() == "## orders\n"


def test_a_new_question_that_an_unchanged_file_reads_rerenders_it(tmp_path: Path) -> None:
    def new_question(template: TemplateRepo) -> None:
        template.write("copier.yml", template.read("copier.yml") + "replicas:\n  type: int\n  default: 3\n")

    service, clone = _updated_by_scaffold_and_by_copier(tmp_path, new_question)
    assert diff(snapshot(clone), snapshot(service)) == []
    assert (service / "limits.txt").read_text() == "replicas = 3\n"


def test_an_answer_changed_by_the_update_rerenders_the_unchanged_files_that_read_it(tmp_path: Path) -> None:
    service, clone = _updated_by_scaffold_and_by_copier(
        tmp_path, lambda t: t.write("backend/notes.txt", "Notes, second edition.\n"), "description=Takes orders"
    )
    assert diff(snapshot(clone), snapshot(service)) == []
    assert "\nTakes orders\n" in (service / "README.md").read_text()


def test_a_version_that_adds_templated_and_conditional_paths_writes_them_as_copier_does(tmp_path: Path) -> None:
    def new_paths(template: TemplateRepo) -> None:
        template.write("backend/{{ name }}.env.jinja", "NAME={{ name }}\nPORT={{ port }}\n")
        template.write("backend/{% if port > 8000 %}high-port.txt{% endif %}.jinja", "{{ port }}\n")
        template.write("backend/{% if port <= 8000 %}low-port.txt{% endif %}.jinja", "{{ port }}\n")

    service, clone = _updated_by_scaffold_and_by_copier(tmp_path, new_paths)
    assert diff(snapshot(clone), snapshot(service)) == []
    assert (service / "orders.env").read_text() == "NAME=orders\nPORT=8001\n"  # scaffold gave orders port 8001
    assert (service / "high-port.txt").is_file() and not (service / "low-port.txt").exists()


def _plain_template(folder: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(content)
    return folder


def test_the_new_render_takes_the_old_bytes_of_unchanged_files_and_writes_what_a_full_render_writes(
    tmp_path: Path,
) -> None:
    old = _plain_template(tmp_path / "old", PARTS)
    new = _plain_template(tmp_path / "new", {**PARTS, "partials/level.jinja": "debug"})
    answers = {"kind": "backend", "name": "orders"}
    with copier_reuse.recording(tmp_path / "base") as base:
        copy_from(old, tmp_path / "base", answers, tag="v1", trusted=True)
    with copier_reuse.recording(tmp_path / "theirs", base, Unchanged(old, new)) as theirs:
        copy_from(new, tmp_path / "theirs", answers, tag="v2", trusted=True)
    copy_from(new, tmp_path / "full", answers, tag="v2", trusted=True)

    assert diff(snapshot(tmp_path / "full"), snapshot(tmp_path / "theirs")) == []
    # README, Chart.yaml, banner and limits are reused; config.ini (its partial changed) and the
    # answers file (it reads copier's own context) are rendered.
    assert theirs.reused == 4


def test_only_files_whose_sources_and_what_they_pull_in_are_equal_are_vouched_for(tmp_path: Path) -> None:
    old = _plain_template(tmp_path / "old", PARTS)
    new = _plain_template(tmp_path / "new", {**PARTS, "partials/macros.jinja": "{% macro banner(t) %}{% endmacro %}"})
    unchanged = Unchanged(old, new)
    assert unchanged.reads("backend/config.ini.jinja") == frozenset({"name", "port"})
    assert unchanged.reads("backend/banner.txt.jinja") is None  # its macro changed
    assert unchanged.reads("backend/{{ _copier_conf.answers_file }}.jinja") is None  # copier's own context
    trimmed = PARTS["copier.yml"].replace("keep_trailing_newline: true", "keep_trailing_newline: false")
    other_settings = _plain_template(tmp_path / "trimmed", {**PARTS, "copier.yml": trimmed})
    assert Unchanged(old, other_settings).reads("backend/README.md.jinja") is None  # same file, other envops
