"""Print medians and ratios from the hyperfine JSON files bench/run.sh wrote."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def medians(path: Path) -> dict[str, float]:
    results = json.loads(path.read_text())["results"]
    return {r["command"]: float(r["median"]) for r in results}


def main(directory: Path) -> None:
    help_median = next(iter(medians(directory / "help.json").values()))
    print(f"scaffold --help: median {help_median * 1000:.0f} ms")
    new = medians(directory / "new.json")
    ours, theirs = new["scaffold new backend"], new["copier copy"]
    print(
        f"scaffold new backend: median {ours:.3f} s; copier copy: median {theirs:.3f} s; "
        f"ratio {ours / theirs:.2f}x (goal <= 1.0x)"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
