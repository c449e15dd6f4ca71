"""Node packages the tests run (tests/<name>/package.json + package-lock.json), installed with
`npm ci` once per lock and cached outside the repository ($SCAFFOLD_TEST_CACHE)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def installed(name: str, env: dict[str, str] | None = None) -> Path:
    """The directory holding tests/`name`'s files and its node_modules, installed from its lock."""
    package = TESTS / name
    files = sorted(p for p in package.iterdir() if p.is_file())
    key = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()[:16]
    cache = Path(os.environ.get("SCAFFOLD_TEST_CACHE", Path.home() / ".cache" / "scaffold-tests"))
    target = cache / f"{name}-{key}"
    if not (target / "node_modules").is_dir():
        staging = cache / f"{name}-{key}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path in files:
            shutil.copy(path, staging / path.name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            env={**os.environ, **(env or {})},
            check=True,
            capture_output=True,
        )
        try:
            staging.rename(target)
        except OSError:  # another worker installed it first
            shutil.rmtree(staging, ignore_errors=True)
    return target
