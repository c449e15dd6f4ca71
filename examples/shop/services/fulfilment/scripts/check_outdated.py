"""Exit 1 when a package pinned in the given requirements files has a newer release.

Needs the package index (network): exit 2 at once when it does not answer (scripts/check.sh
reports either, and fails on them only with CHECK_STRICT=1; CHECK_OUTDATED=0 skips this check).
The index is pip's: PIP_INDEX_URL, trusted with PIP_CERT when that is set.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

# Pins kept below the newest release on purpose, with the reason; reported, not failed.
HELD = {
    "sqlalchemy": "opentelemetry-instrumentation-sqlalchemy 0.66b2 supports sqlalchemy < 2.1",
}
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==")
TIMEOUT_S = 15  # per request: an index that does not answer must not hold the run for long


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(paths: list[str]) -> set[str]:
    names = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if match := PIN.match(line):
                names.add(canonical(match.group(1)))
    return names


def unreachable_index() -> str | None:
    """Why pip's index cannot be read (None when it answers): one request, before pip asks it
    once per package."""
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        with urllib.request.urlopen(  # noqa: S310 - the index is an http(s) URL by pip's own rules
            f"{index.rstrip('/')}/pip/", timeout=TIMEOUT_S, context=context
        ):
            return None
    except OSError as err:
        return f"{index} does not answer ({err})"


def main(paths: list[str]) -> int:
    names = pinned(paths)
    if not names:
        print(f"no pinned requirements found in {paths}", file=sys.stderr)
        return 2
    problem = unreachable_index()
    if problem is not None:
        print(f"cannot check: {problem}", file=sys.stderr)
        return 2
    limits = ["--retries", "1", "--timeout", str(TIMEOUT_S)]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--outdated", "--format=json", *limits],
        check=False,
        capture_output=True,
        text=True,
    )
    try:
        listed = json.loads(proc.stdout) if proc.returncode == 0 else None
    except ValueError:
        listed = None
    if not isinstance(listed, list):
        print(f"cannot check: pip list --outdated failed:\n{proc.stderr.strip()}", file=sys.stderr)
        return 2
    outdated = []
    for package in listed:
        name = canonical(package["name"])
        if name in HELD:
            print(
                f"held       {name} {package['version']} ({package['latest_version']} exists): "
                f"{HELD[name]}"
            )
        elif name in names:
            outdated.append(package)
    print(f"{len(names)} pinned packages checked")
    if outdated:
        lines = [f"{p['name']} {p['version']} -> {p['latest_version']}" for p in outdated]
        print("newer releases exist:", *lines, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
