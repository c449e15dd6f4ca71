"""`scaffold adopt` and `scaffold diff`: services scaffold did not make, brought under the templates.

Each kind of origin is made for real: a plain `copier copy` of a tagged template repository, a
Cookiecutter template rendered by `cookiecutter` and linked by the `.cruft.json` cruft writes (its
context is cookiecutter's replay of the render), and a hand-written service. Each is adopted,
committed, and updated to a new template version: the service's own edits are kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from scaffold.errors import ExitCode
from tests.helpers import diff as changed_paths
from tests.helpers import render_template, scaffold, snapshot
from tests.update_helpers import TemplateRepo, commit_all, git, meta_project, status

OWN_LINE = "return a + b  # checked upstream"


def adopt(root: Path, *args: str) -> dict[str, Any]:
    proc = scaffold("adopt", *args, "--json", cwd=root)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def release_2(template: TemplateRepo) -> None:
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("everyone"))')
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.release("2.0.0")


@pytest.fixture
def template(tmp_path: Path) -> TemplateRepo:
    made = TemplateRepo(tmp_path / "template")
    made.release("1.0.0")
    return made


@pytest.fixture
def root(tmp_path: Path, template: TemplateRepo) -> Path:
    return meta_project(tmp_path, template)


def test_a_plain_copier_copy_is_adopted_and_its_next_update_keeps_its_edits(root: Path, template: TemplateRepo) -> None:
    service = root / "services" / "orders"
    copier.run_copy(
        str(template.path), str(service), data={"kind": "backend", "name": "orders", "port": 8005},
        vcs_ref="v1.0.0", defaults=True, quiet=True,
    )  # fmt: skip
    app = service / "app.py"
    app.write_text(app.read_text().replace("return a + b", OWN_LINE))
    commit_all(root, "orders, made with copier copy")
    before = snapshot(service)

    result = adopt(root, "services/orders", "--kind", "backend")

    assert (result["made"], result["base_version"]) == ("copier", "1.0.0")  # the version its _commit names
    expected = {
        "name": "orders", "kind": "backend", "path": "services/orders", "port": 8005, "route": "/api/orders",
        "needs": ["postgres"], "publishes": ["orders.item.published"], "subscribes": [], "repository": None,
    }  # fmt: skip
    assert {key: result["service"][key] for key in expected} == expected
    assert changed_paths(before, snapshot(service)) == [".copier-answers.yml"]  # nothing else of the service
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["_src_path"], answers["port"]) == ("v1.0.0", str(template.path), 8005)
    listed = yaml.safe_load((root / "ecosystem.yaml").read_text())["services"]["orders"]
    assert listed["template"] == {"source": str(template.path), "version": "1.0.0"}
    commit_all(root, "adopt orders")
    own = json.loads(scaffold("diff", "orders", "--json", cwd=root).stdout)
    assert own["files"] == [{"path": "services/orders/app.py", "status": "modified"}]
    assert f"+    {OWN_LINE}" in own["diff"]

    release_2(template)
    scaffold("update", "orders", cwd=root)

    text = app.read_text()
    assert OWN_LINE in text and 'greet("everyone")' in text
    assert "level = warning" in (service / "config.ini").read_text()


def _cookiecutter_template(path: Path) -> Path:
    """A Cookiecutter template for the same kind of service, in a git repository as cruft needs."""
    from tests.update_helpers import APP_PY

    context = {
        "project_name": "Orders Service",
        "project_slug": "orders",
        "description": "Takes the orders",
        "http_port": "8010",
        "python_version": "3.11",
        "author": "Jane",
    }
    body = path / "{{cookiecutter.project_slug}}"
    body.mkdir(parents=True)
    (path / "cookiecutter.json").write_text(json.dumps(context, indent=2))
    (body / "app.py").write_text(APP_PY.replace("return a + b", OWN_LINE))
    (body / "config.ini").write_text(
        "[service]\nname = {{ cookiecutter.project_slug }}\nport = {{ cookiecutter.http_port }}\nlevel = info\n"
    )
    (body / "README.md").write_text("# {{ cookiecutter.project_name }}\n\nBy {{ cookiecutter.author }}.\n")
    git(path, "init", "--quiet", "--initial-branch=main")
    commit_all(path, "the cookiecutter template")
    return path


def test_a_cruft_managed_cookiecutter_service_is_adopted_with_its_answers_mapped(
    root: Path, template: TemplateRepo, tmp_path: Path
) -> None:
    from cookiecutter.main import cookiecutter
    from cookiecutter.replay import load

    made_with = _cookiecutter_template(tmp_path / "cookiecutter-service")
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        yaml.safe_dump({"replay_dir": str(tmp_path / "replay"), "cookiecutters_dir": str(tmp_path / "cc")})
    )
    cookiecutter(str(made_with), no_input=True, output_dir=str(root / "services"), config_file=str(config))
    service = root / "services" / "orders"
    # What `cruft create` / `cruft link` record: the template, its commit and cookiecutter's context.
    record = {
        "template": str(made_with),
        "commit": git(made_with, "rev-parse", "HEAD").strip(),
        "checkout": None,
        "context": load(str(tmp_path / "replay"), made_with.name),
        "directory": None,
    }
    (service / ".cruft.json").write_text(json.dumps(record, indent=2) + "\n")
    commit_all(root, "orders, made with cookiecutter and linked by cruft")

    result = adopt(root, "services/orders", "--kind", "backend")

    assert (result["made"], result["made_from"], result["base_version"]) == ("cruft", str(made_with), "1.0.0")
    assert {(m["their"], m["question"]) for m in result["mapped"]} == {
        ("project_slug", "name"), ("description", "description"), ("http_port", "port"),
    }  # fmt: skip
    unmapped = {u["key"]: u["why"] for u in result["unmapped"]}
    assert set(unmapped) == {"project_name", "python_version", "author"}
    assert unmapped["author"] == unmapped["python_version"] == "the kind has no such question"
    assert result["service"]["port"] == 8010
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert (answers["name"], answers["description"], answers["port"]) == ("orders", "Takes the orders", 8010)
    assert any(".cruft.json stays" in note for note in result["notes"])
    commit_all(root, "adopt orders")

    release_2(template)
    scaffold("update", "orders", cwd=root)

    app = (service / "app.py").read_text()
    assert OWN_LINE in app and 'greet("everyone")' in app
    config_ini = (service / "config.ini").read_text()
    assert "port = 8010" in config_ini and "level = warning" in config_ini
    assert (service / "README.md").read_text() == "# Orders Service\n\nBy Jane.\n"  # its own, untouched


def test_a_hand_written_service_is_adopted_and_diff_shows_what_is_its_own(root: Path, template: TemplateRepo) -> None:
    from tests.update_helpers import APP_PY

    service = root / "services" / "payments"
    service.mkdir(parents=True)
    (service / "app.py").write_text(APP_PY.replace("return a + b", OWN_LINE))
    (service / "Makefile").write_text("run:\n\tpython app.py\n")
    commit_all(root, "payments, written by hand")

    result = adopt(root, "services/payments", "--kind", "backend", "--data", "description=Takes payments")

    assert (result["made"], result["mapped"], result["unmapped"]) == ("hand-written", [], [])
    assert result["service"]["port"] == 8001  # the next free one, as `new` picks
    commit_all(root, "adopt payments")
    own = json.loads(scaffold("diff", "payments", "--json", cwd=root).stdout)
    assert {f["path"].removeprefix("services/payments/"): f["status"] for f in own["files"]} == {
        "Makefile": "added", "app.py": "modified", "README.md": "deleted", "config.ini": "deleted",
        "notes.txt": "deleted", "chart/Chart.yaml": "deleted",
    }  # fmt: skip
    text = scaffold("diff", "payments", cwd=root).stdout
    assert "payments differs from template" in text and "+run:" in text

    release_2(template)
    done = scaffold("update", "payments", cwd=root)

    app = (service / "app.py").read_text()
    assert OWN_LINE in app and 'greet("everyone")' in app
    assert not (service / "config.ini").exists()  # deleted here: the template's change does not bring it back
    assert "config.ini stays deleted" in done.stdout
    assert (service / "Makefile").read_text() == "run:\n\tpython app.py\n"


def test_a_pristine_copy_of_the_built_in_templates_has_no_difference(ecosystem: Path) -> None:
    render_template(ecosystem / "services" / "orders", kind="backend", name="orders", ecosystem="shop", port=8001)
    commit_all(ecosystem, "orders, a plain copier copy of scaffold's templates")
    adopt(ecosystem, "services/orders", "--kind", "backend", "--data", "description=The orders backend")
    commit_all(ecosystem, "adopt")
    own = json.loads(scaffold("diff", "orders", "--json", cwd=ecosystem).stdout)
    assert (own["files"], own["diff"]) == ([], "")
    assert scaffold("check", "orders", "--no-checkov", cwd=ecosystem, check=False).returncode == 0


@pytest.mark.parametrize(
    ("prepare", "args", "code", "words"),
    [
        ("outside", ["../elsewhere", "--kind", "backend"], ExitCode.USAGE, "is outside the meta-project"),
        ("dirty", ["services/orders", "--kind", "backend"], ExitCode.CONFLICT, "has uncommitted changes"),
        ("clean", ["services/orders", "--kind", "robot"], ExitCode.USAGE, "Unknown kind 'robot'"),
        ("clean", ["services/orders", "--kind", "worker"], ExitCode.USAGE, "was made as a backend, not a worker"),
    ],
)
def test_adopt_refuses_with_one_message_and_changes_nothing(
    root: Path, template: TemplateRepo, prepare: str, args: list[str], code: int, words: str
) -> None:
    service = root / "services" / "orders"
    copier.run_copy(
        str(template.path),
        str(service),
        data={"kind": "backend", "name": "orders"},
        vcs_ref="v1.0.0",
        defaults=True,
        quiet=True,
    )
    (root.parent / "elsewhere").mkdir()
    if prepare != "dirty":
        commit_all(root, "orders")
    before = snapshot(root)
    proc = scaffold("adopt", *args, cwd=root, check=False)
    assert proc.returncode == int(code), proc.stdout + proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(root) == before
    if prepare != "dirty":
        assert status(root) == ""
