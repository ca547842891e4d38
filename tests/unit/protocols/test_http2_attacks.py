"""Known HTTP/2 attacks, each scripted frame by frame against the machine.

Every attack ends the same way: ``receive_data`` raises a
``RemoteProtocolError`` carrying ENHANCE_YOUR_CALM, a GOAWAY with that code
is queued, and the machine reads nothing more. The same traffic just under
the limit, or spread out in time, is served.
"""

from __future__ import annotations

import pytest

from pounce_protocols import (
    HTTP2ErrorCode,
    HTTP2Limits,
    RemoteProtocolError,
    RequestReceived,
    StreamReset,
)

from ._http2_helpers import (
    ACK,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    GET_SLASH_HTTPS,
    HEADERS,
    PING,
    SETTINGS,
    Pair,
    frame,
    goaway_of,
    hpack_int,
    hpack_literal,
    request_headers,
)

CALM = HTTP2ErrorCode.ENHANCE_YOUR_CALM


def assert_calmed(pair: Pair, data: bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as caught:
        pair.server.receive_data(data)
    assert caught.value.error_code == CALM
    assert goaway_of(pair.server.data_to_send())[1] == CALM
    assert pair.server.closed
    assert pair.server.receive_data(frame(PING, 0, 0, bytes(8))) == []  # nothing more is read
    return caught.value


def resets(pair: Pair, first_stream: int, count: int) -> bytes:
    """HEADERS + RST_STREAM for ``count`` new streams, as the client's bytes."""
    for stream_id in range(first_stream, first_stream + 2 * count, 2):
        pair.client.send_headers(stream_id, request_headers(), end_stream=True)
        pair.client.reset_stream(stream_id, HTTP2ErrorCode.CANCEL)
    return pair.client.data_to_send()


# ------------------------------------------------- rapid reset (CVE-2023-44487)


def test_rapid_reset_is_answered_with_goaway_enhance_your_calm() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    error = assert_calmed(pair, resets(pair, 1, limits.reset_burst + 1))
    assert "rapid reset" in str(error)


def test_resets_within_the_budget_are_served() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    events = pair.server.receive_data(resets(pair, 1, limits.reset_burst))
    requests = [e for e in events if isinstance(e, RequestReceived)]
    stream_resets = [e for e in events if isinstance(e, StreamReset)]
    assert len(requests) == len(stream_resets) == limits.reset_burst


def test_the_reset_budget_refills_with_time() -> None:
    limits = HTTP2Limits()  # 200 at once, then 100 per second
    pair = Pair(limits)
    pair.server.receive_data(resets(pair, 1, 200))
    pair.clock.advance(1.0)
    pair.server.receive_data(resets(pair, 401, 100))
    pair.clock.advance(0.5)
    assert_calmed(pair, resets(pair, 601, 51))


# ------------------------------------------------------- CONTINUATION flood


def test_endless_continuation_frames_are_cut_off() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    flood = frame(HEADERS, 0, 1, GET_SLASH_HTTPS)
    flood += frame(CONTINUATION, 0, 1) * (limits.max_continuation_frames + 1)
    error = assert_calmed(pair, flood)
    assert "CONTINUATION" in str(error) or "frames" in str(error)


def test_a_header_block_growing_past_its_limit_is_cut_off_while_arriving() -> None:
    limits = HTTP2Limits(max_header_list_size=4096)  # header blocks up to 8192 bytes
    pair = Pair(limits)
    pair.server.receive_data(frame(HEADERS, 0, 1, GET_SLASH_HTTPS))
    pair.server.receive_data(frame(CONTINUATION, 0, 1, b"\x00" * 4000))
    # The block never ends; its next piece takes it over the limit.
    assert_calmed(pair, frame(CONTINUATION, 0, 1, b"\x00" * 4500))


def test_a_single_headers_frame_over_the_block_limit_is_refused() -> None:
    limits = HTTP2Limits(max_header_list_size=2048)  # blocks up to 4096 bytes
    pair = Pair(limits)
    block = GET_SLASH_HTTPS + hpack_literal(b"x-big", b"v" * 5000)
    assert_calmed(pair, frame(HEADERS, END_HEADERS | END_STREAM, 1, block))


def test_a_header_block_in_a_few_continuations_is_fine() -> None:
    pair = Pair()
    block = pair.client.encoder.encode(request_headers(extra=[(b"x-a", b"a" * 3000)]))
    third = len(block) // 3
    data = (
        frame(HEADERS, END_STREAM, 1, block[:third])
        + frame(CONTINUATION, 0, 1, block[third : 2 * third])
        + frame(CONTINUATION, END_HEADERS, 1, block[2 * third :])
    )
    (request, _end) = pair.server.receive_data(data)
    assert isinstance(request, RequestReceived)


# ------------------------------------------------ PING and SETTINGS floods


def test_ping_flood() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    error = assert_calmed(pair, frame(PING, 0, 0, bytes(8)) * (limits.control_burst + 1))
    assert "PING" in str(error)


def test_settings_flood() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    error = assert_calmed(pair, frame(SETTINGS, 0, 0) * (limits.control_burst + 1))
    assert "SETTINGS" in str(error)


def test_pings_at_a_steady_pace_are_answered() -> None:
    limits = HTTP2Limits()  # 100 at once, then 20 per second
    pair = Pair(limits)
    # The client's SETTINGS took one token of the burst.
    pair.server.receive_data(frame(PING, 0, 0, bytes(8)) * (limits.control_burst - 1))
    for _ in range(50):
        pair.clock.advance(0.125)  # 2.5 new tokens: two pings fit, with room to spare
        pair.server.receive_data(frame(PING, 0, 0, bytes(8)) * 2)
    acks = pair.server.data_to_send().count(frame(PING, ACK, 0, bytes(8)))
    assert acks == limits.control_burst - 1 + 100


def test_acks_are_not_counted() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    pair.server.receive_data(frame(PING, ACK, 0, bytes(8)) * (limits.control_burst * 2))
    assert not pair.server.closed


def test_empty_data_frame_flood() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    pair.request(1, b"/", b"POST", end=False)
    assert_calmed(pair, frame(DATA, 0, 1) * (limits.control_burst + 1))


# -------------------------------------------------------------- HPACK bomb


def test_hpack_bomb_stops_decoding_and_closes() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    # One 4000-byte field enters the dynamic table (index 62); each further
    # byte 0xBE repeats it: 300 bytes on the wire decode to over 1 MB.
    block = GET_SLASH_HTTPS + hpack_literal(b"x", b"b" * 4000, index=True)
    block += hpack_int(62, 7, 0x80) * 300
    assert len(block) < limits.header_block_limit
    assert_calmed(pair, frame(HEADERS, END_HEADERS | END_STREAM, 1, block))


def test_a_header_list_just_over_the_advertised_size_is_a_431_not_a_bomb() -> None:
    limits = HTTP2Limits()
    pair = Pair(limits)
    block = GET_SLASH_HTTPS + hpack_literal(b"x", b"b" * 4000, index=True)
    block += hpack_int(62, 7, 0x80) * 4  # about 20 KB decoded: over 16 KiB, under 32 KiB
    (rejected,) = pair.server.receive_data(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    assert rejected.status_hint == 431  # type: ignore[attr-defined]
    assert not pair.server.closed
