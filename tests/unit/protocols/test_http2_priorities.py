"""RFC 9218 priorities in the HTTP/2 machine: the signals it reads, and the
order in which it spends a connection window too small for every stream."""

from __future__ import annotations

import h2.events
import h2.settings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pounce_protocols import (
    HTTP2ErrorCode,
    HTTP2Limits,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

from ._http2_helpers import PRIORITY, SETTINGS, Pair, frame, goaway_of, parse_frames

PRIORITY_UPDATE = 0x10
BIG_WINDOW = 1 << 20


def priority_update(stream_id: int, value: bytes, *, on: int = 0) -> bytes:
    return frame(PRIORITY_UPDATE, 0, on, stream_id.to_bytes(4, "big") + value)


def starved_pair() -> Pair:
    """Stream windows wide open, the connection window spent by stream 1."""
    pair = Pair()
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: BIG_WINDOW})
    pair.to_server()
    pair.to_client()
    pair.to_server()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=200, headers=()))
    pair.server.send(ResponseBody(stream_id=1, data=b"x" * 65_535))
    pair.server.send(ResponseEnd(stream_id=1))
    pair.to_client()  # the client never gives this back to the connection
    assert pair.server._core.connection_window == 0
    return pair


def respond(pair: Pair, stream_id: int, size: int) -> None:
    pair.server.send(ResponseHead(stream_id=stream_id, status=200, headers=()))
    pair.server.send(ResponseBody(stream_id=stream_id, data=bytes([stream_id]) * size))
    pair.server.send(ResponseEnd(stream_id=stream_id))


def open_window(pair: Pair, size: int) -> list[tuple[int, int]]:
    """Give the connection ``size`` more bytes; return (stream, bytes) as sent."""
    pair.client.increment_flow_control_window(size)
    pair.to_server()
    events = pair.to_client()
    return [
        (e.stream_id, e.flow_controlled_length)  # type: ignore[attr-defined]
        for e in events
        if isinstance(e, h2.events.DataReceived)
    ]


def order(sent: list[tuple[int, int]]) -> list[int]:
    """Stream ids in the order their data came, runs collapsed."""
    runs: list[int] = []
    for stream_id, _ in sent:
        if not runs or runs[-1] != stream_id:
            runs.append(stream_id)
    return runs


def test_settings_say_no_rfc7540_priorities() -> None:
    pair = Pair()
    assert pair.client.remote_settings[0x9] == 1


def test_the_most_urgent_stream_takes_the_window_first() -> None:
    pair = starved_pair()
    pair.request(3, extra=[(b"priority", b"u=7")])
    pair.request(5, extra=[(b"priority", b"u=0")])
    pair.request(7)  # u=3 by default
    for stream_id in (3, 5, 7):
        respond(pair, stream_id, 40_000)
    assert not any(isinstance(e, h2.events.DataReceived) for e in pair.to_client())
    sent = []
    while len(sent) < 20 and sum(n for _, n in sent) < 120_000:
        sent += open_window(pair, 10_000)
    assert order(sent) == [5, 7, 3]
    assert sum(n for _, n in sent) == 120_000


def test_non_incremental_streams_of_one_urgency_go_in_stream_order() -> None:
    pair = starved_pair()
    for stream_id in (3, 5, 7):
        pair.request(stream_id)
    for stream_id in (7, 5, 3):  # the apps answer in reverse
        respond(pair, stream_id, 20_000)
    sent = open_window(pair, 60_000)
    assert order(sent) == [3, 5, 7]


def test_incremental_streams_of_one_urgency_take_turns() -> None:
    pair = starved_pair()
    for stream_id in (3, 5):
        pair.request(stream_id, extra=[(b"priority", b"u=3, i")])
    for stream_id in (3, 5):
        respond(pair, stream_id, 40_000)
    # A small window at a time: the turn passes on every time.
    assert order(open_window(pair, 16_384)) == [3]
    assert order(open_window(pair, 16_384)) == [5]
    assert order(open_window(pair, 16_384)) == [3]
    # A large one: frame by frame, in turn.
    assert order(open_window(pair, 40_000)) == [5, 3, 5]


def test_a_priority_update_mid_flight_changes_the_order() -> None:
    pair = starved_pair()
    pair.request(3, extra=[(b"priority", b"u=1")])
    pair.request(5, extra=[(b"priority", b"u=5")])
    respond(pair, 3, 50_000)
    respond(pair, 5, 50_000)
    assert order(open_window(pair, 10_000)) == [3]
    assert pair.to_server(priority_update(5, b"u=0")) == []
    assert order(open_window(pair, 10_000)) == [5]
    assert pair.to_server(priority_update(3, b"u=0")) == []
    assert order(open_window(pair, 60_000)) == [3, 5]  # equal now: stream order


def test_a_priority_update_before_the_request_is_kept_for_it() -> None:
    pair = starved_pair()
    assert pair.to_server(priority_update(5, b"u=0")) == []
    pair.request(3, extra=[(b"priority", b"u=1")])
    # The update is the client's later word: it wins over the header.
    pair.request(5, extra=[(b"priority", b"u=7")])
    respond(pair, 3, 20_000)
    respond(pair, 5, 20_000)
    assert order(open_window(pair, 40_000)) == [5, 3]


def test_updates_for_closed_or_push_streams_are_ignored() -> None:
    pair = starved_pair()
    pair.request(3)
    pair.request(5)
    # Stream 1 is over, 2 would be a push stream: neither is an error.
    assert pair.to_server(priority_update(1, b"u=0") + priority_update(2, b"u=0")) == []
    respond(pair, 3, 10_000)
    respond(pair, 5, 10_000)
    assert order(open_window(pair, 20_000)) == [3, 5]


def test_rfc7540_priority_signals_are_ignored() -> None:
    pair = starved_pair()
    pair.request(3)
    pair.request(5)
    # Stream 5 made exclusive parent of 3 with the top weight: no effect.
    exclusive_on_5 = (5 | 0x8000_0000).to_bytes(4, "big") + b"\xff"
    assert pair.to_server(frame(PRIORITY, 0, 3, exclusive_on_5)) == []
    respond(pair, 3, 10_000)
    respond(pair, 5, 10_000)
    assert order(open_window(pair, 20_000)) == [3, 5]


def test_an_unusable_priority_header_is_the_default() -> None:
    pair = starved_pair()
    pair.request(3, extra=[(b"priority", b"u=4")])
    pair.request(5, extra=[(b"priority", b"u=0,,i")])  # malformed: u=3
    pair.request(7, extra=[(b"priority", b"u=9")])  # out of range: u=3
    events = pair.request(9, extra=[(b"priority", b"u=2, i=?1, x=y")])
    request = next(e for e in events if isinstance(e, RequestReceived))
    assert (b"priority", b"u=2, i=?1, x=y") in request.headers  # apps still see it
    for stream_id in (3, 5, 7, 9):
        respond(pair, stream_id, 5_000)
    assert order(open_window(pair, 20_000)) == [9, 5, 7, 3]


@pytest.mark.parametrize(
    ("raw", "error_code"),
    [
        (priority_update(3, b"u=0", on=1), HTTP2ErrorCode.PROTOCOL_ERROR),
        (priority_update(0, b"u=0"), HTTP2ErrorCode.PROTOCOL_ERROR),
        (priority_update(3, b"u=0,,"), HTTP2ErrorCode.PROTOCOL_ERROR),
        (frame(PRIORITY_UPDATE, 0, 0, b"\x00\x00\x03"), HTTP2ErrorCode.FRAME_SIZE_ERROR),
    ],
    ids=["on-a-stream", "for-stream-0", "unparsable", "too-short"],
)
def test_a_malformed_priority_update_is_a_connection_error(raw: bytes, error_code: int) -> None:
    pair = Pair()
    pair.request(1)
    with pytest.raises(RemoteProtocolError) as info:
        pair.to_server(raw)
    assert info.value.error_code == error_code
    assert goaway_of(pair.server.data_to_send())[1] == error_code
    assert pair.server.closed


def test_a_priority_update_inside_a_header_block_is_a_connection_error() -> None:
    pair = Pair()
    block = frame(0x1, 0, 1, b"\x82")  # HEADERS without END_HEADERS
    with pytest.raises(RemoteProtocolError) as info:
        pair.to_server(block + priority_update(1, b"u=0"))
    assert info.value.error_code == HTTP2ErrorCode.PROTOCOL_ERROR


def test_a_flood_of_priority_signals_is_answered_with_enhance_your_calm() -> None:
    pair = Pair(HTTP2Limits(priority_burst=50, priority_rate=10.0))
    updates = b"".join(priority_update(1001 + 2 * n, b"u=1") for n in range(50))
    assert pair.to_server(updates) == []
    pair.clock.advance(1.0)  # ten more
    assert pair.to_server(updates[: 10 * len(priority_update(1001, b"u=1"))]) == []
    with pytest.raises(RemoteProtocolError) as info:
        pair.to_server(frame(PRIORITY, 0, 3, b"\x00\x00\x00\x00\x10"))
    assert info.value.error_code == HTTP2ErrorCode.ENHANCE_YOUR_CALM


def test_updates_for_streams_never_opened_are_bounded() -> None:
    pair = Pair(HTTP2Limits(max_concurrent_streams=4))
    updates = b"".join(priority_update(1001 + 2 * n, b"u=1") for n in range(500))
    assert pair.to_server(updates) == []
    assert pair.server._scheduler.buffered == 4


def test_the_output_is_well_formed_frames() -> None:
    # A smoke check that reordering never splits or interleaves frames badly.
    pair = starved_pair()
    for stream_id in (3, 5, 7):
        pair.request(stream_id, extra=[(b"priority", b"u=%d, i" % (stream_id % 3))])
        respond(pair, stream_id, 30_000)
    pair.client.increment_flow_control_window(90_000)
    pair.to_server()
    frames = parse_frames(pair.server.data_to_send())
    assert sum(len(p) for kind, _, _, p in frames if kind == 0x0) == 90_000
    assert all(len(p) <= 16_384 for _, _, _, p in frames)
    assert SETTINGS not in {kind for kind, _, _, _ in frames}


def test_a_stream_waiting_its_turn_is_told_from_one_held_by_its_own_window() -> None:
    pair = starved_pair()
    pair.request(3, extra=[(b"priority", b"u=0")])
    pair.request(5, extra=[(b"priority", b"u=7")])
    respond(pair, 3, 50_000)
    respond(pair, 5, 50_000)
    before = pair.server.data_sent
    assert pair.server.awaiting_turn(5)  # its own window is open: the others go first
    open_window(pair, 10_000)
    assert pair.server.data_sent == before + 10_000
    assert pair.server.awaiting_turn(5)
    assert not pair.server.awaiting_turn(1)  # over
    assert not pair.server.awaiting_turn(99)  # never opened
    # A client that shuts a stream's own window is holding it up itself.
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    pair.to_server()
    assert not pair.server.awaiting_turn(5)


def test_output_room_is_spent_in_priority_order() -> None:
    pair = Pair()
    pair.request(3, extra=[(b"priority", b"u=7")])
    pair.request(5, extra=[(b"priority", b"u=0")])
    pair.server.set_output_room(0)  # the socket is full
    respond(pair, 3, 30_000)
    respond(pair, 5, 30_000)
    assert not any(isinstance(e, h2.events.DataReceived) for e in pair.to_client())
    assert pair.server.pending_bytes(3) == pair.server.pending_bytes(5) == 30_000
    assert pair.server.awaiting_turn(3)
    pair.server.set_output_room(20_000)
    sent = [
        (e.stream_id, len(e.data))  # type: ignore[attr-defined]
        for e in pair.to_client()
        if isinstance(e, h2.events.DataReceived)
    ]
    assert sent == [(5, 16_384), (5, 3_616)]
    assert pair.server.pending_bytes(5) == 10_000  # the room is spent
    assert not any(isinstance(e, h2.events.DataReceived) for e in pair.to_client())
    pair.server.set_output_room(0)
    assert not any(isinstance(e, h2.events.DataReceived) for e in pair.to_client())
    pair.server.set_output_room(None)
    assert order(
        [
            (e.stream_id, len(e.data))  # type: ignore[attr-defined]
            for e in pair.to_client()
            if isinstance(e, h2.events.DataReceived) and e.data  # type: ignore[attr-defined]
        ]
    ) == [5, 3]
    assert pair.server.pending_bytes(3) == pair.server.pending_bytes(5) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.booleans(), st.integers(1, 40_000)),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(1, 50_000), min_size=1, max_size=8),
)
def test_each_window_is_spent_in_priority_order(
    streams: list[tuple[int, bool, int]], increments: list[int]
) -> None:
    pair = starved_pair()
    keys = {}
    for n, (urgency, incremental, _) in enumerate(streams):
        stream_id = 3 + 2 * n
        value = b"u=%d%s" % (urgency, b", i" if incremental else b"")
        pair.request(stream_id, extra=[(b"priority", value)])
        # Sorting by this key is the order the scheduler promises.
        keys[stream_id] = (urgency, incremental, 0 if incremental else stream_id)
    for n, (_, _, size) in enumerate(streams):
        respond(pair, 3 + 2 * n, size)
    waiting = sum(size for _, _, size in streams)
    for increment in increments:
        sent = [(s, n) for s, n in open_window(pair, increment) if n]
        assert sum(n for _, n in sent) == min(increment, waiting)
        waiting -= sum(n for _, n in sent)
        frame_keys = [keys[s] for s, _ in sent]
        assert frame_keys == sorted(frame_keys)
