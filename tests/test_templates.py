"""Template sources: the built-in templates as tagged git history, the meta-project's store of the
versions it uses, and scaffold's rendering being exactly what copier produces from the git source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml

from scaffold.model import TemplateRef
from scaffold.template_repo import BareRepo, bundle_tags, remote_tags
from scaffold.templates import (
    TEMPLATE_VERSION,
    Library,
    builtin_bundle,
    builtin_ref,
    builtin_repository,
    builtin_templates_dir,
    render,
    src_path_for,
    store_file,
)
from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import TemplateRepo, commit_all

ANSWERS: dict[str, dict[str, object]] = {
    "backend": {"kind": "backend", "name": "order-history", "ecosystem": "shop", "port": 8005},
    "ecosystem": {"kind": "ecosystem", "name": "shop", "description": "A shop", "registry": "r.example.com/shop"},
    "worker": {"kind": "worker", "name": "fulfilment", "ecosystem": "shop", "port": 8006},
    "frontend": {"kind": "frontend", "name": "web", "ecosystem": "shop", "port": 8007, "api_service": "orders"},
}


def test_builtin_repository_is_tagged_and_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = builtin_repository()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    second = builtin_repository()
    assert second != first and second.is_relative_to(tmp_path)

    def head(repo: Path) -> str:
        return subprocess.run(
            ["git", "rev-parse", f"v{TEMPLATE_VERSION}^{{commit}}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert head(first) == head(second)  # same content, same commit id, on any machine
    assert (tmp_path / "scaffold" / "builtin").is_dir()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=second, capture_output=True, text=True, check=True)
    assert status.stdout == ""


def _without_src_path(tree: dict[str, bytes]) -> dict[str, bytes]:
    answers = yaml.safe_load(tree[".copier-answers.yml"])
    answers.pop("_src_path")
    return {**tree, ".copier-answers.yml": yaml.safe_dump(answers).encode()}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_render_equals_copier_copy_from_the_git_source(tmp_path: Path, kind: str) -> None:
    render(builtin_ref(), tmp_path / "scaffold", ANSWERS[kind])
    for name, source in (("copier", builtin_repository()), ("bundle", builtin_bundle()[0])):
        copier.run_copy(
            str(source),
            str(tmp_path / name),
            data=ANSWERS[kind],
            vcs_ref=f"v{TEMPLATE_VERSION}",
            defaults=True,
            quiet=True,
            unsafe=True,
        )
        assert (
            diff(_without_src_path(snapshot(tmp_path / name)), _without_src_path(snapshot(tmp_path / "scaffold"))) == []
        )
    answers = yaml.safe_load((tmp_path / "scaffold" / ".copier-answers.yml").read_text())
    assert answers["_commit"] == f"v{TEMPLATE_VERSION}"
    location = "." if kind == "ecosystem" else "services/order-history"
    assert answers["_src_path"] == src_path_for("builtin", location)


def test_src_path_of_builtin_templates_is_the_relative_path_to_the_store() -> None:
    assert src_path_for("builtin", "services/orders") == "../../.scaffold/templates/builtin.bundle"
    assert src_path_for("builtin", ".") == ".scaffold/templates/builtin.bundle"
    assert src_path_for("https://git.example.com/platform/templates.git", "services/orders") == (
        "https://git.example.com/platform/templates.git"
    )
    assert store_file("https://git.example.com/platform/templates.git").startswith(".scaffold/templates/templates-")


def test_a_meta_project_stores_the_template_versions_it_uses(tmp_path: Path) -> None:
    scaffold("init", "shop", "--defaults", cwd=tmp_path)
    store = tmp_path / "shop" / ".scaffold/templates/builtin.bundle"
    assert bundle_tags(store) == {f"v{TEMPLATE_VERSION}": builtin_bundle()[1]}
    tracked = subprocess.run(
        ["git", "ls-files", ".scaffold/templates"], cwd=tmp_path / "shop", capture_output=True, text=True, check=True
    )
    assert tracked.stdout.split() == [".scaffold/templates/builtin.bundle"]  # committed: every clone has it


def test_a_stored_version_is_immutable_new_services_render_from_it(ecosystem: Path, tmp_path: Path) -> None:
    """A scaffold whose shipped templates differ from what the meta-project recorded under the same
    version (a development build) renders from the recorded content, so the base of later updates
    is exactly what each service was made from."""
    recorded = tmp_path / "recorded"
    shutil.copytree(builtin_templates_dir(), recorded, ignore=shutil.ignore_patterns("__pycache__"))
    readme = recorded / "backend" / "README.md.jinja"
    readme.write_text("# {{ name }} as recorded\n")
    repo = BareRepo(tmp_path / "repo.git")
    commit = repo.commit_folder(recorded, "recorded")
    (ecosystem / ".scaffold/templates/builtin.bundle").write_bytes(repo.bundle({f"v{TEMPLATE_VERSION}": commit}))
    commit_all(ecosystem, "a store recorded by another build")
    scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    assert (ecosystem / "services/orders/README.md").read_text() == "# orders as recorded\n"


def test_custom_source_versions_are_its_final_version_tags(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    template.release("2.0.0rc1")
    template.write("README.md", "untagged work\n")
    template.release("1.1.0")
    subprocess.run(["git", "tag", "not-a-version"], cwd=template.path, check=True)
    assert set(remote_tags(str(template.path))) == {"v1.0.0", "v2.0.0rc1", "v1.1.0", "not-a-version"}
    library = Library(str(template.path), None, remote=True)
    latest = library.latest()
    assert latest is not None and latest.version == "1.1.0" and latest.tag == "v1.1.0"
    assert library.find("2.0.0rc1") is not None  # reachable with --to, never chosen as the newest


def test_render_of_a_custom_version_records_its_source(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    template.replace("backend/app.py", "hello", "hi")
    template.release("1.1.0")
    render(TemplateRef(str(template.path), "1.0.0"), tmp_path / "out", {"kind": "backend", "name": "orders"})
    assert "hello" in (tmp_path / "out" / "app.py").read_text()  # the version asked for, not the newest
    answers = yaml.safe_load((tmp_path / "out" / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.0.0" and answers["_src_path"] == str(template.path)


def test_a_render_from_compiled_code_in_the_cache_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second render compiles nothing (Jinja's code comes from scaffold's cache, as a new process
    finds it) and writes the same bytes as the first, which test_render_equals_copier_copy_... compares
    with copier's own output."""
    import jinja2

    from scaffold import render_cache

    monkeypatch.setenv("SCAFFOLD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(render_cache, "_OPEN", {})
    render(builtin_ref(), tmp_path / "first", ANSWERS["backend"])
    assert list((tmp_path / "cache" / "jinja").glob("*.codes"))

    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: str, *args: object, **kwargs: object) -> object:
        if isinstance(source, str):  # copier also hands over booleans, which Jinja refuses (TypeError)
            compiled.append(source)
        return original(self, source, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(render_cache, "_OPEN", {})  # as in a new process: only the file
    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    render(builtin_ref(), tmp_path / "second", ANSWERS["backend"])
    assert compiled == []
    assert diff(snapshot(tmp_path / "first"), snapshot(tmp_path / "second")) == []


def test_a_template_that_changes_its_context_renders_as_copier_renders_it(tmp_path: Path) -> None:
    """scaffold.copier_memo computes copier's context once per render: a template that mutates what
    it is given (copier's sandbox allows it), lists its answers in every file and templates its answers
    file's name still comes out as copier writes it from the git source (where scaffold changes nothing)."""
    from scaffold.templates import copy_from

    plain = tmp_path / "template"
    (plain / "project").mkdir(parents=True)
    (plain / "copier.yml").write_text(
        "_subdirectory: project\n_answers_file: '.answers-{{ name }}.yml'\n"
        "name: {type: str, default: demo}\ntags: {type: yaml, default: [a, b]}\n"
    )
    (plain / "project" / "{{ _copier_conf.answers_file }}.jinja").write_text("{{ _copier_answers|to_nice_yaml }}")
    (plain / "project" / "a-{{ name }}.txt.jinja").write_text(
        "{{ _copier_answers.update({'injected': 1}) or '' }}{{ tags.append('c') or '' }}"
        "{{ 'injected' in _copier_answers }} {{ tags }} {{ _copier_conf.answers_file }}\n"
    )
    (plain / "project" / "b-{{ name }}.txt.jinja").write_text("{{ 'injected' in _copier_answers }} {{ tags }}\n")
    (plain / "project" / "{{ name }}-{{ 'injected' in _copier_answers }}").mkdir()
    (plain / "project" / "{{ name }}-{{ 'injected' in _copier_answers }}" / "c.txt.jinja").write_text("{{ name }}\n")
    files = {p.relative_to(plain).as_posix(): p.read_text() for p in plain.rglob("*") if p.is_file()}
    repository = TemplateRepo(tmp_path / "repository", files)
    repository.release("1")

    answers = {"name": "orders"}
    for attempt in ("first", "second"):  # the second render reads copier.yml from the memo
        copy_from(plain, tmp_path / attempt, answers, tag="v1", trusted=False)
    copier.run_copy(
        str(repository.path), str(tmp_path / "copier"), data=answers, vcs_ref="v1", defaults=True, quiet=True
    )

    expected = snapshot(tmp_path / "copier")
    expected.pop(".answers-orders.yml")  # records the git source and commit, which a plain folder has not
    for attempt in ("first", "second"):
        rendered = snapshot(tmp_path / attempt)
        assert ".answers-orders.yml" in rendered
        rendered.pop(".answers-orders.yml")
        assert diff(expected, rendered) == []


def test_a_template_with_a_yield_path_renders_as_copier_renders_it(tmp_path: Path) -> None:
    """Copier's `{% yield %}` in a path makes one file per item; its state is reset as each path part is
    compiled, which compiled code from scaffold's cache must not skip (the paths after it stay single)."""
    from scaffold.templates import copy_from

    plain = tmp_path / "template"
    plain.mkdir()
    (plain / "copier.yml").write_text("items: {type: yaml, default: [one, two]}\n")
    (plain / "{% yield item from items %}{{ item }}{% endyield %}.txt.jinja").write_text("{{ item }}\n")
    (plain / "{{ 'z' }}-after.txt.jinja").write_text("after\n")
    repository = TemplateRepo(tmp_path / "repository", {p.name: p.read_text() for p in plain.iterdir() if p.is_file()})
    repository.release("1")

    for attempt in ("first", "second"):  # the second render takes the compiled paths from the cache
        copy_from(plain, tmp_path / attempt, {}, tag="v1", trusted=False)
    copier.run_copy(str(repository.path), str(tmp_path / "copier"), vcs_ref="v1", defaults=True, quiet=True)

    expected = {k: v for k, v in snapshot(tmp_path / "copier").items() if k != ".copier-answers.yml"}
    assert sorted(expected) == ["one.txt", "two.txt", "z-after.txt"]
    for attempt in ("first", "second"):
        rendered = {k: v for k, v in snapshot(tmp_path / attempt).items() if k != ".copier-answers.yml"}
        assert diff(expected, rendered) == []
