"""Response framing: streaming, HEAD, bodiless statuses, default headers, trailers."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from pounce import Receive, Scope, Send
from support.apps import respond
from support.raw import RawConnection
from support.waiting import WAIT, await_thread_event, wait_for


def test_streamed_chunks_arrive_before_the_response_ends(serve):
    """The app sends a chunk, then waits for the test to have *read* it."""
    first_read = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await await_thread_event(first_read)
        await send({"type": "http.response.body", "body": b"second", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        head = conn.read_head()
        assert head.status == 200
        assert head.header("transfer-encoding") == "chunked"
        assert head.header("content-length") is None
        assert conn.read_chunk() == b"first"  # the app is still waiting: it was flushed
        first_read.set()
        assert conn.read_chunk() == b"second"
        assert conn.read_chunk() == b""
        # The connection stays usable after a chunked response.
        conn.send_request("GET", "/")
        assert conn.read_response().body == b"firstsecond"


def test_streaming_with_httpx_iter_bytes(serve):
    release = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for number in range(3):
            await send({"type": "http.response.body", "body": b"%d;" % number, "more_body": True})
        await await_thread_event(release)
        await send({"type": "http.response.body", "body": b"end"})

    server = serve(app)
    with httpx.stream("GET", server.url, timeout=30) as response:
        received = b""
        chunks = response.iter_raw()
        while received != b"0;1;2;":
            received += next(chunks)
        release.set()
        received += b"".join(chunks)
    assert received == b"0;1;2;end"


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await respond(send, "hello", headers=[(b"x-app", b"1")])


def test_whole_body_in_one_message_gets_content_length(serve):
    server = serve(hello_app)
    response = httpx.get(server.url, timeout=30)
    assert response.headers["content-length"] == "5"
    assert "transfer-encoding" not in response.headers
    assert response.text == "hello"


def test_default_and_app_headers(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await respond(send, "x", headers=[(b"Server", b"my-app"), (b"X-Mixed-Case", b"v")])

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        response = conn.read_response()
    assert response.header_values("server") == ["my-app"]  # the app's wins, sent once
    assert response.header("date") is not None
    assert response.header("x-mixed-case") == "v"


def test_server_and_date_headers_can_be_turned_off(serve):
    server = serve(hello_app, server_header=False, date_header=False)
    response = httpx.get(server.url, timeout=30)
    assert "server" not in response.headers
    assert "date" not in response.headers


@pytest.mark.parametrize("streamed", [False, True])
def test_head_has_no_body_and_the_same_headers_as_get(serve, streamed):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"x-thing", b"1")],
            }
        )
        if streamed:
            await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
            await send({"type": "http.response.body", "body": b"world"})
        else:
            await send({"type": "http.response.body", "body": b"hello world"})

    server = serve(app, date_header=False)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        get = conn.read_response()
        conn.send_request("HEAD", "/")
        head = conn.read_response(method="HEAD")
        # Nothing follows the HEAD response's head: the next response comes right after.
        conn.send_request("GET", "/")
        again = conn.read_response()
    assert get.body == again.body == b"hello world"
    assert head.status == 200
    assert head.headers == get.headers


def test_head_with_explicit_content_length(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]}
        )
        await send({"type": "http.response.body", "body": b"hello world"})

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("HEAD", "/")
        head = conn.read_response(method="HEAD")
        conn.send_request("GET", "/")
        get = conn.read_response()
    assert head.header("content-length") == "11"
    assert get.body == b"hello world"


def test_head_answered_with_an_empty_body_gets_no_invented_length(serve):
    """An app that knows HEAD needs no body sends none; the server must not
    claim the GET body would be empty (RFC 9110 §8.6)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body = b"" if scope["method"] == "HEAD" else b"full body"
        await send({"type": "http.response.body", "body": body})

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("HEAD", "/")
        head = conn.read_response(method="HEAD")
        conn.send_request("GET", "/")
        assert conn.read_response().body == b"full body"
    assert head.status == 200
    assert head.header("content-length") is None


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_send_no_body(serve, status):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"etag", b'"v1"')] if status == 304 else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        response = conn.read_response()
        assert response.status == status
        assert response.header("transfer-encoding") is None
        if status == 204:
            assert response.header("content-length") is None
        # The connection is reusable, so nothing stray was written after the head.
        conn.send_request("GET", "/")
        assert conn.read_response().status == status


def test_response_trailers(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/", headers=[("te", "trailers")])
        head = conn.read_head()
        assert head.header("transfer-encoding") == "chunked"
        assert conn.read_chunk() == b"data"
        raw = conn.read_some()
        while not raw.endswith(b"\r\n\r\n"):
            raw += conn.read_some()
    assert raw == b"0\r\nx-checksum: abc\r\n\r\n"


def test_slow_reader_applies_back_pressure_to_the_app(serve):
    """While the client reads nothing, the app's send() blocks: the server does
    not queue a 200 MB response in memory."""
    total = 200 * 1024 * 1024
    piece = b"r" * 65536
    sent = [0]
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", str(total).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        while sent[0] < total:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent[0] += len(piece)
        await send({"type": "http.response.body", "body": b""})
        done.set()

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        conn.send_request("GET", "/")
        head = conn.read_head()
        assert head.status == 200

        def stalled() -> bool:
            before = sent[0]
            time.sleep(0.3)
            return sent[0] == before

        wait_for(stalled, what="the app to block in send()")
        assert sent[0] < total // 2, "the server buffered the response instead of pausing the app"
        received = 0
        while received < total:
            received += len(conn.read_some())
        assert received == total
    assert done.wait(WAIT)
