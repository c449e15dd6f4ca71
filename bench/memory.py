"""Peak memory of a command and every process it starts: `python -m bench.memory -- COMMAND...`.

The memory of the command's whole process tree (the command, its check workers, checkov, compose,
hadolint) is summed from /proc every 20 ms; the peak of that sum is the figure (and the peak of the
largest single process beside it). /usr/bin/time -v reports only the largest process, which would
hide a pool of workers. Two sums: the proportional set size (PSS, /proc/PID/smaps_rollup: a page
shared by n processes counts 1/n in each, so the sum is what the tree takes from the machine) and
the resident set size (RSS), which counts every page shared by forked workers (the interpreter,
the modules imported before the fork) once per process: an upper bound.
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


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """(PSS sum, RSS sum, largest RSS) in bytes of `root` and its descendants."""
    children = _children()
    pending, pids = [root], []
    while pending:
        pid = pending.pop()
        pids.append(pid)
        pending += children.get(pid, [])
    sizes = [_rss(pid) for pid in pids]
    return sum(_pss(pid) for pid in pids), sum(sizes), max(sizes, default=0)


def measure(command: list[str]) -> tuple[int, int, int, float, int]:
    """(peak PSS sum, peak RSS sum, peak single RSS, seconds, exit code) of running `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak_pss = peak_rss = peak_one = 0
    while process.poll() is None:
        pss, rss, largest = tree_memory(process.pid)
        peak_pss, peak_rss, peak_one = max(peak_pss, pss), max(peak_rss, rss), max(peak_one, largest)
        time.sleep(0.02)
    return peak_pss, peak_rss, peak_one, time.perf_counter() - started, process.returncode


def main(command: list[str]) -> None:
    peak_pss, peak_rss, peak_one, seconds, code = measure(command)
    mb = 1000 * 1000
    print(
        f"{' '.join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command))}: "
        f"peak {peak_pss / mb:.0f} MB PSS for the whole process tree ({peak_rss / mb:.0f} MB RSS summed, "
        f"largest process {peak_one / mb:.0f} MB RSS), {seconds:.1f} s, exit {code} (goal < 500 MB)"
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(arguments[1:] if arguments[:1] == ["--"] else arguments)
