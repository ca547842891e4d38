"""The request side of HTTP/2: h2's events become the protocol-neutral ones."""

from __future__ import annotations

import h2.events
import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    HTTP2ErrorCode,
    HTTP2Limits,
    RemoteProtocolError,
    RequestReceived,
    RequestRejected,
)

from ._http2_helpers import (
    END_HEADERS,
    END_STREAM,
    HEADERS,
    PREFACE,
    Pair,
    frame,
    goaway_of,
    make_server,
    request_headers,
)


def test_request_head_body_and_trailers() -> None:
    pair = Pair()
    pair.client.send_headers(
        1,
        request_headers(b"/upload?x=1&y=2", b"POST", [(b"content-type", b"text/plain")]),
    )
    pair.client.send_data(1, b"hello ")
    pair.client.send_data(1, b"world")
    pair.client.send_headers(1, [(b"x-checksum", b"abc")], end_stream=True)
    events = pair.to_server()
    assert events == [
        RequestReceived(
            stream_id=1,
            method=b"POST",
            path=b"/upload",
            query_string=b"x=1&y=2",
            http_version="2",
            headers=((b"host", b"example.com"), (b"content-type", b"text/plain")),
            scheme=b"https",
            authority=b"example.com",
        ),
        BodyReceived(stream_id=1, data=b"hello "),
        BodyReceived(stream_id=1, data=b"world"),
        BodyEnded(stream_id=1, trailers=((b"x-checksum", b"abc"),)),
    ]


def test_pseudo_headers_never_reach_the_header_list() -> None:
    pair = Pair()
    (request, _end) = pair.request(1, extra=[(b"accept", b"*/*")])
    assert isinstance(request, RequestReceived)
    assert all(not name.startswith(b":") for name, _ in request.headers)


def test_authority_becomes_the_first_host_field() -> None:
    pair = Pair()
    pair.client.send_headers(
        1,
        [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", b"/"),
            (b":authority", b"api.example"),
            (b"accept", b"*/*"),
        ],
        end_stream=True,
    )
    (request, _end) = pair.to_server()
    assert isinstance(request, RequestReceived)
    assert request.headers == ((b"host", b"api.example"), (b"accept", b"*/*"))
    assert (request.scheme, request.authority) == (b"http", b"api.example")


def test_host_without_authority_is_kept() -> None:
    pair = Pair()
    pair.client.send_headers(
        1,
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b"host", b"h.example")],
        end_stream=True,
    )
    (request, _end) = pair.to_server()
    assert isinstance(request, RequestReceived)
    assert request.authority is None
    assert request.headers == ((b"host", b"h.example"),)


def test_expect_100_continue_is_reported() -> None:
    pair = Pair()
    (request,) = pair.request(1, b"/", b"PUT", [(b"expect", b"100-continue")], end=False)
    assert isinstance(request, RequestReceived)
    assert request.expect_continue


def test_asterisk_path_is_for_options_only() -> None:
    pair = Pair()
    (request, _end) = pair.request(1, b"*", b"OPTIONS")
    assert isinstance(request, RequestReceived)
    assert (request.path, request.query_string) == (b"*", b"")
    (rejected,) = [e for e in pair.request(3, b"*", b"GET") if isinstance(e, RequestRejected)]
    assert rejected.status_hint == 400


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (request_headers(b"/a#frag"), 400),
        (request_headers(b"relative"), 400),
        (request_headers(b"/", scheme=b"ftp"), 400),
        ([(b":method", b"CONNECT"), (b":authority", b"example.com:443")], 501),
        (request_headers(authority=b"user@example.com"), 400),
        (request_headers(authority=b"example.com/a"), 400),
        (request_headers(authority=b"example.com:80x"), 400),
        (request_headers(authority=None, extra=[(b"host", b"a b")]), 400),
    ],
    ids=[
        "fragment",
        "relative-path",
        "ftp-scheme",
        "connect",
        "authority-userinfo",
        "authority-path",
        "authority-bad-port",
        "bad-host-without-authority",
    ],
)
def test_a_malformed_request_is_rejected_on_its_stream_only(
    headers: list[tuple[bytes, bytes]], status: int
) -> None:
    pair = Pair()
    pair.client.send_headers(1, headers, end_stream=True)
    events = pair.to_server()
    assert events == [RequestRejected(stream_id=1, status_hint=status, reason=events[0].reason)]  # type: ignore[attr-defined]
    # The connection goes on: the next stream is an ordinary request.
    (request, _end) = pair.request(3)
    assert isinstance(request, RequestReceived)


def test_too_many_header_fields_is_431_on_that_stream() -> None:
    pair = Pair(HTTP2Limits(max_header_count=10))
    extra = [(f"x-h{i}".encode(), b"v") for i in range(11)]
    (rejected,) = pair.request(1, extra=extra)
    assert rejected == RequestRejected(
        stream_id=1, status_hint=431, reason="request header fields too large"
    )
    (request, _end) = pair.request(3, extra=extra[:10])
    assert isinstance(request, RequestReceived)


def test_a_header_list_over_the_advertised_size_is_431() -> None:
    pair = Pair(HTTP2Limits(max_header_list_size=4096))
    # Over 4096 bytes decoded, under the 8192 where it would count as a bomb.
    (rejected,) = pair.request(1, extra=[(b"x-big", b"v" * 5000)])
    assert isinstance(rejected, RequestRejected)
    assert rejected.status_hint == 431


def test_the_settings_advertise_the_limits() -> None:
    limits = HTTP2Limits(max_concurrent_streams=7, initial_window_size=100_000)
    pair = Pair(limits)
    remote = pair.client.remote_settings
    assert remote.max_concurrent_streams == 7
    assert remote.initial_window_size == 100_000
    assert remote.max_header_list_size == limits.max_header_list_size
    assert pair.client.outbound_flow_control_window == limits.connection_window_size


def test_streams_interleave() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(b"/one", b"POST"))
    pair.client.send_headers(3, request_headers(b"/three", b"POST"))
    pair.client.send_data(3, b"three", end_stream=True)
    pair.client.send_data(1, b"one", end_stream=True)
    events = pair.to_server()
    assert [(type(e).__name__, e.stream_id) for e in events] == [  # type: ignore[attr-defined]
        ("RequestReceived", 1),
        ("RequestReceived", 3),
        ("BodyReceived", 3),
        ("BodyEnded", 3),
        ("BodyReceived", 1),
        ("BodyEnded", 1),
    ]


@pytest.mark.parametrize(
    "field",
    [(b"X-Upper", b"1"), (b"x-nul", b"a\x00b"), (b"connection", b"close")],
    ids=["uppercase-name", "nul-in-value", "connection-field"],
)
def test_h2_header_validation_is_a_connection_error_with_goaway(
    field: tuple[bytes, bytes],
) -> None:
    pair = Pair()
    # h2 refuses to send these itself, so the block is written with its encoder.
    block = pair.client.encoder.encode([*request_headers(), field])

    with pytest.raises(RemoteProtocolError) as caught:
        pair.server.receive_data(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    assert caught.value.error_code == HTTP2ErrorCode.PROTOCOL_ERROR
    assert goaway_of(pair.server.data_to_send())[1] == HTTP2ErrorCode.PROTOCOL_ERROR
    assert pair.server.closed
    assert pair.server.receive_data(b"anything") == []


def test_a_wrong_preface_is_a_protocol_error() -> None:
    server = make_server()
    server.initiate()
    with pytest.raises(RemoteProtocolError):
        server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_end_of_input_is_connection_lost() -> None:
    pair = Pair()
    pair.request(1, end=False)
    assert pair.server.receive_data(b"") == [ConnectionLost()]
    assert pair.server.closed


def test_the_preface_may_arrive_in_pieces() -> None:
    server = make_server()
    server.initiate()
    for byte in PREFACE[:-1]:
        assert server.receive_data(bytes([byte])) == []
        assert not server.preface_received
    server.receive_data(PREFACE[-1:])
    assert server.preface_received


def test_client_ping_is_answered() -> None:
    pair = Pair()
    pair.client.ping(b"12345678")
    assert pair.to_server() == []
    (ack,) = pair.to_client()
    assert isinstance(ack, h2.events.PingAckReceived)
    assert ack.ping_data == b"12345678"
