"""Request bodies: 100-continue, large uploads, back-pressure, the body limit."""

from __future__ import annotations

import contextlib
import hashlib
import select
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.raw import RawConnection, request_bytes
from support.waiting import WAIT, await_thread_event

MIB = 1024 * 1024


async def digest_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Streams the body through sha256; answers ``<bytes> <hexdigest>``."""
    if scope["type"] != "http":
        return
    digest = hashlib.sha256()
    size = 0
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        digest.update(message["body"])
        size += len(message["body"])
        if not message["more_body"]:
            break
    await respond(send, f"{size} {digest.hexdigest()}")


# ------------------------------------------------------------- 100-continue


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await respond(send, await read_body(receive))


def test_100_continue_is_sent_when_the_app_reads(serve):
    server = serve(echo_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST", "/", headers=[("content-length", "5"), ("expect", "100-continue")]
        )
        interim = conn.read_head()
        assert interim.status == 100
        conn.send(b"hello")
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b"hello"
        # And once more on the same connection.
        conn.send_request(
            "POST", "/", headers=[("content-length", "3"), ("expect", "100-continue")]
        )
        assert conn.read_head().status == 100
        conn.send(b"abc")
        assert conn.read_response().body == b"abc"


def test_no_100_continue_when_the_app_answers_without_reading(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await respond(send, "no thanks", status=403)

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST", "/", headers=[("content-length", "5"), ("expect", "100-continue")]
        )
        response = conn.read_response(skip_interim=False)
        assert response.status == 403
        assert response.body == b"no thanks"


def test_no_100_continue_before_the_app_asks(serve):
    """The interim response goes out when the app first calls receive(), not before."""
    may_read = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await await_thread_event(may_read)
        await respond(send, await read_body(receive))

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST", "/", headers=[("content-length", "2"), ("expect", "100-continue")]
        )
        with pytest.raises(TimeoutError):
            conn.read_some(timeout=0.3)  # nothing yet: the app has not read
        may_read.set()
        assert conn.read_head().status == 100
        conn.send(b"ok")
        assert conn.read_response().body == b"ok"


def test_100_continue_with_body_sent_anyway(serve):
    """A client that does not wait for 100 gets no stray interim response later."""
    server = serve(echo_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST",
            "/",
            headers=[("content-length", "4"), ("expect", "100-continue")],
            body=b"body",
        )
        response = conn.read_response(skip_interim=False)
        assert response.status == 200
        assert response.body == b"body"
        conn.send_request("GET", "/", headers=[("content-length", "0")])
        assert conn.read_response(skip_interim=False).status == 200


def test_no_100_continue_once_the_body_is_arriving(serve):
    """A client that sends its body without waiting gets no interim response
    in the middle of it."""
    server = serve(echo_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST",
            "/",
            headers=[("content-length", "10"), ("expect", "100-continue")],
            body=b"hello",
        )
        with pytest.raises(TimeoutError):
            conn.read_some(timeout=0.3)  # the app has read "hello" and waits for more
        conn.send(b"world")
        response = conn.read_response(skip_interim=False)
        assert response.status == 200
        assert response.body == b"helloworld"


# ------------------------------------------------------------ large uploads


def _pattern(total: int, piece: int = MIB) -> Iterator[bytes]:
    block = bytes(range(256)) * (piece // 256)
    sent = 0
    while sent < total:
        data = block[: min(piece, total - sent)]
        sent += len(data)
        yield data


def _expected(total: int) -> str:
    digest = hashlib.sha256()
    for piece in _pattern(total):
        digest.update(piece)
    return f"{total} {digest.hexdigest()}"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_50_mb_upload(serve, framing):
    total = 50 * MIB
    server = serve(digest_app)
    if framing == "content-length":
        content: bytes | Iterator[bytes] = b"".join(_pattern(total))
    else:
        content = _pattern(total)  # a generator: httpx sends it chunked
    with httpx.Client(timeout=60) as client:
        response = client.post(server.url, content=content)
    assert response.status_code == 200
    assert response.text == _expected(total)


def _push_until_stalled(sock: socket.socket, data: memoryview, offset: int) -> int:
    """Send from ``offset`` until the peer stops taking bytes; return the new offset.

    "Stopped" means the socket stayed unwritable for a while. On a slow machine
    that may happen early, which only makes the test weaker, never wrong.
    """
    sock.setblocking(False)
    try:
        while offset < len(data):
            _, writable, _ = select.select([], [sock], [], 0.5)
            if not writable:
                break
            try:
                offset += sock.send(data[offset : offset + 256 * 1024])
            except BlockingIOError:
                continue
    finally:
        sock.setblocking(True)
    return offset


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_slow_consumer_applies_back_pressure(serve, framing):
    """While the app does not read, the server stops reading the socket.

    The app takes one message, then waits. The client pushes a 50 MB body until
    its sends stall: a server that kept reading would take it all; ours pauses,
    so most of it is still unsent. When the app resumes, everything the server
    buffered meanwhile comes out in one message, which must be small (the
    server's own buffer is bounded, whatever the kernel's socket buffers hold).
    Then the rest flows and the body arrives intact.
    """
    total = 50 * MIB
    first_read = threading.Event()
    resume = threading.Event()
    messages: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        digest = hashlib.sha256()
        while True:
            message = await receive()
            messages.append(len(message["body"]))
            digest.update(message["body"])
            if len(messages) == 1:
                first_read.set()
                await await_thread_event(resume)
            if not message["more_body"]:
                break
        await respond(send, f"{sum(messages)} {digest.hexdigest()}")

    server = serve(app)
    pieces = list(_pattern(total, 64 * 1024))
    if framing == "content-length":
        head = request_bytes("POST", "/", headers=[("content-length", str(total))])
        body = b"".join(pieces)
    else:
        head = request_bytes("POST", "/", headers=[("transfer-encoding", "chunked")])
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    wire = memoryview(head + body)
    with RawConnection(server.host, server.port) as conn:
        first = len(head) + 100 * 1024
        conn.send(wire[:first])
        # The app gets body while the client is still sending it.
        assert first_read.wait(WAIT)
        offset = _push_until_stalled(conn.sock, wire, first)
        assert offset < len(wire) // 2, "the server read the body with no one consuming it"
        resume.set()
        conn.send(wire[offset:])
        response = conn.read_response()
    assert response.body.decode() == _expected(total)
    assert max(messages[1:]) <= MIB, f"the server buffered {max(messages[1:])} bytes"


# ------------------------------------------------------------ body limit


def test_content_length_over_the_limit_is_refused_up_front(serve):
    called = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope)
        await respond(send, "should not run")

    server = serve(app, limit_request_body=1000, lifespan="off")
    with RawConnection(server.host, server.port) as conn:
        # Only the head is sent: the answer must not wait for the body.
        conn.send_request("POST", "/", headers=[("content-length", "1001")])
        response = conn.read_response()
        assert response.status == 413
        assert response.header("connection") == "close"
        conn.assert_closed()
    assert called == []
    # A body at the limit is fine.
    response = httpx.post(server.url, content=b"x" * 1000, timeout=30)
    assert response.status_code == 200


def test_content_length_over_the_limit_with_expect_continue(serve):
    server = serve(echo_app, limit_request_body=10)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST", "/", headers=[("content-length", "11"), ("expect", "100-continue")]
        )
        response = conn.read_response(skip_interim=False)
        assert response.status == 413


def test_chunked_body_over_the_limit_gets_413(serve):
    reads: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            reads.append(len(message["body"]))
            if not message["more_body"]:
                break
        await respond(send, "unreachable")

    server = serve(app, limit_request_body=100_000)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/", headers=[("transfer-encoding", "chunked")])
        chunk = b"%x\r\n%s\r\n" % (10_000, b"y" * 10_000)
        try:
            for _ in range(11):
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before all of it is sent
        response = conn.read_response()
        assert response.status == 413
        assert response.header("connection") == "close"
    assert sum(reads) <= 100_000


def test_chunked_overflow_with_httpx(serve):
    server = serve(digest_app, limit_request_body=MIB)
    response = httpx.post(server.url, content=_pattern(5 * MIB, 64 * 1024), timeout=30)
    assert response.status_code == 413
    # The server is still serving.
    assert httpx.post(server.url, content=b"abc", timeout=30).status_code == 200


def test_content_length_overflow_with_httpx(serve):
    server = serve(digest_app, limit_request_body=MIB)
    response = httpx.post(server.url, content=b"z" * (5 * MIB), timeout=30)
    assert response.status_code == 413


# ------------------------------------------------------------ early responses


async def early_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers without reading the request body."""
    if scope["type"] == "http":
        await respond(send, f"early {scope['path']}")


def test_early_response_small_unread_body_keeps_the_connection(serve):
    server = serve(early_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/upload", headers=[("content-length", "10000")])
        assert conn.read_response().body == b"early /upload"
        # The body comes after the response; the server reads past it.
        conn.send(b"x" * 10000 + request_bytes("GET", "/next"))
        assert conn.read_response().body == b"early /next"


def test_early_response_large_unread_body_closes(serve):
    server = serve(early_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/upload", headers=[("content-length", str(10 * MIB))])
        response = conn.read_response()
        assert response.body == b"early /upload"
        # The server stops reading and closes rather than swallow 10 MB.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(b"x" * (10 * MIB))
        conn.read_until_close()
