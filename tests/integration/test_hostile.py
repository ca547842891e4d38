"""Hostile and broken requests over a real socket: the right status, then a
fresh connection is served as if nothing happened."""

from __future__ import annotations

import contextlib
import logging
import select
import time

import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.raw import RawConnection
from support.waiting import log_records


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        body = await read_body(receive)
        await respond(send, b"ok " + body)


def _assert_still_serving(server) -> None:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/", headers=[("content-length", "2")], body=b"hi")
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b"ok hi"


HOSTILE = {
    "garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n", 400),
    "no-version": (b"GET /\r\nhost: x\r\n\r\n", 400),
    "bare-lf": (b"GET / HTTP/1.1\nhost: x\n\n", 400),
    "bare-cr": (b"GET / HTTP/1.1\r\nhost: x\rfoo: y\r\n\r\n", 400),
    "obs-fold": (b"GET / HTTP/1.1\r\nhost: x\r\nx-a: 1\r\n  continued\r\n\r\n", 400),
    "space-before-colon": (b"GET / HTTP/1.1\r\nhost : x\r\n\r\n", 400),
    "missing-host": (b"GET / HTTP/1.1\r\n\r\n", 400),
    "cl-and-te": (
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n"
        b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "two-content-lengths": (
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        400,
    ),
    "negative-content-length": (b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n", 400),
    "bad-chunk-size": (
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        400,
    ),
    "unknown-transfer-coding": (
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n",
        501,
    ),
    "fragment-in-target": (b"GET /a#b HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "connect": (b"CONNECT example.org:443 HTTP/1.1\r\nhost: example.org:443\r\n\r\n", 501),
    "http-2-0": (b"GET / HTTP/2.0\r\nhost: x\r\n\r\n", 505),
    "http-3-0": (b"GET / HTTP/3.0\r\nhost: x\r\n\r\n", 505),
    "long-target": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nhost: x\r\n\r\n", 414),
    "huge-header": (b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"b" * 20000 + b"\r\n\r\n", 431),
    "too-many-headers": (
        b"GET / HTTP/1.1\r\nhost: x\r\n"
        + b"".join(b"x-h%d: v\r\n" % i for i in range(150))
        + b"\r\n",
        431,
    ),
}


@pytest.mark.parametrize(("data", "status"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_request_gets_the_right_status(serve, caplog, data, status):
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        # An over-long head may be refused before all of it is sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(data)
        response = conn.read_response()
        assert response.status == status, response
        assert response.header("connection") == "close"
        assert response.body.startswith(str(status).encode())
        conn.read_until_close()
    _assert_still_serving(server)
    warnings = log_records(caplog, "pounce.error", level=logging.WARNING)
    assert [r.levelno for r in warnings] == [logging.WARNING], "one warning, no error"
    assert str(status) in warnings[0].getMessage()


def test_hostile_pipelined_request_after_a_good_one(serve):
    """The good request is answered; the broken one after it gets its 400."""
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\nhost: x\n\n")
        assert conn.read_response().status == 200
        assert conn.read_response().status == 400
        conn.read_until_close()
    _assert_still_serving(server)


def test_request_head_timeout_gives_408(serve, caplog):
    """Slowloris: a head dribbled one byte at a time is cut off after the timeout."""
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(app, timeout_request_header=0.5)
    with RawConnection(server.host, server.port) as conn:
        head = b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: " + b"z" * 1000
        sent = 0
        # Keep dribbling (well past the timeout) until the server answers.
        deadline = time.monotonic() + 30
        while sent < len(head) and time.monotonic() < deadline and not _has_data(conn):
            try:
                conn.send(head[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.02)
        response = conn.read_response()
        assert response.status == 408
        assert response.header("connection") == "close"
        conn.read_until_close()
    assert sent < len(head), "the server waited for the whole dribbled head"
    assert any("408" in r.getMessage() for r in log_records(caplog, "pounce.error"))
    _assert_still_serving(server)


def _has_data(conn: RawConnection) -> bool:
    """Whether the server has answered (or closed), without consuming anything."""
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return bool(readable)


def test_silent_connection_is_closed_after_the_head_timeout(serve):
    server = serve(app, timeout_request_header=0.3)
    with RawConnection(server.host, server.port) as conn:
        conn.assert_closed()  # nothing was sent, so nothing (no 408) is answered


def test_head_timeout_applies_to_the_next_request_too(serve):
    server = serve(app, timeout_request_header=0.3)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().status == 200
        conn.send(b"GET / HTTP/1.1\r\nhost")  # and then nothing
        response = conn.read_response()
        assert response.status == 408


def test_head_timeout_does_not_cut_a_slow_body(serve):
    """The head timeout is for the head: a body may take longer."""
    server = serve(app, timeout_request_header=0.2)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/", headers=[("content-length", "4")])
        for byte in b"slow":
            time.sleep(0.1)
            conn.send(bytes([byte]))
        assert conn.read_response().body == b"ok slow"
