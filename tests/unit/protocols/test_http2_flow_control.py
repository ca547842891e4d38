"""Flow control both ways: a slow reader stalls only its own stream, and
responses wait for the peer's windows without blocking each other."""

from __future__ import annotations

from collections.abc import Sequence

import h2.events
import h2.settings
import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    HTTP2ErrorCode,
    HTTP2Limits,
    RemoteProtocolError,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

from ._http2_helpers import DATA, Pair, client_events, frame, request_headers

PADDED = 0x8

WINDOW = 65_535


def body_of(events: Sequence[object]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, BodyReceived))


def sent_data(events: list[h2.events.Event], stream_id: int) -> bytes:
    return b"".join(
        e.data  # type: ignore[attr-defined]
        for e in client_events(events, h2.events.DataReceived)
        if e.stream_id == stream_id  # type: ignore[attr-defined]
    )


def ack(pair: Pair, events: list[h2.events.Event]) -> None:
    """The client consumes what it received, as any client does."""
    for event in client_events(events, h2.events.DataReceived):
        pair.client.acknowledge_received_data(
            event.flow_controlled_length,  # type: ignore[attr-defined]
            event.stream_id,  # type: ignore[attr-defined]
        )


# ------------------------------------------------------------------ inbound


def fill_stream(pair: Pair, stream_id: int) -> bytes:
    """Send as much body on the stream as its window allows."""
    pair.client.send_headers(stream_id, request_headers(b"/up", b"POST"))
    window = pair.client.local_flow_control_window(stream_id)
    data = b"u" * window
    for start in range(0, window, 16_384):
        pair.client.send_data(stream_id, data[start : start + 16_384])
    return data


def test_the_stream_window_reopens_only_as_the_app_consumes() -> None:
    pair = Pair()
    data = fill_stream(pair, 1)
    assert body_of(pair.to_server()) == data
    pair.to_client()
    # Nothing was consumed: the client may send no more on this stream.
    assert pair.client.local_flow_control_window(1) == 0
    pair.server.acknowledge_received_data(1, len(data))
    pair.to_client()
    assert pair.client.local_flow_control_window(1) == WINDOW


def test_a_slow_reader_stalls_only_its_own_stream() -> None:
    pair = Pair()
    fill_stream(pair, 1)  # never consumed by its app
    pair.to_server()
    pair.to_client()
    assert pair.client.local_flow_control_window(1) == 0
    # Another stream has its full window: the connection window was given back.
    pair.client.send_headers(3, request_headers(b"/other", b"POST"))
    assert pair.client.local_flow_control_window(3) == WINDOW
    pair.client.send_data(3, b"x" * 16_384, end_stream=True)
    events = pair.to_server()
    assert body_of(events) == b"x" * 16_384
    assert BodyEnded(stream_id=3) in events


def test_small_consumption_is_announced_in_batches() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(b"/up", b"POST"))
    pair.client.send_data(1, b"a" * 1000)
    pair.to_server()
    pair.server.acknowledge_received_data(1, 1000)
    updates = client_events(pair.to_client(), h2.events.WindowUpdated)
    assert [u for u in updates if u.stream_id == 1] == []  # type: ignore[attr-defined]
    assert pair.client.local_flow_control_window(1) == WINDOW - 1000


def test_padding_is_consumed_at_once() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(b"/up", b"POST"))
    pair.client.send_data(1, b"a" * 1000, pad_length=255)
    events = pair.to_server()
    assert body_of(events) == b"a" * 1000
    pair.server.acknowledge_received_data(1, 1000)  # the app read the body
    pair.to_client()
    # 1256 flow-controlled bytes were credited whatever the batching; the
    # client's window did not lose the padding for good.
    pair.server.acknowledge_received_data(1, WINDOW // 4)
    pair.to_client()
    assert pair.client.local_flow_control_window(1) > WINDOW - 1000


def test_padding_counts_against_the_connection_window() -> None:
    # Four padded frames of 16384 bytes on two streams: 65536 flow-controlled
    # bytes, one over a connection window of 65535, though their data
    # (4 x 16128 bytes) would fit in it.
    pair = Pair(HTTP2Limits(connection_window_size=WINDOW))
    for stream_id in (1, 3):
        pair.client.send_headers(stream_id, request_headers(b"/up", b"POST"))
    pair.to_server()
    padded = b"\xff" + b"d" * (16_384 - 256) + bytes(255)
    frames = b"".join(frame(DATA, PADDED, s, padded) for s in (1, 1, 3, 3))
    with pytest.raises(RemoteProtocolError) as caught:
        pair.server.receive_data(frames)
    assert caught.value.error_code == HTTP2ErrorCode.FLOW_CONTROL_ERROR


# ----------------------------------------------------------------- outbound


def test_a_response_bigger_than_the_window_waits_for_window_updates() -> None:
    pair = Pair()
    pair.request(1)
    body = bytes(range(256)) * 1024  # 256 KiB, four times the client's window
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=body))
    pair.server.send(ResponseEnd(stream_id=1, trailers=((b"x-sum", b"1"),)))
    assert pair.server.pending_bytes(1) == len(body) - WINDOW
    received = b""
    ended = False
    for _ in range(10):
        events = pair.to_client()
        received += sent_data(events, 1)
        ended = ended or bool(client_events(events, h2.events.StreamEnded))
        ack(pair, events)
        pair.to_server()
    assert received == body
    assert ended
    assert pair.server.pending_bytes(1) == 0


def test_a_stream_with_a_shut_window_does_not_block_another() -> None:
    pair = Pair()
    pair.request(1)
    pair.request(3)
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=b"1" * (WINDOW + 10)))
    events = pair.to_client()
    assert len(sent_data(events, 1)) == WINDOW
    # The client reads the connection but keeps stream 1's window shut.
    pair.client.increment_flow_control_window(WINDOW)
    pair.to_server()
    assert pair.server.pending_bytes(1) == 10
    pair.server.send(ResponseHead(stream_id=3, status=200))
    pair.server.send(ResponseBody(stream_id=3, data=b"3" * 1000))
    pair.server.send(ResponseEnd(stream_id=3))
    events = pair.to_client()
    assert sent_data(events, 3) == b"3" * 1000
    assert client_events(events, h2.events.StreamEnded)
    assert pair.server.pending_bytes(1) == 10


def test_the_connection_window_is_shared_round_robin() -> None:
    # A client that lets each stream have more than the whole connection window.
    pair = Pair()
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 200_000})
    pair.to_server()
    pair.to_client()
    pair.request(1)
    pair.request(3)
    for stream_id in (1, 3):
        pair.server.send(ResponseHead(stream_id=stream_id, status=200))
        pair.server.send(ResponseBody(stream_id=stream_id, data=b"z" * 100_000))
    events = pair.to_client()
    # Stream 1 took the whole connection window (65535) before stream 3 asked.
    assert len(sent_data(events, 1)) == WINDOW
    assert sent_data(events, 3) == b""
    # Give back a big connection window at once: both streams share it.
    pair.client.increment_flow_control_window(100_000)
    pair.to_server()
    events = pair.to_client()
    sent1, sent3 = len(sent_data(events, 1)), len(sent_data(events, 3))
    assert sent1 + sent3 == 100_000
    assert sent3 >= 16_384 * 3  # not starved by stream 1


def test_a_client_shrinking_its_window_is_honoured() -> None:
    pair = Pair()
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
    pair.to_server()
    pair.to_client()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=b"q" * 5000))
    assert len(sent_data(pair.to_client(), 1)) == 1000
    assert pair.server.pending_bytes(1) == 4000


def test_connection_window_size_is_a_limit() -> None:
    limits = HTTP2Limits(connection_window_size=65_535)
    pair = Pair(limits)
    assert pair.client.outbound_flow_control_window == 65_535
