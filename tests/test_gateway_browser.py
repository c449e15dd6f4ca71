"""The gateway with tokens and the one API document, in a real browser (issue 14, items 2 and 3).

An ecosystem made by the real CLI (`init`, `new backend orders`, `new backend inventory`, `auth:`
added to ecosystem.yaml, `sync`) runs from its generated files on loopback: PostgreSQL started for
the test, both backends under uvicorn with the settings compose gives them (AUTH_*, ROOT_PATH),
the derived verifier and local issuer (gateway/auth/auth_server.py), and nginx with the derived
gateway/nginx.conf, compose's service addresses replaced by loopback ports. Headless Chromium
(tests/browser/api_gateway.mjs) logs in through the local issuer's page, calls a backend through
the gateway without the token (401, from the gateway: the backend never sees it) and with it
(200), opens /api/docs/ (both backends' paths in one document), authorizes with the token in
Swagger UI and tries a call from it (200, the token sent). No log holds the token.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.wiring import api_docs, gateway_auth
from scaffold.wiring.gateway import UNAUTHORIZED
from tests.helpers import scaffold
from tests.servers import free_port, postgres_server
from tests.service_venv import clean_env, service_venv
from tests.test_frontend_service import CHROMIUM, NGINX, node_modules, npm_env, render
from tests.test_trace_e2e import gateway_conf, process, wait_for

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parent / "browser" / "api_gateway.mjs"
BACKENDS = ("orders", "inventory")
AUTH = (
    "\nauth:\n  issuer: https://sso.example.com/realms/shop\n  audience: shop-api\n"
    "  jwks_url: https://sso.example.com/realms/shop/protocol/openid-connect/certs\n"
)


@pytest.fixture(scope="module")
def ecosystem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("browser")
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    for name in BACKENDS:
        scaffold("new", "backend", name, "--defaults", cwd=root)
    with (root / "ecosystem.yaml").open("a") as ecosystem_yaml:
        ecosystem_yaml.write(AUTH)
    scaffold("sync", cwd=root)
    return root


@pytest.fixture(scope="module")
def playwright(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose node_modules hold playwright-core: a frontend's, as its smoke test uses."""
    frontend = render(tmp_path_factory.mktemp("node") / "web", "web", "orders")
    node_modules(frontend)
    return frontend


def run_browser(playwright: Path, **env: str) -> dict[str, Any]:
    script = playwright / "api_gateway.mjs"
    shutil.copy(SCRIPT, script)
    proc = subprocess.run(
        ["node", str(script)],
        cwd=playwright,
        env=npm_env(CHROMIUM_PATH=CHROMIUM, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"the browser script failed:\n{proc.stdout}{proc.stderr[-3000:]}"
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary


@contextlib.contextmanager
def backends(ecosystem: Path, compose: dict[str, Any], scratch: Path, jwks: str) -> Iterator[dict[str, int]]:
    """Each backend migrated and served by uvicorn with compose's settings; yields their ports."""
    ports: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for name in BACKENDS:
            project = ecosystem / "services" / name
            venv = service_venv(project)
            database = stack.enter_context(postgres_server(database=name))
            settings = compose["services"][name]["environment"]
            env = clean_env(
                venv,
                DATABASE_URL=database,
                AUTH_ISSUER=settings["AUTH_ISSUER"],
                AUTH_AUDIENCE=settings["AUTH_AUDIENCE"],
                AUTH_JWKS_URL=jwks,
                ROOT_PATH=settings["ROOT_PATH"],
                METRICS_PORT=str(free_port()),
                PYTHONPATH="src",
            )
            migrate = subprocess.run(
                [str(venv / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=env, capture_output=True, text=True
            )
            assert migrate.returncode == 0, migrate.stdout + migrate.stderr
            ports[name] = free_port()
            log = scratch / f"{name}.log"
            uvicorn = [str(venv / "bin" / "uvicorn"), "--factory", f"{name}.app:create_app"]
            api = stack.enter_context(
                process([*uvicorn, "--host", "127.0.0.1", "--port", str(ports[name])], cwd=project, env=env, log=log)
            )
            wait_for(f"http://127.0.0.1:{ports[name]}/readyz", api, log)
        yield ports


@contextlib.contextmanager
def readable_copy(directory: Path) -> Iterator[Path]:
    """A copy nginx's workers (another user) can read: pytest's directories are private."""
    scratch = Path(tempfile.mkdtemp(prefix="api-docs-"))
    try:
        scratch.chmod(0o755)
        copy = scratch / directory.name
        shutil.copytree(directory, copy)
        for path in (copy, *copy.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield copy
    finally:
        shutil.rmtree(scratch)


def test_log_in_call_through_the_gateway_and_try_a_call_from_the_api_document(
    ecosystem: Path, playwright: Path, tmp_path: Path
) -> None:
    compose = yaml.safe_load((ecosystem / "compose.yaml").read_text())
    auth_port, gateway_port = free_port(), free_port()
    jwks = f"http://127.0.0.1:{auth_port}/jwks"
    issuer_env = {
        **compose["services"][gateway_auth.SERVICE]["environment"],
        "AUTH_JWKS_URL": jwks,
        "AUTH_LISTEN": f"127.0.0.1:{auth_port}",
    }
    with backends(ecosystem, compose, tmp_path, jwks) as ports, contextlib.ExitStack() as stack:
        venv = service_venv(ecosystem / "services" / "orders")  # the verifier's packages are the backends'
        auth_log = tmp_path / "auth.log"
        auth = stack.enter_context(
            process(
                [str(venv / "bin" / "python"), "auth_server.py"],
                cwd=ecosystem / gateway_auth.DIRECTORY,
                env=clean_env(venv, **issuer_env),
                log=auth_log,
            )
        )
        wait_for(f"http://127.0.0.1:{auth_port}/healthz", auth, auth_log)
        addresses = {f"{name}:8000": f"127.0.0.1:{port}" for name, port in ports.items()}
        addresses[f"{gateway_auth.SERVICE}:{gateway_auth.PORT}"] = f"127.0.0.1:{auth_port}"
        conf = gateway_conf(ecosystem, tmp_path, addresses, gateway_port)
        pages = stack.enter_context(readable_copy(ecosystem / api_docs.DIRECTORY))
        conf.write_text(conf.read_text().replace(api_docs.MOUNT, str(pages)))
        (tmp_path / "logs").mkdir()
        gateway_log = tmp_path / "gateway.log"
        nginx = [NGINX, "-e", "stderr", "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"]
        gateway = stack.enter_context(
            process(nginx, cwd=tmp_path, env={"PATH": "/usr/sbin:/usr/bin:/bin"}, log=gateway_log)
        )
        wait_for(f"http://127.0.0.1:{gateway_port}/healthz", gateway, gateway_log)

        summary = run_browser(playwright, GATEWAY_URL=f"http://127.0.0.1:{gateway_port}", API_PATH="/api/orders/items")
        # Each backend's own /docs behind its prefix asks for its document there, which names the prefix.
        for name in BACKENDS:
            page = urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/api/{name}/docs", timeout=10).read()
            assert f"'/api/{name}/openapi.json'".encode() in page
            own = f"http://127.0.0.1:{gateway_port}/api/{name}/openapi.json"
            assert json.loads(urllib.request.urlopen(own, timeout=10).read())["servers"] == [{"url": f"/api/{name}"}]

    assert summary["problems"] == [], summary["problems"]
    # Refused: the call without a token, and nothing else (a browser asks every site for a favicon).
    assert [tuple(r) for r in summary["refused"] if r[1] != "/favicon.ico"] == [(401, "/api/orders/items")]
    assert summary["tokenParts"] == 3
    calls = summary["calls"]
    assert (calls["without"], calls["withToken"]) == (401, 200), calls
    assert calls["challenge"].startswith("Bearer") and isinstance(calls["body"], list)
    assert calls["withoutBody"] == json.loads(UNAUTHORIZED)  # the gateway's answer: the backend never saw it
    # One document: both backends' paths, each under its route, each backend a tag.
    assert {"/api/orders/items", "/api/inventory/items", "/api/orders/items/{item_id}"} <= set(summary["documentPaths"])
    assert summary["documentTags"] == ["inventory", "orders"]
    assert summary["tried"] == {"url": "/api/orders/items", "status": 200, "sentToken": True}
    assert summary["shownStatus"] == "200"
    for log in (tmp_path / "gateway.log", auth_log, tmp_path / "orders.log"):
        assert "eyJ" not in log.read_text(), f"{log.name} holds a token"
