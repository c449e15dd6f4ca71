"""Whether a command's progress bar tells the truth about the time left, measured on a real run.

    python -m bench.progress_truth -- scaffold update --all -C META_PROJECT

Runs the command under a pseudo-terminal (so the bar draws; CI is removed from its environment),
reads every frame of the bar as it comes, and compares each "about N s/min left" with the time the
run really took from that frame to the last one. Prints every frame, then the relative error's
median and maximum over the frames from the 10th item to the 10th from the end (the first items
carry the workers' start-up and the last few their own spread, as tests/test_progress.py judges).
"""

from __future__ import annotations

import os
import pty
import re
import select
import statistics
import sys
import time
from dataclasses import dataclass

_FRAME = re.compile(rb"\[[#.]+\] (\d+)/(\d+)(?: \(about (\d+) (s|min) left\))?")


@dataclass(frozen=True)
class Frame:
    moment: float  # seconds since the command started
    done: int
    total: int
    said: int | None  # the estimate the bar showed, in seconds


def frames_of(argv: list[str]) -> list[Frame]:
    pid, descriptor = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, {k: v for k, v in os.environ.items() if k != "CI"})
    start, found = time.monotonic(), []
    while True:
        try:
            ready, _, _ = select.select([descriptor], [], [], 1.0)
            data = os.read(descriptor, 65536) if ready else b"-"
        except OSError:  # the command ended: the terminal is gone
            break
        if not data:
            break
        now = time.monotonic() - start
        for match in _FRAME.finditer(data):
            said = int(match[3]) * (60 if match[4] == b"min" else 1) if match[3] else None
            found.append(Frame(now, int(match[1]), int(match[2]), said))
    os.waitpid(pid, 0)
    return found


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    frames = frames_of(command)
    if not frames:
        print("the command drew no progress bar", file=sys.stderr)
        return 1
    last = max(f.moment for f in frames)
    errors = []
    for frame in frames:
        if frame.said is None:
            continue
        really = last - frame.moment
        print(f"{frame.moment:6.1f} s  {frame.done}/{frame.total}  said {frame.said} s left, really {really:.1f} s")
        if frame.done >= 10 and frame.total - frame.done >= 10 and really > 0:
            errors.append(abs(frame.said - really) / really)
    if errors:
        median, worst = statistics.median(errors), max(errors)
        print(f"relative error over {len(errors)} frames: median {median:.2f}, max {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
