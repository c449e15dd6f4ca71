"""Peak memory of a command and every process it starts: `python -m bench.memory -- COMMAND...`.

The resident set size of the command's whole process tree (the command, its check workers,
checkov, compose, hadolint) is summed from /proc every 20 ms; the peak of that sum is the figure
(and the peak of the largest single process beside it). /usr/bin/time -v reports only the largest
process, which would hide a pool of workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _rss(pid: int) -> int:
    try:
        return int((Path(f"/proc/{pid}/statm")).read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(sum, largest) resident bytes of `root` and its descendants."""
    children = _children()
    pending, sizes = [root], []
    while pending:
        pid = pending.pop()
        sizes.append(_rss(pid))
        pending += children.get(pid, [])
    return sum(sizes), max(sizes, default=0)


def measure(command: list[str]) -> tuple[int, int, float, int]:
    """(peak sum, peak single, seconds, exit code) of running `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak_sum = peak_one = 0
    while process.poll() is None:
        total, largest = tree_rss(process.pid)
        peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
        time.sleep(0.02)
    return peak_sum, peak_one, time.perf_counter() - started, process.returncode


def main(command: list[str]) -> None:
    peak_sum, peak_one, seconds, code = measure(command)
    mib = 1024 * 1024
    print(
        f"{' '.join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command))}: "
        f"peak {peak_sum / mib:.0f} MiB for the whole process tree (largest process {peak_one / mib:.0f} MiB), "
        f"{seconds:.1f} s, exit {code} (goal < 500 MB)"
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(arguments[1:] if arguments[:1] == ["--"] else arguments)
