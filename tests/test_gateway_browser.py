"""The gateway with tokens and the one API document, in a real browser (issue 14, items 2 and 3).

An ecosystem made by the real CLI (`init`, `new backend orders`, `new backend inventory`, `new
frontend web` calling orders, `auth:` added to ecosystem.yaml, `sync`) runs from its generated
files on loopback: PostgreSQL started for the test, both backends under uvicorn with the settings
compose gives them (AUTH_*, ROOT_PATH), the derived verifier and local issuer
(gateway/auth/auth_server.py), the frontend's production build behind its own nginx and
entrypoint with compose's settings (AUTH_*), and nginx with the derived gateway/nginx.conf,
compose's service addresses replaced by loopback ports (and the local issuer's address by the
gateway's port). Headless Chromium (tests/browser/api_gateway.mjs) logs in through the generated
frontend (the code flow with PKCE at the local issuer), which lists and creates items through the
gateway with its token; a token the API refuses sends the page back to the issuer; it logs out.
Then it logs in on the local issuer's own page, calls a backend through the gateway without the
token (401, from the gateway: the backend never sees it) and with it (200), opens /api/docs/ (both
backends' paths in one document), authorizes with the token in Swagger UI and tries a call from it
(200, the token sent); opens each backend's own /docs through the gateway and sees its operations.
No request of the browser leaves the gateway (Swagger UI is served by the ecosystem, no CDN). No log
holds a token.
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
from tests.test_frontend_service import CHROMIUM, NGINX, nginx_serving, node_modules, npm_env
from tests.test_trace_e2e import gateway_conf, process, wait_for

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parent / "browser" / "api_gateway.mjs"
BACKENDS = ("orders", "inventory")
# The gateway's name in step 4 (Chromium resolves it to 127.0.0.1), as a deployed gateway's: Swagger
# UI treats documents on loopback addresses apart (it never offers them to its online validator).
DOCS_HOST = "gateway.shop.test"
FRONTEND = "web"
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
    scaffold("new", "frontend", FRONTEND, "--defaults", "--data", f"api_service={BACKENDS[0]}", cwd=root)
    with (root / "ecosystem.yaml").open("a") as ecosystem_yaml:
        ecosystem_yaml.write(AUTH)
    scaffold("sync", cwd=root)
    return root


@pytest.fixture(scope="module")
def frontend(ecosystem: Path) -> Path:
    """The generated frontend, built for production (its node_modules hold playwright-core too)."""
    project = ecosystem / "services" / FRONTEND
    node_modules(project)
    build = subprocess.run(
        ["npm", "run", "build"], cwd=project, env=npm_env(), capture_output=True, text=True, timeout=300
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return project


def run_browser(project: Path, **env: str) -> dict[str, Any]:
    script = project / "api_gateway.mjs"
    shutil.copy(SCRIPT, script)
    proc = subprocess.run(
        ["node", str(script)],
        cwd=project,
        env=npm_env(CHROMIUM_PATH=CHROMIUM, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"the browser script failed:\n{proc.stdout}{proc.stderr[-3000:]}"
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary


@contextlib.contextmanager
def backends(
    ecosystem: Path, compose: dict[str, Any], scratch: Path, issuer: str, jwks: str
) -> Iterator[dict[str, int]]:
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
                AUTH_ISSUER=issuer,
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


def test_log_in_through_the_frontend_call_through_the_gateway_and_try_a_call_from_the_api_document(
    ecosystem: Path, frontend: Path, tmp_path: Path
) -> None:
    compose = yaml.safe_load((ecosystem / "compose.yaml").read_text())
    auth_port, gateway_port = free_port(), free_port()
    # The local issuer as the browser reaches it: compose publishes the gateway on 8080, this test on a free port.
    issuer = gateway_auth.local_issuer(gateway_port)
    assert compose["services"][gateway_auth.SERVICE]["environment"]["AUTH_ISSUER"] == gateway_auth.local_issuer(8080)
    jwks = f"http://127.0.0.1:{auth_port}/jwks"
    issuer_env = {
        **compose["services"][gateway_auth.SERVICE]["environment"],
        "AUTH_ISSUER": issuer,
        "AUTH_JWKS_URL": jwks,
        "AUTH_LISTEN": f"127.0.0.1:{auth_port}",
    }
    page_env = {
        **compose["services"][FRONTEND]["environment"],
        "AUTH_ISSUER": issuer,
        "OTEL_TRACES_EXPORTER": "none",  # no collector here (test_trace_e2e follows the traces)
    }
    assert page_env["AUTH_CLIENT_ID"] == FRONTEND
    with backends(ecosystem, compose, tmp_path, issuer, jwks) as ports, contextlib.ExitStack() as stack:
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
        web = stack.enter_context(nginx_serving(frontend, frontend / "dist", page_env))
        addresses = {f"{name}:8000": f"127.0.0.1:{port}" for name, port in ports.items()}
        addresses[f"{gateway_auth.SERVICE}:{gateway_auth.PORT}"] = f"127.0.0.1:{auth_port}"
        addresses[f"{FRONTEND}:8080"] = f"127.0.0.1:{web.port}"
        addresses["otel-collector:4318"] = f"127.0.0.1:{free_port()}"  # nothing listens: no trace is sent
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

        summary = run_browser(
            frontend,
            GATEWAY_URL=f"http://127.0.0.1:{gateway_port}",
            API_PATH="/api/orders/items",
            DOCS_PATHS=",".join(f"/api/{name}/docs" for name in BACKENDS),
            DOCS_HOST=DOCS_HOST,
        )
        # Each backend's own document names its prefix as its server (so its page's calls go through the gateway).
        for name in BACKENDS:
            own = f"http://127.0.0.1:{gateway_port}/api/{name}/openapi.json"
            assert json.loads(urllib.request.urlopen(own, timeout=10).read())["servers"] == [{"url": f"/api/{name}"}]

        web_log = web.log.read_text()

    assert summary["problems"] == [], summary["problems"]
    # The frontend logged in at the local issuer: the code flow with PKCE, as the client of compose.
    page = summary["frontend"]
    assert page["authorizeQuery"]["client_id"] == FRONTEND
    assert page["authorizeQuery"]["redirect_uri"] == f"http://127.0.0.1:{gateway_port}/"
    assert page["authorizeQuery"]["code_challenge_method"] == "S256"
    assert page["account"] == "Logged in as alice Log out"
    assert "code=" not in page["addressAfterLogin"], "the spent code leaves the address bar"
    # It listed and created items through the gateway with the token, and showed the result.
    assert page["items"] == ["made-in-the-browser"]
    assert page["loggedInAfterReload"] is True
    calls = page["apiCalls"]
    assert [c["method"] for c in calls] == ["GET", "POST", "GET", "GET", "GET"], calls
    assert all(c["authorization"].startswith("Bearer ey") for i, c in enumerate(calls) if i != 3), calls
    assert calls[3]["authorization"] == "Bearer not.a.token"
    # The refused token got 401, and the page logged in again (as bob) instead of showing an error.
    assert page["apiAnswers"] == [200, 201, 200, 401, 200], page["apiAnswers"]
    assert page["accountAfter401"] == "Logged in as bob Log out"
    assert page["afterLogout"] == "You are logged out."
    assert page["storedAfterLogout"] is None
    # Refused: the refused token, the call without a token, and nothing else (and a favicon).
    assert [tuple(r) for r in summary["refused"] if r[1] != "/favicon.ico"] == [(401, "/api/orders/items")] * 2
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
    # Each backend's own page, through the gateway at a name that is not loopback's, shows its
    # operations (Swagger UI ran) and asked nothing of any origin but the gateway's: no CDN, no
    # favicon elsewhere.
    gateway_origin, docs_origin = f"http://127.0.0.1:{gateway_port}", f"http://{DOCS_HOST}:{gateway_port}"
    for name in BACKENDS:
        shown = summary["backendDocs"][f"/api/{name}/docs"]
        assert shown["title"].startswith(name), shown
        assert {"GET /items", "POST /items", "GET /items/{item_id}", "GET /livez"} <= set(shown["operations"])
        assert summary["origins"][f"/api/{name}/docs"] == [docs_origin]
    assert summary["origins"]["pages"] == [gateway_origin], "the pages asked another origin"
    for log in (tmp_path / "gateway.log", auth_log, tmp_path / "orders.log"):
        assert "eyJ" not in log.read_text(), f"{log.name} holds a token"
    assert "eyJ" not in web_log, "the frontend's server saw a token"
