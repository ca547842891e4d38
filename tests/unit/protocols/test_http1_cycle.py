"""Request/response cycles: keep-alive, pipelining, 100-continue, HTTP/1.0,
``Connection: close``, protocol upgrades and end of input."""

from __future__ import annotations

import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    HTTP1ServerConnection,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    RequestReceived,
    ResponseEnd,
    ResponseHead,
    UpgradeRequested,
)

from ._helpers import body_of, chunked, request, requests_of, respond

GET_A = request(b"/a")
GET_B = request(b"/b")
GET_C = request(b"/c")


# -------------------------------------------------------------- keep-alive


def test_keep_alive_over_several_cycles() -> None:
    conn = HTTP1ServerConnection()
    assert conn.stream_id == 0
    for stream_id, path in enumerate([b"/1", b"/2", b"/3"], start=1):
        assert conn.awaiting_request
        events = conn.receive_data(request(path))
        assert events == [
            RequestReceived(
                stream_id=stream_id,
                method=b"GET",
                path=path,
                query_string=b"",
                http_version="1.1",
                headers=((b"host", b"example.com"),),
            ),
            BodyEnded(stream_id=stream_id),
        ]
        assert conn.stream_id == stream_id
        assert conn.request_complete
        assert not conn.keep_alive  # not before the response has ended
        conn.send(ResponseHead(stream_id=stream_id, status=200))
        assert conn.response_started
        assert not conn.keep_alive
        conn.send(ResponseEnd(stream_id=stream_id))
        assert conn.keep_alive
        assert conn.start_next_cycle() == []
        assert not conn.response_started


def test_next_cycle_before_the_response_ended_is_a_local_error() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A)
    conn.send(ResponseHead(stream_id=1, status=200))
    with pytest.raises(LocalProtocolError) as info:
        conn.start_next_cycle()
    assert info.value.status_hint == 500


def test_next_cycle_before_the_request_ended_is_a_local_error() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(request(method=b"POST", headers=[b"Host: h", b"Content-Length: 10"]))
    respond(conn)  # an early response: the body has not arrived yet
    assert not conn.keep_alive
    with pytest.raises(LocalProtocolError):
        conn.start_next_cycle()
    events = conn.receive_data(b"0123456789")
    assert body_of(events) == b"0123456789"
    assert conn.keep_alive  # the request caught up: the connection is reusable
    assert conn.start_next_cycle() == []


# --------------------------------------------------------------- pipelining


def test_pipelined_requests_surface_one_cycle_at_a_time() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(GET_A + GET_B + GET_C)
    assert [(e.stream_id, e.path) for e in requests_of(events)] == [(1, b"/a")]
    assert conn.buffered_bytes == len(GET_B + GET_C)
    for stream_id, path in [(2, b"/b"), (3, b"/c")]:
        head = ResponseHead(stream_id=stream_id - 1, status=200)
        assert conn.send(head).startswith(b"HTTP/1.1 200 OK\r\n")
        conn.send(ResponseEnd(stream_id=stream_id - 1))
        events = conn.start_next_cycle()
        assert [(e.stream_id, e.path) for e in requests_of(events)] == [(stream_id, path)]
    respond(conn)
    assert conn.start_next_cycle() == []
    assert conn.buffered_bytes == 0


def test_bytes_arriving_during_a_response_are_held_until_the_next_cycle() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A)
    assert conn.receive_data(GET_B[:10]) == []
    conn.send(ResponseHead(stream_id=1, status=200))
    assert conn.receive_data(GET_B[10:]) == []
    assert conn.buffered_bytes == len(GET_B)
    conn.send(ResponseEnd(stream_id=1))
    events = conn.start_next_cycle()
    assert [e.path for e in requests_of(events)] == [b"/b"]


@pytest.mark.parametrize(
    "first",
    [
        request(method=b"POST", headers=[b"Host: h", b"Content-Length: 5"], body=b"hello"),
        request(
            method=b"POST",
            headers=[b"Host: h", b"Transfer-Encoding: chunked"],
            body=chunked(b"hello"),
        ),
    ],
    ids=["content-length", "chunked"],
)
def test_pipelined_request_after_a_body(first: bytes) -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(first + GET_B)
    assert body_of(events) == b"hello"
    assert [type(e) for e in events] == [RequestReceived, BodyReceived, BodyEnded]
    respond(conn)
    events = conn.start_next_cycle()
    assert [e.path for e in requests_of(events)] == [b"/b"]


def test_partial_pipelined_request_completes_in_a_later_read() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A + GET_B[:7])
    respond(conn)
    assert conn.start_next_cycle() == []
    assert conn.has_partial_request
    events = conn.receive_data(GET_B[7:])
    assert [e.path for e in requests_of(events)] == [b"/b"]


def test_invalid_pipelined_request_is_refused_at_next_cycle() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A + b"GET / HTTP/1.1\r\n\r\n")  # second: no Host
    respond(conn)
    with pytest.raises(RemoteProtocolError) as info:
        conn.start_next_cycle()
    assert info.value.status_hint == 400


# ------------------------------------------------------------ bodies


def test_content_length_body() -> None:
    data = request(method=b"PUT", headers=[b"Host: h", b"Content-Length: 11"], body=b"hello world")
    conn = HTTP1ServerConnection()
    events = conn.receive_data(data)
    assert events[1:] == [BodyReceived(stream_id=1, data=b"hello world"), BodyEnded(stream_id=1)]
    assert type(events[1].data) is bytes  # type: ignore[attr-defined]


def test_content_length_body_in_pieces() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(
        request(method=b"POST", headers=[b"Host: h", b"Content-Length: 6"], body=b"ab")
    )
    assert not conn.request_complete
    events += conn.receive_data(b"cd")
    events += conn.receive_data(b"ef")
    assert body_of(events) == b"abcdef"
    assert events[-1] == BodyEnded(stream_id=1)
    assert conn.request_complete


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "reference"])
def test_chunked_body_with_trailers(fast_path: bool) -> None:
    body = chunked(b"hel", b"lo", trailers=[b"Digest: sha-256=abc", b"X-Done: 1"])
    data = request(method=b"POST", headers=[b"Host: h", b"Transfer-Encoding: chunked"], body=body)
    events = HTTP1ServerConnection(fast_path=fast_path).receive_data(data)
    # The chunks that arrive in one read are one event: a body sent in many
    # small chunks costs the layers above per read, not per chunk.
    assert events[1:] == [
        BodyReceived(stream_id=1, data=b"hello"),
        BodyEnded(stream_id=1, trailers=((b"digest", b"sha-256=abc"), (b"x-done", b"1"))),
    ]


# ------------------------------------------------------------ 100-continue


def test_expect_100_continue() -> None:
    conn = HTTP1ServerConnection()
    data = request(
        method=b"POST", headers=[b"Host: h", b"Expect: 100-continue", b"Content-Length: 2"]
    )
    (req,) = conn.receive_data(data)
    assert isinstance(req, RequestReceived)
    assert req.expect_continue
    assert conn.send(InformationalResponse(stream_id=1, status=100)) == (
        b"HTTP/1.1 100 Continue\r\n\r\n"
    )
    assert body_of(conn.receive_data(b"ok")) == b"ok"
    assert conn.request_complete


@pytest.mark.parametrize(
    ("version", "expect", "flag"),
    [
        (b"HTTP/1.1", b"100-Continue", True),
        (b"HTTP/1.1", b"foo, 100-continue", True),
        (b"HTTP/1.1", b"something-else", False),
        (b"HTTP/1.0", b"100-continue", False),
    ],
    ids=["case-insensitive", "in-a-list", "other-expectation", "http10"],
)
def test_expect_continue_flag(version: bytes, expect: bytes, flag: bool) -> None:
    headers = [b"Host: h", b"Expect: " + expect, b"Content-Length: 1"]
    (req,) = HTTP1ServerConnection().receive_data(
        request(method=b"POST", version=version, headers=headers)
    )
    assert isinstance(req, RequestReceived)
    assert req.expect_continue is flag


def test_no_interim_response_after_the_final_one() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(
        request(method=b"POST", headers=[b"Host: h", b"Expect: 100-continue", b"Content-Length: 2"])
    )
    conn.send(ResponseHead(stream_id=1, status=200))
    with pytest.raises(LocalProtocolError):
        conn.send(InformationalResponse(stream_id=1, status=100))


def test_early_hints_before_the_response() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A)
    out = conn.send(
        InformationalResponse(stream_id=1, status=103, headers=((b"link", b"</s.css>"),))
    )
    assert out == b"HTTP/1.1 103 Early Hints\r\nlink: </s.css>\r\n\r\n"


# ------------------------------------------------------ persistence rules


def test_http10_is_not_kept_alive_by_default() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(request(version=b"HTTP/1.0", headers=[]))
    head = conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"0"),)))
    conn.send(ResponseEnd(stream_id=1))
    assert b"Connection: close" in head
    assert not conn.keep_alive
    with pytest.raises(LocalProtocolError):
        conn.start_next_cycle()


def test_http10_keep_alive_request_is_still_closed() -> None:
    # RFC 9112 §9.3 leaves honouring HTTP/1.0 "keep-alive" to the recipient;
    # this machine does not, and says so in the response.
    conn = HTTP1ServerConnection()
    conn.receive_data(request(version=b"HTTP/1.0", headers=[b"Connection: keep-alive"]))
    head = conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"0"),)))
    conn.send(ResponseEnd(stream_id=1))
    assert b"Connection: close" in head
    assert not conn.keep_alive


@pytest.mark.parametrize("value", [b"close", b"Close", b"keep-alive, close"], ids=str)
def test_connection_close_from_the_client(value: bytes) -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(request(headers=[b"Host: h", b"Connection: " + value]))
    head = conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"0"),)))
    conn.send(ResponseEnd(stream_id=1))
    assert b"Connection: close" in head
    assert not conn.keep_alive
    with pytest.raises(LocalProtocolError):
        conn.start_next_cycle()


def test_connection_close_from_the_server() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A + GET_B)
    conn.send(ResponseHead(stream_id=1, status=200, headers=((b"connection", b"close"),)))
    conn.send(ResponseEnd(stream_id=1))
    assert not conn.keep_alive


# --------------------------------------------------------------- upgrades

UPGRADE = request(
    b"/chat",
    headers=[
        b"Host: h",
        b"Upgrade: websocket",
        b"Connection: keep-alive, Upgrade",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version: 13",
    ],
)
SWITCH = ResponseHead(
    stream_id=1, status=101, headers=((b"upgrade", b"websocket"), (b"connection", b"Upgrade"))
)


def test_upgrade_request() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(UPGRADE)
    assert [type(e) for e in events] == [UpgradeRequested, BodyEnded]
    upgrade = events[0]
    assert isinstance(upgrade, UpgradeRequested)
    assert upgrade.protocol == b"websocket"
    assert upgrade.path == b"/chat"
    assert (b"sec-websocket-version", b"13") in upgrade.headers


@pytest.mark.parametrize(
    ("headers", "protocol"),
    [
        ([b"Upgrade: WebSocket", b"Connection: upgrade"], b"websocket"),
        (
            [b"Upgrade: h2c", b"Connection: Upgrade, HTTP2-Settings", b"HTTP2-Settings: AAMAAABk"],
            b"h2c",
        ),
        ([b"Upgrade: foo, bar", b"Connection: Upgrade"], b"foo"),
    ],
    ids=["case", "h2c", "first-of-list"],
)
def test_upgrade_protocol(headers: list[bytes], protocol: bytes) -> None:
    (upgrade, _) = HTTP1ServerConnection().receive_data(request(headers=[b"Host: h", *headers]))
    assert isinstance(upgrade, UpgradeRequested)
    assert upgrade.protocol == protocol


@pytest.mark.parametrize(
    "headers",
    [[b"Upgrade: websocket"], [b"Connection: Upgrade"], [b"Upgrade: websocket", b"Connection: x"]],
    ids=["no-connection-option", "no-upgrade-field", "other-connection-option"],
)
def test_no_upgrade_without_both_fields(headers: list[bytes]) -> None:
    (req, _) = HTTP1ServerConnection().receive_data(request(headers=[b"Host: h", *headers]))
    assert type(req) is RequestReceived


def test_switching_protocols_hands_over_the_following_bytes() -> None:
    conn = HTTP1ServerConnection()
    frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    conn.receive_data(UPGRADE + frame)
    assert conn.buffered_bytes == len(frame)
    out = conn.send(SWITCH)
    assert out == (
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n"
    )
    assert conn.receive_data(b"more") == []
    assert conn.take_upgraded_data() == frame + b"more"
    assert conn.take_upgraded_data() == b""
    assert not conn.keep_alive
    assert conn.request_complete


def test_switching_protocols_without_following_bytes() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(UPGRADE)
    conn.send(SWITCH)
    assert conn.take_upgraded_data() == b""


def test_refused_upgrade_is_an_ordinary_request() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(UPGRADE + GET_B)
    respond(conn, 200, b"no websockets here")
    assert conn.keep_alive
    with pytest.raises(LocalProtocolError):
        conn.take_upgraded_data()
    assert [e.path for e in requests_of(conn.start_next_cycle())] == [b"/b"]


def test_101_without_an_upgrade_request_is_a_local_error() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A)
    with pytest.raises(LocalProtocolError):
        conn.send(SWITCH)


def test_101_for_an_upgrade_refused_in_an_earlier_cycle_is_a_local_error() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(UPGRADE + GET_B)
    respond(conn)
    conn.start_next_cycle()
    with pytest.raises(LocalProtocolError):
        conn.send(ResponseHead(stream_id=2, status=101))


def test_take_upgraded_data_without_a_switch_is_a_local_error() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(UPGRADE)
    with pytest.raises(LocalProtocolError):
        conn.take_upgraded_data()


# ------------------------------------------------------------ end of input


def test_eof_when_idle() -> None:
    conn = HTTP1ServerConnection()
    assert conn.receive_data(b"") == [ConnectionLost()]
    assert conn.receive_data(GET_A) == []
    assert not conn.keep_alive


def test_eof_in_a_partial_head() -> None:
    conn = HTTP1ServerConnection()
    assert conn.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n") == []
    assert conn.receive_data(b"") == [ConnectionLost()]
    assert conn.receive_data(b"\r\n") == []


def test_eof_in_a_body() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(
        request(method=b"POST", headers=[b"Host: h", b"Content-Length: 5"], body=b"ab")
    )
    assert body_of(events) == b"ab"
    assert conn.receive_data(b"") == [ConnectionLost()]
    assert not conn.request_complete
    assert conn.receive_data(b"cde") == []


def test_eof_after_a_complete_request_still_allows_the_response() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(GET_A)
    assert conn.receive_data(b"") == [ConnectionLost()]
    assert respond(conn, 200, b"bye").endswith(b"bye")
    assert not conn.keep_alive


def test_after_a_protocol_error_nothing_more_is_parsed() -> None:
    conn = HTTP1ServerConnection()
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    assert conn.receive_data(GET_A) == []
    assert not conn.awaiting_request
    assert not conn.keep_alive
