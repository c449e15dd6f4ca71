"""Fail when a package pinned in the given requirements files has a newer release.

Needs the package index (network): scripts/check.sh skips it with CHECK_OUTDATED=0.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

# Pins kept below the newest release on purpose, with the reason; reported, not failed.
HELD = {
    "sqlalchemy": "opentelemetry-instrumentation-sqlalchemy 0.66b2 supports sqlalchemy < 2.1",
}
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(paths: list[str]) -> set[str]:
    names = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if match := PIN.match(line):
                names.add(canonical(match.group(1)))
    return names


def main(paths: list[str]) -> int:
    names = pinned(paths)
    if not names:
        print(f"no pinned requirements found in {paths}", file=sys.stderr)
        return 2
    output = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--outdated", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    outdated = []
    for package in json.loads(output):
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
