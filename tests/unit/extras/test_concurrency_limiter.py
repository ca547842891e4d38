"""The load-shedding limiter, shared by event loops on different threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from pounce_extras._load_shedding import ConcurrencyLimiter
from support.waiting import wait_for


class LoopThread:
    """An event loop running in its own thread, like a thread worker's."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture
def loops() -> Any:
    pair = (LoopThread(), LoopThread())
    yield pair
    for loop in pair:
        loop.close()


def test_a_slot_freed_on_one_loop_wakes_a_waiter_on_another(loops: Any) -> None:
    first, second = loops
    limiter = ConcurrencyLimiter(limit=1, queue=1, timeout=30)
    assert first.submit(limiter.acquire()).result(30) is True
    waiting = second.submit(limiter.acquire())
    wait_for(lambda: limiter.waiting == 1, what="the waiter to queue on the other thread")
    assert not waiting.done()
    first.loop.call_soon_threadsafe(limiter.release)
    assert waiting.result(30) is True  # handed over: the count never dropped
    assert limiter.active == 1
    second.loop.call_soon_threadsafe(limiter.release)
    wait_for(lambda: limiter.active == 0, what="the slot to return")
    assert limiter.waiting == 0


def test_a_full_queue_sheds_at_once() -> None:
    async def scenario() -> list[bool]:
        limiter = ConcurrencyLimiter(limit=1, queue=1, timeout=30)
        assert await limiter.acquire()
        queued = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        shed = await limiter.acquire()  # queue full: no wait at all
        limiter.release()
        return [shed, await queued]

    assert asyncio.run(scenario()) == [False, True]


def test_no_queue_means_no_waiting() -> None:
    async def scenario() -> bool:
        limiter = ConcurrencyLimiter(limit=1, queue=0, timeout=30)
        await limiter.acquire()
        return await limiter.acquire()

    assert asyncio.run(scenario()) is False


def test_a_wait_that_times_out_sheds_and_leaves_the_queue() -> None:
    async def scenario() -> tuple[bool, int, int]:
        limiter = ConcurrencyLimiter(limit=1, queue=5, timeout=0.05)
        await limiter.acquire()
        result = await limiter.acquire()
        return result, limiter.waiting, limiter.active

    assert asyncio.run(scenario()) == (False, 0, 1)


def test_a_cancelled_waiter_leaves_the_queue() -> None:
    async def scenario() -> tuple[int, int]:
        limiter = ConcurrencyLimiter(limit=1, queue=5, timeout=30)
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release()
        return limiter.waiting, limiter.active

    assert asyncio.run(scenario()) == (0, 0)


def test_a_waiter_cancelled_after_being_handed_a_slot_gives_it_back() -> None:
    async def scenario() -> int:
        limiter = ConcurrencyLimiter(limit=1, queue=5, timeout=30)
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # hands the slot over; the wake-up is still pending
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return limiter.active

    assert asyncio.run(scenario()) == 0


def test_waiters_are_served_first_come_first_served() -> None:
    async def scenario() -> list[int]:
        limiter = ConcurrencyLimiter(limit=1, queue=10, timeout=30)
        await limiter.acquire()
        order: list[int] = []

        async def take(n: int) -> None:
            await limiter.acquire()
            order.append(n)
            limiter.release()

        tasks = [asyncio.ensure_future(take(n)) for n in range(5)]
        await asyncio.sleep(0)
        limiter.release()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_many_threads_never_exceed_the_limit() -> None:
    limiter = ConcurrencyLimiter(limit=3, queue=1000, timeout=60)
    peak = 0
    inside = 0
    lock = threading.Lock()

    async def work() -> None:
        nonlocal peak, inside
        assert await limiter.acquire()
        with lock:
            inside += 1
            peak = max(peak, inside)
        await asyncio.sleep(0.001)
        with lock:
            inside -= 1
        limiter.release()

    def run_loop() -> None:
        async def main() -> None:
            await asyncio.gather(*(work() for _ in range(50)))

        asyncio.run(main())

    threads = [threading.Thread(target=run_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert peak == 3
    assert limiter.active == 0
    assert limiter.waiting == 0
