"""`gateway/auth/`: the compose gateway's token check and the local development issuer.

Open-source nginx has no JWT verification, so the gateway asks a small server about each request
to a protected route (`auth_request`). That server verifies with the very module the backends use
(`templates/shared/python/tokens.py`, copied here), and, in compose, is also the ecosystem's local
OIDC issuer, so `docker compose up` works without the real SSO: its tokens carry the audience of
`auth.audience` in ecosystem.yaml and the issuer URL the browser reaches through the gateway
(`/auth`). Its image installs the packages the backends' lock pins, with their hashes.
In Kubernetes the gateway is the cluster's (Gateway API): see umbrella.py and docs/platform.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from scaffold.model import LOCAL_ISSUER_PATH, Ecosystem, Service
from scaffold.wiring._render import GENERATED, text_file
from scaffold.wiring.files import DerivedFile

SERVICE: Final = "gateway-auth"  # its compose service
DIRECTORY: Final = "gateway/auth"
PORT: Final = 9100
ISSUER_PATH: Final = LOCAL_ISSUER_PATH  # where the gateway publishes the local issuer
SOURCE: Final = Path(__file__).resolve().parent.parent / "gateway_auth" / "auth_server.py"
# The packages the server imports (and theirs), pinned and hashed as in the backends' lock.
PACKAGES: Final = ("cffi", "cryptography", "pycparser", "pyjwt")
BASE_IMAGE: Final = "python:3.12.14-slim-bookworm"
UID: Final = 10001
HEALTH_PROBE: Final = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=2)"


def local_issuer(gateway_port: int) -> str:
    """The local issuer's URL as a browser on the developer's machine reaches it (and as its
    tokens' `iss` says)."""
    return f"http://127.0.0.1:{gateway_port}{ISSUER_PATH}"


def service_settings(ecosystem: Ecosystem, gateway_port: int) -> dict[str, str]:
    """AUTH_* of a backend in compose: the local issuer, keys fetched inside the compose network."""
    assert ecosystem.auth is not None
    return {
        "AUTH_ISSUER": local_issuer(gateway_port),
        "AUTH_AUDIENCE": ecosystem.auth.audience,
        "AUTH_JWKS_URL": f"http://{SERVICE}:{PORT}/jwks",
    }


def frontend_settings(ecosystem: Ecosystem, frontend: Service, gateway_port: int) -> dict[str, str]:
    """AUTH_* of a frontend in compose: it logs in at the local issuer as the public client named
    after it; the issuer sends codes back to the page on the gateway (127.0.0.1, see auth_server)."""
    assert ecosystem.auth is not None
    return {
        "AUTH_ISSUER": local_issuer(gateway_port),
        "AUTH_CLIENT_ID": frontend.name,
        "AUTH_AUDIENCE": ecosystem.auth.audience,
    }


def compose_service(ecosystem: Ecosystem, gateway_port: int, build: dict[str, Any]) -> dict[str, Any]:
    """`build`: its context with the mirrors, as every built image of the compose file has them."""
    settings = service_settings(ecosystem, gateway_port)
    return {
        "build": build,
        "image": f"{ecosystem.registry}/{SERVICE}:local",
        "environment": {
            **settings,
            "AUTH_JWKS_URL": f"http://127.0.0.1:{PORT}/jwks",  # its own keys
            "AUTH_LISTEN": f"0.0.0.0:{PORT}",
            "DEV_ISSUER": "true",
        },
        "healthcheck": {
            # Shell form: Podman before 5.8 splits the exec form's arguments at spaces.
            "test": ["CMD-SHELL", f'python -c "{HEALTH_PROBE}"'],
            "interval": "10s",
            "timeout": "3s",
            "retries": 5,
        },
        "restart": "unless-stopped",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
    }


def templates_dir() -> Path:
    from scaffold.templates import builtin_templates_dir

    return builtin_templates_dir()


def requirements(lock: str) -> str:
    """The PACKAGES' entries of a uv lock (requirements.txt with hashes), without `# via` lines."""
    entries: dict[str, list[str]] = {}
    name = ""
    for line in lock.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name = re.split(r"[=<>;\s\[]", line, maxsplit=1)[0].lower()
            if name in PACKAGES:
                entries[name] = [line]
        elif name in entries and line.strip().startswith("--hash"):
            entries[name].append(line)
    missing = sorted(set(PACKAGES) - set(entries))
    if missing:
        raise RuntimeError(f"the backend template's lock has no {', '.join(missing)}")
    return "".join("\n".join(entries[n]) + "\n" for n in sorted(entries))


def dockerfile() -> str:
    """Built by compose with the mirrors of ecosystem.yaml, as the services' Dockerfiles are: base
    image from IMAGE_MIRROR, packages from PIP_INDEX_URL, the CA bundle as a build secret only while
    pip downloads; the code last, so that an edit rebuilds one layer."""
    return f"""# {GENERATED}
# The gateway's token check and compose's local issuer (auth_server.py); pinned packages with hashes.
ARG IMAGE_MIRROR=docker.io
FROM ${{IMAGE_MIRROR}}/library/{BASE_IMAGE}
ARG PIP_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY requirements.txt ./
# The lock is the packages' whole closure (--no-deps); pip's cache is a cache mount, never in a layer.
# A venv, as in the services' images: a base whose Python is the distribution's refuses packages
# installed beside its own (PEP 668).
# hadolint ignore=DL3042
RUN --mount=type=secret,id=ca-bundle,required=false \\
    --mount=type=cache,target=/root/.cache/pip \\
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \\
    && python -m venv /opt/venv \\
    && pip install --no-deps --require-hashes -r requirements.txt
USER {UID}:{UID}
EXPOSE {PORT}
# Shell form: Podman before 5.8 splits an exec-form argument at its spaces.
# hadolint ignore=DL3025
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \\
    CMD python -c "{HEALTH_PROBE}"
CMD ["python", "auth_server.py"]
COPY tokens.py auth_server.py ./
"""


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    if ecosystem.auth is None:
        return []
    shared = templates_dir()
    header = f"# {GENERATED}\n"
    lock = (shared / "backend" / "requirements.txt.jinja").read_text(encoding="utf-8")
    return [
        text_file(f"{DIRECTORY}/auth_server.py", header + SOURCE.read_text(encoding="utf-8")),
        text_file(
            f"{DIRECTORY}/tokens.py",
            header + (shared / "shared" / "python" / "tokens.py").read_text(encoding="utf-8"),
        ),
        text_file(f"{DIRECTORY}/requirements.txt", header + requirements(lock)),
        text_file(f"{DIRECTORY}/Dockerfile", dockerfile()),
    ]
