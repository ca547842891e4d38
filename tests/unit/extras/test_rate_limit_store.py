"""The token bucket and the in-memory store (bounded, shared by threads)."""

from __future__ import annotations

import threading

import pytest

from pounce_extras._rate_limit import Decision, MemoryStore, bucket_take


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_burst_requests_then_refuses() -> None:
    tokens = 3.0
    allowed = []
    for _ in range(4):
        tokens, decision = bucket_take(tokens, 0.0, rate=1.0, burst=3)
        allowed.append(decision.allowed)
    assert allowed == [True, True, True, False]


def test_refusal_says_when_to_retry() -> None:
    tokens, decision = bucket_take(0.25, 0.0, rate=2.0, burst=4)
    assert decision == Decision(allowed=False, remaining=0, retry_after=0.375, reset=1.875)
    assert tokens == 0.25


def test_refill_is_capped_at_the_burst() -> None:
    tokens, decision = bucket_take(0.0, 3600.0, rate=5.0, burst=10)
    assert decision.allowed
    assert tokens == 9.0
    assert decision.remaining == 9


def test_time_going_backwards_refills_nothing() -> None:
    tokens, decision = bucket_take(0.5, -10.0, rate=1.0, burst=2)
    assert not decision.allowed
    assert tokens == 0.5


def test_memory_store_refills_with_time() -> None:
    clock = Clock()
    store = MemoryStore(rate=2.0, burst=2, max_keys=10, clock=clock)
    assert [store.take_now("a").allowed for _ in range(3)] == [True, True, False]
    clock.now += 0.5  # one token back
    assert store.take_now("a").allowed
    assert not store.take_now("a").allowed
    assert store.take_now("b").allowed  # another client has its own bucket


def test_memory_store_forgets_the_least_recently_seen_client() -> None:
    clock = Clock()
    store = MemoryStore(rate=1.0, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert store.take_now(key).allowed
    assert not store.take_now("a").allowed  # "a" is now the most recent
    assert store.take_now("d").allowed  # evicts "b", the least recent
    assert len(store) == 3
    assert not store.take_now("a").allowed  # remembered
    assert not store.take_now("c").allowed  # remembered
    assert store.take_now("b").allowed  # forgotten: a fresh bucket


@pytest.mark.parametrize("max_keys", [1, 100])
def test_memory_stays_bounded_under_many_clients(max_keys: int) -> None:
    store = MemoryStore(rate=1.0, burst=1, max_keys=max_keys)
    for n in range(5000):
        store.take_now(f"client-{n}")
    assert len(store) == max_keys


def test_one_limit_across_threads() -> None:
    # Thread workers share one store: however the takes interleave, a frozen
    # clock lets exactly `burst` of them through.
    clock = Clock()
    store = MemoryStore(rate=1.0, burst=500, max_keys=10, clock=clock)
    allowed = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        mine = sum(store.take_now("shared").allowed for _ in range(200))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(allowed) == 500
