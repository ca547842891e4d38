"""Where RFC 9113 asks for something other than what ``h2`` does, frame by frame.

* A client may open more streams in its first flight than our
  SETTINGS_MAX_CONCURRENT_STREAMS, before it has seen our SETTINGS (§6.5.2):
  the streams over the limit are refused (RST_STREAM REFUSED_STREAM, safe to
  retry, §5.1.2), the others served; the connection goes on.
* Frames the peer had in flight on a stream we reset are ignored (§5.1), and
  only the connection window is credited for their DATA.
* A connection error says what was wrong.
"""

from __future__ import annotations

import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    HTTP2ErrorCode,
    HTTP2Limits,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    StreamReset,
)

from ._http2_helpers import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    GET_SLASH_HTTPS,
    GOAWAY,
    HEADERS,
    PREFACE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    Pair,
    frame,
    hpack_literal,
    make_server,
    parse_frames,
    request_headers,
)

REFUSED = HTTP2ErrorCode.REFUSED_STREAM


def resets_in(data: bytes) -> list[tuple[int, int]]:
    return [
        (stream_id, int.from_bytes(payload, "big"))
        for kind, _, stream_id, payload in parse_frames(data)
        if kind == RST_STREAM
    ]


def first_flight(requests: int) -> bytes:
    """A client that sends its requests with its preface, before our SETTINGS."""
    data = PREFACE + frame(SETTINGS, 0, 0)
    for stream_id in range(1, 2 * requests, 2):
        data += frame(HEADERS, END_HEADERS | END_STREAM, stream_id, GET_SLASH_HTTPS)
    return data


# ------------------------------------------------ the first flight (§6.5.2)


def test_101_requests_in_a_first_flight_give_100_answered_and_1_refused() -> None:
    server = make_server()
    server.initiate()
    server.data_to_send()
    events = server.receive_data(first_flight(101))
    requests = [e.stream_id for e in events if isinstance(e, RequestReceived)]
    assert requests == list(range(1, 201, 2))
    assert [e.stream_id for e in events if isinstance(e, BodyEnded)] == requests
    out = server.data_to_send()
    assert resets_in(out) == [(201, REFUSED)]
    assert GOAWAY not in [kind for kind, _, _, _ in parse_frames(out)]
    for stream_id in requests:
        server.send(ResponseHead(stream_id=stream_id, status=204))
        server.send(ResponseEnd(stream_id=stream_id))
    answered = [s for kind, _, s, _ in parse_frames(server.data_to_send()) if kind == HEADERS]
    assert answered == requests
    assert not server.closed


def test_the_limit_counts_open_streams_not_streams_ever_opened() -> None:
    limits = HTTP2Limits(max_concurrent_streams=2)
    pair = Pair(limits)
    server = pair.server

    def request(stream_id: int, flags: int = END_HEADERS) -> list[object]:
        return list(server.receive_data(frame(HEADERS, flags, stream_id, GET_SLASH_HTTPS)))

    request(1)
    request(3)
    assert request(5, END_HEADERS | END_STREAM) == []  # a third at once is refused
    assert resets_in(server.data_to_send()) == [(5, REFUSED)]
    server.send(ResponseHead(stream_id=1, status=204))
    server.send(ResponseEnd(stream_id=1))  # stream 1 closes (reset NO_ERROR)
    server.data_to_send()
    (event,) = request(7)
    assert isinstance(event, RequestReceived)


def test_a_refused_streams_header_block_is_still_decoded() -> None:
    # The refused request adds a field to the HPACK table; the next request
    # refers to it: both decoders must have seen the refused block.
    limits = HTTP2Limits(max_concurrent_streams=1)
    server = make_server(limits)
    server.initiate()
    indexed = GET_SLASH_HTTPS + hpack_literal(b"x-seen", b"yes", index=True)
    data = PREFACE + frame(SETTINGS, 0, 0)
    data += frame(HEADERS, END_HEADERS, 1, GET_SLASH_HTTPS)
    data += frame(HEADERS, END_HEADERS | END_STREAM, 3, indexed)  # refused
    events = server.receive_data(data)
    assert [type(e) for e in events] == [RequestReceived]
    server.send(ResponseHead(stream_id=1, status=204))
    server.send(ResponseEnd(stream_id=1))
    server.receive_data(frame(DATA, END_STREAM, 1))
    (request, _end) = server.receive_data(
        frame(HEADERS, END_HEADERS | END_STREAM, 5, GET_SLASH_HTTPS + bytes([0x80 | 62]))
    )
    assert isinstance(request, RequestReceived)
    assert (b"x-seen", b"yes") in request.headers


# ----------------------------------------- frames in flight on a reset stream


def answered_early(pair: Pair, stream_id: int) -> None:
    """A POST answered before its body arrived: we reset it with NO_ERROR."""
    pair.client.send_headers(stream_id, request_headers(b"/up", b"POST"))
    pair.client.send_data(stream_id, b"first")
    pair.to_server()
    pair.server.send(ResponseHead(stream_id=stream_id, status=413))
    pair.server.send(ResponseEnd(stream_id=stream_id))
    assert resets_in(pair.server.data_to_send()) == [(stream_id, HTTP2ErrorCode.NO_ERROR)]


def test_data_and_trailers_in_flight_on_a_stream_we_reset_are_ignored() -> None:
    pair = Pair()
    answered_early(pair, 1)
    # What the client had sent before it saw the reset.
    late = frame(DATA, 0, 1, b"x" * 1000) * 3
    late += frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_literal(b"x-sum", b"1"))
    assert pair.server.receive_data(late) == []
    assert resets_in(pair.server.data_to_send()) == []
    # The connection goes on, HPACK included.
    (request, _end) = pair.request(3)
    assert isinstance(request, RequestReceived)


def test_late_data_is_credited_to_the_connection_window() -> None:
    pair = Pair()
    credited = 0
    for stream_id in range(1, 21, 2):
        answered_early(pair, stream_id)
        late = frame(DATA, 0, stream_id, b"y" * 16_000) * 4  # what its stream window allowed
        assert pair.server.receive_data(late) == []
        out = pair.server.data_to_send()
        assert resets_in(out) == []
        credited += sum(
            int.from_bytes(payload, "big")
            for kind, _, s, payload in parse_frames(out)
            if kind == WINDOW_UPDATE and s == 0
        )
    # 640 kB arrived on reset streams: at least half a window's worth came back.
    assert credited >= 512 * 1024


def test_a_stream_the_client_reset_still_answers_its_frames() -> None:
    # Only our own resets excuse frames in flight: after its own RST_STREAM
    # the client may send nothing more on the stream.
    pair = Pair()
    pair.request(1, b"/", b"POST", end=False)
    pair.client.reset_stream(1, HTTP2ErrorCode.CANCEL)
    pair.to_server()
    pair.server.receive_data(frame(DATA, 0, 1, b"late"))
    assert resets_in(pair.server.data_to_send()) == [(1, HTTP2ErrorCode.STREAM_CLOSED)]


def test_a_refused_streams_body_in_flight_is_ignored() -> None:
    limits = HTTP2Limits(max_concurrent_streams=1)
    pair = Pair(limits)
    server = pair.server
    server.receive_data(frame(HEADERS, END_HEADERS, 1, GET_SLASH_HTTPS))
    assert server.receive_data(frame(HEADERS, END_HEADERS, 3, GET_SLASH_HTTPS)) == []
    assert resets_in(server.data_to_send()) == [(3, REFUSED)]
    assert server.receive_data(frame(DATA, END_STREAM, 3, b"body")) == []
    assert resets_in(server.data_to_send()) == []


def test_data_after_end_stream_is_reset_once_then_ignored() -> None:
    # The client broke the stream's rules (DATA after END_STREAM): we reset it
    # with STREAM_CLOSED, once; more of the same is then in flight.
    pair = Pair()
    pair.request(1)
    events = pair.server.receive_data(frame(DATA, 0, 1, b"a") + frame(DATA, 0, 1, b"b"))
    assert [type(e).__name__ for e in events] == ["StreamReset"]
    assert resets_in(pair.server.data_to_send()) == [(1, HTTP2ErrorCode.STREAM_CLOSED)]
    pair.server.receive_data(frame(DATA, 0, 1, b"c"))
    assert resets_in(pair.server.data_to_send()) == []


# ------------------------------------------------------------- error messages


@pytest.mark.parametrize(
    ("late", "words"),
    [
        (frame(HEADERS, END_HEADERS | END_STREAM, 1, GET_SLASH_HTTPS), ["stream 1", "closed"]),
        (frame(WINDOW_UPDATE, 0, 9, (1).to_bytes(4, "big")), ["stream 9", "never opened"]),
        (frame(CONTINUATION, END_HEADERS, 1, b""), ["CONTINUATION", "closed"]),
    ],
    ids=["headers-on-closed-stream", "window-update-on-idle-stream", "naked-continuation"],
)
def test_a_connection_error_says_what_was_wrong(late: bytes, words: list[str]) -> None:
    pair = Pair()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=204))
    pair.server.send(ResponseEnd(stream_id=1))
    pair.server.data_to_send()
    # Each route on its own: the log line is whichever one runs.
    for machine in (pair.server.fast, pair.server.reference):
        with pytest.raises(RemoteProtocolError) as caught:
            machine.receive_data(late)
        message = str(caught.value)
        assert not message.strip().isdigit()
        for word in words:
            assert word in message, (type(machine._core).__name__, message)


def test_an_ordinary_request_body_is_not_mistaken_for_a_late_frame() -> None:
    pair = Pair()
    events = pair.request(1, b"/", b"POST", body=b"hello")
    assert BodyReceived(stream_id=1, data=b"hello") in events


def test_a_window_update_and_a_reset_for_the_same_stream_in_one_read() -> None:
    # The window update lets the stream's waiting data go; the reset, later in
    # the same read, has already closed the stream underneath. The data is
    # dropped, the app hears of the reset, the connection goes on.
    pair = Pair()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=b"w" * 70_000))  # over the window
    pair.server.data_to_send()
    assert pair.server.pending_bytes(1) == 70_000 - 65_535
    read = frame(WINDOW_UPDATE, 0, 1, (10_000).to_bytes(4, "big"))
    read += frame(WINDOW_UPDATE, 0, 0, (10_000).to_bytes(4, "big"))
    read += frame(RST_STREAM, 0, 1, HTTP2ErrorCode.CANCEL.to_bytes(4, "big"))
    events = pair.server.receive_data(read)
    assert events == [StreamReset(stream_id=1, error_code=HTTP2ErrorCode.CANCEL)]
    assert [kind for kind, *_ in parse_frames(pair.server.data_to_send())] == []
    (request, _end) = pair.request(3)
    assert isinstance(request, RequestReceived)
