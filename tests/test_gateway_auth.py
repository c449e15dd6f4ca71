"""The compose gateway with tokens (issue 14, item 2): a real nginx with the derived configuration,
the derived verifier and local issuer (gateway/auth/auth_server.py, run with the Python packages
the backends' lock pins) and an echo server standing in for the backends, on loopback. A request
to a protected route without a token, or with a bad one, never reaches the backend; one with a
token from the local issuer's login (through the gateway) does; the API documents and probes stay
public; the PKCE code flow a browser app uses works and refuses a wrong verifier; no token lands
in a log.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from scaffold.model import Auth, Ecosystem, Mirrors
from scaffold.wiring import derive, gateway_auth
from tests import validators
from tests.dockerfiles import parse
from tests.helpers import scaffold
from tests.servers import free_port, wait_for_port
from tests.service_venv import service_venv
from tests.test_check import check, checkov_env
from tests.test_trace_e2e import gateway_conf
from tests.test_wiring import _nginx, backend, frontend, make_ecosystem, render_backend, write_files

AUTH = Auth(
    issuer="https://sso.example.com/realms/shop",
    audience="shop-api",
    jwks_url="https://sso.example.com/realms/shop/protocol/openid-connect/certs",
)


@pytest.fixture(scope="module")
def eco() -> Ecosystem:
    return dataclasses.replace(make_ecosystem((backend("orders", 8001), backend("inventory", 8002))), auth=AUTH)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, eco: Ecosystem) -> Path:
    root = tmp_path_factory.mktemp("gateway-auth")
    for service in eco.services:
        render_backend(root / service.path, service, eco)
    write_files(derive(eco), root)
    return root


SHOP = (Path(__file__).resolve().parent.parent / "examples" / "shop" / "ecosystem.yaml").read_text()


def with_auth(auth: str, route: str = "/api/orders") -> str:
    text = SHOP.replace("route: /api/orders", f"route: {route}")
    return text + auth


GOOD_AUTH = (
    "auth:\n  issuer: https://sso.example.com/realms/shop\n  audience: shop-api\n"
    "  jwks_url: https://sso.example.com/realms/shop/protocol/openid-connect/certs\n"
)


def test_an_issuer_in_ecosystem_yaml_is_read_into_the_model() -> None:
    from scaffold.ecosystem_file import parse, problems

    assert problems(with_auth(GOOD_AUTH)) == []
    assert parse(with_auth(GOOD_AUTH)).model.auth == AUTH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issuer", "http://sso.example.com"),  # not https
        ("issuer", "https://sso.example.com/a b"),
        ("jwks_url", "https://sso.example.com/certs?x=1"),
        ("jwks_url", "https://sso.example.com/${HOME}"),  # compose interpolation
        ("issuer", "https://sso.example.com/'x"),  # quotes of nginx, shell, YAML
        ("audience", "shop api"),
        ("audience", 'shop";'),
    ],
)
def test_an_issuer_that_cannot_be_written_safely_is_refused(field: str, value: str) -> None:
    from scaffold.ecosystem_file import problems

    auth = dict(yaml.safe_load(GOOD_AUTH)["auth"], **{field: value})
    found = problems(with_auth(yaml.safe_dump({"auth": auth})))
    assert [p.message for p in found if f"auth.{field}" in p.message or field in p.message], found


@pytest.mark.parametrize("route", ["/auth", "/api", "/api/docs"])
def test_a_route_over_the_gateways_own_paths_is_refused(route: str) -> None:
    from scaffold.ecosystem_file import problems

    found = problems(with_auth(GOOD_AUTH, route))
    assert any("would hide the gateway's own" in p.message for p in found), found


def test_without_an_issuer_there_is_no_token_check(tmp_path: Path) -> None:
    eco = make_ecosystem((backend("orders", 8001),))
    paths = {f.path for f in derive(eco)}
    assert not any(p.startswith(gateway_auth.DIRECTORY) for p in paths)
    write_files(derive(eco), tmp_path)
    assert "auth_request" not in (tmp_path / "gateway" / "nginx.conf").read_text()
    compose = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    assert gateway_auth.SERVICE not in compose["services"]
    assert "AUTH_ISSUER" not in compose["services"]["orders"]["environment"]


def test_compose_runs_the_local_issuer_and_gives_the_backends_its_settings(project: Path, eco: Ecosystem) -> None:
    services = validators.compose_config(project / "compose.yaml")["services"]
    auth = services[gateway_auth.SERVICE]
    assert services["gateway"]["depends_on"][gateway_auth.SERVICE]["condition"] == "service_healthy"
    assert auth["environment"]["DEV_ISSUER"] == "true"
    for name in ("orders", "inventory"):
        env = services[name]["environment"]
        assert env["AUTH_ISSUER"] == auth["environment"]["AUTH_ISSUER"] == "http://127.0.0.1:8080/auth"
        assert env["AUTH_AUDIENCE"] == AUTH.audience
        host = urllib.parse.urlsplit(env["AUTH_JWKS_URL"]).hostname
        assert host == gateway_auth.SERVICE
    assert "ports" not in auth  # reached through the gateway only


def test_the_frontend_logs_in_at_the_issuer_whose_tokens_the_gateway_checks(tmp_path: Path) -> None:
    eco = dataclasses.replace(make_ecosystem((backend("orders", 8001), frontend("web", 8004))), auth=AUTH)
    write_files(derive(eco), tmp_path)
    services = yaml.safe_load((tmp_path / "compose.yaml").read_text())["services"]
    web, orders = services["web"]["environment"], services["orders"]["environment"]
    # compose: the local issuer, as the page on the gateway (127.0.0.1) reaches it
    assert web["AUTH_ISSUER"] == orders["AUTH_ISSUER"] == gateway_auth.local_issuer(8080)
    assert (web["AUTH_CLIENT_ID"], web["AUTH_AUDIENCE"]) == ("web", AUTH.audience)
    # Kubernetes: the umbrella gives the frontend's chart the issuer of ecosystem.yaml
    values = yaml.safe_load((tmp_path / "deploy" / "chart" / "values.yaml").read_text())
    assert values["web"]["config"]["auth"] == {"issuer": AUTH.issuer, "audience": AUTH.audience}
    assert values["orders"]["auth"]["issuer"] == AUTH.issuer

    plain = make_ecosystem((backend("orders", 8001), frontend("web", 8004)))
    write_files(derive(plain), tmp_path / "plain")
    services = yaml.safe_load((tmp_path / "plain" / "compose.yaml").read_text())["services"]
    assert not [name for name in services["web"]["environment"] if name.startswith("AUTH_")]
    values = yaml.safe_load((tmp_path / "plain" / "deploy" / "chart" / "values.yaml").read_text())
    assert "config" not in values["web"]


def test_the_verifier_image_passes_hadolint_and_checkov(project: Path) -> None:
    dockerfile = project / gateway_auth.DIRECTORY / "Dockerfile"
    validators.hadolint(dockerfile)
    validators.checkov(dockerfile, "dockerfile")


def test_the_verifier_installs_what_the_backends_lock_pins(project: Path) -> None:
    lock = (gateway_auth.templates_dir() / "backend" / "requirements.txt.jinja").read_text()
    pins = re.findall(
        r"^([a-z0-9-]+)==(\S+)", (project / gateway_auth.DIRECTORY / "requirements.txt").read_text(), re.M
    )
    assert {name for name, _ in pins} == set(gateway_auth.PACKAGES)
    for name, version in pins:
        assert re.search(rf"^{name}=={re.escape(version)}\b", lock, re.M), name
    assert (
        (project / gateway_auth.DIRECTORY / "tokens.py")
        .read_text()
        .endswith((gateway_auth.templates_dir() / "shared" / "python" / "tokens.py").read_text())
    )


def test_the_verifier_image_is_built_as_the_services_are_with_the_mirrors_and_a_shell_health_check(
    tmp_path: Path, eco: Ecosystem
) -> None:
    """Its base image is the backends' (one Python, through the image mirror), compose passes it the
    mirrors and the CA bundle the services get, and its health checks are in shell form (Podman
    before 5.8 splits exec-form arguments, and the gateway waits for this one to be healthy)."""
    mirrored = dataclasses.replace(
        eco,
        mirrors=Mirrors(images="mirror.example.com/hub", pypi="https://pypi.example.com/simple/", ca_bundle="ca.pem"),
    )
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    for service in mirrored.services:
        render_backend(tmp_path / service.path, service, mirrored)
    write_files(derive(mirrored), tmp_path)
    services = validators.compose_config(tmp_path / "compose.yaml")["services"]
    verifier, orders = services[gateway_auth.SERVICE], services["orders"]
    assert verifier["build"]["args"] == orders["build"]["args"] != {}
    assert [s["source"] for s in verifier["build"]["secrets"]] == [s["source"] for s in orders["build"]["secrets"]]
    assert verifier["healthcheck"]["test"][0] == "CMD-SHELL"

    verifier_stages = parse(tmp_path / gateway_auth.DIRECTORY / "Dockerfile")
    backend_stages = parse(tmp_path / "services" / "orders" / "Dockerfile")
    assert verifier_stages[0].base == backend_stages[0].base
    assert verifier_stages[0].base.startswith("${IMAGE_MIRROR}/")
    health = [i for i in verifier_stages[0].instructions if i.keyword == "HEALTHCHECK"]
    assert health and not health[0].arguments.split("CMD", 1)[1].strip().startswith("[")


@pytest.fixture(scope="module")
def with_issuer(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> Path:
    root = tmp_path_factory.mktemp("check") / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    with (root / "ecosystem.yaml").open("a") as ecosystem_yaml:
        ecosystem_yaml.write("\n" + GOOD_AUTH)
    scaffold("sync", cwd=root)
    return root


def test_scaffold_check_lints_and_scans_the_verifier_image(with_issuer: Path) -> None:
    code, report, _ = check(with_issuer, env=checkov_env())
    runs = {(r["subject"], r["check"]): r for r in report["runs"]}
    assert code == 0, json.dumps([r for r in report["runs"] if r["status"] != "passed"], indent=1)
    assert runs[("ecosystem", "dockerfile")]["status"] == runs[("ecosystem", "checkov")]["status"] == "passed"
    dockerfile = with_issuer / gateway_auth.DIRECTORY / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER 10001:10001\n", "RUN apt-get install -y curl\n"))
    code, report, _ = check(with_issuer, "--no-cache", env=checkov_env())
    found = {(f["file"], f.get("rule")) for r in report["runs"] if r["subject"] == "ecosystem" for f in r["findings"]}
    assert code != 0
    assert (f"{gateway_auth.DIRECTORY}/Dockerfile", "DL3008") in found  # hadolint: unpinned apt package
    assert (f"{gateway_auth.DIRECTORY}/Dockerfile", "CKV_DOCKER_3") in found  # checkov: no USER


# --- Kubernetes: the umbrella chart ------------------------------------------------------------


def umbrella(project: Path, eco: Ecosystem, env: str) -> list[dict[str, Any]]:
    values = yaml.safe_load((project / "deploy" / "chart" / f"values-{env}.yaml").read_text())
    return validators.helm_render(project / "deploy" / "chart", values, name=eco.name, namespace="shop")


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def route_paths(route: dict[str, Any]) -> set[str]:
    return {m["path"]["value"] for rule in route["spec"]["rules"] for m in rule["matches"]}


@pytest.mark.parametrize("env", ["test", "production"])
def test_the_kubernetes_gateway_checks_tokens_on_the_api_routes_only(
    project: Path, eco: Ecosystem, env: str, tmp_path: Path
) -> None:
    docs = umbrella(project, eco, env)
    routes, policies = by_kind(docs, "HTTPRoute"), by_kind(docs, "SecurityPolicy")
    for name in ("orders", "inventory"):
        api, public = routes[f"shop-{name}"], routes[f"shop-{name}-public"]
        assert route_paths(api) == {f"/api/{name}"}
        assert route_paths(public) == {
            f"/api/{name}{p}" for p in ("/docs", "/redoc", "/openapi.json", "/livez", "/readyz")
        }
        # The API route takes tokens; the document and probes do not (no policy targets their route).
        (policy,) = [
            p for p in policies.values() if {t["name"] for t in p["spec"]["targetRefs"]} == {api["metadata"]["name"]}
        ]
        (provider,) = policy["spec"]["jwt"]["providers"]
        assert (provider["issuer"], provider["audiences"], provider["remoteJWKS"]["uri"]) == (
            AUTH.issuer,
            [AUTH.audience],
            AUTH.jwks_url,
        )
        targeted = {t["name"] for p in policies.values() for t in p["spec"]["targetRefs"]}
        assert public["metadata"]["name"] not in targeted
        # In production the internals have no backend (the Gateway answers them itself).
        backends = [rule.get("backendRefs") for rule in public["spec"]["rules"]]
        assert all(backends) if env == "test" else not any(backends)
        # The backend verifies too, behind its prefix, and may fetch the issuer's keys.
        deployment = by_kind(docs, "Deployment")[f"shop-{name}"]
        env_vars = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env_vars["AUTH_ISSUER"] == AUTH.issuer and env_vars["AUTH_AUDIENCE"] == AUTH.audience
        assert env_vars["AUTH_JWKS_URL"] == AUTH.jwks_url and env_vars["ROOT_PATH"] == f"/api/{name}"
        egress = by_kind(docs, "NetworkPolicy")[f"shop-{name}"]["spec"]["egress"]
        assert any(p.get("port") == 443 for rule in egress for p in rule.get("ports", []))
    validators.kubernetes_validate(docs)
    validators.checkov(validators.write_manifests(docs, tmp_path / "rendered"), "kubernetes")


def test_the_umbrella_with_an_issuer_passes_helm_lint(project: Path) -> None:
    for env in ("test", "production"):
        values = yaml.safe_load((project / "deploy" / "chart" / f"values-{env}.yaml").read_text())
        validators.helm_lint(project / "deploy" / "chart", values)


# --- running: nginx, the verifier and an echo backend on loopback ---------------------------------


@pytest.fixture(scope="module")
def python_with_jwt(tmp_path_factory: pytest.TempPathFactory, eco: Ecosystem) -> Path:
    """A backend's environment: the packages (and versions) the verifier's image installs."""
    root = tmp_path_factory.mktemp("backend")
    render_backend(root / "orders", eco.services[0], eco)
    return service_venv(root / "orders") / "bin" / "python"


class Echo(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def running(process_args: list[str], cwd: Path, env: dict[str, str], log: Path, port: int) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(process_args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=20)


@dataclasses.dataclass
class Gateway:
    url: str
    logs: list[Path]
    seen: list[dict[str, Any]]


@pytest.fixture(scope="module")
def gateway(
    project: Path, eco: Ecosystem, python_with_jwt: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    scratch = tmp_path_factory.mktemp("running")
    (scratch / "logs").mkdir()
    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    echo_address = f"127.0.0.1:{echo.server_address[1]}"
    auth_port, gateway_port = free_port(), free_port()
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    env = {
        **compose["services"][gateway_auth.SERVICE]["environment"],
        "AUTH_JWKS_URL": f"http://127.0.0.1:{auth_port}/jwks",
        "AUTH_LISTEN": f"127.0.0.1:{auth_port}",
        "PATH": os.environ["PATH"],
    }
    conf = gateway_conf(
        project,
        scratch,
        {
            "orders:8000": echo_address,
            "inventory:8000": echo_address,
            f"{gateway_auth.SERVICE}:{gateway_auth.PORT}": f"127.0.0.1:{auth_port}",
        },
        gateway_port,
    )
    auth_log, nginx_log = scratch / "auth.log", scratch / "nginx.log"
    nginx = [_nginx(), "-e", "stderr", "-p", str(scratch), "-c", str(conf), "-g", "daemon off;"]
    with (
        running([str(python_with_jwt), "auth_server.py"], project / gateway_auth.DIRECTORY, env, auth_log, auth_port),
        running(nginx, scratch, {"PATH": "/usr/sbin:/usr/bin:/bin"}, nginx_log, gateway_port),
    ):
        yield Gateway(f"http://127.0.0.1:{gateway_port}", [auth_log, nginx_log], Echo.seen)
    echo.shutdown()
    echo.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def call(
    url: str, headers: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def login(gateway: Gateway, user: str = "alice") -> str:
    status, _, page = call(f"{gateway.url}/auth/login", form={"user": user})
    assert status == 200, page
    match = re.search(r"<textarea id=token[^>]*>([^<]+)</textarea>", page)
    assert match, page
    return html.unescape(match.group(1))


@pytest.mark.e2e
def test_a_protected_route_needs_a_valid_token(gateway: Gateway) -> None:
    before = len(gateway.seen)
    status, headers, body = call(f"{gateway.url}/api/orders/items")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["Content-Type"] == "application/problem+json" and json.loads(body)["status"] == 401
    token = login(gateway)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    status, headers, _ = call(f"{gateway.url}/api/orders/items", {"Authorization": f"Bearer {forged}"})
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert len(gateway.seen) == before, "a refused request reached the backend"

    status, _, body = call(f"{gateway.url}/api/orders/items?limit=2", {"Authorization": f"Bearer {token}"})
    assert status == 200 and json.loads(body) == {"path": "/items?limit=2"}
    # The backend gets the token too: it verifies it again (defence in depth).
    assert gateway.seen[-1] == {"path": "/items?limit=2", "authorization": f"Bearer {token}"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "path",
    [
        "/api/orders/docs",
        "/api/orders/docs/assets/swagger-ui-bundle.js",
        "/api/orders/docs/oauth2-redirect",
        "/api/orders/openapi.json",
        "/api/inventory/livez",
    ],
)
def test_api_documents_and_probes_stay_public(gateway: Gateway, path: str) -> None:
    status, _, body = call(f"{gateway.url}{path}")
    assert status == 200 and json.loads(body)["path"] == "/" + path.split("/", 3)[3]  # prefix stripped


@pytest.mark.e2e
def test_a_browser_app_logs_in_with_the_code_flow_and_pkce(gateway: Gateway) -> None:
    _, headers, body = call(f"{gateway.url}/auth/.well-known/openid-configuration")
    discovery = json.loads(body)
    assert discovery["issuer"] == "http://127.0.0.1:8080/auth"
    # a page on localhost reads the issuer on 127.0.0.1 (another origin): the documents allow it
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert call(f"{gateway.url}/auth/jwks")[1]["Access-Control-Allow-Origin"] == "*"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:8080/"
    params = {
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": redirect,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    status, _, form = call(f"{gateway.url}/auth/authorize?{urllib.parse.urlencode(params)}")
    assert status == 200 and 'name="code_challenge"' in form
    status, headers, _ = call(f"{gateway.url}/auth/authorize", form={**params, "user": "bob"})
    assert status == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))
    assert query["state"] == "s1"
    exchange = {"grant_type": "authorization_code", "client_id": "web", "redirect_uri": redirect, "code": query["code"]}
    wrong = call(f"{gateway.url}/auth/token", form={**exchange, "code_verifier": secrets.token_urlsafe(48)})
    assert wrong[0] == 400  # and the code is spent
    status, headers, _ = call(f"{gateway.url}/auth/authorize", form={**params, "user": "bob"})
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))["code"]
    status, _, body = call(f"{gateway.url}/auth/token", form={**exchange, "code": code, "code_verifier": verifier})
    assert status == 200, body
    token = json.loads(body)["access_token"]
    assert call(f"{gateway.url}/api/inventory/items", {"Authorization": f"Bearer {token}"})[0] == 200
    outside = {**params, "redirect_uri": "https://attacker.example/callback"}
    assert call(f"{gateway.url}/auth/authorize?{urllib.parse.urlencode(outside)}")[0] == 400


@pytest.mark.e2e
def test_no_token_is_logged(gateway: Gateway) -> None:
    token = login(gateway, "carol")
    assert call(f"{gateway.url}/api/orders/items", {"Authorization": f"Bearer {token}"})[0] == 200
    assert call(f"{gateway.url}/api/orders/items", {"Authorization": f"Bearer {token}x"})[0] == 401
    for log in gateway.logs:
        text = log.read_text()
        assert text.strip(), f"{log} is empty: nothing was logged at all"
        assert token.split(".")[2] not in text, f"{log.name} holds a token"
