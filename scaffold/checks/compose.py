"""Compose files through the Docker Compose v2 binary: `docker compose -f FILE config -q`.

`config` needs no container engine; it resolves `include`, interpolates variables and checks
`depends_on` targets and `develop.watch`. Its warnings (an unset variable) are reported too.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Final

from scaffold.checks.findings import Finding

TIMEOUT: Final = 120
_LINE = re.compile(r"line (\d+)")
_LOG = re.compile(r'level=(?P<level>\w+) msg="(?P<msg>(?:[^"\\]|\\.)*)"')


def _environment() -> dict[str, str]:
    # COMPOSE_FILE, COMPOSE_PROFILES... of the user's shell would check something else than the file.
    return {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}


def config(binary: str, file: Path, *, relative: str) -> list[Finding]:
    file = file.resolve()
    proc = subprocess.run(
        [binary, "-f", str(file), "config", "-q"],
        cwd=file.parent,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=TIMEOUT,
    )
    found: list[Finding] = []
    other: list[str] = []
    for raw in proc.stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        log = _LOG.search(line)
        if log:
            message = log["msg"].replace('\\"', '"')
            found.append(Finding("warning" if log["level"] in ("warning", "info") else "error", message, relative))
        else:
            other.append(line.replace(str(file.parent) + os.sep, "").replace(str(file), relative))
    if proc.returncode != 0:
        message = " ".join(other) or f"docker compose config exited with {proc.returncode}"
        at = _LINE.search(message)
        found.append(Finding("error", message, relative, int(at.group(1)) if at else None))
    return found
