"""Generate examples/: `python -m tests.make_examples examples` (what `make examples` runs).

The example ecosystem is made by the real CLI. The template cache is put at a fixed path so that
the answers files (which record copier's `_src_path`) are the same on every machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLE = "shop"
CACHE = "/tmp/scaffold-examples-cache"
STEPS = (
    ("init", EXAMPLE, "--defaults", "--data", "description=An example shop: orders and inventory"),
    ("new", "backend", "orders", "--defaults", "--data", "description=Takes and tracks customer orders"),
    ("new", "backend", "inventory", "--defaults", "--data", "description=Knows what is in stock"),
    ("new", "worker", "fulfilment", "--defaults", "--data", "description=Ships the orders that are published"),
    ("new", "frontend", "storefront", "--defaults", "--data", "api_service=orders"),
)


def generate(parent: Path) -> Path:
    env = {**os.environ, "XDG_CACHE_HOME": CACHE}
    for step in STEPS:
        cwd = parent if step[0] == "init" else parent / EXAMPLE
        subprocess.run(
            [sys.executable, "-m", "scaffold", *step],
            cwd=cwd,
            env=env,
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
    return parent / EXAMPLE


def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        made = generate(Path(scratch))
        shutil.rmtree(made / ".git")
        destination = target / EXAMPLE
        shutil.rmtree(destination, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(made, destination, symlinks=True)
    print(f"wrote {destination}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
