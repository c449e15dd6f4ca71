from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import scaffold


@pytest.fixture(scope="session")
def pristine_ecosystem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A meta-project made once by `scaffold init shop --defaults`; tests get copies."""
    parent = tmp_path_factory.mktemp("pristine")
    scaffold("init", "shop", "--defaults", cwd=parent)
    return parent / "shop"


@pytest.fixture
def ecosystem(pristine_ecosystem: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    yield root
