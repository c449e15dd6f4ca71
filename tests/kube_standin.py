"""A recording stand-in for `helm` (4.1) and `kubectl`, for testing delivery without a cluster.

No Kubernetes API server and no helm binary can be installed on the machines the suite runs on
(docs/delivery.md says what this does and does not prove). This program is installed on PATH as
both `helm` and `kubectl` (`install(directory)`); it

- records every call (program, arguments, and the content of each `--values` file, which
  scaffold deletes afterwards) as one JSON line in $STANDIN_LOG, so tests assert the exact commands;
- accepts only the flags of the subcommands scaffold uses, as Helm 4.1's and kubectl's own
  definitions spell them (a misspelt flag fails as it would for real: "unknown flag");
- keeps a small cluster in $STANDIN_STATE (JSON): contexts, namespaces, Secrets (names only),
  served custom APIs, and releases whose history follows Helm 4.1's rules as read in its source
  (pkg/action/upgrade.go failRelease, install.go failRelease, rollback.go prepareRollback):
  an upgrade that fails with --rollback-on-failure records a failed revision and then a
  "Rollback to N" revision to the newest deployed/superseded one; a failed first install is
  uninstalled; `helm rollback R N` to a revision that does not exist fails with
  "release has no N version".

Failures are driven by image digests, as a broken image would cause them: a revision whose values
pin a digest listed in `unready` never becomes ready (the rollout fails), one listed in `failing`
becomes ready but fails `helm test`. A rollback restores the earlier revision's values, so its
smoke test passes again, as for real.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()

# Flags each subcommand accepts: name -> takes a value (Helm 4.1: pkg/cmd/*.go; kubectl: kubectl/pkg/cmd).
HELM_GLOBAL = {"--namespace": True, "--kube-context": True, "--kube-apiserver": True}
HELM_FLAGS: dict[str, dict[str, bool]] = {
    "version": {"--short": False},
    "history": {"--output": True, "--max": True},
    "upgrade": {
        "--install": False,
        "--values": True,
        "--rollback-on-failure": False,
        "--wait": True,  # only as --wait=STRATEGY: a bare --wait means watcher and takes no next argument
        "--wait-for-jobs": False,
        "--timeout": True,
        "--history-max": True,
        "--description": True,
    },
    "test": {"--logs": False, "--timeout": True},
    "rollback": {"--wait": True, "--wait-for-jobs": False, "--timeout": True, "--history-max": True},
    "uninstall": {"--wait": True, "--timeout": True},
    "get values": {"--output": True},
}
WAIT_STRATEGIES = {"watcher", "hookOnly", "legacy"}
KUBECTL_GLOBAL = {"--context": True, "--server": True, "--request-timeout": True, "--namespace": True}
KUBECTL_FLAGS = {
    "version": {"--output": True},
    "get": {"--ignore-not-found": False, "--output": True, "--no-headers": False, "--raw": True, "--selector": True},
}


def install(directory: Path, log: Path, state: Path, cluster: dict[str, Any]) -> dict[str, str]:
    """Put `helm` and `kubectl` stand-ins in `directory`; return the environment that makes scaffold
    use them (PATH first) with `cluster` as the starting state."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("helm", "kubectl"):
        program = directory / name
        program.write_text(
            f"#!{sys.executable}\nimport os, runpy\nos.environ['STANDIN_PROGRAM'] = {name!r}\n"
            f"runpy.run_path({str(SELF)!r}, run_name='__main__')\n"
        )
        program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    state.write_text(json.dumps(cluster), encoding="utf-8")
    return {
        "PATH": f"{directory}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_LOG": str(log),
        "STANDIN_STATE": str(state),
    }


def cluster(**overrides: Any) -> dict[str, Any]:
    """A healthy cluster with the contexts and namespaces of `scaffold init shop`."""
    base: dict[str, Any] = {
        "helm_version": "v4.1.0+g4af4f8b",
        "reachable": True,
        "kubernetes": "v1.31.4",
        "contexts": ["shop-test", "shop-staging", "shop-production"],
        "namespaces": ["shop-test", "shop-staging", "shop"],
        "namespaces_forbidden": False,
        "secrets": {
            "shop-test": ["shop-test-secrets"],
            "shop-staging": ["shop-staging-secrets"],
            "shop": ["shop-production-secrets"],
        },
        "apis": {
            "monitoring.coreos.com/v1": ["ServiceMonitor", "PrometheusRule", "PodMonitor"],
            "gateway.networking.k8s.io/v1": ["Gateway", "HTTPRoute", "GRPCRoute"],
            "gateway.envoyproxy.io/v1alpha1": ["SecurityPolicy", "BackendTrafficPolicy"],
        },
        "releases": {},
        "unready": [],
        "failing": [],
        "rollback_fails": False,
    }
    return {**base, **overrides}


def calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def read_state(state: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(state.read_text(encoding="utf-8"))
    return loaded


# --- the program ------------------------------------------------------------------------------


class Fail(Exception):
    """The program fails: `message` on standard error, `stdout` (what it printed first) on standard output."""

    def __init__(self, message: str, code: int = 1, stdout: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.stdout = stdout


def parse(args: list[str], flags: dict[str, bool]) -> tuple[list[str], dict[str, list[str]]]:
    """Positional arguments and flag values; an unknown flag fails as cobra does."""
    positional: list[str] = []
    values: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, has_value, value = arg.partition("=")
            if name not in flags:
                raise Fail(f"Error: unknown flag: {name}")
            if flags[name] and not has_value:
                if name == "--wait":
                    raise Fail("Error: --wait takes its strategy as --wait=watcher (a separate argument is not read)")
                i += 1
                if i >= len(args):
                    raise Fail(f"Error: flag needs an argument: {name}")
                value = args[i]
            values.setdefault(name, []).append(value if flags[name] else "true")
        else:
            positional.append(arg)
        i += 1
    return positional, values


def one(values: dict[str, list[str]], name: str, default: str = "") -> str:
    return values.get(name, [default])[-1]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            deep_merge(merged[key], value) if isinstance(merged.get(key), dict) and isinstance(value, dict) else value
        )
    return merged


def digests(values: dict[str, Any]) -> set[str]:
    return {
        str(section["image"]["digest"])
        for section in values.values()
        if isinstance(section, dict) and isinstance(section.get("image"), dict) and section["image"].get("digest")
    }


def history_of(state: dict[str, Any], namespace: str, release: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = state["releases"].get(f"{namespace}/{release}", [])
    return found


def add_revision(state: dict[str, Any], key: str, status: str, description: str, values: dict[str, Any]) -> int:
    revisions = state["releases"].setdefault(key, [])
    for revision in revisions:
        if revision["status"] == "deployed" and status == "deployed":
            revision["status"] = "superseded"
    number = max((r["revision"] for r in revisions), default=0) + 1
    revisions.append(
        {
            "revision": number,
            "status": status,
            "chart": "shop-0.1.0",
            "app_version": "",
            "description": description,
            "updated": f"2026-01-01T00:00:{number:02d}Z",
            "values": values,
        }
    )
    return number


def helm(args: list[str], state: dict[str, Any], record: dict[str, Any]) -> str:
    command = "get values" if args[:2] == ["get", "values"] else args[0] if args else ""
    if command not in HELM_FLAGS:
        raise Fail(f'Error: unknown command "{command}" for "helm"')
    rest = args[2:] if command == "get values" else args[1:]
    positional, values = parse(rest, {**HELM_FLAGS[command], **HELM_GLOBAL})
    for wait in values.get("--wait", []):
        if wait not in WAIT_STRATEGIES:
            raise Fail(f'Error: invalid wait input "{wait}". Valid inputs are watcher, hookOnly, and legacy')
    if command == "version":
        return str(state["helm_version"]) + "\n"
    context = one(values, "--kube-context")
    if context and context not in state["contexts"]:
        raise Fail(f'Error: kubernetes cluster unreachable: context "{context}" does not exist')
    if not state["reachable"]:
        raise Fail('Error: kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": dial tcp: i/o timeout')
    namespace = one(values, "--namespace", "default")
    release = positional[0]
    key = f"{namespace}/{release}"
    history = history_of(state, namespace, release)
    if command == "history":
        if not history:
            raise Fail("Error: release: not found")
        shown = [{k: v for k, v in r.items() if k != "values"} for r in history][-int(one(values, "--max", "256")) :]
        return json.dumps(shown) + "\n"
    if command == "get values":
        if not history:
            raise Fail("Error: release: not found")
        return json.dumps(history[-1]["values"]) + "\n"
    if command == "upgrade":
        chart = Path(positional[1])
        if not (chart / "Chart.yaml").is_file():
            raise Fail(f"Error: path {chart!r} not found")
        merged: dict[str, Any] = {}
        record["values"] = {}
        for path in values.get("--values", []):
            text = Path(path).read_text(encoding="utf-8")
            record["values"][path] = text
            import yaml

            merged = deep_merge(merged, yaml.safe_load(text) or {})
        if history and history[-1]["status"].startswith("pending"):
            raise Fail("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
        if not history and "--install" not in values:
            raise Fail(f'Error: UPGRADE FAILED: "{release}" has no deployed releases')
        description = one(values, "--description", "Upgrade complete" if history else "Install complete")
        if digests(merged) & set(state["unready"]):
            error = "context deadline exceeded: resource Deployment/shop-orders not ready"
            if not history:
                raise Fail(
                    f"Error: INSTALLATION FAILED: release {release} failed, and has been uninstalled due to "
                    f"rollback-on-failure being set: {error}"
                )
            add_revision(state, key, "failed", f'Upgrade "{release}" failed: {error}', merged)
            good = [r for r in history if r["status"] in ("deployed", "superseded")]
            target = good[-1]
            for revision in history:
                if revision["status"] == "deployed":
                    revision["status"] = "superseded"
            add_revision(state, key, "deployed", f"Rollback to {target['revision']}", target["values"])
            raise Fail(
                f"Error: UPGRADE FAILED: release {release} failed, and has been rolled back due to "
                f"rollback-on-failure being set: {error}"
            )
        number = add_revision(state, key, "deployed", description, merged)
        return f'Release "{release}" has been upgraded. Happy Helming!\nREVISION: {number}\n'
    if command == "test":
        if not history:
            raise Fail("Error: release: not found")
        current = history[-1]
        broken = digests(current["values"]) & set(state["failing"])
        services = sorted(n for n, v in current["values"].items() if isinstance(v, dict) and "image" in v)
        logs = "\n".join(
            f"POD LOGS: shop-{name}-test-connection (test-connection)\nhttp://shop-{name}:80/readyz "
            + ("503" if broken else "200")
            for name in services
        )
        if broken:
            raise Fail(
                "Error: 1 error occurred:\n\t* pod shop-orders-test-connection failed",
                stdout=f"NAME: {release}\nTEST SUITE: shop-orders-test-connection\nPhase: Failed\n\n{logs}\n",
            )
        return f"NAME: {release}\nTEST SUITE: shop-orders-test-connection\nPhase: Succeeded\n\n{logs}\n"
    if command == "rollback":
        if not history:
            raise Fail("Error: release: not found")
        target_number = int(positional[1])
        matching = [r for r in history if r["revision"] == target_number]
        if not matching:
            raise Fail(f"Error: release has no {target_number} version")
        target = matching[0]
        if state["rollback_fails"]:
            raise Fail("Error: context deadline exceeded")
        for revision in history:
            if revision["status"] == "deployed":
                revision["status"] = "superseded"
        add_revision(state, key, "deployed", f"Rollback to {target_number}", target["values"])
        return "Rollback was a success! Happy Helming!\n"
    if command == "uninstall":
        if not history:
            raise Fail(f"Error: uninstall: Release not loaded: {release}: release: not found")
        del state["releases"][key]
        return f'release "{release}" uninstalled\n'
    raise Fail(f"Error: {command} is not simulated")


def kubectl(args: list[str], state: dict[str, Any]) -> str:
    # Global flags may come anywhere, before the command too: the command is the first word left.
    words = [a for i, a in enumerate(args) if not a.startswith("-") and not (i and args[i - 1] in KUBECTL_GLOBAL)]
    command = words[0] if words else ""
    if command not in KUBECTL_FLAGS:
        raise Fail(f'error: unknown command "{command}" for "kubectl"')
    rest = list(args)
    rest.remove(command)
    positional, values = parse(rest, {**KUBECTL_FLAGS[command], **KUBECTL_GLOBAL})
    context = one(values, "--context")
    if context and context not in state["contexts"]:
        raise Fail(f'error: context "{context}" does not exist')
    client = {"clientVersion": {"gitVersion": "v1.32.4"}}
    if not state["reachable"]:
        if command == "version":
            sys.stdout.write(json.dumps(client) + "\n")
        raise Fail("Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout")
    if command == "version":
        return json.dumps({**client, "serverVersion": {"gitVersion": state["kubernetes"]}}) + "\n"
    if "--raw" in values:
        group_version = one(values, "--raw").removeprefix("/apis/")
        kinds = state["apis"].get(group_version)
        if kinds is None:
            raise Fail("Error from server (NotFound): the server could not find the requested resource")
        return json.dumps(
            {"kind": "APIResourceList", "groupVersion": group_version, "resources": [{"kind": k} for k in kinds]}
        )
    kind, names = positional[0], positional[1:]
    namespace = one(values, "--namespace", "default")
    if kind == "namespace":
        if state["namespaces_forbidden"]:
            raise Fail(f'Error from server (Forbidden): namespaces "{names[0]}" is forbidden: User cannot get resource')
        return f"namespace/{names[0]}\n" if names[0] in state["namespaces"] else ""
    if kind == "secret":
        if "--output" in values:
            raise Fail("this stand-in refuses to print a Secret in a machine format: it would carry its values")
        found = names[0] in state["secrets"].get(namespace, [])
        return f"{names[0]}   Opaque   2     5d\n" if found else ""
    if kind == "deployments":
        release = one(values, "--selector").removeprefix("app.kubernetes.io/instance=")
        history = history_of(state, namespace, release)
        values = history[-1]["values"] if history else {}
        services = sorted(name for name, section in values.items() if isinstance(section, dict) and "image" in section)
        items = [
            {"metadata": {"name": f"{release}-{name}"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}
            for name in services
        ]
        return json.dumps({"items": items}) + "\n"
    raise Fail(f'error: the server doesn\'t have a resource type "{kind}"')


def main() -> int:
    program = os.environ["STANDIN_PROGRAM"]  # runpy sets argv[0] to this file's path
    args = sys.argv[1:]
    record: dict[str, Any] = {"program": program, "args": args}
    state_path = Path(os.environ["STANDIN_STATE"])
    state = read_state(state_path)
    try:
        out = helm(args, state, record) if program == "helm" else kubectl(args, state)
        code = 0
        sys.stdout.write(out)
    except Fail as failure:
        code = failure.code
        sys.stdout.write(failure.stdout)
        sys.stderr.write(str(failure) + "\n")
    state_path.write_text(json.dumps(state), encoding="utf-8")
    with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({**record, "exit": code}) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
