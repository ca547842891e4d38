"""RFC 9218 priority signals and the send order they imply (no protocol machine)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import Priority, PriorityScheduler, parse_priority
from pounce_protocols._priority import parse_sf_dictionary, priority_from_headers


def P(urgency: int = 3, incremental: bool = False) -> Priority:
    return Priority(urgency=urgency, incremental=incremental)


# ------------------------------------------------------------------ signals


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"", P()),
        (b"u=0", P(0)),
        (b"u=7", P(7)),
        (b"i", P(3, True)),
        (b"i=?1", P(3, True)),
        (b"i=?0", P()),
        (b"u=5, i", P(5, True)),
        (b"u=5,i", P(5, True)),
        (b"  u=1 ,\ti  ", P(1, True)),
        (b"u=1, u=6", P(6)),  # a repeated member: the last one counts
        (b"u=2;foo=bar;baz, i;x=?0", P(2, True)),  # parameters are allowed, and ignored
        # Members we do not know are ignored, whatever their type.
        (b'u=2, x=(a "b" 1 2.5);p, y=:aGk=:, z=tok/en, w=@1700000000, d=%"caf%c3%a9"', P(2)),
        # Members of the wrong type or out of range: ignored, the default applies.
        (b"u=8", P()),
        (b"u=-1", P()),
        (b"u=1.0", P()),
        (b'u="1"', P()),
        (b"u=?1", P()),
        (b"u=one", P()),
        (b"u=(1)", P()),
        (b"i=1", P()),
        (b'i="?1"', P()),
        (b"u=1, i=tok", P(1)),
    ],
)
def test_priority_members(value: bytes, expected: Priority) -> None:
    assert parse_priority(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        b"u=1,",  # trailing comma
        b"u=1,,i",
        b"U=1",  # keys are lowercase
        b"1=u",
        b"u==1",
        b"u=1 i",
        b"i=?2",
        b'u="unterminated',
        b'x="bad \\q escape"',
        b"u=1234567890123456",  # over 15 digits
        b"u=1.",
        b"u=1.2345",
        b"x=:not base64!:",
        b"x=(a b",
        b'x=%"caf%C3%A9"',  # display strings use lowercase hex
        b'x=%"\xff"',
        "u=1, ü".encode(),
    ],
)
def test_a_value_that_is_no_dictionary_is_none(value: bytes) -> None:
    assert parse_sf_dictionary(value) is None
    assert parse_priority(value) is None


def test_dictionary_members_come_back_typed() -> None:
    members = parse_sf_dictionary(b'a=1, b=2.5, c="s\\"t", d=tok, e=?0, f=:aGk=:, g=(1 2);p=3, h')
    assert members == {
        "a": 1,
        "b": 2.5,
        "c": 's"t',
        "d": "tok",
        "e": False,
        "f": b"hi",
        "g": (1, 2),
        "h": True,
    }


def test_header_lines_are_one_field() -> None:
    assert priority_from_headers([]) == P()
    assert priority_from_headers([b"u=1", b"i"]) == P(1, True)
    assert priority_from_headers([b"u=1", b"u=,"]) == P()  # the whole field is malformed


def test_priority_checks_its_urgency() -> None:
    for bad in (-1, 8, True):
        with pytest.raises(ValueError, match="urgency"):
            Priority(urgency=bad)


# ----------------------------------------------------------------- ordering


def test_more_urgent_streams_go_first() -> None:
    scheduler = PriorityScheduler(10)
    plan = scheduler.plan([(1, P(7)), (3, P(0)), (5, P(3)), (7, P(0))])
    assert plan == [(3,), (7,), (5,), (1,)]


def test_non_incremental_streams_go_one_at_a_time_in_stream_order() -> None:
    scheduler = PriorityScheduler(10)
    assert scheduler.plan([(9, P()), (1, P()), (5, P())]) == [(1,), (5,), (9,)]


def test_incremental_streams_share_a_turn_after_the_non_incremental_ones() -> None:
    scheduler = PriorityScheduler(10)
    plan = scheduler.plan([(1, P(3, True)), (3, P(3)), (5, P(3, True)), (7, P(2, True))])
    assert plan == [(7,), (3,), (1, 5)]


def test_the_round_robin_resumes_after_the_last_stream_served() -> None:
    scheduler = PriorityScheduler(10)
    ready = [(1, P(3, True)), (3, P(3, True)), (5, P(3, True))]
    assert scheduler.plan(ready) == [(1, 3, 5)]
    scheduler.served(1, P(3, True))
    assert scheduler.plan(ready) == [(3, 5, 1)]
    scheduler.served(5, P(3, True))
    assert scheduler.plan(ready) == [(1, 3, 5)]
    # Another urgency keeps its own place; non-incremental service moves nothing.
    scheduler.served(3, P(4, True))
    scheduler.served(3, P(3))
    assert scheduler.plan(ready) == [(1, 3, 5)]
    assert scheduler.plan([(1, P(4, True)), (5, P(4, True))]) == [(5, 1)]


@given(
    st.dictionaries(
        st.integers(1, 2**31 - 1),
        st.builds(Priority, urgency=st.integers(0, 7), incremental=st.booleans()),
        max_size=30,
    ),
    st.lists(st.tuples(st.integers(1, 2**31 - 1), st.integers(0, 7), st.booleans())),
)
def test_a_plan_serves_every_ready_stream_once_in_urgency_order(
    ready: dict[int, Priority], served: list[tuple[int, int, bool]]
) -> None:
    scheduler = PriorityScheduler(10)
    for stream_id, urgency, incremental in served:
        scheduler.served(stream_id, P(urgency, incremental))
    plan = scheduler.plan(ready.items())
    flat = [stream_id for turn in plan for stream_id in turn]
    assert sorted(flat) == sorted(ready)
    urgencies = [ready[turn[0]].urgency for turn in plan]
    assert urgencies == sorted(urgencies)
    for turn in plan:
        assert len({ready[s] for s in turn}) == 1  # one turn, one priority
        if not ready[turn[0]].incremental:
            assert len(turn) == 1
    for a, b in itertools.pairwise(plan):
        if ready[a[0]].urgency == ready[b[0]].urgency:
            # Non-incremental before incremental, in stream order.
            assert not ready[a[0]].incremental
            assert ready[b[0]].incremental or a[0] < b[0]


# ---------------------------------------------------------------- buffering


def test_an_update_before_the_request_wins_over_its_header() -> None:
    scheduler = PriorityScheduler(10)
    scheduler.buffer_update(5, P(0))
    assert scheduler.open(5, [b"u=6, i"]) == P(0)
    assert scheduler.buffered == 0
    assert scheduler.open(7, [b"u=6, i"]) == P(6, True)
    assert scheduler.open(9) == P()


def test_the_latest_update_for_a_stream_counts() -> None:
    scheduler = PriorityScheduler(10)
    scheduler.buffer_update(5, P(0))
    scheduler.buffer_update(5, P(6))
    assert scheduler.buffered == 1
    assert scheduler.open(5) == P(6)


def test_buffered_updates_are_bounded_and_the_oldest_go_first() -> None:
    scheduler = PriorityScheduler(3)
    for stream_id in range(1, 2001, 2):  # a thousand streams that never open
        scheduler.buffer_update(stream_id, P(0))
    assert scheduler.buffered == 3
    assert scheduler.open(1993) == P()  # pushed out
    assert scheduler.open(1999) == P(0)
    scheduler.buffer_update(1995, P(1))  # refreshed: now newer than 1997
    scheduler.buffer_update(3001, P(2))
    scheduler.buffer_update(3003, P(2))
    assert scheduler.buffered == 3
    assert scheduler.open(1997) == P()  # the oldest, pushed out
    assert scheduler.open(1995) == P(1)
    with pytest.raises(ValueError, match="max_buffered"):
        PriorityScheduler(0)
