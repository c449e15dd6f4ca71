"""Building blocks of the generated GitHub Actions workflows: pinned actions and the steps every
workflow that runs scaffold shares (check out, Python, install scaffold, git credentials).

Every action is pinned by commit SHA; `annotate_pins` writes the release it was taken from as a
comment, since YAML dumpers cannot write comments.
"""

from __future__ import annotations

import re
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
    "docker/setup-buildx-action": ("8d2750c68a42422c14e847fe6c8ac0403b4cbd6f", "v3.12.0"),
    "docker/login-action": ("c94ce9fb468520275223c153574b00df6fe4bcc9", "v3.7.0"),
    "docker/build-push-action": ("10e90e3645eae34f1e60eeb005ba3a3d33f178e8", "v6.19.2"),
    "azure/setup-helm": ("1a275c3b69536ee54be43f2070a358922e12c8d4", "v4.3.1"),
    "actions/setup-python": ("e797f83bcb11b83ae66e0230d6156d7c80228e7c", "v6.0.0"),
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
