"""The frame gate on its own, and the machine fed the same bytes in any pieces."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import BodyReceived, Event, HTTP2ErrorCode, HTTP2Limits, RemoteProtocolError
from pounce_protocols._http2_gate import FrameGate, TokenBucket

from ._helpers import PROPERTY_SETTINGS
from ._http2_helpers import (
    CONTINUATION,
    DATA,
    GOAWAY,
    HEADERS,
    PING,
    PREFACE,
    FakeClock,
    Pair,
    frame,
    request_headers,
)

STREAM = (
    PREFACE
    + frame(4, 0, 0)  # SETTINGS
    + frame(HEADERS, 0x4, 1, b"\x82\x84\x87")
    + frame(DATA, 0, 1, b"x" * 100)
    + frame(GOAWAY, 0, 0, (1).to_bytes(4, "big") + bytes(4) + b"debug data")
    + frame(PING, 0, 0, bytes(8))
    + frame(DATA, 0x1, 1, b"")
)
WITHOUT_GOAWAY = STREAM.replace(
    frame(GOAWAY, 0, 0, (1).to_bytes(4, "big") + bytes(4) + b"debug data"), b""
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_clean_input_passes_through_as_the_same_object() -> None:
    gate = FrameGate(HTTP2Limits(), FakeClock())
    data = PREFACE + frame(4, 0, 0) + frame(PING, 0, 0, bytes(8))
    assert gate.feed(data) is data
    assert gate.preface_received


def test_goaway_frames_are_taken_out_and_reported() -> None:
    gate = FrameGate(HTTP2Limits(), FakeClock())
    assert gate.feed(STREAM) == WITHOUT_GOAWAY
    assert gate.take_goaways() == [(1, 0)]
    assert gate.take_goaways() == []


@PROPERTY_SETTINGS
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_split_gives_the_same_bytes_and_goaway(cuts: list[int]) -> None:
    gate = FrameGate(HTTP2Limits(), FakeClock())
    out = b"".join(gate.feed(piece) for piece in split(STREAM, cuts))
    assert out == WITHOUT_GOAWAY
    assert gate.take_goaways() == [(1, 0)]


@pytest.mark.parametrize(
    "other",
    [frame(PING, 0, 0, bytes(8)), frame(CONTINUATION, 0x4, 3, b""), frame(GOAWAY, 0, 0, bytes(8))],
    ids=["ping", "continuation-of-another-stream", "goaway"],
)
def test_a_frame_interrupting_a_header_block_is_a_protocol_error(other: bytes) -> None:
    gate = FrameGate(HTTP2Limits(), FakeClock())
    gate.feed(PREFACE + frame(HEADERS, 0, 1, b"\x82"))
    with pytest.raises(RemoteProtocolError) as caught:
        gate.feed(other)
    assert caught.value.error_code == HTTP2ErrorCode.PROTOCOL_ERROR


def test_token_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 2.0, clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.advance(0.5)  # one token back
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.advance(100)  # never more than the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


# ------------------------------------- the machine, fed in arbitrary pieces


def conversation() -> tuple[bytes, list[Event]]:
    """A client's bytes for a few requests, and the events they give whole."""
    pair = Pair()
    pair.client.send_headers(1, request_headers(b"/a", b"POST"))
    pair.client.send_data(1, b"hello" * 1000)
    pair.client.send_headers(3, request_headers(b"/b", extra=[(b"x-long", b"v" * 3000)]))
    pair.client.send_data(1, b"", end_stream=True)
    pair.client.ping(b"pingpong")
    pair.client.reset_stream(3)
    data = pair.client.data_to_send()
    return data, pair.server.receive_data(data)


@PROPERTY_SETTINGS
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=20))
def test_the_machine_does_not_care_how_bytes_are_split(cuts: list[int]) -> None:
    data, whole = conversation()
    pair = Pair()  # a fresh server in the same state as the one that got it whole
    events: list[Event] = []
    for piece in split(data, cuts):
        events.extend(pair.server.receive_data(piece))
    # Bodies may arrive in other pieces; join them per stream to compare.
    assert _normalized(events) == _normalized(whole)


def _normalized(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        last = out[-1] if out else None
        if (
            isinstance(event, BodyReceived)
            and isinstance(last, BodyReceived)
            and last.stream_id == event.stream_id
        ):
            out[-1] = BodyReceived(stream_id=event.stream_id, data=last.data + event.data)
        else:
            out.append(event)
    return out


def test_an_oversized_frame_is_refused_by_its_header() -> None:
    gate = FrameGate(HTTP2Limits(), FakeClock())
    gate.feed(PREFACE)
    with pytest.raises(RemoteProtocolError) as caught:
        # Only the 9-byte header of a DATA frame of 16 KiB + 1.
        gate.feed((16_385).to_bytes(3, "big") + bytes([DATA, 0]) + (1).to_bytes(4, "big"))
    assert caught.value.error_code == HTTP2ErrorCode.FRAME_SIZE_ERROR
