"""The fleet update's progress bar says how long the rest takes, and only what it can know.

Runs are simulated on a clock of their own: a pool of workers plans services whose durations vary
around a mean, after a start-up; at every item done the bar's estimate is compared with the time
the rest of the simulated run really took.
"""

from __future__ import annotations

import heapq
import io
import random

import pytest

from scaffold.progress import ProgressBar, Remaining, duration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulated_run(count: int, workers: int, startup: float, seed: int) -> list[float]:
    """When each item is done, for `workers` working through items of 0.6-1.4 s after a start-up."""
    rng = random.Random(seed)
    free = [startup] * workers
    heapq.heapify(free)
    finished = []
    for _ in range(count):
        start = heapq.heappop(free)
        end = start + rng.uniform(0.6, 1.4)
        finished.append(end)
        heapq.heappush(free, end)
    return sorted(finished)


@pytest.mark.parametrize(("count", "workers", "startup", "seed"), [(100, 2, 3.0, 1), (100, 8, 5.0, 2), (40, 1, 1.0, 3)])
def test_the_estimate_is_close_to_the_time_really_left(count: int, workers: int, startup: float, seed: int) -> None:
    finished = simulated_run(count, workers, startup, seed)
    clock = Clock()
    remaining = Remaining(clock)
    assert remaining(0, count) is None  # nothing done: nothing known
    errors = []
    for done, moment in enumerate(finished, start=1):
        clock.now = moment
        estimate = remaining(done, count)
        if done == 1 or done == count:
            assert estimate is None  # the first carries the start-up; at the end nothing is left
            continue
        assert estimate is not None
        truth = finished[-1] - moment
        if done >= count // 10 and count - done >= 5 * workers:  # the last few items: their own spread
            errors.append(abs(estimate - truth) / truth)
    assert max(errors) < 0.25, max(errors)
    assert sum(errors) / len(errors) < 0.1


def test_the_start_up_does_not_inflate_the_estimate() -> None:
    """A minute of start-up, then items of one second: what is left is one second an item, not a minute."""
    clock = Clock()
    remaining = Remaining(clock)
    clock.now = 60.0
    assert remaining(1, 11) is None
    clock.now = 61.0
    assert remaining(2, 11) == pytest.approx(9.0)


def test_the_bar_shows_the_estimate_and_clears_itself() -> None:
    clock = Clock()
    stream = io.StringIO()
    bar = ProgressBar("updating", stream, estimate=Remaining(clock))
    for done, moment in [(0, 0.0), (1, 5.0), (2, 7.0), (3, 9.0)]:
        clock.now = moment
        bar(done, 40, f"svc{done}")
    lines = stream.getvalue().split("\r\033[K")
    assert "left" not in lines[1] and "left" not in lines[2]  # nothing known yet
    assert "3/40 (about 75 s left) svc3" in lines[-1]  # 2 s an item since the first, 37 to go
    bar(40, 40, "svc40")
    assert stream.getvalue().endswith("\r\033[K")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.2, "about 3 s left"), (42.0, "about 40 s left"), (75.0, "about 75 s left"), (185.0, "about 3 min left")],
)
def test_an_estimate_reads_as_one(seconds: float, text: str) -> None:
    assert duration(seconds) == text
