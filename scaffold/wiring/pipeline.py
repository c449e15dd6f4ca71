"""The delivery pipeline: the article's six steps on GitHub's merge queue, then promotion and rollback.

`.github/workflows/delivery.yml` (pull requests and the merge queue):
1. bring up to date: the merge queue tests the change merged onto the latest `main` (merge_group);
2. build once: `plan` (`scaffold check`, then `scaffold changes`: only services that changed, or
   have no delivered image, are built), then per service `image`: `scaffold build`;
3. test that image: `scaffold test` runs the test image just built; only after it passes, and
   only in the merge queue, `scaffold build --push` pushes the runtime image (already built,
   so the same image) and records its digest (images-<service>.json);
4. deliver to `test` and wait: `deliver-test` runs `scaffold deploy test` with the images
   delivered at the base commit plus the new ones, pinned by digest, and writes the complete
   set (`delivered-images`); pre-flight, rollout, smoke tests, rollback on failure are
   scaffold's (docs/delivery.md);
5. roll back on failure: done by `scaffold deploy` (the job then fails);
6. merge only then: `ready`, the one required check, passes in the merge queue only when
   `deliver-test` succeeded (a skipped job would count as passed, hence this gate).
On a pull request the same jobs build and test without pushing or delivering, and `gates`
(scaffold.wiring.update_workflow) checks the wiring and the template versions.

`.github/workflows/promote.yml` (push to main, i.e. after the merge; or by hand): the
`delivered-images` of the commit's merge-queue run, promoted environment by environment, each
after an approval (`approve-<env>` uses the GitHub environment `<env>-approval`, where the
reviewers are set) when ecosystem.yaml asks for one. Nothing is built there: the digests are the
ones tested in `test`.

`.github/workflows/rollback.yml` (repository_dispatch `rollback`, sent by the rollback relay when
a rollback alert fires, or by hand): `scaffold rollback ENV`, with the environment's own GitHub
environment (its KUBECONFIG), so it never waits for an approval.

Services in their own repositories are checked out at the commit ecosystem.yaml pins
(`commit:`), in every job that builds, checks or delivers them. Values from ecosystem.yaml reach
shell only through the YAML dumper and quoting; GitHub expressions never land inside a `run:`
script except through `env:`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Final

from scaffold.model import Ecosystem, Environment
from scaffold.wiring._actions import (
    RUNNER,
    annotate_pins,
    checkout,
    clone_own_repositories,
    install_scaffold,
    setup_python,
    uses,
)
from scaffold.wiring._render import YAML_HEADER, dump_yaml, text_file
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.umbrella import environments
from scaffold.wiring.update_workflow import gates_job

WORKFLOW: Final = ".github/workflows/delivery.yml"
PROMOTE_WORKFLOW: Final = ".github/workflows/promote.yml"
ROLLBACK_WORKFLOW: Final = ".github/workflows/rollback.yml"
HELM_VERSION: Final = "v4.2.4"  # 4.1+: helm test --logs keeps passing test pods until read (docs/delivery.md)
DELIVERED: Final = "delivered-images"  # artifact: the complete set of images delivered to test
BASE: Final = "base-images"  # artifact: the set delivered at the base commit, when there is one
IMAGES_DIR: Final = "images"
RETENTION_DAYS: Final = 90  # how long a commit can be promoted, and its images reused by later builds

_MERGE_QUEUE: Final = "github.event_name == 'merge_group'"
_TEST: Final = 'scaffold test "$SERVICE"'
_DELIVERY_WORKFLOW_FILE: Final = WORKFLOW.rsplit("/", 1)[-1]


def _registry_host(ecosystem: Ecosystem) -> str:
    return ecosystem.registry.split("/", 1)[0]


def _scaffold_steps(ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """Python, scaffold, and the services in their own repositories at their pinned commits."""
    return [setup_python(), install_scaffold(ecosystem), *clone_own_repositories(ecosystem)]


def _cluster_steps() -> list[dict[str, Any]]:
    """Helm 4 and the environment's kubeconfig (the GitHub environment's KUBECONFIG secret)."""
    return [
        {"name": "Set up Helm", "uses": uses("azure/setup-helm"), "with": {"version": HELM_VERSION}},
        {
            "name": "Write the kubeconfig",
            "env": {"KUBECONFIG_CONTENT": "${{ secrets.KUBECONFIG }}"},
            "run": 'umask 077\nprintf \'%s\\n\' "$KUBECONFIG_CONTENT" > "$RUNNER_TEMP/kubeconfig"\n'
            'echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"',
        },
    ]


def _find_delivered(commit: str, destination: str, *, required: bool) -> dict[str, Any]:
    """Download the `delivered-images` artifact of the merge-queue run of `commit` (an expression)."""
    missing = (
        'echo "::error::No merge-queue run delivered commit $COMMIT: only commits that passed the merge '
        'queue are promoted."\n  exit 1'
        if required
        else 'echo "No images were delivered at $COMMIT: every service is built."\n  exit 0'
    )
    script = (
        f'run_id=$(gh run list --workflow {_DELIVERY_WORKFLOW_FILE} --event merge_group --commit "$COMMIT" '
        '--json databaseId --jq ".[0].databaseId // empty")\n'
        'if [ -z "$run_id" ]; then\n'
        f"  {missing}\n"
        "fi\n"
        f'gh run download "$run_id" --name {DELIVERED} --dir {shlex.quote(destination)}'
    )
    if not required:
        script += f' || echo "The run of $COMMIT kept no {DELIVERED}: every service is built."'
    return {
        "name": f"The images delivered at {'this' if required else 'the base'} commit",
        "env": {"GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}", "COMMIT": commit},
        "run": script,
    }


def _upload(name: str, path: str, *, optional: bool = False) -> dict[str, Any]:
    return {
        "name": f"Keep {name}",
        "uses": uses("actions/upload-artifact"),
        "with": {
            "name": name,
            "path": path,
            "if-no-files-found": "ignore" if optional else "error",
            "retention-days": RETENTION_DAYS,
        },
    }


def _download(name_or_pattern: str, path: str) -> dict[str, Any]:
    pattern = "*" in name_or_pattern
    return {
        "name": f"Fetch {name_or_pattern}",
        "uses": uses("actions/download-artifact"),
        "with": {
            **({"pattern": name_or_pattern, "merge-multiple": True} if pattern else {"name": name_or_pattern}),
            "path": path,
        },
    }


def _environment_job(env: Environment) -> dict[str, Any]:
    """What every job that changes an environment shares: its GitHub environment and one lock per
    environment, shared with the rollback job, so that deliveries and rollbacks never interleave."""
    return {
        "environment": {"name": env.name},
        "concurrency": {"group": f"deliver-{env.name}", "cancel-in-progress": False},
    }


# --- delivery.yml: pull requests and the merge queue -------------------------------------------


def _plan_job(ecosystem: Ecosystem) -> dict[str, Any]:
    base = "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"
    changes = (
        'if [ "$GITHUB_EVENT_NAME" = merge_group ]; then\n'
        f"  delivered=(--delivered {BASE}/{DELIVERED}.json)\n"
        "else\n"
        "  delivered=()\n"
        "fi\n"
        'scaffold changes --since "$BASE" "${delivered[@]}" --json > changes.json\n'
        "jq -r '.reasons | to_entries[] | \"\\(.key): \\(.value)\"' changes.json\n"
        'echo "services=$(jq -c .services changes.json)" >> "$GITHUB_OUTPUT"'
    )
    full_history = {**checkout(), "with": {**checkout()["with"], "fetch-depth": 0}}
    return {
        "name": "plan",
        "runs-on": RUNNER,
        "timeout-minutes": 20,
        "permissions": {"contents": "read", "actions": "read"},
        "outputs": {"services": "${{ steps.changes.outputs.services }}"},
        "steps": [
            full_history,
            *_scaffold_steps(ecosystem),
            {
                "name": "Wiring in sync with ecosystem.yaml, everything generated valid",
                "if": _MERGE_QUEUE,
                "run": "scaffold check",
            },
            {**_find_delivered("${{ github.event.merge_group.base_sha }}", BASE, required=False), "if": _MERGE_QUEUE},
            {**_upload(BASE, f"{BASE}/{DELIVERED}.json", optional=True), "if": _MERGE_QUEUE},
            {
                "name": "Services whose images must be built",
                "id": "changes",
                "env": {"BASE": base},
                "run": changes,
            },
        ],
    }


def _image_job(ecosystem: Ecosystem) -> dict[str, Any]:
    permissions = {"contents": "read"}
    if _registry_host(ecosystem) == "ghcr.io":
        permissions["packages"] = "write"
    artifact = "images-${{ matrix.service }}"
    return {
        "name": "image ${{ matrix.service }}",
        "needs": ["plan"],
        "if": "needs.plan.outputs.services != '[]'",
        "runs-on": RUNNER,
        "timeout-minutes": 45,
        "permissions": permissions,
        "strategy": {"fail-fast": False, "matrix": {"service": "${{ fromJSON(needs.plan.outputs.services) }}"}},
        "env": {"SERVICE": "${{ matrix.service }}"},
        "steps": [
            checkout(),
            *_scaffold_steps(ecosystem),
            {"name": "Build the test and runtime images, once", "run": 'scaffold build "$SERVICE"'},
            {
                "name": "Test the image just built (its test target, with its dependencies)",
                "run": 'scaffold test "$SERVICE"',
            },
            {
                "name": "Log in to the registry",
                "if": _MERGE_QUEUE,
                "uses": uses("docker/login-action"),
                "with": {
                    "registry": _registry_host(ecosystem),
                    "username": "${{ secrets.REGISTRY_USERNAME }}",
                    "password": "${{ secrets.REGISTRY_PASSWORD }}",
                },
            },
            {
                "name": "Push the tested runtime image and record its digest",
                "if": _MERGE_QUEUE,
                "run": 'scaffold build "$SERVICE" --push --images-file "images-$SERVICE.json"',
            },
            {**_upload(artifact, f"{artifact}.json"), "if": _MERGE_QUEUE},
        ],
    }


def _deliver_test_job(ecosystem: Ecosystem, env: Environment) -> dict[str, Any]:
    deploy = (
        "args=()\n"
        f"if [ -f {IMAGES_DIR}/{DELIVERED}.json ]; then\n"
        f"  args+=(--images {IMAGES_DIR}/{DELIVERED}.json)  # the images delivered at the base commit\n"
        "fi\n"
        f"for built in {IMAGES_DIR}/images-*.json; do\n"
        '  if [ -f "$built" ]; then args+=(--images "$built"); fi  # the new builds win\n'
        "done\n"
        f'scaffold deploy {shlex.quote(env.name)} "${{args[@]}}" --delivered-images {DELIVERED}.json'
    )
    return {
        "name": f"deliver to {env.name}",
        "needs": ["plan", "image"],
        "if": f"{_MERGE_QUEUE} && !cancelled() && needs.plan.result == 'success'"
        " && (needs.image.result == 'success' || needs.image.result == 'skipped')",
        "runs-on": RUNNER,
        "timeout-minutes": 40,
        "permissions": {"contents": "read"},
        **_environment_job(env),
        "steps": [
            checkout(),
            *_scaffold_steps(ecosystem),
            *_cluster_steps(),
            _download("images-*", IMAGES_DIR),
            _download(BASE, IMAGES_DIR) | {"continue-on-error": True},
            {
                "name": f"Deliver to {env.name}: pre-flight, roll out by digest, smoke tests, roll back on failure",
                "run": deploy,
            },
            _upload(DELIVERED, f"{DELIVERED}.json"),
        ],
    }


def _ready_job(first: Environment) -> dict[str, Any]:
    """The merge gate: GitHub counts a skipped job as passed, so the one required check is this job,
    which runs always and fails unless everything before it passed, and, in the merge queue,
    unless the delivery to the first environment did."""
    deliver = f"deliver-{first.name}"
    script = (
        'failed=$(jq -r \'to_entries[] | select(.value.result == "failure" or .value.result == "cancelled")'
        ' | .key\' <<<"$NEEDS")\n'
        'if [ -n "$failed" ]; then\n'
        '  echo "::error::Not ready to merge: $failed did not pass."\n'
        "  exit 1\n"
        "fi\n"
        f'delivered=$(jq -r \'."{deliver}".result\' <<<"$NEEDS")\n'
        'if [ "$GITHUB_EVENT_NAME" = merge_group ] && [ "$delivered" != success ]; then\n'
        f'  echo "::error::Not ready to merge: the delivery to {first.name} did not run or did not pass."\n'
        "  exit 1\n"
        "fi\n"
        'echo "Ready to merge."'
    )
    return {
        "name": "ready to merge",
        "needs": ["gates", "plan", "image", deliver],
        "if": "always()",
        "runs-on": RUNNER,
        "timeout-minutes": 5,
        "permissions": {},
        "steps": [{"name": "Everything passed", "env": {"NEEDS": "${{ toJSON(needs) }}"}, "run": script}],
    }


def delivery_workflow(ecosystem: Ecosystem) -> dict[str, Any]:
    order = environments(ecosystem)
    first = order[0]
    return {
        "name": "delivery",
        "on": {"pull_request": {"branches": ["main"]}, "merge_group": {"branches": ["main"]}},
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": "delivery-${{ github.ref }}",
            "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
        },
        "jobs": {
            "gates": gates_job(ecosystem),
            "plan": _plan_job(ecosystem),
            "image": _image_job(ecosystem),
            f"deliver-{first.name}": _deliver_test_job(ecosystem, first),
            "ready": _ready_job(first),
        },
    }


# --- promote.yml: after the merge --------------------------------------------------------------


def _reach(names: list[str]) -> str:
    """A manual run delivers up to the environment chosen, through the ones before it."""
    return f"github.event_name == 'push' || contains(fromJSON('{json.dumps(names)}'), inputs.environment)"


def promote_workflow(ecosystem: Ecosystem) -> dict[str, Any]:
    later = environments(ecosystem)[1:]
    jobs: dict[str, Any] = {
        "images": {
            "name": "images delivered to test",
            "runs-on": RUNNER,
            "timeout-minutes": 10,
            "permissions": {"contents": "read", "actions": "read"},
            "steps": [
                _find_delivered("${{ github.sha }}", IMAGES_DIR, required=True),
                _upload("promoted-images", f"{IMAGES_DIR}/{DELIVERED}.json"),
            ],
        }
    }
    previous = "images"
    for index, env in enumerate(later):
        reach = _reach([e.name for e in later[index:]])
        if env.approval:
            jobs[f"approve-{env.name}"] = {
                "name": f"approve {env.name}",
                "needs": [previous],
                "if": reach,
                "runs-on": RUNNER,
                "timeout-minutes": 5,
                "permissions": {},
                "environment": {"name": f"{env.name}-approval"},
                "steps": [
                    {
                        "name": "Approved",
                        "env": {"ACTOR": "${{ github.triggering_actor }}"},
                        "run": f'echo "Delivery to {env.name} approved (run started by $ACTOR)."',
                    }
                ],
            }
            previous = f"approve-{env.name}"
        jobs[f"deliver-{env.name}"] = {
            "name": f"deliver to {env.name}",
            "needs": [previous],
            "if": reach,
            "runs-on": RUNNER,
            "timeout-minutes": 40,
            "permissions": {"contents": "read"},
            **_environment_job(env),
            "steps": [
                checkout(),
                *_scaffold_steps(ecosystem),
                *_cluster_steps(),
                _download("promoted-images", IMAGES_DIR),
                {
                    "name": f"Deliver the images tested in test to {env.name}",
                    "run": f"scaffold deploy {shlex.quote(env.name)} --images {IMAGES_DIR}/{DELIVERED}.json",
                },
            ],
        }
        previous = f"deliver-{env.name}"
    on: dict[str, Any] = {"push": {"branches": ["main"]}}
    if later:
        names = [e.name for e in later]
        on["workflow_dispatch"] = {
            "inputs": {
                "environment": {
                    "description": "Deliver this commit up to this environment (through the ones before it)",
                    "type": "choice",
                    "required": True,
                    "options": names,
                    "default": names[0],
                }
            }
        }
    return {
        "name": "promote",
        "on": on,
        "permissions": {"contents": "read"},
        "concurrency": {"group": "promote", "cancel-in-progress": False},
        "jobs": jobs,
    }


# --- rollback.yml: on alerts and by hand -------------------------------------------------------


def rollback_workflow(ecosystem: Ecosystem) -> dict[str, Any]:
    names = [e.name for e in environments(ecosystem)]
    target = "github.event.client_payload.environment || inputs.environment"
    return {
        "name": "rollback",
        "on": {
            "repository_dispatch": {"types": ["rollback"]},
            "workflow_dispatch": {
                "inputs": {
                    "environment": {
                        "description": "The environment to roll back",
                        "type": "choice",
                        "required": True,
                        "options": names,
                    },
                    "revision": {
                        "description": "Revision to return to (empty: the last good one)",
                        "type": "string",
                        "required": False,
                        "default": "",
                    },
                }
            },
        },
        "permissions": {"contents": "read"},
        "jobs": {
            "rollback": {
                "name": f"roll back ${{{{ {target} }}}}",
                # Only a known environment: a dispatch names one in its payload, which anyone
                # allowed to send it could set to anything.
                "if": f"contains(fromJSON('{json.dumps(names)}'), {target})",
                "runs-on": RUNNER,
                "timeout-minutes": 30,
                "permissions": {"contents": "read"},
                "environment": {"name": f"${{{{ {target} }}}}"},
                "concurrency": {"group": f"deliver-${{{{ {target} }}}}", "cancel-in-progress": False},
                "steps": [
                    checkout(),
                    setup_python(),
                    install_scaffold(ecosystem),
                    *_cluster_steps(),
                    {
                        "name": "Roll back to the last good revision, then smoke test it",
                        "env": {
                            "ENVIRONMENT": f"${{{{ {target} }}}}",
                            "REVISION": "${{ inputs.revision }}",
                            "ALERTS": "${{ toJSON(github.event.client_payload.alerts) }}",
                        },
                        "run": 'if [ "$ALERTS" != null ]; then echo "Alerts: $ALERTS"; fi\n'
                        'if [ -n "$REVISION" ]; then\n'
                        '  scaffold rollback "$ENVIRONMENT" --to "$REVISION"\n'
                        "else\n"
                        '  scaffold rollback "$ENVIRONMENT"\n'
                        "fi",
                    },
                ],
            }
        },
    }


def _file(path: str, workflow: dict[str, Any], secrets: str) -> DerivedFile:
    return text_file(path, YAML_HEADER + f"# {secrets}\n" + annotate_pins(dump_yaml(workflow)))


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [
        _file(
            WORKFLOW,
            delivery_workflow(ecosystem),
            "Secrets: REGISTRY_USERNAME / REGISTRY_PASSWORD (repository), KUBECONFIG (GitHub environment test).\n"
            "# Required check of the merge queue: `ready to merge` (docs/delivery.md).",
        ),
        _file(
            PROMOTE_WORKFLOW,
            promote_workflow(ecosystem),
            "Secrets: KUBECONFIG (per GitHub environment); reviewers on the GitHub environments <env>-approval.",
        ),
        _file(
            ROLLBACK_WORKFLOW,
            rollback_workflow(ecosystem),
            "Started by the rollback relay (repository_dispatch `rollback`) or by hand; KUBECONFIG per environment.",
        ),
    ]
