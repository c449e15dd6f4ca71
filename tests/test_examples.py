"""examples/ is exactly what the templates produce today, and it passes the real validators."""

from __future__ import annotations

from pathlib import Path

from tests.check_ecosystem import check
from tests.helpers import diff, snapshot
from tests.make_examples import EXAMPLE, generate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_examples_match_a_fresh_generation(tmp_path: Path) -> None:
    made = generate(tmp_path)
    differences = diff(snapshot(EXAMPLES / EXAMPLE), snapshot(made))
    assert differences == [], f"examples/ is stale, run `make examples`: {differences[:10]}"


def test_example_ecosystem_passes_the_validators() -> None:
    check(EXAMPLES / EXAMPLE, report=lambda line: None)
