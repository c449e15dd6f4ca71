"""Building blocks of the generated GitHub Actions workflows: pinned actions and the steps every
workflow that runs scaffold shares (check out, Python, install scaffold, git credentials).

Every action is pinned by commit SHA; `annotate_pins` writes the release it was taken from as a
comment, since YAML dumpers cannot write comments.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Final

from scaffold.model import Ecosystem

RUNNER: Final = "ubuntu-24.04"
PYTHON_VERSION: Final = "3.12"
TOKEN_SECRET: Final = "SCAFFOLD_TOKEN"
INSTALL: Final = "Install scaffold (ci.scaffold in ecosystem.yaml)"
TOKEN: Final = f"${{{{ secrets.{TOKEN_SECRET} || github.token }}}}"

# action -> (commit, release it is); bump both together.
ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "actions/checkout": ("de0fac2e4500dabe0009e67214ff5f5447ce83dd", "v6.0.2"),
    "docker/login-action": ("c94ce9fb468520275223c153574b00df6fe4bcc9", "v3.7.0"),
    "azure/setup-helm": ("1a275c3b69536ee54be43f2070a358922e12c8d4", "v4.3.1"),
    "actions/setup-python": ("e797f83bcb11b83ae66e0230d6156d7c80228e7c", "v6.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
}


def uses(action: str) -> str:
    return f"{action}@{ACTIONS[action][0]}"


def checkout() -> dict[str, Any]:
    return {"name": "Check out", "uses": uses("actions/checkout"), "with": {"persist-credentials": False}}


def setup_python() -> dict[str, Any]:
    return {
        "name": "Set up Python",
        "uses": uses("actions/setup-python"),
        "with": {"python-version": PYTHON_VERSION},
    }


def install_scaffold(ecosystem: Ecosystem) -> dict[str, Any]:
    if ecosystem.ci.scaffold is None:
        message = "Set ci.scaffold in ecosystem.yaml: the pip requirement CI installs scaffold from"
        return {"name": INSTALL, "id": "install", "run": f'echo "::error::{message}"\nexit 1'}
    return {
        "name": INSTALL,
        "id": "install",
        "env": {"SCAFFOLD_REQUIREMENT": ecosystem.ci.scaffold},
        "run": 'python -m pip install --disable-pip-version-check --quiet "$SCAFFOLD_REQUIREMENT"',
    }


def git_credentials() -> dict[str, str]:
    """Environment that makes git authenticate to GitHub with the token, for this step only.

    A credential helper given through GIT_CONFIG_* (never written to a file) answers with the token;
    SSH URLs of github.com are read as HTTPS so that the same token serves them.
    """
    return {
        "SCAFFOLD_GIT_TOKEN": TOKEN,
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "credential.https://github.com.helper",
        "GIT_CONFIG_VALUE_0": '!f() { echo username=x-access-token; echo "password=$SCAFFOLD_GIT_TOKEN"; }; f',
        "GIT_CONFIG_KEY_1": "url.https://github.com/.insteadOf",
        "GIT_CONFIG_VALUE_1": "git@github.com:",
    }


def clone_own_repositories(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """Check out each service that has its own repository at its path, at the commit ecosystem.yaml
    pins (its default branch, with a warning, when none is pinned); no step when there is none."""
    own = sorted((s for s in ecosystem.services if s.repository), key=lambda s: s.name)
    if not own:
        return []
    lines: list[str] = []
    for service in own:
        url, path = shlex.quote(str(service.repository)), shlex.quote(service.path)
        if service.commit:
            lines.append(f"git clone --quiet --no-checkout -- {url} {path}")
            lines.append(f"git -C {path} checkout --quiet --detach {service.commit}")
        else:
            lines.append(f"git clone --quiet -- {url} {path}")
            warning = f"{service.name} has no commit pinned in ecosystem.yaml: its default branch is used"
            lines.append(f'echo "::warning::{warning}"')
    return [
        {
            "name": "Check out the services that have their own repository, at their pinned commits",
            "env": git_credentials(),
            "run": "\n".join(lines),
        }
    ]


_USES = re.compile(r"^(\s*(?:- )?uses: )([\w.-]+/[\w./-]+)@([0-9a-f]{40})$")


def annotate_pins(text: str) -> str:
    """Append `# vX.Y.Z` to every pinned `uses:` line."""
    lines = []
    for line in text.splitlines():
        match = _USES.match(line)
        if match:
            line = f"{line} # {ACTIONS[match.group(2)][1]}"
        lines.append(line)
    return "\n".join(lines) + "\n"
