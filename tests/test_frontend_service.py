"""The service of the `frontend` template, rendered by Copier and checked as its own CI would:
compose config, hadolint, checkov, shellcheck, its pins and lockfile, the container entrypoint
that writes the run-time configuration, and the runtime image's nginx configuration served by a
real nginx as UID 10001. End to end (`e2e`): the shipped OpenAPI document against the backend
template's real FastAPI app; `npm ci` (cached), the project's own check script (tsc, ESLint,
Prettier, generated API types, vitest, licences), the production build, the Chromium smoke test,
and the built page served by that nginx behind a gateway stand-in, in headless Chromium.

`python -m tests.test_frontend_service --write-openapi` rewrites the shipped OpenAPI document
from the backend template (then run `npm run generate:api` in a rendered frontend and copy
src/api/schema.d.ts back into the template)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import service_checks, validators
from tests.servers import free_port
from tests.service_checks import ECOSYSTEM, published_ports, render_kind, watch_actions
from tests.service_venv import cache_root, clean_env, service_venv

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "templates" / "frontend"
OPENAPI_TEMPLATE = TEMPLATE / "openapi" / "{{ api_service }}.json.jinja"
REGISTRY = "registry.example.com/shop"
HOST_PORT = 3000
# (name, api_service): a plain pair and one with dashes, the two ways names reach code and paths.
SERVICES = (("storefront", "orders"), ("web-shop", "order-history"))
E2E_NAME, E2E_API = "storefront", "orders"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
NGINX = os.environ.get("SCAFFOLD_NGINX", "/usr/sbin/nginx")
APP_UID = 10001
NPM_TIMEOUT_S = 900
EXACT_VERSION = re.compile(r"\d+\.\d+\.\d+")


def render(destination: Path, name: str, api_service: str) -> Path:
    return render_kind(destination, "frontend", name, registry=REGISTRY, port=HOST_PORT, api_service=api_service)


@pytest.fixture(scope="module", params=SERVICES, ids=[name for name, _ in SERVICES])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    name, api_service = request.param
    return render(tmp_path_factory.mktemp("frontend") / name, name, api_service)


def answers(project: Path) -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


def runtime_variables(project: Path) -> list[str]:
    """RUNTIME_VARIABLES of src/runtime-env.ts: what reaches the browser."""
    source = (project / "src" / "runtime-env.ts").read_text()
    block = re.search(r"RUNTIME_VARIABLES = \[(.*?)\] as const", source, re.S)
    assert block, "RUNTIME_VARIABLES not found in src/runtime-env.ts"
    return re.findall(r'"([A-Z_]+)"', block.group(1))


# --- static checks: the tools a user's CI runs -------------------------------------------------


def test_layout(service: Path) -> None:
    for relative in (
        "package.json",
        "package-lock.json",
        ".npmrc",
        "index.html",
        "vite.config.ts",
        "tsconfig.json",
        "tsconfig.node.json",
        "eslint.config.js",
        "src/main.tsx",
        "src/App.tsx",
        "src/config.ts",
        "src/tracing.ts",
        "src/api/client.ts",
        "src/api/schema.d.ts",
        f"openapi/{answers(service)['api_service']}.json",
        "tests/smoke/smoke.mjs",
        "scripts/check.sh",
        "scripts/check-licenses.mjs",
        "scripts/check-outdated.mjs",
        "docker/entrypoint.sh",
        "docker/nginx.conf",
        "docker/security-headers.conf",
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        ".gitignore",
        "README.md",
        "chart/Chart.yaml",
        ".copier-answers.yml",
    ):
        assert (service / relative).exists(), relative
    assert not (service / "node_modules").exists(), "installing packages is the project's own step"
    assert os.access(service / "scripts" / "check.sh", os.X_OK)
    assert os.access(service / "docker" / "entrypoint.sh", os.X_OK)
    for ignored in ("node_modules", "dist", ".env"):
        assert ignored in (service / ".dockerignore").read_text().splitlines()
    assert {"node_modules/", "dist/", ".env"} <= set((service / ".gitignore").read_text().splitlines())


def test_answers_file_records_the_template_answers(service: Path) -> None:
    recorded = answers(service)
    assert recorded["kind"] == "frontend"
    assert recorded["name"] == service.name
    assert recorded["api_service"] in {api for _, api in SERVICES}
    assert "_src_path" in recorded


def test_no_leftover_markers(service: Path) -> None:
    service_checks.assert_no_leftover_markers(service)


def test_names_reach_the_code(service: Path) -> None:
    recorded = answers(service)
    name, api = recorded["name"], recorded["api_service"]
    constants = (service / "src" / "service.ts").read_text()
    assert f'export const SERVICE_NAME = "{name}";' in constants
    assert f'export const API_SERVICE = "{api}";' in constants
    assert f"<title>{name}</title>" in (service / "index.html").read_text()
    scripts = json.loads((service / "package.json").read_text())["scripts"]
    assert scripts["generate:api"] == f"openapi-typescript openapi/{api}.json --output src/api/schema.d.ts"
    assert scripts["check:api"] == scripts["generate:api"] + " --check"


def test_dependencies_are_pinned_exactly_and_locked(service: Path) -> None:
    package = json.loads((service / "package.json").read_text())
    lock = json.loads((service / "package-lock.json").read_text())
    declared = {**package["dependencies"], **package["devDependencies"]}
    loose = {name: version for name, version in declared.items() if not EXACT_VERSION.fullmatch(version)}
    assert not loose, f"not exact versions: {loose}"

    assert lock["lockfileVersion"] == 3
    assert lock["name"] == package["name"] == service.name
    root = lock["packages"][""]
    assert root["name"] == service.name
    assert root["dependencies"] == package["dependencies"]
    assert root["devDependencies"] == package["devDependencies"]
    for name, version in declared.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    unverified = [path for path, entry in lock["packages"].items() if path and "integrity" not in entry]
    assert not unverified, f"lock entries without integrity: {unverified}"
    npmrc = (service / ".npmrc").read_text().splitlines()
    assert {"save-exact=true", "engine-strict=true", "ignore-scripts=true"} <= set(npmrc)


def test_openapi_document_is_the_backend_api(service: Path) -> None:
    api = answers(service)["api_service"]
    document = json.loads((service / "openapi" / f"{api}.json").read_text())
    assert document["info"]["title"] == api
    assert {"/items", "/items/{item_id}", "/items/{item_id}/publish"} <= set(document["paths"])
    types = (service / "src" / "api" / "schema.d.ts").read_text()
    assert types.startswith("/**\n * This file was auto-generated by openapi-typescript.")
    for path in document["paths"]:
        assert f'"{path}": {{' in types, f"{path} is missing from the generated types"
    for schema in document["components"]["schemas"]:
        assert f"        {schema}: {{" in types, f"schema {schema} is missing from the generated types"


def test_compose_config(service: Path) -> None:
    name = service.name
    model = validators.compose_config(service / "compose.yaml")
    assert set(model["services"]) == {name}  # `test` is behind a profile
    app = model["services"][name]
    assert app["build"]["target"] == "dev"
    assert published_ports(app) == [("127.0.0.1", str(HOST_PORT), 5173)]
    watch = watch_actions(app)
    assert {("sync", "src"), ("sync", "public"), ("sync", "index.html")} <= watch
    assert {("rebuild", "package.json"), ("rebuild", "package-lock.json")} <= watch
    environment = app["environment"]
    assert environment["GATEWAY_URL"] == "http://host.docker.internal:8080"
    assert environment["OTEL_SERVICE_NAME"] == name
    assert environment["OTEL_TRACES_EXPORTER"] == "none"
    assert f"service.namespace={ECOSYSTEM}" in environment["OTEL_RESOURCE_ATTRIBUTES"]

    full = validators.compose_config(
        service / "compose.yaml",
        env={
            "COMPOSE_PROFILES": "test",
            "CHECK_OUTDATED": "0",
            "GATEWAY_URL": "http://gateway:8080",
            "AUTH_ISSUER": "http://127.0.0.1:8080/auth",  # the dev server logs in at the local issuer
        },
    )
    test = full["services"][f"{name}-test"]
    assert test["build"]["target"] == "test"
    assert test["environment"] == {"CHECK_AUDIT": "1", "CHECK_OUTDATED": "0", "CHECK_STRICT": "0"}
    assert full["services"][name]["environment"]["GATEWAY_URL"] == "http://gateway:8080"
    assert full["services"][name]["environment"]["AUTH_ISSUER"] == "http://127.0.0.1:8080/auth"
    assert environment["AUTH_ISSUER"] == "", "no login unless asked for"


def test_dockerfile_passes_hadolint(service: Path) -> None:
    validators.hadolint(service / "Dockerfile")


def test_dockerfile_passes_checkov(service: Path) -> None:
    validators.checkov(service / "Dockerfile", "dockerfile")


def dockerfile_stages(project: Path) -> dict[str, list[str]]:
    """Each stage's instructions (continuation lines joined), by stage name."""
    text = re.sub(r"\\\n\s*", " ", (project / "Dockerfile").read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            current = [line]
            stages[line.split()[-1]] = current
        elif line and not line.startswith("#"):
            current.append(line)
    return stages


def test_dockerfile_stages(service: Path) -> None:
    stages = dockerfile_stages(service)
    assert list(stages) == ["base", "deps", "test", "dev", "build", "runtime"]
    base_image = stages["base"][0].split()[1]
    assert re.fullmatch(r"\$\{IMAGE_MIRROR\}/library/node:\d+\.\d+\.\d+-bookworm-slim", base_image), base_image
    assert any(line.startswith("RUN ") and line.endswith("npm ci --no-audit") for line in stages["deps"])
    assert 'CMD ["bash", "scripts/check.sh"]' in stages["test"]
    assert stages["test"][-1] == "COPY . ."
    assert "RUN ./node_modules/.bin/vite build" in stages["build"]

    runtime = stages["runtime"]
    image = runtime[0].split()[1]
    assert re.fullmatch(r"\$\{IMAGE_MIRROR\}/nginxinc/nginx-unprivileged:\d+\.\d+\.\d+-alpine", image), image
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users == [f"{APP_UID}:{APP_UID}"]
    assert "COPY --from=build /app/dist /srv/www" in runtime
    assert any(line.startswith("HEALTHCHECK ") and "/livez" in line for line in runtime)
    entrypoint = next(line for line in runtime if line.startswith("ENTRYPOINT "))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["/bin/sh", "/etc/nginx/entrypoint.sh"]
    cmd = next(line for line in runtime if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == ["nginx", "-e", "stderr", "-g", "daemon off;"]
    assert "EXPOSE 8080" in runtime
    assert not any(re.search(r"\bnpm\b|node_modules|/app/src", line) for line in runtime)


def test_shell_scripts_pass_shellcheck(service: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed: run `make system-packages`"
    for script in ("docker/entrypoint.sh", "scripts/check.sh"):
        proc = subprocess.run([shellcheck, "--severity=style", script], cwd=service, capture_output=True, text=True)
        assert proc.returncode == 0, f"shellcheck {script}:\n{proc.stdout}{proc.stderr}"


# --- the container's entrypoint: the run-time configuration ------------------------------------


def run_entrypoint(
    project: Path, runtime_dir: Path, env: dict[str, str], *command: str
) -> subprocess.CompletedProcess[str]:
    """docker/entrypoint.sh with only `env` (and PATH), writing into runtime_dir."""
    return subprocess.run(
        ["sh", str(project / "docker" / "entrypoint.sh"), *(command or ("true",))],
        env={"PATH": os.environ["PATH"], "FRONTEND_RUNTIME_DIR": str(runtime_dir), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_entrypoint_knows_the_variables_the_page_reads(service: Path) -> None:
    script = (service / "docker" / "entrypoint.sh").read_text()
    block = re.search(r'VARIABLES="(.*?)"', script, re.S)
    assert block
    assert block.group(1).split() == runtime_variables(service)


def test_entrypoint_writes_only_the_runtime_variables(service: Path, tmp_path: Path) -> None:
    env = {
        "API_BASE_URL": "",
        "OTEL_SERVICE_NAME": "storefront",
        "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=shop,deployment.environment.name=test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "/otlp",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
        "DATABASE_URL": "postgresql://app:secret@db/app",
        "HOSTNAME": "web-1",
    }
    proc = run_entrypoint(service, tmp_path / "runtime", env, "sh", "-c", "echo started as $$")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("started as"), "the entrypoint execs the command"
    config = json.loads((tmp_path / "runtime" / "config.json").read_text())
    assert config == {k: v for k, v in env.items() if k in runtime_variables(service)}
    assert list(config) == [name for name in runtime_variables(service) if name in env]
    assert (tmp_path / "runtime" / "runtime.conf").read_text() == "set $connect_src \"'self'\";\n"


def test_entrypoint_allows_absolute_endpoints_in_the_csp(service: Path, tmp_path: Path) -> None:
    env = {
        "API_BASE_URL": "HTTPS://API.example.com:8443/v1/",
        "AUTH_ISSUER": "https://sso.example.com/realms/shop",  # its discovery and token endpoint
        "AUTH_CLIENT_ID": "web",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "/otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://otel.example.com/v1/traces",
    }
    proc = run_entrypoint(service, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "runtime.conf").read_text() == (
        "set $connect_src \"'self' https://api.example.com:8443 https://sso.example.com https://otel.example.com\";\n"
    )
    assert json.loads((tmp_path / "config.json").read_text())["AUTH_CLIENT_ID"] == "web"
    assert json.loads((tmp_path / "config.json").read_text())["API_BASE_URL"] == env["API_BASE_URL"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_SERVICE_NAME", 'web"shop', "contains a double quote, a backslash or a newline"),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=b\\c", "contains a double quote, a backslash or a newline"),
        ("API_BASE_URL", "https://api.example.com/\nx", "contains a double quote, a backslash or a newline"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5\t", "contains a control character"),
        ("API_BASE_URL", "https://api.example.com$x/", "is not a URL with a plain host name"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https:///v1", "is not a URL with a plain host name"),
        ("AUTH_ISSUER", "https://sso.example.com;script-src/", "is not a URL with a plain host name"),
        ("AUTH_CLIENT_ID", 'web"', "contains a double quote, a backslash or a newline"),
    ],
)
def test_entrypoint_refuses_values_that_would_break_the_page(
    service: Path, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    proc = run_entrypoint(service, tmp_path / "runtime", {variable: value}, "echo", "must not start")
    assert proc.returncode == 64
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0] == f"error: {variable} {message}" or lines[0].startswith(f"error: {variable} {message}: ")
    assert lines[1].startswith("hint: ")
    assert not (tmp_path / "runtime").exists(), "nothing is written"


# --- the runtime image's web server: the shipped nginx.conf on a real nginx --------------------


class Nginx:
    """The project's docker/nginx.conf and entrypoint on Debian's nginx, as UID 10001, with the
    image's paths moved into a scratch directory and the port onto loopback."""

    def __init__(self, project: Path, www: Path, env: dict[str, str]) -> None:
        assert Path(NGINX).exists(), f"{NGINX} not found: run `make system-packages` (nginx-light)"
        self.scratch = Path(tempfile.mkdtemp(prefix="scaffold-nginx-"))
        os.chmod(self.scratch, 0o755)
        self.runtime = self.scratch / "runtime"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.scratch / "nginx.log"
        # The served files and the configuration are read-only to the server, as in the image.
        self.www = self.scratch / "www"
        shutil.copytree(www, self.www)
        shutil.copy(project / "docker" / "security-headers.conf", self.scratch / "security-headers.conf")
        shutil.copy(project / "docker" / "entrypoint.sh", self.scratch / "entrypoint.sh")
        conf = (project / "docker" / "nginx.conf").read_text()
        for image_path, here, count in (
            ("/tmp/nginx", str(self.runtime), None),
            ("root /srv/www;", f"root {self.www};", 1),
            ("listen 8080;", f"listen 127.0.0.1:{self.port};", 1),
            ("/etc/nginx/security-headers.conf", str(self.scratch / "security-headers.conf"), None),
        ):
            found = conf.count(image_path)
            assert found and (count is None or found == count), f"{image_path} in nginx.conf: {found}"
            conf = conf.replace(image_path, here)
        (self.scratch / "nginx.conf").write_text(conf)
        for path in self.scratch.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.output = ""

    def _as_app_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        return ["setpriv", f"--reuid={APP_UID}", f"--regid={APP_UID}", "--clear-groups", "--"]

    def command(self, *args: str) -> list[str]:
        return [NGINX, "-e", "stderr", "-c", str(self.scratch / "nginx.conf"), *args]

    def start(self) -> None:
        # /tmp of the image: the only place the server may write.
        self.runtime.mkdir()
        self.log.touch()
        if os.geteuid() == 0:
            # nginx reopens /dev/stdout (its access log) as the app user.
            for path in (self.runtime, self.log):
                os.chown(path, APP_UID, APP_UID)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *self._as_app_user(),
                    "sh",
                    str(self.scratch / "entrypoint.sh"),
                    *self.command("-g", "daemon off;"),
                ],
                env={"PATH": os.environ["PATH"], "FRONTEND_RUNTIME_DIR": str(self.runtime), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = 100
        for _ in range(deadline):
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited {self.process.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/livez", timeout=1):
                return
            threading.Event().wait(0.1)
        raise AssertionError(f"nginx did not answer on {self.url}:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log.exists():
            self.output = self.log.read_text()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def access_log(self) -> list[dict[str, Any]]:
        """The JSON lines nginx wrote on stdout (one per request)."""
        text = self.log.read_text() if self.log.exists() else self.output
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@contextlib.contextmanager
def nginx_serving(project: Path, www: Path, env: dict[str, str]) -> Iterator[Nginx]:
    server = Nginx(project, www, env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


@pytest.fixture
def fake_dist(tmp_path: Path) -> Path:
    """What `vite build` writes, in miniature: the page and one content-hashed asset."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script type="module" src="/assets/index-AbC123.js"></script>')
    (dist / "assets" / "index-AbC123.js").write_text("console.log('page');\n" * 100)
    (dist / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    return dist


def test_nginx_configuration_is_valid(service: Path, fake_dist: Path) -> None:
    server = Nginx(service, fake_dist, {})
    try:
        server.runtime.mkdir()
        assert run_entrypoint(service, server.runtime, {}).returncode == 0
        proc = subprocess.run(server.command("-t"), capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert "syntax is ok" in proc.stderr
    finally:
        server.stop()


def test_nginx_serves_the_page_with_its_runtime_configuration(service: Path, fake_dist: Path) -> None:
    env = {
        "OTEL_SERVICE_NAME": "storefront",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://otel.example.com/v1/traces",
        "DATABASE_URL": "postgresql://app:secret@db/app",
    }
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with nginx_serving(service, fake_dist, env) as nginx:
        status, headers, body = fetch(f"{nginx.url}/", {"traceparent": traceparent})
        assert status == 200
        assert body == (fake_dist / "index.html").read_bytes()
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-cache"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "connect-src 'self' https://otel.example.com;" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Server"] == "nginx", "no version in the Server header"

        # The single-page app's own routes get the page; missing files do not.
        route = fetch(f"{nginx.url}/items/42")
        assert (route[0], route[2]) == (200, body)
        missing, missing_headers, _ = fetch(f"{nginx.url}/assets/missing-123.js")
        assert missing == 404
        assert "immutable" not in missing_headers.get("Cache-Control", ""), "a missing asset is not cached for a year"

        status, headers, _ = fetch(f"{nginx.url}/assets/index-AbC123.js", {"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Content-Security-Policy"] == csp, "every location sends the security headers"

        status, headers, config = fetch(f"{nginx.url}/config.json")
        assert status == 200
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(config) == {
            "OTEL_SERVICE_NAME": "storefront",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://otel.example.com/v1/traces",
        }
        for probe in ("/livez", "/readyz"):
            status, _, answer = fetch(nginx.url + probe)
            assert (status, json.loads(answer)) == (200, {"status": "ok"})

    log = nginx.access_log()
    page = next(entry for entry in log if entry["uri"] == "/")
    assert page["traceparent"] == traceparent
    assert page["status"] == 200
    assert not [entry for entry in log if entry["uri"] in ("/livez", "/readyz")], "probes are not logged"


# --- end to end: the shipped API document, the project's own checks, the built page -------------


def backend_openapi(tmp_path: Path, api_service: str) -> dict[str, Any]:
    """app.openapi() of the backend template's real FastAPI app, rendered as `api_service`."""
    backend = render_kind(tmp_path / api_service, "backend", api_service, port=8001)
    venv = service_venv(backend)
    package = api_service.replace("-", "_")
    code = (
        "import json\n"
        f"from {package}.app import create_app\n"
        f"from {package}.settings import Settings\n"
        # The database is never reached: the document is built from the routes alone.
        "app = create_app(Settings(database_url='postgresql+psycopg://openapi@127.0.0.1:9/openapi', metrics_port=0))\n"
        "print(json.dumps(app.openapi()))\n"
    )
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=backend,
        env=clean_env(venv, PYTHONPATH="src", OTEL_SDK_DISABLED="true"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


@pytest.mark.e2e
def test_shipped_openapi_document_matches_the_backend_template(service: Path, tmp_path: Path) -> None:
    api = answers(service)["api_service"]
    shipped = json.loads((service / "openapi" / f"{api}.json").read_text())
    assert shipped == backend_openapi(tmp_path, api), (
        "templates/frontend/openapi/ no longer matches the backend template's API: run "
        "`python -m tests.test_frontend_service --write-openapi`, then `npm run generate:api` in a "
        "rendered frontend and copy src/api/schema.d.ts into templates/frontend/src/api/"
    )


def node_modules(project: Path) -> None:
    """`npm ci` of the project, made once per lockfile under $SCAFFOLD_TEST_CACHE/node and
    hard-linked (or copied) into the project."""
    digest = hashlib.sha256(f"{platform.system()}|{platform.machine()}".encode())
    for name in ("package.json", "package-lock.json", ".npmrc"):
        digest.update(name.encode() + b"\0" + (project / name).read_bytes() + b"\0")
    root = cache_root() / "node"
    root.mkdir(parents=True, exist_ok=True)
    installed = root / digest.hexdigest()
    with open(root / f"{installed.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (installed / ".complete").exists():
            shutil.rmtree(installed, ignore_errors=True)
            installed.mkdir()
            for name in ("package.json", "package-lock.json", ".npmrc"):
                shutil.copy(project / name, installed / name)
            proc = subprocess.run(
                ["npm", "ci", "--no-audit"], cwd=installed, capture_output=True, text=True, timeout=NPM_TIMEOUT_S
            )
            if proc.returncode != 0:
                shutil.rmtree(installed, ignore_errors=True)
                pytest.fail(f"npm ci failed:\n{proc.stdout}{proc.stderr}")
            (installed / ".complete").write_text(proc.stdout)
    linked = subprocess.run(
        ["cp", "-al", str(installed / "node_modules"), str(project / "node_modules")], capture_output=True
    )
    if linked.returncode != 0:  # another filesystem: copy instead
        shutil.rmtree(project / "node_modules", ignore_errors=True)
        shutil.copytree(installed / "node_modules", project / "node_modules", symlinks=True)


def npm_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "API_BASE_URL", "GATEWAY_URL", "SMOKE_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def e2e_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render(tmp_path_factory.mktemp("e2e") / E2E_NAME, E2E_NAME, E2E_API)
    node_modules(project)
    return project


@pytest.fixture(scope="module")
def built(e2e_project: Path) -> Path:
    proc = subprocess.run(
        ["npm", "run", "build"], cwd=e2e_project, env=npm_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return e2e_project / "dist"


@pytest.mark.e2e
def test_generated_check_script_passes(e2e_project: Path, tmp_path: Path) -> None:
    junit = tmp_path / "vitest.xml"
    proc = subprocess.run(
        ["bash", "scripts/check.sh", "--reporter=default", "--reporter=junit", f"--outputFile.junit={junit}"],
        cwd=e2e_project,
        # audit and outdated ask the npm registry, and fail whenever an advisory or a release appears.
        env=npm_env(CHECK_AUDIT="0", CHECK_OUTDATED="0"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"scripts/check.sh failed:\n{output[-6000:]}"
    for step in ("== typescript", "== eslint, prettier", "== API types match openapi/", "== vitest", "== licences"):
        assert step in proc.stdout, step
    assert "packages checked" in proc.stdout
    assert "== all checks passed" in proc.stdout

    suites = ET.parse(junit).getroot()
    assert int(suites.get("tests", "0")) >= 30
    assert suites.get("failures") == suites.get("errors") == "0"
    cases = list(suites.iter("testcase"))
    assert not [case for case in cases if case.find("skipped") is not None], "no test is skipped"
    files = {case.get("classname") for case in cases}
    assert {
        "src/App.test.tsx",
        "src/config.test.ts",
        "src/tracing.test.ts",
        "src/api/client.test.ts",
        "src/runtime-env.test.ts",
    } <= files


@pytest.mark.e2e
def test_generated_types_check_notices_a_stale_client(e2e_project: Path) -> None:
    types = e2e_project / "src" / "api" / "schema.d.ts"
    original = types.read_text()
    try:
        types.write_text(original.replace("ItemPublished", "ItemAnnounced"))
        proc = subprocess.run(
            ["npm", "run", "--silent", "check:api"], cwd=e2e_project, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode != 0
        assert "Generated types are not up-to-date" in proc.stdout + proc.stderr
    finally:
        types.write_text(original)


@pytest.mark.e2e
def test_production_build(built: Path) -> None:
    index = (built / "index.html").read_text()
    scripts = re.findall(r'<script type="module" crossorigin src="(/assets/index-[\w-]+\.js)"></script>', index)
    assert len(scripts) == 1, index
    assert (built / scripts[0].lstrip("/")).is_file()
    assert (built / "favicon.svg").is_file()
    assert not (built / "config.json").exists(), "the configuration is written at run time, not built in"
    assert not list(built.rglob("*.map")), "no source maps in the image"
    assert "<script>" not in index, "no inline script (the Content-Security-Policy forbids it)"


def run_smoke(project: Path, **env: str) -> dict[str, Any]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} not found: run `make system-packages` (chromium)"
    proc = subprocess.run(
        ["node", "tests/smoke/smoke.mjs"],
        cwd=project,
        env=npm_env(CHROMIUM_PATH=CHROMIUM, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"smoke test failed:\n{proc.stdout}{proc.stderr}"
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary


TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")


@pytest.mark.e2e
def test_smoke_test_in_chromium(e2e_project: Path, built: Path, tmp_path: Path) -> None:
    screenshot = tmp_path / "page.png"
    summary = run_smoke(e2e_project, SMOKE_SCREENSHOT=str(screenshot))

    assert summary["items"][:2] == ["smoke-first", "smoke-second"]
    assert summary["items"][2] == summary["created"]
    assert summary["published"] == f"published as {E2E_API}.item.published"
    requests = summary["apiRequests"]
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", f"/api/{E2E_API}/items"),
        ("POST", f"/api/{E2E_API}/items"),
        ("POST", f"/api/{E2E_API}/items/3/publish"),
    ]
    spans = {span["spanId"]: span for span in summary["spans"]}
    for request in requests:
        match = TRACEPARENT.fullmatch(request["traceparent"])
        assert match, request
        assert spans[match.group(2)]["traceId"] == match.group(1)
    assert screenshot.read_bytes().startswith(b"\x89PNG")


class GatewayStandIn(http.server.ThreadingHTTPServer):
    """The ecosystem's gateway in front of the frontend's nginx: /api/<service>/ goes to a small
    in-memory items API, /otlp/ to an OTLP sink, everything else to nginx (as in gateway.py)."""

    daemon_threads = True

    def __init__(self, frontend: str) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.frontend = frontend
        self.items: list[dict[str, Any]] = []
        self.api: list[dict[str, Any]] = []
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _GatewayHandler(http.server.BaseHTTPRequestHandler):
    server: GatewayStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self) -> None:
        if self.path.startswith("/api/"):
            self._api("GET", b"")
            return
        status, headers, body = fetch(self.server.frontend + self.path, {"Accept": self.headers.get("Accept", "*/*")})
        passed = {
            k: v for k, v in headers.items() if k.lower() not in ("connection", "transfer-encoding", "content-length")
        }
        self._reply(status, body, passed)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/otlp/v1/traces":
            export = json.loads(body)
            with self.server.lock:
                for resource_spans in export["resourceSpans"]:
                    attributes = {
                        a["key"]: a["value"].get("stringValue") for a in resource_spans["resource"]["attributes"]
                    }
                    for scope in resource_spans["scopeSpans"]:
                        self.server.spans += [{**span, "resource": attributes} for span in scope["spans"]]
            self._json(200, {})
        elif self.path.startswith("/api/"):
            self._api("POST", body)
        else:
            self._json(405, {"detail": "Method Not Allowed"})

    def _api(self, method: str, body: bytes) -> None:
        path = self.path.split("?")[0]
        with self.server.lock:
            self.server.api.append({"method": method, "path": path, "traceparent": self.headers.get("traceparent")})
            service = path.split("/")[2]
            if method == "GET" and path == f"/api/{service}/items":
                self._json(200, self.server.items)
            elif method == "POST" and path == f"/api/{service}/items":
                item = {"description": None, **json.loads(body), "id": len(self.server.items) + 1}
                item["created_at"] = "2026-01-02T03:04:05Z"
                self.server.items.append(item)
                self._json(201, item)
            elif method == "POST" and re.fullmatch(rf"/api/{service}/items/\d+/publish", path):
                item_id = int(path.split("/")[4])
                self._json(202, {"item_id": item_id, "routing_key": f"{service}.item.published", "message_id": "m-1"})
            else:
                self._json(404, {"detail": "Not Found"})


@contextlib.contextmanager
def gateway_stand_in(frontend: str) -> Iterator[GatewayStandIn]:
    gateway = GatewayStandIn(frontend)
    thread = threading.Thread(target=gateway.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.shutdown()
        gateway.server_close()


@pytest.mark.e2e
def test_built_page_served_by_the_runtime_nginx_behind_a_gateway(e2e_project: Path, built: Path) -> None:
    """The production path: the built files on the image's nginx configuration (CSP included),
    /config.json from the entrypoint, a gateway in front; the smoke test drives Chromium there."""
    env = {
        "OTEL_SERVICE_NAME": E2E_NAME,
        "OTEL_RESOURCE_ATTRIBUTES": f"service.namespace={ECOSYSTEM},deployment.environment.name=e2e",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with nginx_serving(e2e_project, built, env) as nginx, gateway_stand_in(nginx.url) as gateway:
        summary = run_smoke(e2e_project, SMOKE_URL=gateway.url)
        with gateway.lock:
            received, spans = list(gateway.api), list(gateway.spans)

    assert [(r["method"], r["path"]) for r in received] == [
        ("GET", f"/api/{E2E_API}/items"),
        ("POST", f"/api/{E2E_API}/items"),
        ("POST", f"/api/{E2E_API}/items/1/publish"),
    ]
    assert received == summary["apiRequests"], "the gateway got what the browser sent"
    for request in received:
        match = TRACEPARENT.fullmatch(request["traceparent"] or "")
        assert match, request
        span = next(span for span in spans if span["spanId"] == match.group(2))
        assert span["traceId"] == match.group(1)
        assert span["resource"]["service.name"] == E2E_NAME
        assert span["resource"]["deployment.environment.name"] == "e2e"
    logged = {entry["uri"] for entry in nginx.access_log()}
    assert {"/", "/config.json"} <= logged


def _write_openapi() -> None:
    """Rewrite the shipped OpenAPI document from the backend template's app."""
    with tempfile.TemporaryDirectory() as scratch:
        document = backend_openapi(Path(scratch), "orders")
    text = json.dumps(document, indent=2) + "\n"
    assert text.count('"title": "orders"') == 1
    OPENAPI_TEMPLATE.write_text(text.replace('"title": "orders"', '"title": "{{ api_service }}"'))
    print(f"wrote {OPENAPI_TEMPLATE.relative_to(REPO)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-openapi"]:
        raise SystemExit("usage: python -m tests.test_frontend_service --write-openapi")
    _write_openapi()
