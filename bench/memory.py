"""Peak memory of a command and every process it starts: `python -m bench.memory -- COMMAND...`.

The memory of the command's whole process tree (the command, its check workers, checkov, compose,
hadolint) is summed from /proc every 20 ms; the peak of that sum is the figure (and the peak of the
largest single process beside it). /usr/bin/time -v reports only the largest process, which would
hide a pool of workers. Two sums: the proportional set size (PSS, /proc/PID/smaps_rollup: a page
shared by n processes counts 1/n in each, so the sum is what the tree takes from the machine) and
the resident set size (RSS), which counts every page shared by forked workers (the interpreter,
the modules imported before the fork) once per process: an upper bound. The processes that make
the peak are listed under the figure, largest first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Sample:
    """The tree's memory at one moment: sums in bytes, and each process's PSS with its command."""

    pss: int
    rss: int
    largest_rss: int
    processes: tuple[tuple[int, str], ...]  # (PSS, command), largest first


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def tree_memory(root: int) -> Sample:
    """`root` and its descendants, now."""
    children = _children()
    pending, pids = [root], []
    while pending:
        pid = pending.pop()
        pids.append(pid)
        pending += children.get(pid, [])
    sizes = [_rss(pid) for pid in pids]
    shares = [(_pss(pid), pid) for pid in pids]
    processes = tuple(sorted(((pss, _command(pid)) for pss, pid in shares), reverse=True))
    return Sample(sum(pss for pss, _ in shares), sum(sizes), max(sizes, default=0), processes)


def measure(command: list[str]) -> tuple[Sample, Sample, float, int]:
    """(the sample of peak PSS, one whose fields are each their peak, seconds, exit code) of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    at_peak = peaks = Sample(0, 0, 0, ())
    while process.poll() is None:
        sample = tree_memory(process.pid)
        if sample.pss > at_peak.pss:
            at_peak = sample
        peaks = Sample(
            max(peaks.pss, sample.pss), max(peaks.rss, sample.rss), max(peaks.largest_rss, sample.largest_rss), ()
        )
        time.sleep(0.02)
    return at_peak, peaks, time.perf_counter() - started, process.returncode


def main(command: list[str]) -> None:
    at_peak, peaks, seconds, code = measure(command)
    mb = 1000 * 1000
    print(
        f"{' '.join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command))}: "
        f"peak {peaks.pss / mb:.0f} MB PSS for the whole process tree ({peaks.rss / mb:.0f} MB RSS summed, "
        f"largest process {peaks.largest_rss / mb:.0f} MB RSS), {seconds:.1f} s, exit {code} (goal < 500 MB)"
    )
    # Which processes make the peak: where memory is to be saved.
    for pss, name in at_peak.processes[:5]:
        print(f"  {pss / mb:5.0f} MB PSS  {name[:120]}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(arguments[1:] if arguments[:1] == ["--"] else arguments)
