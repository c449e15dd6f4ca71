"""`.github/workflows/delivery.yml`: build, test, deliver, roll back, promote.

- build: per service, the `test` and `runtime` targets of its Dockerfile; the runtime image is
  pushed as <registry>/<service>:<commit> except for pull requests.
- test: per service, its test image with its own dependencies (the service's compose.yaml,
  profile `test`).
- chart: helm lint of the umbrella chart with each environment's values.
- gates (pull requests): `scaffold check` and `scaffold list --outdated` (scaffold.wiring.update_workflow).
- deliver-<environment>: `helm upgrade --install --atomic --wait` of the umbrella chart with
  values-<environment>.yaml and every image at the commit, then `helm test`; a failed test rolls
  the release back. Environments are promoted in order (test -> staging -> production), each a
  GitHub environment (protection rules and its own KUBECONFIG secret).
Every action is pinned by commit SHA (the version it was taken from is in a comment).
"""

from __future__ import annotations

import shlex
from typing import Any, Final

from scaffold.model import Ecosystem, Environment, Service
from scaffold.wiring._actions import RUNNER, annotate_pins, checkout, uses
from scaffold.wiring._render import YAML_HEADER, dump_yaml, text_file
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.umbrella import CHART_DIR, environments
from scaffold.wiring.update_workflow import gates_job

WORKFLOW: Final = ".github/workflows/delivery.yml"
HELM_VERSION: Final = "v3.18.6"


def _services(ecosystem: Ecosystem) -> list[Service]:
    return sorted(ecosystem.services, key=lambda s: s.name)


def _matrix(ecosystem: Ecosystem) -> dict[str, Any]:
    return {
        "fail-fast": False,
        "matrix": {"include": [{"service": s.name, "path": s.path} for s in _services(ecosystem)]},
    }


def _registry_host(ecosystem: Ecosystem) -> str:
    return ecosystem.registry.split("/", 1)[0]


def _build_job(ecosystem: Ecosystem) -> dict[str, Any]:
    permissions = {"contents": "read"}
    if _registry_host(ecosystem) == "ghcr.io":
        permissions["packages"] = "write"
    cache_from = "type=gha,scope=${{ matrix.service }}"
    return {
        "name": "build ${{ matrix.service }}",
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "permissions": permissions,
        "strategy": _matrix(ecosystem),
        "steps": [
            checkout(),
            {"name": "Set up Buildx", "uses": uses("docker/setup-buildx-action")},
            {
                "name": "Log in to the registry",
                "if": "github.event_name != 'pull_request'",
                "uses": uses("docker/login-action"),
                "with": {
                    "registry": _registry_host(ecosystem),
                    "username": "${{ secrets.REGISTRY_USERNAME }}",
                    "password": "${{ secrets.REGISTRY_PASSWORD }}",
                },
            },
            {
                "name": "Build the test image",
                "uses": uses("docker/build-push-action"),
                "with": {
                    "context": "${{ matrix.path }}",
                    "target": "test",
                    "push": False,
                    "cache-from": cache_from,
                    "cache-to": cache_from + ",mode=max",
                },
            },
            {
                "name": "Build the image (pushed unless for a pull request)",
                "uses": uses("docker/build-push-action"),
                "with": {
                    "context": "${{ matrix.path }}",
                    "target": "runtime",
                    "push": "${{ github.event_name != 'pull_request' }}",
                    "tags": "${{ env.REGISTRY }}/${{ matrix.service }}:${{ github.sha }}",
                    "cache-from": cache_from,
                    "cache-to": cache_from + ",mode=max",
                },
            },
        ],
    }


def _test_job(ecosystem: Ecosystem) -> dict[str, Any]:
    compose = 'docker compose -f "$SERVICE_PATH/compose.yaml" --profile test'
    return {
        "name": "test ${{ matrix.service }}",
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "permissions": {"contents": "read"},
        "strategy": _matrix(ecosystem),
        "env": {
            "SERVICE": "${{ matrix.service }}",
            "SERVICE_PATH": "${{ matrix.path }}",
            # A delivery must not fail because a dependency published a release meanwhile.
            "CHECK_OUTDATED": "0",
        },
        "steps": [
            checkout(),
            {
                "name": "Run the test image with its dependencies",
                "run": f'{compose} run --rm --build "$SERVICE-test"',
            },
            {
                "name": "Stop the dependencies",
                "if": "always()",
                "run": f"{compose} down --volumes --remove-orphans",
            },
        ],
    }


def _chart_job(ecosystem: Ecosystem) -> dict[str, Any]:
    lint = (
        "\n".join(
            f"helm lint {CHART_DIR} --strict -f {CHART_DIR}/values-{env.name}.yaml" for env in environments(ecosystem)
        )
        or f"helm lint {CHART_DIR} --strict"
    )
    return {
        "name": "umbrella chart",
        "runs-on": RUNNER,
        "timeout-minutes": 10,
        "permissions": {"contents": "read"},
        "steps": [
            checkout(),
            {"name": "Set up Helm", "uses": uses("azure/setup-helm"), "with": {"version": HELM_VERSION}},
            {"name": "Lint with each environment's values", "run": lint},
        ],
    }


def _deliver_condition(ecosystem: Ecosystem, env: Environment) -> str:
    names = [e.name for e in environments(ecosystem)]
    # A manual run delivers up to the chosen environment; a push to main goes all the way.
    reach = " || ".join(f"inputs.environment == '{name}'" for name in names[names.index(env.name) :])
    return (
        "github.ref == 'refs/heads/main' && (github.event_name == 'push'"
        f" || (github.event_name == 'workflow_dispatch' && ({reach})))"
    )


def _deliver_job(ecosystem: Ecosystem, env: Environment, needs: list[str]) -> dict[str, Any]:
    kube = ' --namespace "$NAMESPACE"'
    if env.context:
        kube += f" --kube-context {shlex.quote(env.context)}"
    if env.api_server:
        kube += f" --kube-apiserver {shlex.quote(env.api_server)}"
    tags = "".join(f' \\\n  --set "{s.name}.image.tag=$IMAGE_TAG"' for s in _services(ecosystem))
    upgrade = (
        f'helm upgrade --install "$RELEASE" {CHART_DIR}{kube} \\\n'
        f"  -f {CHART_DIR}/values-{env.name}.yaml{tags} \\\n"
        "  --atomic --wait --timeout 10m --history-max 10"
    )
    return {
        "name": f"deliver to {env.name}",
        "needs": needs,
        "if": _deliver_condition(ecosystem, env),
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "permissions": {"contents": "read"},
        "environment": {"name": env.name},
        "concurrency": {"group": f"deliver-{ecosystem.name}-{env.name}", "cancel-in-progress": False},
        "env": {"RELEASE": ecosystem.name, "NAMESPACE": env.namespace, "IMAGE_TAG": "${{ github.sha }}"},
        "steps": [
            checkout(),
            {"name": "Set up Helm", "uses": uses("azure/setup-helm"), "with": {"version": HELM_VERSION}},
            {
                "name": "Write the kubeconfig",
                "env": {"KUBECONFIG_CONTENT": "${{ secrets.KUBECONFIG }}"},
                "run": 'umask 077\nprintf \'%s\\n\' "$KUBECONFIG_CONTENT" > "$RUNNER_TEMP/kubeconfig"\n'
                'echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"',
            },
            {
                "name": "Upgrade the release (rolled back by --atomic if it does not become ready)",
                "id": "upgrade",
                "run": upgrade,
            },
            {
                "name": "Test the release",
                "run": f'helm test "$RELEASE"{kube} --timeout 5m --logs',
            },
            {
                "name": "Roll back after a failed test",
                "if": "failure() && steps.upgrade.outcome == 'success'",
                "run": f'helm rollback "$RELEASE" 0{kube} --wait --timeout 10m',
            },
        ],
    }


def workflow(ecosystem: Ecosystem) -> dict[str, Any]:
    env_names = [e.name for e in environments(ecosystem)]
    on: dict[str, Any] = {
        "push": {"branches": ["main"]},
        "pull_request": {},
        "workflow_dispatch": {
            "inputs": {
                "environment": {
                    "description": "Deliver up to this environment (promoting through the ones before it)",
                    "type": "choice",
                    "required": True,
                    "options": env_names,
                    **({"default": env_names[0]} if env_names else {}),
                }
            }
        },
    }
    if not env_names:
        del on["workflow_dispatch"]["inputs"]
    jobs: dict[str, Any] = {}
    gates = ["chart"]
    if ecosystem.services:
        jobs["build"] = _build_job(ecosystem)
        jobs["test"] = _test_job(ecosystem)
        gates = ["build", "test", "chart"]
    jobs["chart"] = _chart_job(ecosystem)

    jobs["gates"] = gates_job(ecosystem)
    previous: str | None = None
    for env in environments(ecosystem):
        job_id = f"deliver-{env.name}"
        jobs[job_id] = _deliver_job(ecosystem, env, gates if previous is None else [previous])
        previous = job_id
    return {
        "name": "delivery",
        "on": on,
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": "delivery-${{ github.ref }}",
            "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
        },
        "env": {"REGISTRY": ecosystem.registry},
        "jobs": jobs,
    }


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    body = annotate_pins(dump_yaml(workflow(ecosystem)))
    header = YAML_HEADER + (
        "# Secrets: REGISTRY_USERNAME / REGISTRY_PASSWORD (repository), KUBECONFIG (per GitHub environment).\n"
    )
    return [text_file(WORKFLOW, header + body)]
