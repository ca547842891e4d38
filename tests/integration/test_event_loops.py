"""The HTTP/1.1 connection on every event loop Pounce can run: asyncio and uvloop.

``--loop auto`` picks uvloop whenever it is installed, so the hot path runs on
it more often than on asyncio in production; uvloop's transports differ from
asyncio's in small ways (they are not ``asyncio.Transport`` subclasses, their
clocks and timer handles are their own). Each scenario runs on both loops.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading

import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.raw import RawConnection, request_bytes
from support.waiting import await_thread_event

LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None,
            reason="uvloop is not installed for this interpreter",
        ),
    ),
]


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    data = await read_body(receive)
    await respond(send, scope["path"].encode() + b" " + data)


@pytest.fixture(params=LOOPS)
def loop_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_keep_alive_pipelining_and_bodies(serve, loop_name):
    server = serve(echo, loop=loop_name)
    with RawConnection(server.host, server.port) as conn:
        for i in range(20):
            conn.send_request("POST", f"/r{i}", headers=[("content-length", "3")], body=b"abc")
            response = conn.read_response()
            assert (response.status, response.body) == (200, f"/r{i} abc".encode())
            assert response.keeps_alive
        conn.send(b"".join(request_bytes("GET", f"/p{i}") for i in range(10)))
        for i in range(10):
            assert conn.read_response().body == f"/p{i} ".encode()
        port = conn.local_port
    with RawConnection(server.host, server.port) as other:
        other.send_request("GET", "/again")
        assert other.read_response().body == b"/again "
        assert other.local_port != port


def test_a_head_with_nothing_after_it_yet_is_sent_at_once(serve, loop_name):
    """The server holds a head to write it with the first body bytes, but never
    past the app's message: a stream that starts empty shows its head now."""
    release = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await await_thread_event(release)
        await send({"type": "http.response.body", "body": b"late"})

    server = serve(app, loop=loop_name)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        head = conn.read_head()  # the app is still waiting
        assert head.status == 201
        assert head.header("transfer-encoding") == "chunked"
        release.set()
        assert conn.read_chunk() == b"late"
        assert conn.read_chunk() == b""


def test_bad_requests_and_limits(serve, loop_name):
    server = serve(echo, loop=loop_name, limit_request_body=10)
    with RawConnection(server.host, server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n")  # a bare LF
        assert conn.read_response().status == 400
        conn.assert_closed()
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/", headers=[("content-length", "11")], body=b"x" * 11)
        assert conn.read_response().status == 413
        conn.assert_closed()


def test_idle_and_slow_connections_time_out(serve, loop_name):
    server = serve(echo, loop=loop_name, timeout_keep_alive=0.2, timeout_request_header=0.3)
    with RawConnection(server.host, server.port) as conn:
        for _ in range(3):  # the idle deadline moves with each request
            conn.send_request("GET", "/")
            assert conn.read_response().status == 200
        conn.assert_closed(timeout=30)
    with RawConnection(server.host, server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: h\r\n")  # and never the rest
        assert conn.read_response().status == 408
        conn.assert_closed(timeout=30)


def test_the_app_runs_in_a_task(serve, loop_name):
    # Requests run inside a task of the loop (anyio and friends need
    # asyncio.current_task()).
    seen: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen.append(asyncio.current_task())
        await respond(send, type(asyncio.get_running_loop()).__module__)

    server = serve(app, loop=loop_name)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        module = conn.read_response().body.decode()
    assert seen
    assert seen[0] is not None
    assert module.partition(".")[0] == loop_name
