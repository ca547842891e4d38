"""Stop signals counted in bursts: one Ctrl-C reaching a process group is one request."""

from __future__ import annotations

import pytest

from pounce._runtime.stop_signals import BURST_SECONDS, StopSignals


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("times", "requests"),
    [
        ([0.0], 1),
        ([0.0, 0.0, 0.001], 1),  # the terminal's, uv run's and a worker's copy
        ([0.0, BURST_SECONDS / 2], 1),
        ([0.0, BURST_SECONDS], 2),  # a second press
        ([0.0, BURST_SECONDS * 3], 2),
        ([0.0, 0.01, BURST_SECONDS * 2, BURST_SECONDS * 2 + 0.01], 2),
        # The window does not slide: a person pressing steadily still gets through.
        ([0.0, 0.4 * BURST_SECONDS, 0.8 * BURST_SECONDS, 1.2 * BURST_SECONDS], 2),
    ],
)
def test_signals_are_counted_in_bursts(times: list[float], requests: int) -> None:
    clock = Clock()
    signals = StopSignals(clock=clock)
    news = []
    for offset in times:
        clock.now = 100.0 + offset
        news.append(signals.received())
    assert signals.requests == requests
    assert news.count(True) == requests
    assert news[0] is True


def test_a_window_of_zero_counts_every_signal() -> None:
    clock = Clock()
    signals = StopSignals(window=0.0, clock=clock)
    assert [signals.received() for _ in range(3)] == [True, True, True]
    assert signals.requests == 3
