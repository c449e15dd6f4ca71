"""Running a generated Python service's own tools: its virtualenv (cached), a clean environment,
and reading what its processes print.

The virtualenv holds the service's locked requirements, installed as its image installs them
(`pip install --no-deps --require-hashes -r requirements-dev.txt`, the lock of runtime and dev packages). It
is made once per lock (what requirements*.txt lock, their comments aside) and Python version under
${SCAFFOLD_TEST_CACHE:-~/.cache/scaffold-tests}/venvs and reused by every test, test run and
pytest-xdist worker (a file lock makes one build it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

PIP_TIMEOUT_S = 900
STARTUP_DEADLINE_S = 60.0
# Settings a caller's environment may hold that must not leak into a service under test.
SERVICE_SETTINGS = ("OTEL_", "DATABASE_URL", "AMQP_", "WORKER_", "METRICS_", "PYTEST_", "VIRTUAL_ENV")


def cache_root() -> Path:
    configured = os.environ.get("SCAFFOLD_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "scaffold-tests"


def service_venv(project: Path) -> Path:
    """A virtualenv with the service's locked requirements, made once per lock and Python."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}|{sys.platform}".encode())
    for file in sorted(project.glob("requirements*.txt")):
        # Comments left out: uv's `# via <service name>` lines would give each name a venv.
        locked = [line for line in file.read_text().splitlines() if not line.lstrip().startswith("#")]
        digest.update(file.name.encode() + b"\0" + "\n".join(locked).encode() + b"\0")
    root = cache_root() / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    venv = root / digest.hexdigest()
    # pytest-xdist workers may get here together: one builds, the others wait and reuse.
    with open(root / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "-r",
                "requirements-dev.txt",
            ],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
        )
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.fail(f"installing the service's requirements failed:\n{proc.stdout}{proc.stderr}")
        (venv / ".complete").write_text("\n".join(f.name for f in project.glob("requirements*.txt")))
    return venv


def clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """This environment without the service settings of the caller, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_SETTINGS)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def pytest_summary(output: str) -> dict[str, int]:
    """Counts from pytest's closing line, e.g. `=== 39 passed, 1 skipped in 2.1s ===`."""
    lines = [line for line in output.splitlines() if re.search(r"\d+ \w+.* in [\d.]+s", line)]
    assert lines, f"no pytest summary line in:\n{output[-3000:]}"
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0, "xfailed": 0, "xpassed": 0}
    for number, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", lines[-1]):
        counts[word.rstrip("s") if word.startswith("error") else word] += int(number)
    return counts


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def post_json(url: str, payload: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode() if payload is not None else b"",
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def wait_until_up(
    process: subprocess.Popen[bytes], url: str, log: Path, deadline_s: float = STARTUP_DEADLINE_S
) -> None:
    """Until `url` answers 2xx; fails with the process's output when it exits or never answers."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the process exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered {url}:\n{log.read_text()}")


def json_records(log: Path) -> list[dict[str, Any]]:
    """Every line a service printed, each of which must be one JSON object."""
    records = []
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"a stdout line is not JSON: {line!r}")
        assert isinstance(record, dict), line
        records.append(record)
    return records
