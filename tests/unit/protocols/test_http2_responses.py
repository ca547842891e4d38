"""The response side of HTTP/2: events in, frames out, local errors refused."""

from __future__ import annotations

import h2.events
import pytest

from pounce_protocols import (
    HTTP2ErrorCode,
    InformationalResponse,
    LocalProtocolError,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    StreamReset,
)

from ._http2_helpers import RST_STREAM, Pair, client_events, parse_frames


def respond(pair: Pair, stream_id: int, *events: object) -> list[h2.events.Event]:
    for event in events:
        pair.server.send(event)  # type: ignore[arg-type]
    return pair.to_client()


def test_a_whole_response() -> None:
    pair = Pair()
    pair.request(1)
    received = respond(
        pair,
        1,
        ResponseHead(stream_id=1, status=200, headers=((b"content-type", b"text/plain"),)),
        ResponseBody(stream_id=1, data=b"hello"),
        ResponseEnd(stream_id=1),
    )
    (head,) = client_events(received, h2.events.ResponseReceived)
    assert head.headers == [(b":status", b"200"), (b"content-type", b"text/plain")]  # type: ignore[attr-defined]
    data = b"".join(e.data for e in client_events(received, h2.events.DataReceived))  # type: ignore[attr-defined]
    assert data == b"hello"
    assert client_events(received, h2.events.StreamEnded)
    assert pair.server.open_streams == 0


def test_connection_specific_fields_are_dropped_and_names_lowercased() -> None:
    pair = Pair()
    pair.request(1)
    headers = (
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"websocket"),
        (b"Proxy-Connection", b"close"),
        (b"X-Kept", b"yes"),
    )
    received = respond(
        pair, 1, ResponseHead(stream_id=1, status=204, headers=headers), ResponseEnd(stream_id=1)
    )
    (head,) = client_events(received, h2.events.ResponseReceived)
    assert head.headers == [(b":status", b"204"), (b"x-kept", b"yes")]  # type: ignore[attr-defined]


def test_trailers_end_the_stream() -> None:
    pair = Pair()
    pair.request(1)
    received = respond(
        pair,
        1,
        ResponseHead(stream_id=1, status=200),
        ResponseBody(stream_id=1, data=b"body"),
        ResponseEnd(stream_id=1, trailers=((b"Grpc-Status", b"0"),)),
    )
    (trailers,) = client_events(received, h2.events.TrailersReceived)
    assert trailers.headers == [(b"grpc-status", b"0")]  # type: ignore[attr-defined]
    assert client_events(received, h2.events.StreamEnded)


def test_interim_responses_come_before_the_final_one() -> None:
    pair = Pair()
    pair.request(1, b"/", b"PUT", [(b"expect", b"100-continue")], end=False)
    received = respond(pair, 1, InformationalResponse(stream_id=1, status=100))
    (interim,) = client_events(received, h2.events.InformationalResponseReceived)
    assert interim.headers == [(b":status", b"100")]  # type: ignore[attr-defined]
    pair.server.send(ResponseHead(stream_id=1, status=200))
    with pytest.raises(LocalProtocolError, match="interim response after the final"):
        pair.server.send(InformationalResponse(stream_id=1, status=103))


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([ResponseBody(stream_id=1, data=b"x")], "body before the response head"),
        ([ResponseEnd(stream_id=1)], "end before the response head"),
        ([ResponseHead(stream_id=1, status=101)], "no 101"),
        ([ResponseHead(stream_id=1, status=200)] * 2, "already started"),
        (
            [ResponseHead(stream_id=1, status=200, headers=((b"x-split", b"a\r\nb: c"),))],
            "invalid value",
        ),
        (
            [
                ResponseHead(stream_id=1, status=200),
                ResponseBody(stream_id=1, data=b"x" * 100_000),  # more than the window
                ResponseEnd(stream_id=1),
                ResponseBody(stream_id=1, data=b"more"),
            ],
            "the response on stream 1 is complete",
        ),
    ],
    ids=["body-first", "end-first", "101", "two-heads", "crlf-in-value", "after-end"],
)
def test_what_http2_cannot_send_is_a_local_error(events: list[object], message: str) -> None:
    pair = Pair()
    pair.request(1)
    *before, last = events
    for event in before:
        pair.server.send(event)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match=message):
        pair.server.send(last)  # type: ignore[arg-type]


def test_a_stream_whose_response_went_out_whole_is_gone() -> None:
    pair = Pair()
    pair.request(1)
    respond(pair, 1, ResponseHead(stream_id=1, status=204), ResponseEnd(stream_id=1))
    pair.server.send(ResponseBody(stream_id=1, data=b"late"))  # dropped, as for a reset stream
    assert pair.server.data_to_send() == b""


def test_a_stream_that_never_existed_is_a_local_error() -> None:
    pair = Pair()
    with pytest.raises(LocalProtocolError, match="stream 5 is not open"):
        pair.server.send(ResponseHead(stream_id=5, status=200))


def test_sending_on_a_stream_the_client_reset_is_dropped() -> None:
    pair = Pair()
    pair.request(1, end=False)
    pair.client.reset_stream(1, HTTP2ErrorCode.CANCEL)
    assert pair.to_server() == [StreamReset(stream_id=1, error_code=HTTP2ErrorCode.CANCEL)]
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=b"late"))
    assert pair.server.data_to_send() == b""


def test_a_complete_response_stops_an_unwanted_request_body() -> None:
    pair = Pair()
    pair.request(1, b"/", b"POST", body=b"part", end=False)
    pair.server.send(ResponseHead(stream_id=1, status=413))
    pair.server.send(ResponseEnd(stream_id=1))
    resets = [
        (stream, int.from_bytes(payload, "big"))
        for kind, _, stream, payload in parse_frames(pair.server.data_to_send())
        if kind == RST_STREAM
    ]
    assert resets == [(1, HTTP2ErrorCode.NO_ERROR)]
    assert pair.server.open_streams == 0


def test_server_reset_stream() -> None:
    pair = Pair()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.reset_stream(1, HTTP2ErrorCode.INTERNAL_ERROR)
    (reset,) = client_events(pair.to_client(), h2.events.StreamReset)
    assert reset.error_code == HTTP2ErrorCode.INTERNAL_ERROR  # type: ignore[attr-defined]
    assert pair.server.open_streams == 0


def test_local_errors_carry_an_http2_error_code() -> None:
    pair = Pair()
    pair.request(1)
    with pytest.raises(LocalProtocolError) as caught:
        pair.server.send(ResponseBody(stream_id=1, data=b"no head yet"))
    assert caught.value.error_code == HTTP2ErrorCode.INTERNAL_ERROR


# Fields h2 would refuse to send, by what is wrong with them.
BAD_FIELDS = {
    "empty-name": (b"", b"x"),
    "space-in-name": (b"x y", b"1"),
    "pseudo-field": (b":status", b"500"),
    "colon-in-name": (b"x-colon:", b"1"),
    "leading-ws": (b"x-lead", b" value"),
    "trailing-ws": (b"x-trail", b"value\t"),
    "nul": (b"x-nul", b"a\x00b"),
}


@pytest.mark.parametrize("field", list(BAD_FIELDS.values()), ids=list(BAD_FIELDS))
@pytest.mark.parametrize("where", ["head", "trailers"])
def test_fields_h2_would_refuse_are_refused_before_it(
    field: tuple[bytes, bytes], where: str
) -> None:
    # h2 does not check what we send (we do, once): every field it would
    # refuse must be refused here, for a head and for trailers alike.
    pair = Pair()
    pair.request(1)
    if where == "head":
        last: ResponseHead | ResponseEnd = ResponseHead(
            stream_id=1, status=200, headers=(field,), _trusted=True
        )
    else:
        pair.server.send(ResponseHead(stream_id=1, status=200))
        last = ResponseEnd(stream_id=1, trailers=(field,), _trusted=True)
    with pytest.raises(LocalProtocolError, match="invalid"):
        pair.server.send(last)


# ------------------------------------------------------ a whole response at once


def test_a_whole_response_in_one_call() -> None:
    pair = Pair()
    pair.request(1)
    headers = ((b"content-type", b"text/plain"), (b"Content-Length", b"5"))
    assert pair.server.send_response(1, 200, headers, b"hello")
    frames = [
        (kind, flags, stream) for kind, flags, stream, _ in parse_frames(pair.server.data_to_send())
    ]
    # The head, then the body with END_STREAM: no empty DATA frame to end it.
    assert frames == [(0x1, 0x4, 1), (0x0, 0x1, 1)]
    assert pair.server.open_streams == 0
    assert pair.server.data_sent == 5


def test_a_whole_response_without_a_body_is_one_headers_frame() -> None:
    pair = Pair()
    pair.request(1, b"/", b"HEAD")
    received = pair.server.send_response(1, 204, (), b"")
    assert received
    (headers_frame,) = parse_frames(pair.server.data_to_send())
    assert headers_frame[:3] == (0x1, 0x5, 1)


def test_a_whole_response_bigger_than_the_window_waits_for_it() -> None:
    pair = Pair()
    pair.request(1)
    assert pair.server.send_response(1, 200, (), b"w" * 70_000)
    assert pair.server.pending_bytes(1) == 70_000 - 65_535
    events = pair.to_client()
    assert not client_events(events, h2.events.StreamEnded)


def test_a_whole_response_before_the_request_body_ends_resets_it() -> None:
    pair = Pair()
    pair.request(1, b"/", b"POST", body=b"part", end=False)
    assert pair.server.send_response(1, 413, (), b"too big")
    resets = [
        (stream, int.from_bytes(payload, "big"))
        for kind, _, stream, payload in parse_frames(pair.server.data_to_send())
        if kind == RST_STREAM
    ]
    assert resets == [(1, HTTP2ErrorCode.NO_ERROR)]


@pytest.mark.parametrize(
    "before",
    [[ResponseHead(stream_id=1, status=200)], []],
    ids=["after-a-head", "with-bad-fields"],
)
def test_what_one_call_cannot_send_is_left_to_the_events(before: list[object]) -> None:
    pair = Pair()
    pair.request(1)
    for event in before:
        pair.server.send(event)  # type: ignore[arg-type]
    headers = () if before else ((b"x-bad", b"a\r\nb"),)
    assert not pair.server.send_response(1, 200, headers, b"x")


def test_a_whole_response_for_a_stream_that_is_gone_is_dropped() -> None:
    pair = Pair()
    pair.request(1, end=False)
    pair.client.reset_stream(1, HTTP2ErrorCode.CANCEL)
    pair.to_server()
    assert pair.server.send_response(1, 200, (), b"late")
    assert pair.server.data_to_send() == b""


def test_body_pieces_without_events() -> None:
    pair = Pair()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=200))
    for piece in (b"a", b"b", b""):
        pair.server.send_body(1, piece)
    pair.server.send(ResponseEnd(stream_id=1))
    data = b"".join(e.data for e in client_events(pair.to_client(), h2.events.DataReceived))  # type: ignore[attr-defined]
    assert data == b"ab"
    pair.server.send_body(1, b"after the end")  # the stream is over: dropped, as events are
    assert pair.server.data_to_send() == b""
    with pytest.raises(LocalProtocolError, match="not open"):
        pair.server.send_body(9, b"never opened")
