"""`scaffold update`: the three-way merge, shown on real git repositories (issue 4, tests 1-7).

One scenario is built per module: a custom template at 1.0.0, a meta-project with two services
whose developers edited them (committed), and a template 2.0.0 that changes, adds and deletes
files. `scaffold update --all` runs once on a copy; each test checks one property of the result.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scaffold.template_repo import bundle_tags
from tests.helpers import diff, scaffold, snapshot
from tests.update_helpers import TemplateRepo, built_once, commit_all, git, meta_project, status

V2_APP = """\
def greet(name: str) -> str:
    return f"hello {name}"


def add(a: int, b: int) -> int:
    return a + b


def main() -> None:
    print(greet("template 2"))
"""


@dataclass(frozen=True)
class Scenario:
    template: TemplateRepo
    before: Path  # the meta-project before the update (committed, never changed)
    after: Path  # a copy after `scaffold update --all`
    head: str  # HEAD of `after` before the update
    output: str
    code: int


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = built_once(tmp_path_factory, "update-scenario", _build)
    root, after = base / "shop", base / "after" / "shop"
    return Scenario(
        TemplateRepo(base / "template"),
        root,
        after,
        (base / "head").read_text(),
        (base / "output").read_text(),
        int((base / "code").read_text()),
    )


def _build(base: Path) -> None:
    template = TemplateRepo(base / "template")
    template.write("backend/docs/usage.md", "How to use it.\n")
    template.write("backend/docs/extra.md", "Extra documentation.\n")
    template.write("backend/docs/faq.md", "Questions.\n")
    template.release("1.0.0")
    root = meta_project(base, template, "orders", "billing")
    orders = root / "services" / "orders"
    # The developers' own edits, committed.
    _edit(orders / "chart" / "Chart.yaml", "version: 0.1.0", "version: 0.4.2")  # test 1: the template never changes it
    _edit(orders / "app.py", "return a + b", "return a + b  # overflow is checked upstream")  # test 3: other lines
    _edit(orders / "docs" / "usage.md", "How to use it.", "How to use it: see our wiki.")  # test 5: deleted there
    (orders / "docs" / "extra.md").unlink()  # test 6: deleted here, changed by the template
    (orders / "docs" / "faq.md").unlink()  # test 6: deleted here, unchanged by the template
    _edit(root / "services" / "billing" / "README.md", "Port: 8002", "Port: 8002 (fixed by ops)")  # test 4
    commit_all(root, "the developers' edits")
    # Template 2.0.0.
    template.write("backend/app.py", V2_APP)  # test 3
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")  # test 2
    template.replace("backend/README.md.jinja", "Port: {{ port }}", "Port: {{ port }} (local)")  # test 4
    template.delete("backend/notes.txt")  # test 5: untouched here
    template.delete("backend/docs/usage.md")  # test 5: edited here
    template.write("backend/health.py", "def healthy() -> bool:\n    return True\n")  # test 6
    template.write("backend/docs/extra.md", "Extra documentation, revised.\n")  # test 6
    template.replace(  # test 7: a new question with a default, used by a file
        "copier.yml",
        "port:\n",
        "log_format:\n  type: str\n  default: json\n  when: \"{{ kind != 'ecosystem' }}\"\nport:\n",
    )
    template.replace("backend/config.ini.jinja", "level = warning", "level = warning\nformat = {{ log_format }}")
    template.release("2.0.0")
    after = base / "after" / "shop"
    shutil.copytree(root, after, symlinks=True)
    (base / "head").write_text(git(after, "rev-parse", "HEAD"))
    proc = scaffold("update", "--all", cwd=after, check=False)
    (base / "output").write_text(proc.stdout + proc.stderr)
    (base / "code").write_text(str(proc.returncode))


def resolve_conflict(root: Path) -> None:
    """What the developer does after the update: resolve billing's README, add it, commit."""
    readme = root / "services/billing/README.md"
    text = readme.read_text()
    start, end = text.index("<<<<<<<"), text.index(">>>>>>> template 2.0.0\n") + len(">>>>>>> template 2.0.0\n")
    readme.write_text(text[:start] + "Port: 8002 (fixed by ops, local)\n" + text[end:])
    commit_all(root, "update to 2.0.0")


def orders(s: Scenario, relative: str) -> Path:
    return s.after / "services" / "orders" / relative


def test_1_a_local_edit_in_a_file_the_template_does_not_change_is_kept(scenario: Scenario) -> None:
    assert "version: 0.4.2" in orders(scenario, "chart/Chart.yaml").read_text()


def test_2_a_template_change_in_a_file_the_service_did_not_edit_is_applied(scenario: Scenario) -> None:
    assert "level = warning" in orders(scenario, "config.ini").read_text()
    assert "level = warning" in (scenario.after / "services/billing/config.ini").read_text()


def test_3_changes_to_different_lines_of_one_file_are_both_present(scenario: Scenario) -> None:
    text = orders(scenario, "app.py").read_text()
    assert "return a + b  # overflow is checked upstream" in text  # the service's line
    assert 'print(greet("template 2"))' in text  # the template's line
    assert "<<<<<<<" not in text


def test_4_changes_to_the_same_lines_are_marked_reported_and_never_committed(scenario: Scenario) -> None:
    readme = scenario.after / "services/billing/README.md"
    text = readme.read_text()
    assert (
        "<<<<<<< billing (yours)\nPort: 8002 (fixed by ops)\n=======\nPort: 8002 (local)\n>>>>>>> template 2.0.0"
        in (text)
    )
    assert scenario.code == 6, scenario.output
    row = next(line for line in scenario.output.splitlines() if line.startswith("billing"))
    assert "CONFLICTS" in row and "services/billing/README.md" in row
    assert git(scenario.after, "rev-parse", "HEAD") == scenario.head  # nothing committed
    unmerged = git(scenario.after, "diff", "--name-only", "--diff-filter=U")
    assert unmerged.split() == ["services/billing/README.md"]  # git knows: `git commit` refuses it
    refused = git_fails(scenario.after, "commit", "--message", "sneak the markers in")
    assert "Committing is not possible because you have unmerged files" in refused
    assert git(scenario.after, "rev-parse", "HEAD") == scenario.head


def git_fails(cwd: Path, *args: str) -> str:
    import subprocess

    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode != 0, f"git {' '.join(args)} succeeded"
    return proc.stdout + proc.stderr


def test_5_a_file_the_template_deletes_goes_unless_it_was_edited_then_it_is_kept_and_reported(
    scenario: Scenario,
) -> None:
    assert not orders(scenario, "notes.txt").exists()
    assert not (scenario.after / "services/billing/notes.txt").exists()
    assert orders(scenario, "docs/usage.md").read_text() == "How to use it: see our wiki.\n"
    assert "orders: kept services/orders/docs/usage.md" in scenario.output


def test_6_an_added_template_file_arrives_and_a_file_the_service_deleted_stays_deleted(scenario: Scenario) -> None:
    assert orders(scenario, "health.py").read_text().startswith("def healthy()")
    assert not orders(scenario, "docs/extra.md").exists()  # the template changed it: still not brought back
    assert not orders(scenario, "docs/faq.md").exists()
    assert "services/orders/docs/extra.md stays deleted" in scenario.output


def test_7_a_new_question_gets_its_default(scenario: Scenario) -> None:
    answers = yaml.safe_load(orders(scenario, ".copier-answers.yml").read_text())
    assert answers["log_format"] == "json"
    assert answers["_commit"] == "v2.0.0"
    assert answers["_src_path"] == str(scenario.template.path)
    assert "format = json" in orders(scenario, "config.ini").read_text()


def test_7_a_changed_answer_rerenders_what_depends_on_it(scenario: Scenario, tmp_path: Path) -> None:
    root = shutil.copytree(scenario.after, tmp_path / "shop", symlinks=True)
    resolve_conflict(root)
    proc = scaffold("update", "orders", "--data", "description=Takes the orders", cwd=root)
    assert "updated" in proc.stdout
    readme = (root / "services/orders/README.md").read_text()
    assert "Takes the orders" in readme and "The orders backend" not in readme
    assert yaml.safe_load((root / "services/orders/.copier-answers.yml").read_text())["description"] == (
        "Takes the orders"
    )
    assert "return a + b  # overflow is checked upstream" in (root / "services/orders/app.py").read_text()
    assert status(root).split() == ["M", "services/orders/.copier-answers.yml", "M", "services/orders/README.md"]


def test_the_meta_project_updates_and_its_wiring_is_rederived(scenario: Scenario) -> None:
    answers = yaml.safe_load((scenario.after / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v2.0.0"
    ecosystem = yaml.safe_load((scenario.after / "ecosystem.yaml").read_text())
    assert ecosystem["template"] == {"source": str(scenario.template.path), "version": "2.0.0"}
    assert ecosystem["services"]["orders"]["template"]["version"] == "2.0.0"
    assert ecosystem["services"]["billing"]["template"]["version"] == "2.0.0"  # conflicts, yet moved to 2.0.0
    assert "2.0.0" in (scenario.after / "docs/ecosystem.md").read_text()  # derived from ecosystem.yaml
    assert (
        "Everything derived from ecosystem.yaml is up to date."
        in scaffold("sync", "--dry-run", cwd=scenario.after).stdout
    )


def test_the_meta_project_keeps_every_version_its_services_use(scenario: Scenario) -> None:
    stores = list((scenario.after / ".scaffold" / "templates").glob("*.bundle"))
    assert len(stores) == 1
    assert sorted(bundle_tags(stores[0])) == ["v1.0.0", "v2.0.0"]


def test_the_summary_names_every_target(scenario: Scenario) -> None:
    rows = {
        line.split()[0]: line
        for line in scenario.output.splitlines()
        if line.split()[:1] in (["shop"], ["orders"], ["billing"])
    }
    assert "1.0.0 -> 2.0.0" in rows["orders"] and "updated" in rows["orders"]
    assert "updated" in rows["shop"]
    assert "CONFLICTS" in rows["billing"]


def test_dry_run_shows_the_diff_and_the_conflicts_and_writes_nothing(scenario: Scenario, tmp_path: Path) -> None:
    root = shutil.copytree(scenario.before, tmp_path / "shop", symlinks=True)
    before = snapshot(root)
    proc = scaffold("update", "--all", "--dry-run", cwd=root, check=False)
    assert proc.returncode == 6  # conflicts would occur
    assert status(root) == ""  # git sees no change
    assert diff(before, snapshot(root)) == []
    assert "--- orders (services/orders) ---" in proc.stdout
    assert "+++ b/services/orders/config.ini" in proc.stdout and "+level = warning" in proc.stdout
    assert "+++ b/services/orders/health.py" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if line.startswith("billing"))
    assert "CONFLICTS" in row and "services/billing/README.md" in row
    assert "Dry run: nothing was written." in proc.stdout


def test_json_report_for_ci(scenario: Scenario, tmp_path: Path) -> None:
    root = shutil.copytree(scenario.before, tmp_path / "shop", symlinks=True)
    proc = scaffold("update", "--all", "--dry-run", "--json", cwd=root, check=False)
    report = json.loads(proc.stdout)
    assert report["exit_code"] == proc.returncode == 6
    by_name = {t["name"]: t for t in report["targets"]}
    assert by_name["billing"]["status"] == "conflicts"
    assert by_name["billing"]["conflicts"] == ["services/billing/README.md"]
    assert by_name["orders"]["status"] == "updated"
    assert by_name["orders"]["kept"] == ["services/orders/docs/usage.md"]
    assert {"path": "services/orders/notes.txt", "action": "delete"} in by_name["orders"]["changes"]
    assert by_name["shop"]["from_version"] == "1.0.0" and by_name["shop"]["to_version"] == "2.0.0"


def test_rej_conflicts_keep_the_service_version_and_write_the_rejected_hunk(scenario: Scenario, tmp_path: Path) -> None:
    root = shutil.copytree(scenario.before, tmp_path / "shop", symlinks=True)
    proc = scaffold("update", "billing", "--conflict", "rej", cwd=root, check=False)
    assert proc.returncode == 6
    readme = (root / "services/billing/README.md").read_text()
    assert "Port: 8002 (fixed by ops)" in readme and "<<<<<<<" not in readme
    rejected = (root / "services/billing/README.md.rej").read_text()
    assert "-Port: 8002\n+Port: 8002 (local)\n" in rejected
    assert "level = warning" in (root / "services/billing/config.ini").read_text()  # the rest applied


def test_a_service_with_uncommitted_changes_is_refused_and_the_others_update(
    scenario: Scenario, tmp_path: Path
) -> None:
    root = shutil.copytree(scenario.before, tmp_path / "shop", symlinks=True)
    _edit(root / "services/orders/app.py", "hello", "hi")  # not committed
    edited = (root / "services/orders/app.py").read_bytes()
    proc = scaffold("update", "orders", "billing", cwd=root, check=False)
    assert proc.returncode == 7  # a failure outranks billing's conflicts
    row = next(line for line in proc.stdout.splitlines() if line.startswith("orders"))
    assert "FAILED" in row and "uncommitted changes" in row and "services/orders/app.py" in row
    assert (root / "services/orders/app.py").read_bytes() == edited
    assert not (root / "services/orders/health.py").exists()
    assert "level = warning" in (root / "services/billing/config.ini").read_text()


def test_up_to_date_services_are_reported_as_such(scenario: Scenario, tmp_path: Path) -> None:
    root = shutil.copytree(scenario.after, tmp_path / "shop", symlinks=True)
    resolve_conflict(root)
    _edit(root / "services/orders/app.py", "hello", "hi")  # work in progress does not matter when current
    proc = scaffold("update", "--all", cwd=root)
    assert proc.stdout.count("up to date") == 3
    assert status(root).split() == ["M", "services/orders/app.py"]


def test_to_an_unknown_version_changes_nothing(scenario: Scenario, tmp_path: Path) -> None:
    root = shutil.copytree(scenario.before, tmp_path / "shop", symlinks=True)
    proc = scaffold("update", "--all", "--to", "9.9.9", cwd=root, check=False)
    assert proc.returncode == 3
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("error: Template version 9.9.9") and lines[1].startswith("hint: ")
    assert status(root) == ""


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ([], 2, "Name them or pass --all"),
        (["nope"], 3, "no service named 'nope'"),
        (["--all", "orders"], 2, "not both"),
        (["--all", "--conflict", "both"], 2, "--conflict"),
        (["--all", "--jobs", "0"], 2, "--jobs"),
        (["--all", "--to", "latest"], 2, "not a version"),
        (["orders", "--data", "port=9000"], 2, "ecosystem.yaml holds it"),
        (["--all", "--data", "description=x"], 2, "in every service"),
        (["orders", "--data", "colour=red"], 2, "no such question"),
    ],
)
def test_bad_input_is_refused_cleanly(
    scenario: Scenario, tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    root = shutil.copytree(scenario.before, tmp_path / "shop", symlinks=True)
    proc = scaffold("update", *args, cwd=root, check=False)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), proc.stderr
    assert words in lines[0]
    assert "Traceback" not in proc.stderr
    assert status(root) == ""


def test_list_shows_the_template_version_and_a_newer_one(scenario: Scenario) -> None:
    proc = scaffold("list", cwd=scenario.before)
    row = next(line for line in proc.stdout.splitlines() if line.startswith("orders"))
    assert row.split()[-2:] == ["1.0.0", "2.0.0"]  # TEMPLATE version, NEWER
    assert "Meta-project template:" in proc.stdout and "(2.0.0 available)" in proc.stdout
    listed = json.loads(scaffold("list", "--json", cwd=scenario.before).stdout)
    drift = {t["name"]: t for t in listed["templates"]}
    assert drift["orders"] == {
        "name": "orders",
        "source": str(scenario.template.path),
        "version": "1.0.0",
        "latest": "2.0.0",
        "update_available": True,
    }
    after = {t["name"]: t for t in json.loads(scaffold("list", "--json", cwd=scenario.after).stdout)["templates"]}
    assert after["orders"]["update_available"] is False


def test_a_conflicted_meta_project_file_still_records_the_new_versions(tmp_path: Path) -> None:
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    root = meta_project(tmp_path, template, "orders")
    _edit(root / "ecosystem.yaml", "# ecosystem.yaml of shop", "# ecosystem.yaml of shop (ours)")
    commit_all(root, "our heading")
    template.replace("ecosystem/ecosystem.yaml.jinja", "of {{ name }}", "of {{ name }} (theirs)")
    template.replace("backend/config.ini.jinja", "level = info", "level = warning")
    template.release("2.0.0")

    proc = scaffold("update", "--all", cwd=root, check=False)

    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "the new template versions are recorded in it" in proc.stdout
    text = (root / "ecosystem.yaml").read_text()
    assert "<<<<<<< shop (yours)" in text and ">>>>>>> template 2.0.0" in text
    start, end = text.index("<<<<<<<"), text.index(">>>>>>> template 2.0.0\n") + len(">>>>>>> template 2.0.0\n")
    resolved = text[:start] + "# ecosystem.yaml of shop (ours and theirs)\n" + text[end:]
    ecosystem = yaml.safe_load(resolved)
    assert ecosystem["template"]["version"] == "2.0.0"
    assert ecosystem["services"]["orders"]["template"]["version"] == "2.0.0"
    (root / "ecosystem.yaml").write_text(resolved)
    git(root, "add", "ecosystem.yaml")
    scaffold("sync", cwd=root)
    commit_all(root, "update to 2.0.0")
    assert scaffold("update", "--all", cwd=root).stdout.count("up to date") == 2
