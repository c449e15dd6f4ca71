"""Where template versions come from (issue 4, tests 9 and 10), migrations, and trust.

- a fresh clone of a meta-project, with a newer scaffold (two built-in template versions made
  here), updates its services: the old version comes from the clone's `.scaffold/templates/`;
- a service in its own repository updates from a custom template repository, by scaffold and by
  plain `copier update`, with the same result;
- copier `_migrations` run between versions; templates from outside scaffold that run tasks or
  migrations need `--trust`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scaffold.template_repo import bundle_tags
from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import (
    TemplateRepo,
    commit_all,
    copy_tree,
    git,
    meta_project,
    newer_scaffold,
    own_repository,
    run_scaffold,
    status,
)

COPIER = str(Path(sys.executable).with_name("copier"))


def copier_update(directory: Path, *args: str) -> None:
    proc = subprocess.run(
        [COPIER, "update", "--defaults", "--quiet", *args], cwd=directory, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_10_a_service_in_its_own_repository_updates_by_scaffold_and_by_plain_copier(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "platform-templates")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    # orders moves into a repository of its own, still registered in ecosystem.yaml by its path.
    service = own_repository(root, "orders")
    app = service / "app.py"
    app.write_text(app.read_text().replace("return a + b", "return a + b  # ours"))
    commit_all(service, "orders, with our edit")
    clone = tmp_path / "elsewhere" / "orders"
    git(tmp_path, "clone", "--quiet", str(service), str(clone))
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("everyone"))')
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.write("backend/health.py", "def healthy() -> bool:\n    return True\n")
    template.release("2.0.0")

    scaffold("update", "orders", cwd=root)
    copier_update(clone)

    assert "return a + b  # ours" in app.read_text() and 'greet("everyone")' in app.read_text()
    assert diff(snapshot(clone), snapshot(service)) == []  # scaffold and copier agree byte for byte
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v2.0.0" and answers["_src_path"] == str(template.path)
    assert status(service) != ""  # the changes wait for review in the service's own repository
    assert "services/orders" not in status(root)
    ecosystem = yaml.safe_load((root / "ecosystem.yaml").read_text())
    assert ecosystem["services"]["orders"]["template"]["version"] == "2.0.0"


def _own_repository(tmp_path: Path, template: TemplateRepo) -> tuple[Path, Path]:
    """A meta-project whose orders lives in its own repository, registered by git URL and pushed to a
    bare "server" repository: (the meta-project, the bare repository)."""
    root = meta_project(tmp_path, template, "orders")
    service = root / "services" / "orders"
    server = tmp_path / "server" / "orders.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(server))
    git(root, "rm", "-r", "--cached", "--quiet", "services/orders")
    git(service, "init", "--quiet", "--initial-branch=main")
    app = service / "app.py"
    app.write_text(app.read_text().replace("return a + b", "return a + b  # ours"))
    commit_all(service, "orders, with our edit")
    git(service, "push", "--quiet", f"file://{server}", "main")
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "services/orders/\n")
    ecosystem = root / "ecosystem.yaml"
    text = ecosystem.read_text()
    assert "    path: services/orders\n" in text
    ecosystem.write_text(
        text.replace("    path: services/orders\n", f"    path: services/orders\n    repository: file://{server}\n")
    )
    commit_all(root, "orders has its own repository")
    return root, server


def test_10_a_service_registered_by_git_url_is_cloned_when_missing_then_updated(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "platform-templates")
    template.release("1.0.0")
    root, server = _own_repository(tmp_path, template)
    # A new machine: a fresh clone of the meta-project has no checkout of orders.
    laptop = tmp_path / "laptop" / "shop"
    git(tmp_path, "clone", "--quiet", str(root), str(laptop))
    service = laptop / "services" / "orders"
    assert not service.exists()
    check = scaffold("check", "orders", "--json", "--no-checkov", cwd=laptop, check=False)
    assert check.returncode == 5 and "`scaffold update orders` clones it" in check.stdout
    assert "services/orders (missing)" in scaffold("list", cwd=laptop).stdout
    assert json.loads(scaffold("list", "--json", cwd=laptop).stdout)["missing"] == ["orders"]
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("everyone"))')
    template.release("2.0.0")

    preview = scaffold("update", "orders", "--dry-run", cwd=laptop)
    assert f"would clone file://{server}" in preview.stdout and 'greet("everyone")' in preview.stdout
    assert not service.exists() and status(laptop) == ""  # a dry run clones into a temporary directory

    done = scaffold("update", "orders", cwd=laptop)

    assert f"cloned file://{server} into services/orders" in done.stdout
    assert git(service, "remote", "get-url", "origin").strip() == f"file://{server}"
    app = (service / "app.py").read_text()
    assert "return a + b  # ours" in app and 'greet("everyone")' in app
    assert yaml.safe_load((service / ".copier-answers.yml").read_text())["_commit"] == "v2.0.0"
    assert status(service) == " M .copier-answers.yml\n M app.py\n"  # waits for review in its repository
    ecosystem = yaml.safe_load((laptop / "ecosystem.yaml").read_text())
    assert ecosystem["services"]["orders"]["template"]["version"] == "2.0.0"
    assert "services/orders" not in status(laptop)
    assert json.loads(scaffold("list", "--json", cwd=laptop).stdout)["missing"] == []
    assert _checkout_findings(laptop) == []  # the meta-project's .gitignore has services/orders/
    gitignore = laptop / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace("services/orders/\n", ""))
    (warning,) = _checkout_findings(laptop)
    assert warning["severity"] == "warning" and "add `services/orders/` to .gitignore" in str(warning["message"])


def _checkout_findings(root: Path) -> list[dict[str, object]]:
    """What `scaffold check` says of orders' directory (its `files` check)."""
    proc = scaffold("check", "orders", "--json", "--no-checkov", cwd=root, check=False)
    runs = json.loads(proc.stdout)["runs"]
    return [f for r in runs if (r["subject"], r["check"]) == ("orders", "files") for f in r["findings"]]


def test_a_service_whose_repository_cannot_be_cloned_fails_alone_and_nothing_is_written(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "platform-templates")
    template.release("1.0.0")
    root, server = _own_repository(tmp_path, template)
    scaffold("new", "backend", "stock", "--defaults", cwd=root)
    commit_all(root, "stock")
    shutil.rmtree(root / "services" / "orders")
    shutil.rmtree(server)
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("everyone"))')
    template.release("2.0.0")
    before = snapshot(root)

    proc = scaffold("update", "orders", "--dry-run", cwd=root, check=False)
    assert proc.returncode == 7 and f"cannot clone file://{server}" in proc.stdout
    assert diff(before, snapshot(root)) == []

    proc = scaffold("update", "orders", "stock", cwd=root, check=False)

    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert f"cannot clone file://{server}" in proc.stdout
    assert not (root / "services" / "orders").exists()
    assert 'greet("everyone")' in (root / "services" / "stock" / "app.py").read_text()  # the other one updated


def test_a_moved_template_repository_is_one_edit_of_ecosystem_yaml_then_an_update(tmp_path: Path) -> None:
    old_home = tmp_path / "platform-templates"
    template = TemplateRepo(old_home)
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders", "billing")
    # The platform team moves its repository; the old location is gone.
    new_home = tmp_path / "moved" / "templates"
    new_home.parent.mkdir()
    old_home.rename(new_home)
    template = TemplateRepo(new_home)
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.release("2.0.0")
    ecosystem = root / "ecosystem.yaml"
    ecosystem.write_text(ecosystem.read_text().replace(f"source: {old_home}\n", f"source: {new_home}\n"))
    assert str(old_home) not in ecosystem.read_text()
    commit_all(root, "the templates moved")

    scaffold("update", "--all", cwd=root)

    for name in ("orders", "billing"):
        service = root / "services" / name
        answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
        assert (answers["_src_path"], answers["_commit"]) == (str(new_home), "v2.0.0")
        assert "level = warning" in (service / "config.ini").read_text()
    assert yaml.safe_load((root / ".copier-answers.yml").read_text())["_src_path"] == str(new_home)
    commit_all(root, "update to 2.0.0")
    template.replace("backend/config.ini.jinja", "level = warning", "level = error")
    template.release("3.0.0")
    copier_update(root / "services" / "orders")  # plain copier follows the new location too
    assert "level = error" in (root / "services" / "orders" / "config.ini").read_text()


@pytest.mark.e2e
def test_9_a_fresh_clone_with_a_newer_scaffold_updates_its_services(ecosystem: Path, tmp_path: Path) -> None:
    root = ecosystem
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    scaffold("new", "backend", "stock", "--defaults", cwd=root)
    readme = root / "services/orders/README.md"
    readme.write_text(readme.read_text() + "\nOn call: the orders team.\n")
    commit_all(root, "two services, one edited")
    clone = tmp_path / "another-machine" / "shop"
    git(tmp_path, "clone", "--quiet", str(root), str(clone))
    newer = newer_scaffold(
        tmp_path / "scaffold-0.2.0",
        "0.2.0",
        {
            "backend/Dockerfile.jinja": ("", "# Built from scaffold's backend template.\n"),
            "ecosystem/README.md.jinja": ("", "\nUpdated by scaffold 0.2.0.\n"),
        },
    )
    listed = run_scaffold(newer, "list", cwd=clone).stdout
    assert "builtin 0.1.0  0.2.0" in listed

    proc = run_scaffold(newer, "update", "--all", cwd=clone)

    assert proc.stdout.count("0.1.0 -> 0.2.0") == 3, proc.stdout
    for name in ("orders", "stock"):
        service = clone / "services" / name
        assert (service / "Dockerfile").read_text().endswith("# Built from scaffold's backend template.\n")
        answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
        assert answers["_commit"] == "v0.2.0"
        assert answers["_src_path"] == "../../.scaffold/templates/builtin.bundle"  # the same on every clone
    assert (clone / "services/orders/README.md").read_text().endswith("On call: the orders team.\n")
    assert (clone / "README.md").read_text().endswith("Updated by scaffold 0.2.0.\n")
    assert sorted(bundle_tags(clone / ".scaffold/templates/builtin.bundle")) == ["v0.1.0", "v0.2.0"]
    ecosystem_yaml = yaml.safe_load((clone / "ecosystem.yaml").read_text())
    assert ecosystem_yaml["template"]["version"] == "0.2.0"
    assert {s["template"]["version"] for s in ecosystem_yaml["services"].values()} == {"0.2.0"}
    assert "builtin 0.2.0  -" in run_scaffold(newer, "list", cwd=clone).stdout


@pytest.mark.e2e
def test_plain_copier_update_works_in_a_builtin_service_once_the_meta_project_has_the_version(
    ecosystem: Path, tmp_path: Path
) -> None:
    root = ecosystem
    for name in ("orders", "stock"):
        scaffold("new", "backend", name, "--defaults", cwd=root)
    commit_all(root, "two services")
    newer = newer_scaffold(tmp_path / "scaffold-0.2.0", "0.2.0", {"backend/Dockerfile.jinja": ("", "# 0.2.0\n")})
    by_scaffold = copy_tree(root, tmp_path / "by-scaffold")
    run_scaffold(newer, "update", "orders", cwd=root)  # brings 0.2.0 into .scaffold/templates/
    commit_all(root, "orders at 0.2.0")

    copier_update(root / "services" / "stock")  # run where the service is: `_src_path` is relative to it
    run_scaffold(newer, "update", "stock", cwd=by_scaffold)

    assert (root / "services/stock/Dockerfile").read_text().endswith("# 0.2.0\n")
    assert diff(snapshot(by_scaffold / "services/stock"), snapshot(root / "services/stock")) == []


# --- migrations and trust ------------------------------------------------------------------------


def _template_with_a_team(path: Path) -> TemplateRepo:
    template = TemplateRepo(path)
    template.replace(
        "copier.yml", "port:\n", "team:\n  type: str\n  default: core\n  when: \"{{ kind != 'ecosystem' }}\"\nport:\n"
    )
    template.write("backend/OWNERS.jinja", "{{ team }}\n")
    template.release("1.0.0")
    return template


MIGRATIONS = """\
_migrations:
  - command: "sed -i 's/^team:/owner:/' .copier-answers.yml"
    when: "{{ _stage == 'before' }}"
  - version: "2.0.0"
    command: "echo '{{ _version_pep440_from }} -> {{ _version_pep440_to }} for {{ owner }}' > MIGRATED.txt"
  - version: "3.0.0"
    command: "touch NOT-YET.txt"
"""


@pytest.fixture
def renamed_answer(tmp_path: Path) -> tuple[TemplateRepo, Path]:
    """A service made with `team=payments`, and a template 2.0.0 that renames `team` to `owner`."""
    template = _template_with_a_team(tmp_path / "template")
    root = meta_project(tmp_path, template)
    scaffold("new", "backend", "orders", "--defaults", "--data", "team=payments", cwd=root)
    commit_all(root, "orders")
    template.replace("copier.yml", "team:\n  type: str\n  default: core", "owner:\n  type: str\n  default: nobody")
    template.write("backend/OWNERS.jinja", "{{ owner }}\n")
    template.write("copier.yml", template.read("copier.yml") + MIGRATIONS)
    template.release("2.0.0")
    return template, root


def test_migrations_run_between_versions_with_trust(renamed_answer: tuple[TemplateRepo, Path], tmp_path: Path) -> None:
    _, root = renamed_answer
    by_copier = copy_tree(root, tmp_path / "by-copier")

    proc = scaffold("update", "orders", "--trust", cwd=root)

    service = root / "services/orders"
    assert "2 migrations" in proc.stdout
    assert (service / "OWNERS").read_text() == "payments\n"  # the answer was migrated, not defaulted
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert answers["owner"] == "payments" and "team" not in answers
    assert (service / "MIGRATED.txt").read_text() == "1.0.0 -> 2.0.0 for payments\n"
    assert not (service / "NOT-YET.txt").exists()  # a migration for 3.0.0 does not run on the way to 2.0.0
    copier_update(by_copier / "services/orders", "--trust")  # copier runs the same migrations the same way
    assert diff(snapshot(by_copier / "services/orders"), snapshot(service)) == []


def test_migrations_of_a_template_from_outside_need_trust(renamed_answer: tuple[TemplateRepo, Path]) -> None:
    _, root = renamed_answer
    before = snapshot(root)
    proc = scaffold("update", "orders", cwd=root, check=False)
    assert proc.returncode == 7
    row = next(line for line in proc.stdout.splitlines() if line.startswith("orders"))
    assert "FAILED" in row and "migrations" in row and "--trust" in row
    assert diff(before, snapshot(root)) == []


def test_tasks_of_a_template_from_outside_need_trust_at_init_and_new(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.write("copier.yml", template.read("copier.yml") + '_tasks:\n  - "touch TASK-RAN"\n')
    template.release("1.0.0")
    proc = scaffold("init", "shop", "--defaults", "--templates", str(template.path), cwd=tmp_path, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and "runs code" in lines[0] and "--trust" in lines[1]
    assert not (tmp_path / "shop").exists()

    scaffold("init", "shop", "--defaults", "--templates", str(template.path), "--trust", cwd=tmp_path)
    root = tmp_path / "shop"
    assert (root / "TASK-RAN").exists()
    refused = scaffold("new", "backend", "orders", "--defaults", cwd=root, check=False)
    assert refused.returncode == 2 and "--trust" in refused.stderr
    assert not (root / "services/orders").exists()
    scaffold("new", "backend", "orders", "--defaults", "--trust", cwd=root)
    assert (root / "services/orders/TASK-RAN").exists()


def test_builtin_templates_never_ask_for_trust(ecosystem: Path) -> None:
    proc = scaffold("new", "backend", "orders", "--defaults", cwd=ecosystem)
    assert "trust" not in proc.stdout + proc.stderr


def test_an_unreachable_template_source_is_one_clear_error(tmp_path: Path) -> None:
    proc = scaffold("init", "shop", "--defaults", "--templates", str(tmp_path / "missing"), cwd=tmp_path, check=False)
    assert proc.returncode == 3
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: The template source") and lines[1].startswith("hint: ")
    assert not (tmp_path / "shop").exists()
