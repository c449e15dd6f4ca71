"""`scaffold propose-updates`: template updates arrive as one branch and one pull request per repository.

The git side runs for real: "GitHub" is a directory of bare repositories that git reaches through
`url.<dir>.insteadOf https://github.com/` (so remotes have real GitHub URLs), each run works in a
fresh clone of the meta-project, as the scheduled workflow does, and the service with its own
repository is cloned by the update itself. The API side is tests/fake_github.py on loopback,
which records the exact requests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scaffold.errors import ExitCode
from scaffold.proposals.branches import TRAILER
from scaffold.proposals.github import API_VERSION
from tests.fake_github import FakeGitHub, fake_github
from tests.helpers import scaffold
from tests.test_json_schemas import validate
from tests.update_helpers import TemplateRepo, commit_all, git, meta_project

BRANCH = "scaffold/template-updates"
SHOP, ORDERS = "https://github.com/acme/shop.git", "https://github.com/acme/orders.git"
TOKEN = "ghs_test-token"


@dataclass(frozen=True)
class World:
    server: Path  # the bare repositories ("GitHub")
    template: TemplateRepo
    work: Path  # where CI runs are cloned
    github: FakeGitHub

    def bare(self, name: str) -> Path:
        return self.server / "acme" / f"{name}.git"

    def branches(self, name: str) -> dict[str, str]:
        out = git(self.bare(name), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
        return dict(line.split() for line in out.splitlines())

    def show(self, name: str, ref: str, path: str) -> str:
        return git(self.bare(name), "show", f"{ref}:{path}")

    def ci_run(self, run: str, *args: str, token: bool = True) -> tuple[Path, int, str, str]:
        """A fresh clone of the meta-project's main, then `scaffold propose-updates ARGS`."""
        clone = self.work / run / "shop"
        git(self.work, "clone", "--quiet", SHOP, str(clone))
        env = {"GITHUB_API_URL": self.github.url, **({"GITHUB_TOKEN": TOKEN} if token else {})}
        proc = scaffold("propose-updates", "--json", *args, cwd=clone, env=env, check=False)
        return clone, proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    server = tmp_path / "github"
    # Every git process of this test (scaffold's included) reads github.com as the directory `server`.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{server}/.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    for name in ("shop", "orders"):
        git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(server / "acme" / f"{name}.git"))
    template = TemplateRepo(tmp_path / "template")
    template.release("1.0.0")
    (tmp_path / "dev").mkdir()
    root = meta_project(tmp_path / "dev", template, "orders", "billing")
    # orders lives in its own repository, with an edit of its own.
    service = root / "services" / "orders"
    git(root, "rm", "-r", "--cached", "--quiet", "services/orders")
    git(service, "init", "--quiet", "--initial-branch=main")
    app = service / "app.py"
    app.write_text(app.read_text().replace("return a + b", "return a + b  # ours"))
    commit_all(service, "orders, with our edit")
    git(service, "push", "--quiet", ORDERS, "main")
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "services/orders/\n")
    eco = root / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace("    path: services/orders\n", f"    path: services/orders\n    repository: {ORDERS}\n")
    )
    # billing (inside the meta-project) edits the line the next template version changes: a conflict.
    readme = root / "services" / "billing" / "README.md"
    readme.write_text(readme.read_text().replace("Port: 8002", "Port: 8002 (fixed by ops)"))
    commit_all(root, "orders has its own repository; billing's port note")
    git(root, "push", "--quiet", SHOP, "main")
    template.replace("backend/app.py", 'print(greet("world"))', 'print(greet("everyone"))')
    template.replace("backend/README.md.jinja", "Port: {{ port }}", "Port: {{ port }} (local)")
    template.release("2.0.0")
    work = tmp_path / "ci"
    work.mkdir()
    with fake_github() as github:
        yield World(server, template, work, github)


def test_one_branch_and_one_pull_request_per_changed_repository_reused_by_the_next_run(world: World) -> None:
    mains = {name: world.branches(name)["main"] for name in ("shop", "orders")}

    _, code, out, err = world.ci_run("first")

    assert code == 0, out + err
    validate("propose-updates", out)  # the output fits docs/schemas/propose-updates.json
    report = json.loads(out)
    assert [p["reason"] for p in report["proposals"]] == [None, None]
    assert [(p["repository"], p["outcome"], p["pull_request_action"]) for p in report["proposals"]] == [
        ("orders", "created", "opened"),
        ("shop", "created", "opened"),
    ]
    for name in ("shop", "orders"):  # exactly one branch more; main untouched
        assert set(world.branches(name)) == {"main", BRANCH} and world.branches(name)["main"] == mains[name]
    # The service's own repository: its edit kept, the template's change applied, on top of its main.
    app = world.show("orders", BRANCH, "app.py")
    assert "return a + b  # ours" in app and 'greet("everyone")' in app
    assert git(world.bare("orders"), "rev-parse", f"{BRANCH}^").strip() == mains["orders"]
    # The meta-project: the new versions, billing's conflict committed with its markers for review.
    versions = yaml.safe_load(world.show("shop", BRANCH, "ecosystem.yaml"))["services"]
    assert {name: s["template"]["version"] for name, s in versions.items()} == {"orders": "2.0.0", "billing": "2.0.0"}
    assert "<<<<<<< billing (yours)" in world.show("shop", BRANCH, "services/billing/README.md")
    assert TRAILER in git(world.bare("shop"), "log", "-1", "--format=%B", BRANCH).splitlines()

    # The exact requests: per repository, look for the open pull request, then open one.
    get_orders, post_orders, get_shop, post_shop = world.github.requests
    assert [(r.method, r.path) for r in world.github.requests] == [
        ("GET", "/repos/acme/orders/pulls"),
        ("POST", "/repos/acme/orders/pulls"),
        ("GET", "/repos/acme/shop/pulls"),
        ("POST", "/repos/acme/shop/pulls"),
    ]
    assert get_shop.query == {"state": "open", "head": f"acme:{BRANCH}", "base": "main"}
    for request in world.github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == API_VERSION
        assert request.headers.get("content-type") == (None if request.method == "GET" else "application/json")
    assert set(post_shop.body) == {"title", "head", "base", "body", "maintainer_can_modify"}
    assert (post_shop.body["head"], post_shop.body["base"]) == (BRANCH, "main")
    assert post_shop.body["title"] == "Template update to 2.0.0 (conflicts to resolve)"
    assert "### Conflicts to resolve\n\n- `services/billing/README.md` (billing)" in post_shop.body["body"]
    assert "| `billing` | `services/billing` | 1.0.0 → 2.0.0 | **conflicts** | 3 |" in post_shop.body["body"]
    assert "- `orders`: 1.0.0 → 2.0.0, updated: https://github.com/acme/orders/pull/1" in post_shop.body["body"]
    assert post_orders.body["title"] == "Template update to 2.0.0"
    assert get_orders.query["head"] == f"acme:{BRANCH}"

    # The next scheduled run, on a fresh clone of the same main: the same branch, the same pull request.
    heads = {name: world.branches(name)[BRANCH] for name in ("shop", "orders")}
    world.github.requests.clear()
    _, code, out, err = world.ci_run("second")
    assert code == 0, out + err
    again = json.loads(out)["proposals"]
    assert [(p["repository"], p["outcome"], p["pull_request_action"]) for p in again] == [
        ("orders", "unchanged", "updated"),
        ("shop", "unchanged", "updated"),
    ]
    assert {name: world.branches(name) for name in ("shop", "orders")} == {
        name: {"main": mains[name], BRANCH: heads[name]} for name in ("shop", "orders")
    }
    assert world.github.calls() == [
        ("GET", "/repos/acme/orders/pulls"),
        ("PATCH", "/repos/acme/orders/pulls/1"),
        ("GET", "/repos/acme/shop/pulls"),
        ("PATCH", "/repos/acme/shop/pulls/1"),
    ]
    assert {slug: len(pulls) for slug, pulls in world.github.pulls.items()} == {"acme/orders": 1, "acme/shop": 1}


def test_a_newer_main_replaces_the_proposal_and_a_persons_commit_on_it_is_left_alone(world: World) -> None:
    world.ci_run("first")
    # main moves on: the next run bases its proposal on the new main, on the same branch.
    dev = world.work / "dev" / "shop"
    git(world.work, "clone", "--quiet", SHOP, str(dev))
    (dev / "NOTES.md").write_text("our notes\n")
    commit_all(dev, "notes")
    git(dev, "push", "--quiet", "origin", "main")
    _, code, out, _ = world.ci_run("second")
    assert code == 0
    assert {p["repository"]: p["outcome"] for p in json.loads(out)["proposals"]}["shop"] == "updated"
    assert git(world.bare("shop"), "rev-parse", f"{BRANCH}^").strip() == world.branches("shop")["main"]
    # A person resolves the conflict on the branch: scaffold never overwrites their commit.
    fix = world.work / "fix" / "shop"
    git(world.work, "clone", "--quiet", "--branch", BRANCH, SHOP, str(fix))
    (fix / "services/billing/README.md").write_text("resolved\n")
    commit_all(fix, "resolve billing's README")
    git(fix, "push", "--quiet", "origin", BRANCH)
    theirs = world.branches("shop")[BRANCH]
    _, code, out, _ = world.ci_run("third")
    shop = {p["repository"]: p for p in json.loads(out)["proposals"]}["shop"]
    assert (shop["outcome"], shop["pull_request"]) == ("left alone", None)
    assert "has commits that are not scaffold's" in shop["reason"]
    assert world.branches("shop")[BRANCH] == theirs


def test_it_never_pushes_to_the_branch_it_proposes_into(world: World) -> None:
    before = {name: world.branches(name) for name in ("shop", "orders")}
    clone, code, _, err = world.ci_run("main", "--branch", "main")
    assert code == int(ExitCode.USAGE)
    assert "error: The proposal branch 'main' is the branch it would go into" in err
    assert {name: world.branches(name) for name in ("shop", "orders")} == before
    assert git(clone, "status", "--porcelain") == "" and world.github.requests == []


def test_without_a_token_it_stops_before_changing_anything_unless_told_to_push_only(world: World) -> None:
    clone, code, _, err = world.ci_run("no-token", token=False)
    assert code == int(ExitCode.USAGE) and "GITHUB_TOKEN is not set" in err
    assert git(clone, "status", "--porcelain") == "" and set(world.branches("shop")) == {"main"}
    _, code, out, err = world.ci_run("push-only", "--no-pull-requests", token=False)
    assert code == 0, out + err
    assert set(world.branches("shop")) == set(world.branches("orders")) == {"main", BRANCH}
    assert world.github.requests == []


def test_uncommitted_work_is_refused(world: World) -> None:
    clone = world.work / "dirty" / "shop"
    git(world.work, "clone", "--quiet", SHOP, str(clone))
    (clone / "scratch.txt").write_text("mine\n")
    proc = scaffold("propose-updates", "--no-pull-requests", cwd=clone, check=False, env={**os.environ})
    assert proc.returncode == int(ExitCode.CONFLICT) and "uncommitted changes (scratch.txt)" in proc.stderr
    assert (clone / "scratch.txt").read_text() == "mine\n" and set(world.branches("shop")) == {"main"}
