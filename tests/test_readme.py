"""The README, followed as a new user would: a fresh clone, the install commands, `scaffold new`.

The commands are read from the README's "Install" section (its `sh` blocks), the clone URL being
this repository, and run by bash with a PATH that holds only the system's programs, Python and
`uv` (what the README asks the user to have): `scaffold` must then come from where `uv tool
install` puts it, found through the shell's PATH, not from the development `.venv`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PLACEHOLDER = "<scaffold's git URL>"


def install_blocks() -> list[str]:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_the_readme_says_how_to_install_and_start() -> None:
    install, start = install_blocks()
    assert PLACEHOLDER in install and "uv tool install ." in install and "pipx install ." in install
    assert "scaffold new backend orders" in start


@pytest.mark.e2e
def test_a_fresh_clone_and_the_readme_lead_to_a_running_scaffold_new_through_path(tmp_path: Path) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    tools = tmp_path / "tools"  # what the README expects the user to have: uv (and git, Python)
    tools.mkdir()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    assert uv, "uv is installed by `make install` (dev extra)"
    (tools / "uv").symlink_to(uv)
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = home / ".local" / "bin"
    base_python = Path(sys.base_prefix) / "bin"
    path = os.pathsep.join([str(bin_dir), str(tools), str(base_python), "/usr/local/bin", "/usr/bin", "/bin"])
    install, start = install_blocks()
    script = "set -euo pipefail\n" + install.replace(PLACEHOLDER, str(REPO)) + start
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTHON", "UV_", "PIP_")) and key != "PATH"
    }
    cache = Path(os.environ.get("SCAFFOLD_TEST_CACHE", Path.home() / ".cache" / "scaffold-tests"))
    env |= {
        "HOME": str(home),
        "PATH": path,
        "XDG_BIN_HOME": str(bin_dir),
        "UV_CACHE_DIR": str(cache / "uv"),  # downloads kept between runs, outside the repository
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_TOOL_DIR": str(home / ".local" / "share" / "uv" / "tools"),
    }
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The scaffold that ran is the one installed from the clone, found on PATH in ~/.local/bin.
    found = subprocess.run(["bash", "-c", "command -v scaffold"], env=env, capture_output=True, text=True)
    assert found.stdout.strip() == str(bin_dir / "scaffold")
    assert re.search(r"^scaffold \d+\.\d+\.\d+", proc.stdout, flags=re.M)
    clone = tmp_path / "scaffold"
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout == head
    shop = clone / "shop"
    services = yaml.safe_load((shop / "ecosystem.yaml").read_text())["services"]
    assert services["orders"]["kind"] == "backend"
    assert (shop / "services" / "orders" / "Dockerfile").is_file() and "Added backend 'orders'" in proc.stdout
