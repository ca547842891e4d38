"""``Deadline``: one lazily re-armed timer, driven by a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from pounce._edges.deadline import Deadline


class FakeHandle:
    def __init__(self, loop: FakeLoop, when: float, callback: Callable[[], object]) -> None:
        self.loop = loop
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just enough of an event loop: a clock and call_at."""

    def __init__(self) -> None:
        self.now = 100.0
        self.handles: list[FakeHandle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object]) -> FakeHandle:
        handle = FakeHandle(self, when, callback)
        self.handles.append(handle)
        return handle

    @property
    def pending(self) -> list[FakeHandle]:
        return [h for h in self.handles if not h.cancelled and h.callback is not None]

    def advance(self, seconds: float) -> None:
        """Move the clock, firing due handles in order (as a loop would)."""
        target = self.now + seconds
        while True:
            due = sorted((h for h in self.pending if h.when <= target), key=lambda h: h.when)
            if not due:
                break
            handle = due[0]
            self.now = max(self.now, handle.when)
            callback = handle.callback
            handle.callback = None  # type: ignore[assignment]  # fired: not pending any more
            callback()
        self.now = target


def make() -> tuple[FakeLoop, Deadline, list[float]]:
    loop = FakeLoop()
    deadline = Deadline(cast(asyncio.AbstractEventLoop, cast(Any, loop)))
    return loop, deadline, []


def test_fires_once_at_the_deadline() -> None:
    loop, deadline, fired = make()
    deadline.set(5, lambda: fired.append(loop.now))
    assert deadline.armed
    loop.advance(4.9)
    assert fired == []
    loop.advance(1)
    assert fired == [105.0]
    assert not deadline.armed
    loop.advance(100)
    assert fired == [105.0]


def test_moving_the_deadline_later_reuses_the_timer() -> None:
    loop, deadline, fired = make()
    deadline.set(5, lambda: fired.append(loop.now))
    for _ in range(100):  # a busy keep-alive connection: one request per 10 ms
        loop.advance(0.01)
        deadline.set(5, lambda: fired.append(loop.now))
    assert len(loop.handles) == 1  # no new timer per request
    loop.advance(4.99)
    assert fired == []
    loop.advance(0.02)
    assert fired == [pytest.approx(106.0)]
    assert len(loop.handles) == 2  # the first fired early and re-armed once


def test_moving_the_deadline_earlier_replaces_the_timer() -> None:
    loop, deadline, fired = make()
    deadline.set(10, lambda: fired.append(("late", loop.now)))  # type: ignore[arg-type]
    deadline.set(1, lambda: fired.append(("soon", loop.now)))  # type: ignore[arg-type]
    assert loop.handles[0].cancelled
    loop.advance(20)
    assert fired == [("soon", 101.0)]


def test_a_new_callback_replaces_the_old_one() -> None:
    loop, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.set(5, lambda: fired.append(2))
    loop.advance(6)
    assert fired == [2]


def test_clear_calls_nothing_and_set_works_again() -> None:
    loop, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.clear()
    assert not deadline.armed
    loop.advance(10)
    assert fired == []
    deadline.set(5, lambda: fired.append(2))
    loop.advance(5)
    assert fired == [2]


def test_stop_cancels_the_timer() -> None:
    loop, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.stop()
    assert all(h.cancelled for h in loop.handles)
    loop.advance(10)
    assert fired == []


def test_a_handle_that_fires_a_hair_early_counts_as_on_time() -> None:
    loop, deadline, fired = make()
    deadline.set(5, lambda: fired.append(loop.now))
    handle = loop.handles[0]
    loop.now = handle.when - 0.0005  # within the loop's clock resolution
    callback = handle.callback
    handle.callback = None  # type: ignore[assignment]
    callback()
    assert fired == [104.9995]
    assert len(loop.handles) == 1  # not re-armed for half a millisecond
