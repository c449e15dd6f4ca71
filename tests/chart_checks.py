"""What the per-kind chart tests (test_<kind>_chart.py) share: render a kind's chart and parse it
with Helm, find objects in what it rendered, and the checks every kind's chart must pass (Kubernetes
schemas per environment, checkov, values.schema.json, leftovers of the template, umbrella charts).

Each kind's file keeps its own values (the environments the umbrella chart sets for it) and what
only its chart does."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests import validators
from tests.service_checks import ECOSYSTEM as ECOSYSTEM  # the chart tests' ecosystem too
from tests.service_checks import render_kind

REGISTRY = "registry.example.com/shop"
RELEASE = "shop"
DIGEST = "sha256:" + "0123456789abcdef" * 4
TEST_HOOK = "test"
MIGRATE_HOOK = "pre-install,pre-upgrade"

Doc = dict[str, Any]
Values = dict[str, Any]


def render_project(destination: Path, kind: str, name: str, **answers: object) -> Path:
    """A service of `kind` rendered with the ecosystem and registry the chart tests use; the
    project (its chart is `chart/`)."""
    return render_kind(destination, kind, name, registry=REGISTRY, **answers)


def namespace_of(case: str) -> str:
    """The namespace of an environment ("defaults": the ecosystem's own)."""
    return ECOSYSTEM if case == "defaults" else f"{ECOSYSTEM}-{case}"


def render(chart: Path, values: Values | None = None, namespace: str = ECOSYSTEM) -> list[Doc]:
    """The chart rendered as release RELEASE and parsed into its Kubernetes objects."""
    return validators.helm_render(chart, values or {}, name=RELEASE, namespace=namespace)


def values_id(value: object) -> str:
    """A readable test id for a dict of values (or a string next to it)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


# ---------------------------------------------------------------------------------------------
# Finding objects in what a chart rendered


def only(docs: list[Doc], kind: str, *, hook: str | None = None) -> Doc:
    """The one object of a kind that belongs to the release (hook None) or to a Helm hook."""
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["annotations"].get("helm.sh/hook") == hook]
    assert len(found) == 1, f"expected one {kind} (hook={hook}), got {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds(docs: list[Doc]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def pod_spec(docs: list[Doc]) -> Doc:
    """The pod spec of the release's Deployment."""
    spec: Doc = only(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(docs: list[Doc]) -> Doc:
    """The one container of the release's Deployment."""
    containers = pod_spec(docs)["containers"]
    assert len(containers) == 1, [c["name"] for c in containers]
    found: Doc = containers[0]
    return found


def env_of(c: Doc) -> dict[str, Any]:
    """A container's environment: a value, or the valueFrom of a variable without one."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def deployments_by_name(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


# ---------------------------------------------------------------------------------------------
# The chart's files and values.schema.json


def assert_no_template_leftovers(chart: Path) -> None:
    """Copier rendered every file of the chart: no Jinja block, no `endraw`, no .jinja suffix."""
    for path in chart.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{%" not in text and "endraw" not in text and not path.name.endswith(".jinja"), path


def assert_schema_rejects(chart: Path, values: Values, where: str = "") -> None:
    """values.schema.json refuses `values`, naming `where` in its message."""
    with helm.Chart.load(str(chart)) as loaded, pytest.raises(helm.HelmValuesError) as error:
        loaded.validate_schema(values)
    assert where in str(error.value), str(error.value)


def assert_schema_accepts(chart: Path, values: Values) -> None:
    with helm.Chart.load(str(chart)) as loaded:
        loaded.validate_schema(values)


# ---------------------------------------------------------------------------------------------
# The real validators, per environment


def assert_valid_in(chart: Path, values: Values, namespace: str) -> list[Doc]:
    """Render for one environment: every object passes the Kubernetes schemas, sits in
    `namespace`, and a ServiceMonitor scrapes /metrics on the `metrics` port. The objects."""
    docs = render(chart, values, namespace)
    validators.kubernetes_validate(docs)
    assert {d["metadata"]["namespace"] for d in docs} == {namespace}, [
        (d["kind"], d["metadata"]["namespace"]) for d in docs
    ]
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        endpoint = monitor["spec"]["endpoints"][0]
        assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
        assert re.fullmatch(r"[0-9]+(ms|s|m|h)", endpoint["interval"])
    return docs


def assert_checkov_passes(chart: Path, cases: Mapping[str, Values], directory: Path) -> None:
    """checkov's kubernetes checks on the chart rendered for each case (a directory each, named in
    its findings), in one run: checkov's start-up costs more than its checks."""
    for case, values in cases.items():
        validators.write_manifests(render(chart, values, namespace_of(case)), directory / case)
    validators.checkov(directory, "kubernetes")


def assert_renders_under_a_hyphenated_name(chart: Path, name: str) -> None:
    """A chart rendered for a service named with a dash lints, validates and names its Deployment."""
    validators.helm_lint(chart)
    docs = render(chart)
    validators.kubernetes_validate(docs)
    assert only(docs, "Deployment")["metadata"]["name"] == f"{RELEASE}-{name}"


def assert_labelled_part_of_the_ecosystem(docs: list[Doc], service: str, version: str, namespace: str) -> None:
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == ECOSYSTEM, doc["kind"]
        assert labels["app.kubernetes.io/name"] == service
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == version
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert doc["metadata"]["namespace"] == namespace


def notes(chart: Path, service: str) -> str:
    """NOTES.txt rendered for staging; it names the release, the environment and `helm test`."""
    with helm.Chart.load(str(chart)) as loaded:
        rendered = loaded.render(values={"global": {"environment": "staging"}}, name=RELEASE, namespace=ECOSYSTEM)
    text = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
    assert f"{RELEASE}-{service}" in text and "staging" in text and "helm test" in text
    return text


def helm_test_pod(docs: list[Doc], shell: list[str]) -> tuple[Doc, Doc, str]:
    """The `helm test` Pod, run once (restartPolicy Never), its container running a script with
    `shell` (e.g. ["python", "-c"]): the pod, the container and the script."""
    pod = only(docs, "Pod", hook=TEST_HOOK)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    c: Doc = pod["spec"]["containers"][0]
    assert c["command"][:2] == shell
    script: str = c["command"][2]
    return pod, c, script


def assert_autoscaled(docs: list[Doc], minimum: int, maximum: int) -> None:
    """A HorizontalPodAutoscaler scales the release's Deployment between minimum and maximum."""
    hpa = only(docs, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (minimum, maximum)
    assert hpa["spec"]["scaleTargetRef"]["name"] == only(docs, "Deployment")["metadata"]["name"]


def assert_refuses_min_above_max(chart: Path) -> None:
    with pytest.raises(helm.HelmRenderError, match="minReplicas"):
        render(chart, {"autoscaling": {"minReplicas": 6, "maxReplicas": 3}})


def assert_restricted(pod: Doc) -> None:
    """A pod spec meets the restricted Pod Security Standard the shared helpers set: non-root UID
    10001, RuntimeDefault seccomp, no token, nothing of the host; each container read-only with no
    capability, an emptyDir at /tmp, and requests and limits of cpu, memory and ephemeral storage."""
    pod_context = pod["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] == pod_context["runAsGroup"] == pod_context["fsGroup"] == 10001
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)
    mounts_by_volume = {v["name"]: v for v in pod["volumes"]}
    for c in pod["containers"]:
        context = c["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context.get("privileged", False) is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "add" not in context["capabilities"]
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert len(tmp) == 1 and "emptyDir" in mounts_by_volume[tmp[0]["name"]]
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory", "ephemeral-storage"}


# ---------------------------------------------------------------------------------------------
# As subcharts of an umbrella chart


def umbrella_chart(directory: Path, subcharts: Mapping[str, Path], values: Values) -> Path:
    """An umbrella chart `ECOSYSTEM` under directory with each chart as a subchart (in this order),
    enabled by `<name>.enabled`, and `values` as its values.yaml."""
    umbrella = directory / ECOSYSTEM
    (umbrella / "templates").mkdir(parents=True)
    for name, chart in subcharts.items():
        shutil.copytree(chart, umbrella / "charts" / name)
    dependencies = [{"name": name, "version": "0.1.0", "condition": f"{name}.enabled"} for name in subcharts]
    chart_yaml = {"apiVersion": "v2", "name": ECOSYSTEM, "version": "0.1.0", "dependencies": dependencies}
    (umbrella / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))
    (umbrella / "values.yaml").write_text(yaml.safe_dump(values))
    return umbrella


def assert_umbrella_valid(umbrella: Path, namespace: str = f"{ECOSYSTEM}-staging") -> list[Doc]:
    """helm lint --strict and the Kubernetes schemas on the umbrella chart; its objects."""
    validators.helm_lint(umbrella)
    docs = render(umbrella, namespace=namespace)
    validators.kubernetes_validate(docs)
    return docs
