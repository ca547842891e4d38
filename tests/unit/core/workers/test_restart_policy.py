"""Backoff and crash-loop detection, without a clock."""

from __future__ import annotations

from pounce._workers.restart_policy import RestartPolicy


def test_delays_double_from_the_first_up_to_the_cap() -> None:
    policy = RestartPolicy(first_delay=0.1, max_delay=0.5, max_crashes=10)
    delays = [policy.crashed(0, None) for _ in range(6)]
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]


def test_gives_up_at_the_nth_consecutive_crash() -> None:
    policy = RestartPolicy(max_crashes=3)
    assert policy.crashed(0, 1.0) is not None
    assert policy.crashed(0, None) is not None
    assert policy.crashed(0, 2.0) is None
    assert policy.consecutive(0) == 3


def test_a_worker_that_served_long_enough_starts_a_new_run() -> None:
    policy = RestartPolicy(first_delay=0.1, max_crashes=3, stable_after=10.0)
    policy.crashed(0, 1.0)
    policy.crashed(0, None)
    assert policy.crashed(0, 60.0) == 0.1  # an occasional crash is not a loop
    assert policy.consecutive(0) == 1


def test_slots_are_counted_separately_and_can_be_reset() -> None:
    policy = RestartPolicy(max_crashes=2)
    assert policy.crashed(0, None) is not None
    assert policy.crashed(1, None) is not None
    policy.reset(0)
    assert policy.consecutive(0) == 0
    assert policy.crashed(0, None) is not None
    assert policy.crashed(1, None) is None
