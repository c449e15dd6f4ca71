"""Generated files hold no secret values: an ecosystem with a service of every kind is scanned file
by file with detect-secrets (Yelp's scanner: keys, tokens, private keys, high-entropy strings,
passwords in URLs and assignments), compose files and rendered charts are checked for how they
get credentials, `.env` is git-ignored everywhere and never generated, only `.env.example` is.

What the scanner flags in generated files is allowed only for the reasons listed in ALLOWED;
a planted secret of each kind shows that the scan finds what it should.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.model import KINDS
from tests import validators
from tests.helpers import scaffold

# Values that stand for a credential in docs, tests and local-only defaults; none can be a secret.
PLACEHOLDERS = frozenset(
    {"password", "PASSWORD", "secret", "none", "nothing", "local-dev-only", "local-development-only"}
)
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}$")
SERVICES = {"backend": "orders", "worker": "jobs", "frontend": "web"}


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> Path:
    root = tmp_path_factory.mktemp("secrets") / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    assert set(SERVICES) == set(KINDS), "a kind was added: give it a service here"
    for kind in KINDS:
        extra = ["--data", "api_service=orders"] if kind == "frontend" else []
        scaffold("new", kind, SERVICES[kind], "--defaults", *extra, cwd=root)
    return root


@pytest.fixture
def copy(every_kind: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "shop"
    shutil.copytree(every_kind, root, symlinks=True)
    yield root


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and ".git" not in p.parts)


def _environment_secrets(root: Path) -> set[str]:
    environments = yaml.safe_load((root / "ecosystem.yaml").read_text())["environments"]
    return {str(env["secret"]) for env in environments.values()}


def _secret_names(root: Path) -> set[str]:
    """The names of the Secret objects the meta-project refers to: each environment's, and the one the
    platform chart's rollback relay reads its GitHub token from."""
    platform = yaml.safe_load((root / "deploy/platform/values.yaml").read_text())
    return _environment_secrets(root) | {str(platform["relay"]["githubToken"]["secretName"])}


def _allowed(root: Path, relative: str, kind: str, value: str | None) -> bool:
    """Whether a detect-secrets finding is one of the known, harmless kinds (the reasons are here)."""
    if relative == ".scaffold/derived.json" and kind == "Hex High Entropy String":
        # sha256 digests of the derived files, to tell hand edits apart: content hashes, not secrets.
        digests = json.loads((root / relative).read_text())["files"].values()
        return value in digests
    if kind == "Secret Keyword":
        # `secret: shop-test-secrets` / `secretName:`: the *name* of a Secret object, never its content.
        return value in _secret_names(root)
    if kind == "Basic Auth Credentials":
        # postgresql://user:password@host in docs and tests, to show the format.
        return value in PLACEHOLDERS
    return False


def _scan(root: Path) -> list[str]:
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    found: list[str] = []
    collection = SecretsCollection(root=str(root))
    with default_settings():
        for path in _files(root):
            collection.scan_file(str(path.relative_to(root)))
    for filename, secret in collection:
        if not _allowed(root, filename, secret.type, secret.secret_value):
            found.append(f"{filename}:{secret.line_number}: {secret.type} ({secret.secret_value!r})")
    return found


def _environment_values(compose: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for name, service in (compose.get("services") or {}).items():
        environment = (service or {}).get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment if "=" in item)
        for key, value in environment.items():
            yield name, str(key), str(value)


def _compose_credentials(root: Path) -> list[str]:
    """Credentials in compose files come from the environment (.env), with local-only defaults."""
    found: list[str] = []
    for path in [root / "compose.yaml", *sorted(root.glob("services/*/compose.yaml"))]:
        compose = yaml.safe_load(path.read_text()) or {}
        for service, key, value in _environment_values(compose):
            where = f"{path.relative_to(root)} {service}.{key}"
            if SECRET_NAMES.search(key):
                match = INTERPOLATION.match(value)
                if not match:
                    found.append(f"{where}: a literal credential instead of ${{{key}}}")
                elif match["default"] and match["default"] not in PLACEHOLDERS:
                    found.append(f"{where}: default {match['default']!r} is not a local placeholder")
            url = re.sub(r"\$\{[^}]*\}", "${}", value)  # each interpolation as one placeholder
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", url):
                if password != "${}":
                    found.append(f"{where}: a password written into a URL")
    return found


def _rendered_secrets(root: Path) -> list[str]:
    """Charts reference each environment's Secret by name; they never carry one."""
    found: list[str] = []
    ecosystem = yaml.safe_load((root / "ecosystem.yaml").read_text())
    for name, environment in ecosystem["environments"].items():
        values = yaml.safe_load((root / f"deploy/chart/values-{name}.yaml").read_text())
        docs = validators.helm_render(
            root / "deploy/chart", values, name=ecosystem["name"], namespace=environment["namespace"]
        )
        text = json.dumps(docs)
        for doc in docs:
            if doc["kind"] == "Secret":
                found.append(f"{name}: the charts create Secret/{doc['metadata']['name']}")
        referenced = set(re.findall(r'"secretName": "([^"]+)"', text))
        referenced |= {m for m in re.findall(r'"secretKeyRef": \{[^}]*"name": "([^"]+)"', text)}
        if referenced - {environment["secret"]}:
            found.append(f"{name}: Secrets other than {environment['secret']}: {sorted(referenced)}")
    return found


def _env_files(root: Path) -> list[str]:
    """No .env is generated, and one made by a developer would be git-ignored everywhere."""
    found = [f"{p.relative_to(root)} was generated" for p in root.rglob(".env") if ".git" not in p.parts]
    directories = [root, *sorted(p for p in (root / "services").iterdir() if p.is_dir())]
    for directory in directories:
        relative = (directory / ".env").relative_to(root)
        ignored = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=root)
        if ignored.returncode != 0:
            found.append(f"{relative} is not git-ignored in the meta-project")
    for directory in directories[1:]:  # a service moved to a repository of its own keeps ignoring it
        ignores = (directory / ".gitignore").read_text().splitlines() if (directory / ".gitignore").exists() else []
        if not {".env", "/.env", ".env*"} & {line.strip() for line in ignores}:
            found.append(f"{directory.relative_to(root)}/.gitignore does not ignore .env")
    for example in root.rglob(".env.example"):
        for line in example.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#") and SECRET_NAMES.search(key) and value not in PLACEHOLDERS:
                found.append(f"{example.relative_to(root)}: {key} is not a local placeholder")
    return found


def complaints(root: Path) -> list[str]:
    return _scan(root) + _compose_credentials(root) + _rendered_secrets(root) + _env_files(root)


def test_generated_files_hold_no_secrets(copy: Path) -> None:
    assert complaints(copy) == []
    assert {p.parent.name for p in copy.rglob(".env.example")} >= {"shop", "orders", "jobs"}


def test_the_scan_finds_planted_secrets(copy: Path) -> None:
    planted = {
        "services/orders/src/orders/cloud.py": 'ACCESS_KEY = "AKIAQ2RDZ7TNBXLS4K5W"\n',
        "services/jobs/deploy-key.pem": (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
        ),
        "services/web/src/token.ts": 'export const token = "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";\n',
    }
    for relative, content in planted.items():
        (copy / relative).write_text(content)
    compose = copy / "services/orders/compose.yaml"
    compose.write_text(compose.read_text().replace("${POSTGRES_PASSWORD:-local-dev-only}", "hunter2-for-real", 1))
    gitignore = copy / "services/jobs/.gitignore"
    gitignore.write_text(gitignore.read_text().replace(".env\n", ""))
    (copy / "services/web/.env").write_text("API_TOKEN=abc\n")
    found = "\n".join(complaints(copy))
    assert "services/orders/src/orders/cloud.py:1: AWS Access Key" in found
    assert "services/jobs/deploy-key.pem:1: Private Key" in found
    assert "services/web/src/token.ts:1: GitHub Token" in found
    assert "services/orders/compose.yaml" in found and "POSTGRES_PASSWORD" in found
    assert "services/jobs/.gitignore does not ignore .env" in found
    assert "services/web/.env was generated" in found
