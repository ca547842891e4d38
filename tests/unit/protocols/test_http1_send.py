"""The response side: serializing events, ``reject()``, and local errors."""

from __future__ import annotations

import pytest

from pounce_protocols import (
    HTTP1ServerConnection,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

from ._helpers import request, respond


def connection(data: bytes = b"") -> HTTP1ServerConnection:
    conn = HTTP1ServerConnection()
    conn.receive_data(data or request())
    return conn


def exchange(conn: HTTP1ServerConnection, *events: object) -> bytes:
    out = b""
    for event in events:
        out += conn.send(event)  # type: ignore[arg-type]
    return out


# ----------------------------------------------------------- serialization


def test_response_with_content_length() -> None:
    conn = connection()
    out = exchange(
        conn,
        ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"5"),)),
        ResponseBody(stream_id=1, data=b"hel"),
        ResponseBody(stream_id=1, data=b"lo"),
        ResponseEnd(stream_id=1),
    )
    assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
    assert conn.keep_alive


def test_response_without_length_is_chunked() -> None:
    conn = connection()
    out = exchange(
        conn,
        ResponseHead(stream_id=1, status=200, headers=((b"content-type", b"text/plain"),)),
        ResponseBody(stream_id=1, data=b"hello"),
        ResponseBody(stream_id=1, data=b""),  # empty pieces write nothing
        ResponseBody(stream_id=1, data=b" world"),
        ResponseEnd(stream_id=1, trailers=((b"x-checksum", b"abc"),)),
    )
    assert out == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n"
    )
    assert conn.keep_alive


def test_empty_body_piece_writes_nothing() -> None:
    conn = connection()
    conn.send(ResponseHead(stream_id=1, status=200))
    assert conn.send(ResponseBody(stream_id=1, data=b"")) == b""


def test_response_to_head_has_no_body() -> None:
    conn = connection(request(method=b"HEAD"))
    head = conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"10"),)))
    assert head == b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
    assert conn.send(ResponseEnd(stream_id=1)) == b""
    assert conn.keep_alive


def test_response_to_head_without_length_ends_with_nothing() -> None:
    conn = connection(request(method=b"HEAD"))
    conn.send(ResponseHead(stream_id=1, status=200))
    assert conn.send(ResponseEnd(stream_id=1)) == b""
    assert conn.keep_alive


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_are_not_chunked(status: int) -> None:
    conn = connection()
    head = conn.send(ResponseHead(stream_id=1, status=status))
    assert b"chunked" not in head.lower()
    assert conn.send(ResponseEnd(stream_id=1)) == b""


def test_response_to_http10_is_delimited_by_close() -> None:
    conn = connection(request(version=b"HTTP/1.0", headers=[]))
    out = exchange(
        conn,
        ResponseHead(stream_id=1, status=200),
        ResponseBody(stream_id=1, data=b"hello"),
        ResponseEnd(stream_id=1),
    )
    assert out == b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello"
    assert not conn.keep_alive


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (200, b"HTTP/1.1 200 OK\r\n"),
        (404, b"HTTP/1.1 404 Not Found\r\n"),
        (418, b"HTTP/1.1 418 I'm a Teapot\r\n"),
        (299, b"HTTP/1.1 299 \r\n"),
        (599, b"HTTP/1.1 599 \r\n"),
    ],
    ids=str,
)
def test_status_line_reason_phrase(status: int, line: bytes) -> None:
    conn = connection()
    assert conn.send(ResponseHead(stream_id=1, status=status)).startswith(line)


def test_header_case_is_kept_as_the_app_gave_it() -> None:
    conn = connection()
    head = conn.send(ResponseHead(stream_id=1, status=200, headers=((b"X-Custom", b"v"),)))
    assert b"\r\nX-Custom: v\r\n" in head


# ----------------------------------------------------------- local errors


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(((b"x y", b"1"),), id="name-with-space"),
        pytest.param(((b"x:", b"1"),), id="name-with-colon"),
        pytest.param(((b"x", b"a\r\nInjected: 1"),), id="value-crlf"),
        pytest.param(((b"x", b"a\nb"),), id="value-lf"),
        pytest.param(((b"x", b"a\x00"),), id="value-nul"),
        pytest.param(((b"x", b" a"),), id="value-leading-space"),
        pytest.param(((b"content-length", b"ten"),), id="bad-content-length"),
        pytest.param(
            ((b"content-length", b"1"), (b"content-length", b"2")), id="conflicting-content-length"
        ),
        pytest.param(((b"transfer-encoding", b"gzip"),), id="unknown-transfer-encoding"),
    ],
)
def test_invalid_response_head_is_a_local_error(headers: tuple[tuple[bytes, bytes], ...]) -> None:
    conn = connection()
    with pytest.raises(LocalProtocolError) as info:
        # _trusted: the machine must catch what the event's own checks skip.
        conn.send(ResponseHead(stream_id=1, status=200, headers=headers, _trusted=True))
    assert info.value.status_hint == 500
    assert not isinstance(info.value, RemoteProtocolError)


def test_more_body_than_content_length_is_a_local_error() -> None:
    conn = connection()
    conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"1"),)))
    with pytest.raises(LocalProtocolError, match="Content-Length"):
        conn.send(ResponseBody(stream_id=1, data=b"too much"))


def test_less_body_than_content_length_is_a_local_error() -> None:
    conn = connection()
    conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"10"),)))
    conn.send(ResponseBody(stream_id=1, data=b"short"))
    with pytest.raises(LocalProtocolError):
        conn.send(ResponseEnd(stream_id=1))


def test_second_response_head_is_a_local_error() -> None:
    conn = connection()
    conn.send(ResponseHead(stream_id=1, status=200))
    with pytest.raises(LocalProtocolError, match="already started"):
        conn.send(ResponseHead(stream_id=1, status=200))


def test_body_before_head_is_a_local_error() -> None:
    conn = connection()
    with pytest.raises(LocalProtocolError):
        conn.send(ResponseBody(stream_id=1, data=b"x"))


@pytest.mark.parametrize("stream_id", [0, 2])
def test_sending_on_another_stream_is_a_local_error(stream_id: int) -> None:
    conn = connection()
    with pytest.raises(LocalProtocolError, match=f"stream {stream_id}"):
        conn.send(ResponseHead(stream_id=stream_id, status=200))


def test_sending_before_any_request_is_a_local_error() -> None:
    conn = HTTP1ServerConnection()
    with pytest.raises(LocalProtocolError):
        conn.send(ResponseHead(stream_id=0, status=200))


# ------------------------------------------------------------------ reject


def test_reject_is_a_complete_closing_response() -> None:
    conn = HTTP1ServerConnection()
    out = conn.reject(400, ((b"content-type", b"text/plain"),), b"bad request\n")
    assert out == (
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 12\r\n"
        b"connection: close\r\n\r\nbad request\n"
    )
    assert not conn.keep_alive
    assert conn.response_started
    assert conn.receive_data(request()) == []


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (431, b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        (501, b"HTTP/1.1 501 Not Implemented\r\n"),
        (505, b"HTTP/1.1 505 HTTP Version Not Supported\r\n"),
        (599, b"HTTP/1.1 599 \r\n"),
    ],
    ids=str,
)
def test_reject_status_line(status: int, line: bytes) -> None:
    assert HTTP1ServerConnection().reject(status).startswith(line)


def test_reject_without_body_still_declares_its_length() -> None:
    out = HTTP1ServerConnection().reject(408)
    assert out == (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )


def test_reject_of_a_head_request_has_no_body() -> None:
    conn = connection(request(method=b"HEAD"))
    out = conn.reject(500, (), b"oops")
    assert out == (
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\n"
    )


def test_reject_after_a_head_cycle_carries_its_body() -> None:
    # The method of the previous cycle must not decide the framing of an
    # error for a request that never parsed.
    conn = connection(request(method=b"HEAD"))
    respond(conn)
    conn.start_next_cycle()
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    out = conn.reject(info.value.status_hint, (), b"400 Bad Request\n")
    assert out.endswith(b"\r\n\r\n400 Bad Request\n")


def test_reject_after_the_response_started_only_closes() -> None:
    conn = connection()
    conn.send(ResponseHead(stream_id=1, status=200))
    assert conn.reject(500, (), b"oops") == b""
    assert not conn.keep_alive


def test_reject_twice_writes_once() -> None:
    conn = HTTP1ServerConnection()
    assert conn.reject(400)
    assert conn.reject(400) == b""


@pytest.mark.parametrize(
    "header",
    [(b"x", b"a\r\nInjected: 1"), (b"x", b"a\nb"), (b"x:y", b"1"), (b"x\ny", b"1")],
    ids=["value-crlf", "value-lf", "name-colon", "name-lf"],
)
def test_reject_refuses_header_injection(header: tuple[bytes, bytes]) -> None:
    with pytest.raises(LocalProtocolError):
        HTTP1ServerConnection().reject(400, (header,))


def test_interim_response_serialization() -> None:
    conn = connection(
        request(method=b"POST", headers=[b"Host: h", b"Expect: 100-continue", b"Content-Length: 1"])
    )
    assert conn.send(InformationalResponse(stream_id=1, status=100)) == (
        b"HTTP/1.1 100 Continue\r\n\r\n"
    )
