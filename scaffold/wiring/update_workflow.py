"""Running scaffold itself in CI: the drift gates of the delivery pipeline and the template-update workflow.

- `gates_job`: a job of `.github/workflows/delivery.yml` that runs on pull requests: `scaffold
  check` (fails when the wiring is out of sync with ecosystem.yaml, or anything generated is
  invalid) and `scaffold list --outdated` (fails when a service or the meta-project is behind its
  template's newest version).
- `.github/workflows/template-updates.yml`: on a schedule (`ci.update_schedule`, weekly by
  default) and by hand, `scaffold propose-updates` runs the fleet update and pushes one branch per
  changed repository, opening or updating one pull request each (docs/template-updates.md).

Both install scaffold from `ci.scaffold` (a pip requirement: scaffold is not on PyPI under its
name, so CI must be told where it comes from); without it the install step fails, saying so.
Services in their own repositories are reached with the `SCAFFOLD_TOKEN` secret (a token that
can read them, and push to them for the updates), falling back to the workflow's own token.
Every value from ecosystem.yaml reaches the workflow through the YAML dumper and, in shell, quoted;
ecosystem.yaml refuses `${{` in them, which GitHub would evaluate.
"""

from __future__ import annotations

from typing import Any, Final

from scaffold.model import Ecosystem
from scaffold.wiring._actions import (
    RUNNER,
    TOKEN,
    TOKEN_SECRET,
    annotate_pins,
    checkout,
    clone_own_repositories,
    git_credentials,
    install_scaffold,
    setup_python,
)
from scaffold.wiring._render import YAML_HEADER, dump_yaml, text_file
from scaffold.wiring.files import DerivedFile

WORKFLOW: Final = ".github/workflows/template-updates.yml"
BRANCH: Final = "scaffold/template-updates"
BOT_NAME: Final = "github-actions[bot]"
BOT_EMAIL: Final = "41898282+github-actions[bot]@users.noreply.github.com"


def gates_job(ecosystem: Ecosystem) -> dict[str, Any]:
    """The delivery pipeline's job for pull requests: wiring in sync, everything valid, nothing behind."""
    return {
        "name": "scaffold gates",
        "if": "github.event_name == 'pull_request'",
        "runs-on": RUNNER,
        "timeout-minutes": 20,
        "permissions": {"contents": "read"},
        "steps": [
            checkout(),
            setup_python(),
            install_scaffold(ecosystem),
            *clone_own_repositories(ecosystem),
            {"name": "Wiring in sync with ecosystem.yaml, everything generated valid", "run": "scaffold check"},
            {
                "name": "No service behind its template",
                "if": "!cancelled() && steps.install.outcome == 'success'",
                "run": "scaffold list --outdated",
            },
        ],
    }


def workflow(ecosystem: Ecosystem) -> dict[str, Any]:
    """The scheduled template-update workflow: `scaffold propose-updates` with the token."""
    full = checkout()
    full = {**full, "with": {**full["with"], "fetch-depth": 0}}  # whole history: which commits are scaffold's
    propose = {
        "name": "Update every service; one branch and pull request per changed repository",
        "env": {
            "GITHUB_TOKEN": TOKEN,
            "GIT_AUTHOR_NAME": BOT_NAME,
            "GIT_AUTHOR_EMAIL": BOT_EMAIL,
            "GIT_COMMITTER_NAME": BOT_NAME,
            "GIT_COMMITTER_EMAIL": BOT_EMAIL,
            **git_credentials(),
        },
        "run": f"scaffold propose-updates --branch {BRANCH}",
    }
    return {
        "name": "template updates",
        "on": {"schedule": [{"cron": ecosystem.ci.update_schedule}], "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "template-updates", "cancel-in-progress": False},
        "jobs": {
            "propose": {
                "name": "propose template updates",
                "runs-on": RUNNER,
                "timeout-minutes": 30,
                "permissions": {"contents": "write", "pull-requests": "write"},
                "steps": [full, setup_python(), install_scaffold(ecosystem), propose],
            }
        },
    }


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    header = YAML_HEADER + (
        f"# Secrets: {TOKEN_SECRET} (optional: a token that can push to and open pull requests in the\n"
        "# repositories of services that have their own; without it the workflow's token serves this one only).\n"
    )
    return [text_file(WORKFLOW, header + annotate_pins(dump_yaml(workflow(ecosystem))))]
