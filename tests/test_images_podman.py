"""Every kind's images built, tested and run for real with Podman, through `scaffold build` and
`scaffold test`: the engine is Podman's Docker API on a socket of the tests' own, the base and
infrastructure images come from a real local registry of stand-ins (tests/standins) through the
image mirror of ecosystem.yaml, and packages through the PyPI and npm mirror settings, with the
machine's CA bundle as the build secret (its network re-signs TLS).

The module's tests share one engine and one meta-project (one cold build of everything), so they
run in one xdist worker (group "podman-images").
"""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaffold import ecosystem_file, images_file, mirrors
from scaffold.engine.builders import ApiBuilder, BuildRequest
from scaffold.engine.connection import Engine
from scaffold.engine.runner import ServiceRun, run_spec
from scaffold.prerequisites import FoundEngine, find_compose
from scaffold.wiring import gateway_auth
from scaffold.wiring.compose import compose_model
from tests import chart_checks
from tests.engines import Podman, podman_service
from tests.helpers import scaffold
from tests.image_fixtures import (
    CA_MARKER,
    SERVICES,
    by_name,
    ca_bundle,
    commit,
    copy_project,
    project_with_services,
    run_json,
)
from tests.servers import free_port
from tests.standins import mirror_registry

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("podman-images")]

PYPI = "https://pypi.org/simple/"
NPM = "https://registry.npmjs.org/"
DEAD = "https://127.0.0.1:9/"  # nothing answers there
PROBE_DEADLINE_S = 90


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mirror_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def podman(registry: str) -> Iterator[Podman]:
    with podman_service(insecure=[registry]) as engine:
        yield engine


@pytest.fixture(scope="module")
def env(podman: Podman) -> dict[str, str]:
    return {"DOCKER_HOST": podman.url}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, registry: str) -> Path:
    mirrors = {"images": registry, "pypi": PYPI, "npm": NPM, "ca_bundle": "certs/ca.pem"}
    return project_with_services(tmp_path_factory.mktemp("shop"), registry, mirrors)


@pytest.fixture(scope="module")
def built(shop: Path, env: dict[str, str]) -> dict[str, Any]:
    """`scaffold build --push` of every service, cold."""
    code, result, stderr = run_json("build", "--push", cwd=shop, env=env)
    assert code == 0, json.dumps(result, indent=1)[-6000:] + stderr
    return result


@pytest.fixture(scope="module")
def client(podman: Podman) -> Iterator[Any]:
    engine = Engine(FoundEngine(podman.url, {}, from_environment=False))
    docker_client = engine.client()
    yield docker_client
    docker_client.close()


def test_every_kind_builds_its_test_and_runtime_image_tagged_with_the_commit(shop: Path, built: dict[str, Any]) -> None:
    head = _head(shop)
    assert built["engine"].startswith("Podman Engine")
    services = by_name(built)
    assert set(services) == set(SERVICES)
    for name, service in services.items():
        assert service["status"] == "pushed", service
        images = {i["target"]: i for i in service["images"]}
        assert set(images) == {"test", "runtime"}
        repository = f"{json.loads((shop / 'images.json').read_text())['images'][name]['repository']}"
        assert images["runtime"]["reference"] == f"{repository}:{head[:12]}"
        assert images["test"]["reference"] == f"{repository}:{head[:12]}-test"
        assert images["runtime"]["size"] > 0 and images["runtime"]["image_id"].startswith("sha256:")


def test_every_test_image_passes_with_its_dependencies(shop: Path, env: dict[str, str], built: dict[str, Any]) -> None:
    code, result, stderr = run_json("test", cwd=shop, env=env)
    runs = by_name(result)
    assert code == 0, "\n".join(f"{n}: {r['status']}\n" + "\n".join(r["output"][-80:]) for n, r in runs.items())
    assert {n: r["status"] for n, r in runs.items()} == dict.fromkeys(SERVICES, "passed")
    assert runs["orders"]["dependencies"] == ["orders-db", "orders-mq"]
    assert runs["fulfilment"]["dependencies"] == ["fulfilment-db", "fulfilment-mq"]
    # The checks ran in the image, and the outdated/audit checks did not decide the result.
    for run in runs.values():
        assert run["exit_code"] == 0 and "== all checks passed" in run["output"], run["output"][-20:]
    for name in SERVICES:
        assert f"{name}: tests done" in stderr  # progress per service


def test_build_push_records_digests_that_pull_back(
    shop: Path, built: dict[str, Any], registry: str, client: Any
) -> None:
    recorded = images_file.read(shop / "images.json")
    assert recorded.commit == _head(shop) and not recorded.dirty
    runtime = {n: next(i for i in s["images"] if i["target"] == "runtime") for n, s in by_name(built).items()}
    assert set(recorded.images) == set(SERVICES)
    for name, image in recorded.images.items():
        assert image.digest == runtime[name]["digest"]
        # The registry serves the manifest under that digest...
        request = urllib.request.Request(
            f"http://{registry}/v2/{image.repository.split('/', 1)[1]}/manifests/{image.digest}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            method="HEAD",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Docker-Content-Digest"] == image.digest
        # ...and pulling it by digest gives back the image that was built.
        client.images.remove(runtime[name]["reference"])
        pulled = client.images.pull(image.reference)
        assert pulled.id == runtime[name]["image_id"]
        pulled.tag(image.repository, image.tag)  # as it was, for the tests after this one


def test_the_ca_bundle_is_in_no_image(built: dict[str, Any], client: Any) -> None:
    marker = CA_MARKER.encode()
    for service in by_name(built).values():
        for image in service["images"]:
            archive = b"".join(client.images.get(image["image_id"]).save())
            layers = _layers(archive)
            assert layers, image["reference"]
            found = [name for name, content in layers.items() if marker in content]
            assert found == [], f"{image['reference']} keeps the CA bundle in {found}"


def test_the_python_kinds_runtime_venv_has_no_pip_and_their_test_venv_has(built: dict[str, Any], client: Any) -> None:
    """A production container never installs anything (docs/images.md); the test image's checks
    need pip (pip-audit, the outdated check), so its stage puts it back."""
    probe = "import importlib.util, sys; print(sys.prefix != sys.base_prefix, importlib.util.find_spec('pip') is None)"
    python_kinds = [name for name, kind in SERVICES.items() if kind != "frontend"]
    assert python_kinds
    for name in python_kinds:
        images = {i["target"]: i["image_id"] for i in by_name(built)[name]["images"]}
        for target, pip_absent in (("runtime", True), ("test", False)):
            output = client.containers.run(images[target], ["-c", probe], entrypoint=["python"], remove=True)
            assert output.decode().split() == ["True", str(pip_absent)], (name, target, output)


def test_the_builder_lends_the_ca_bundle_to_the_build_as_a_secret(
    tmp_path: Path, podman: Podman, registry: str
) -> None:
    """Through the API on Podman: the secret is there for the step that mounts it, and only then."""
    context = tmp_path / "context"
    context.mkdir()
    builder = ApiBuilder(Engine(FoundEngine(podman.url, {}, from_environment=False)))
    bundle = ca_bundle(tmp_path / "ca.pem")
    # The build cache does not depend on a secret (as in BuildKit): each build's step is its own.
    for lend, token in ((True, secrets.token_hex(8)), (False, secrets.token_hex(8))):
        (context / "Dockerfile").write_text(
            f"FROM {registry}/library/python:3.12.14-slim-bookworm AS check\n"
            f"RUN --mount=type=secret,id=ca-bundle,required=false grep -q {CA_MARKER} /run/secrets/ca-bundle"
            f" && echo {token}\n"
        )
        request = BuildRequest(
            context, "check", f"localhost/secret-check:{token}", secrets={"ca-bundle": bundle} if lend else {}
        )
        outcome = builder.build(request)
        if lend:
            assert outcome.image_id, "\n".join(outcome.log) + str(outcome.error)
        else:
            assert outcome.image_id is None and outcome.error, outcome


def test_the_builder_says_the_stages_before_the_target_are_cached_while_the_target_still_builds(
    tmp_path: Path, podman: Podman, registry: str
) -> None:
    """What `scaffold build` starts the runtime image on: when the builder says so, a build of
    another target finds the shared stage in the cache (it never installs twice), and the first
    build has not ended yet (the two overlap)."""
    context = tmp_path / "context"
    context.mkdir()
    token = secrets.token_hex(8)  # a stage no earlier build cached
    (context / "Dockerfile").write_text(
        f"FROM {registry}/library/python:3.12.14-slim-bookworm AS shared\n"
        f"RUN echo shared-{token} | tee /shared\n"
        "FROM shared AS last\n"
        "RUN echo last-stage-ran && sleep 5\n"  # its image cannot exist yet when the builder says so
        "FROM shared AS other\n"
        "RUN test -s /shared\n"
    )
    engine = Engine(FoundEngine(podman.url, {}, from_environment=False))
    builder = ApiBuilder(engine)
    last, other = f"localhost/stages-last:{token}", f"localhost/stages-other:{token}"
    logs: list[tuple[str, ...]] = []
    last_built_then: list[bool] = []

    def build_the_other_target() -> None:
        if not logs:
            last_built_then.append(_has_image(engine, last))
            outcome = builder.build(BuildRequest(context, "other", other))
            assert outcome.image_id, "\n".join(outcome.log) + str(outcome.error)
            logs.append(outcome.log)

    outcome = builder.build(BuildRequest(context, "last", last), build_the_other_target)
    assert outcome.image_id, "\n".join(outcome.log) + str(outcome.error)
    assert f"shared-{token}" in outcome.log  # the first build ran the shared stage
    assert last_built_then == [False], "the builder said it only once its build had ended"
    log = logs[0]
    shared_step = next(i for i, line in enumerate(log) if f"RUN echo shared-{token} | tee" in line)
    assert log[shared_step + 1].startswith("--> Using cache"), log
    assert f"shared-{token}" not in log, log  # and the other did not run it again


def _has_image(engine: Engine, reference: str) -> bool:
    client = engine.client()
    try:
        return any(reference in (image.tags or []) for image in client.images.list())
    finally:
        client.close()


def test_runtime_images_run_with_the_charts_security_settings_and_answer_their_probes(
    shop: Path, built: dict[str, Any], podman: Podman, client: Any
) -> None:
    ecosystem = ecosystem_file.load(shop).model
    compose_checks = {
        name: spec["healthcheck"]["test"]
        for name, spec in compose_model(ecosystem)["services"].items()
        if name in SERVICES
    }
    compose, _ = find_compose()
    assert compose is not None
    images = {n: next(i for i in s["images"] if i["target"] == "runtime") for n, s in by_name(built).items()}
    for name, kind in SERVICES.items():
        service = ecosystem.service(name)
        assert service is not None
        docs = chart_checks.render(shop / service.path / "chart")
        container = chart_checks.container(docs)
        hardening = _hardening(container, chart_checks.pod_spec(docs))
        spec = run_spec(compose, shop / service.path, name, {"IMAGE_MIRROR": ecosystem.mirrors.images or ""})
        run = ServiceRun(client, f"probe{kind}", name)
        try:
            run.open()
            for dependency in spec.dependencies:
                run.start_dependency(dependency)
                run.wait_for(dependency)
            environment = {k: v for k, v in spec.environment.items() if not k.startswith("CHECK_")}
            if kind != "frontend":  # the chart's migration Job first: readiness waits for the schema
                job = chart_checks.only(docs, "Job", hook=chart_checks.MIGRATE_HOOK)
                migrate = job["spec"]["template"]["spec"]["containers"][0]
                code, log = _run_once(run, images[name]["image_id"], migrate, environment, hardening)
                assert code == 0, log
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            published = {port: free_port() for port in ports.values()}
            app = run.create(
                name,
                images[name]["image_id"],
                environment=environment,
                ports={f"{port}/tcp": ("127.0.0.1", host) for port, host in published.items()},
                **hardening,
            )
            app.start()
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container[probe]["httpGet"]
                port = published[ports[get["port"]] if isinstance(get["port"], str) else get["port"]]
                _until_ok(f"http://127.0.0.1:{port}{get['path']}", app)
            # The image's own HEALTHCHECK and the root compose file's, as Podman runs them.
            healthcheck = [*podman.cli, "healthcheck", "run", app.id]
            proc = subprocess.run(healthcheck, env=podman.env, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{name}: HEALTHCHECK failed: {proc.stdout}{proc.stderr}"
            test = compose_checks[name]
            assert test[0] == "CMD-SHELL"
            result = app.exec_run(["/bin/sh", "-c", test[1]])
            assert result.exit_code == 0, f"{name}: compose health check failed: {result.output!r}"
            if kind != "frontend":  # Prometheus scrapes the metrics port
                _until_ok(f"http://127.0.0.1:{published[ports['metrics']]}/metrics", app)
        finally:
            run.close()


def test_the_gateway_token_verifier_image_builds_through_the_mirrors_and_is_healthy_as_compose_runs_it(
    shop: Path, podman: Podman, client: Any, tmp_path: Path
) -> None:
    """gateway/auth/ as compose builds it (its build arguments and secret from compose_model), then
    run with compose's settings: read-only, no capabilities, its own keys; both health checks pass
    and it serves its keys."""
    project = copy_project(shop, tmp_path / "shop")
    with (project / "ecosystem.yaml").open("a") as text:
        text.write(
            "auth:\n  issuer: https://sso.example.com/realms/shop\n  audience: shop-api\n"
            "  jwks_url: https://sso.example.com/realms/shop/certs\n"
        )
    scaffold("sync", cwd=project)
    spec = compose_model(ecosystem_file.load(project).model)["services"][gateway_auth.SERVICE]
    build = spec["build"]
    secrets_ = {s["source"] if isinstance(s, dict) else s for s in build.get("secrets") or []}
    assert secrets_ == {mirrors.CA_SECRET}
    builder = ApiBuilder(Engine(FoundEngine(podman.url, {}, from_environment=False)))
    request = BuildRequest(
        project / build["context"].removeprefix("./"),
        "",
        "localhost/shop/gateway-auth:test",
        {k: str(v) for k, v in build["args"].items()},
        {mirrors.CA_SECRET: project / "certs" / "ca.pem"},
    )
    outcome = builder.build(request)
    assert outcome.image_id, "\n".join(outcome.log[-60:]) + str(outcome.error)
    port = free_port()
    run = ServiceRun(client, "verifier", gateway_auth.SERVICE)
    try:
        run.open()
        verifier = run.create(
            gateway_auth.SERVICE,
            outcome.image_id,
            environment=spec["environment"],
            ports={f"{gateway_auth.PORT}/tcp": ("127.0.0.1", port)},
            read_only=spec["read_only"],
            tmpfs={path: "" for path in spec["tmpfs"]},
            cap_drop=spec["cap_drop"],
            security_opt=["no-new-privileges"],
        )
        verifier.start()
        _until_ok(f"http://127.0.0.1:{port}/jwks", verifier)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/jwks", timeout=5) as response:
            assert [key["kty"] for key in json.load(response)["keys"]] == ["RSA"]
        healthcheck = [*podman.cli, "healthcheck", "run", verifier.id]
        proc = subprocess.run(healthcheck, env=podman.env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"HEALTHCHECK failed: {proc.stdout}{proc.stderr}"
        test = spec["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        result = verifier.exec_run(["/bin/sh", "-c", test[1]])
        assert result.exit_code == 0, f"compose health check failed: {result.output!r}"
        assert verifier.attrs["Config"]["User"] == f"{gateway_auth.UID}:{gateway_auth.UID}"
    finally:
        run.close()


def test_a_failing_test_fails_scaffold_test_and_its_output_is_shown(
    shop: Path, built: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    project = copy_project(shop, tmp_path / "shop")
    failing = project / "services" / "fulfilment" / "tests" / "unit" / "test_deliberately_failing.py"
    failing.write_text('def test_deliberately_failing() -> None:\n    assert 1 + 1 == 3, "deliberate failure"\n')
    commit(project, "a failing test")
    code, result, _ = run_json("build", "fulfilment", cwd=project, env=env)
    assert code == 0, result
    code, result, _ = run_json("test", "fulfilment", cwd=project, env=env)
    run = by_name(result)["fulfilment"]
    assert code == 10 and run["status"] == "failed" and run["exit_code"] != 0, json.dumps(run, indent=1)[-4000:]
    assert any("test_deliberately_failing" in line for line in run["output"])
    text = _text("test", "fulfilment", cwd=project, env=env)
    assert "deliberate failure" in text and "FAILED (exit" in text


def test_a_test_image_that_was_not_built_is_reported(shop: Path, env: dict[str, str], tmp_path: Path) -> None:
    project = copy_project(shop, tmp_path / "shop")
    (project / "services" / "orders" / "NOTES.md").write_text("uncommitted\n")
    code, result, _ = run_json("test", "orders", cwd=project, env=env)
    run = by_name(result)["orders"]
    assert code == 10 and run["status"] == "not built" and run["image"].endswith("-dirty-test")
    assert "scaffold build orders" in run["reason"]


def test_a_failing_build_shows_its_log_and_writes_no_images_file(
    shop: Path, built: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    project = copy_project(shop, tmp_path / "shop")
    (project / "images.json").unlink()
    dockerfile = project / "services" / "orders" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "FROM deps AS test\n", "FROM deps AS test\nRUN echo broken-step-output && false\n"
        )
    )
    commit(project, "a broken Dockerfile")
    code, result, _ = run_json("build", "--push", cwd=project, env=env)
    orders = by_name(result)["orders"]
    assert code == 9 and orders["status"] == "failed" and orders["failed_step"] == "test image"
    assert any("broken-step-output" in line for line in orders["log"])
    assert by_name(result)["fulfilment"]["status"] == "built"  # the others went on, and nothing was pushed
    assert not (project / "images.json").exists() and result["images_file"] is None


@pytest.mark.parametrize(("mirror", "service"), [("pypi", "orders"), ("npm", "storefront")])
def test_a_package_mirror_that_does_not_answer_fails_the_build(
    shop: Path, built: dict[str, Any], env: dict[str, str], tmp_path: Path, mirror: str, service: str
) -> None:
    """The PyPI and npm settings reach the Dockerfiles: pointed at nothing, the install step fails."""
    project = copy_project(shop, tmp_path / "shop")
    text = (project / "ecosystem.yaml").read_text()
    current = PYPI if mirror == "pypi" else NPM
    (project / "ecosystem.yaml").write_text(text.replace(f"  {mirror}: {current}", f"  {mirror}: {DEAD}"))
    commit(project, f"a {mirror} mirror that does not answer")
    code, result, _ = run_json("build", service, cwd=project, env=env)
    failed = by_name(result)[service]
    assert code == 9 and failed["failed_step"] == "test image", failed
    installer = "pip install" if mirror == "pypi" else "npm ci"
    assert any(installer in line for line in failed["log"]), failed["log"][-30:]
    assert any("127.0.0.1" in line or "ECONNREFUSED" in line or "Connection refused" in line for line in failed["log"])


# ---------------------------------------------------------------------------------------------


def _head(root: Path) -> str:
    git = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return git.stdout.strip()


def _text(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return scaffold(*args, cwd=cwd, env=env, check=False).stdout


def _layers(archive: bytes) -> dict[str, bytes]:
    """Every layer of a `docker save` archive, by name, as its (uncompressed) tar bytes."""
    layers = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as outer:
        for member in outer.getmembers():
            if member.isfile() and (member.name.endswith("layer.tar") or member.name.endswith(".tar")):
                extracted = outer.extractfile(member)
                assert extracted is not None
                layers[member.name] = extracted.read()
    return layers


def _hardening(container: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """The chart's container security settings as engine options (a read-only root with /tmp as the
    chart's emptyDir, its user, no capabilities, no privilege escalation)."""
    security = container["securityContext"]
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"]["drop"] == ["ALL"]
    assert security["allowPrivilegeEscalation"] is False and security["runAsNonRoot"] is True
    options: dict[str, Any] = {
        "read_only": True,
        "user": f"{security['runAsUser']}:{security['runAsGroup']}",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "tmpfs": {path: "" for path in mounts if path == "/tmp"},
    }
    assert pod["securityContext"].get("runAsNonRoot", True)
    return options


def _run_once(
    run: ServiceRun, image: str, spec: dict[str, Any], environment: dict[str, str], hardening: dict[str, Any]
) -> tuple[int, str]:
    command = [*(spec.get("command") or []), *(spec.get("args") or [])] or None
    job = run.create("migrate", image, environment=environment, command=command, **hardening)
    job.start()
    code = int(job.wait()["StatusCode"])
    return code, job.logs().decode(errors="replace")


def _until_ok(url: str, container: Any) -> None:
    deadline = time.monotonic() + PROBE_DEADLINE_S
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
                last = str(response.status)
        except OSError as err:
            last = str(err)
        time.sleep(1)
    raise AssertionError(f"{url} never answered 200 ({last}):\n{container.logs().decode(errors='replace')[-3000:]}")
