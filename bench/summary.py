"""Figures from hyperfine's JSON files: min / median / max per command, and ratios of medians.

    python -m bench.summary FILE.json [--ratio A B GOAL]...    # "A / B", with the goal it must meet

Also prints each command's CPU time (user + system, mean over the runs, children included), the
figure to read when the machine is busy: a busy machine stretches wall time, not CPU time.
bench/run.sh calls `main(directory)` for start-up and `scaffold new`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    command: str
    minimum: float
    median: float
    maximum: float
    cpu: float  # mean user + system seconds
    runs: int


def timings(path: Path) -> dict[str, Timing]:
    found: dict[str, Timing] = {}
    for result in json.loads(path.read_text())["results"]:
        times = [float(t) for t in result["times"]]
        found[result["command"]] = Timing(
            result["command"],
            min(times),
            statistics.median(times),
            max(times),
            float(result["user"]) + float(result["system"]),
            len(times),
        )
    return found


def line(timing: Timing) -> str:
    return (
        f"{timing.command}: median {timing.median:.3f} s (min {timing.minimum:.3f}, max {timing.maximum:.3f}, "
        f"{timing.runs} runs); CPU {timing.cpu:.3f} s"
    )


def ratio(found: dict[str, Timing], first: str, second: str, goal: float, *, at_least: bool = False) -> str:
    a, b = found[first], found[second]
    wall, cpu = a.median / b.median, a.cpu / b.cpu
    sign = ">=" if at_least else "<="
    met = wall >= goal if at_least else wall <= goal
    return (
        f"{first} / {second}: {wall:.2f}x by median wall time, {cpu:.2f}x by CPU time "
        f"(goal {sign} {goal}x: {'met' if met else 'NOT met'})"
    )


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} CPUs"


def report(path: Path, ratios: list[tuple[str, str, float]]) -> None:
    found = timings(path)
    for timing in found.values():
        print(line(timing))
    for first, second, goal in ratios:
        print(ratio(found, first, second, goal))
    print(load())


def main(directory: Path) -> None:
    """bench/run.sh: start-up, and `scaffold new` against `copier copy`."""
    help_timing = next(iter(timings(directory / "help.json").values()))
    print(
        f"scaffold --help: median {help_timing.median * 1000:.0f} ms (min {help_timing.minimum * 1000:.0f}, "
        f"max {help_timing.maximum * 1000:.0f})"
    )
    report(directory / "new.json", [("scaffold new backend", "copier copy", 0.6)])


if __name__ == "__main__":
    if len(sys.argv) == 2 and Path(sys.argv[1]).is_dir():
        main(Path(sys.argv[1]))
    else:
        parser = argparse.ArgumentParser(description="min / median / max and ratios of a hyperfine JSON file")
        parser.add_argument("file", type=Path)
        parser.add_argument("--ratio", nargs=3, action="append", default=[], metavar=("A", "B", "GOAL"))
        arguments = parser.parse_args()
        report(arguments.file, [(a, b, float(goal)) for a, b, goal in arguments.ratio])
