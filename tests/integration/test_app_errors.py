"""Apps that crash or break the ASGI protocol: a 500 or a closed connection,
a clear error in the log, and never a hang."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from pounce import Message, Receive, Scope, Send
from support.apps import respond, track
from support.raw import RawConnection
from support.waiting import WAIT, log_records, wait_for

START = {"type": "http.response.start", "status": 200, "headers": []}


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return log_records(caplog, "pounce.error", level=logging.ERROR)


def _assert_fresh_connection_served(server) -> None:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/ok")
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b"fine"


def _app_with(misbehaviour) -> Any:
    """An app that serves ``/ok`` and misbehaves on every other path."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/ok":
            await respond(send, "fine")
        else:
            await misbehaviour(send)

    return app


async def _raise_before_start(send: Send) -> None:
    raise ZeroDivisionError("boom before start")


async def _raise_after_start(send: Send) -> None:
    await send(START)
    raise ZeroDivisionError("boom after start")


async def _raise_after_first_chunk(send: Send) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ZeroDivisionError("boom after a chunk")


def test_exception_before_start_gives_500_with_traceback_logged(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    app, finished = track(_app_with(_raise_before_start))
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/crash")
        response = conn.read_response()
        assert response.status == 500
        assert response.body == b"500 Internal Server Error\n"
        # The connection itself is still good.
        conn.send_request("GET", "/ok")
        assert conn.read_response().body == b"fine"
    _assert_fresh_connection_served(server)
    assert finished.wait(WAIT)
    (error,) = _errors(caplog)
    assert error.getMessage() == "Exception in ASGI application"
    assert error.exc_info is not None
    assert isinstance(error.exc_info[1], ZeroDivisionError)


def test_exception_after_start_before_body_still_gives_500(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(_app_with(_raise_after_start))
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/crash")
        assert conn.read_response().status == 500
    _assert_fresh_connection_served(server)


def test_exception_after_first_chunk_closes_the_connection(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    app, finished = track(_app_with(_raise_after_first_chunk))
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/crash")
        head = conn.read_head()
        assert head.status == 200
        assert conn.read_chunk() == b"partial"
        # No terminating chunk: the client must see the response is incomplete.
        rest = conn.read_until_close()
        assert not rest.endswith(b"0\r\n\r\n")
    _assert_fresh_connection_served(server)
    assert finished.wait(WAIT)
    (error,) = _errors(caplog)
    assert isinstance(error.exc_info[1], ZeroDivisionError)


async def _bad_status(send: Send) -> None:
    await send({"type": "http.response.start", "status": "200", "headers": []})


async def _status_out_of_range(send: Send) -> None:
    await send({"type": "http.response.start", "status": 99, "headers": []})


async def _bad_headers(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [("a", "b")]})
    await send({"type": "http.response.body", "body": b""})


async def _invalid_header_name(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"bad name", b"v")]})
    await send({"type": "http.response.body", "body": b"x"})


async def _header_injection(send: Send) -> None:
    headers = [(b"x-evil", b"a\r\nset-cookie: b")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"x"})


async def _str_body(send: Send) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": "text, not bytes"})


async def _unknown_type(send: Send) -> None:
    await send({"type": "http.response.teapot"})


async def _no_type(send: Send) -> None:
    await send({"status": 200})


async def _start_twice(send: Send) -> None:
    await send(START)
    await send(START)


async def _body_before_start(send: Send) -> None:
    await send({"type": "http.response.body", "body": b"x"})


async def _returns_without_response(send: Send) -> None:
    return


async def _websocket_message(send: Send) -> None:
    await send({"type": "websocket.accept"})


BEFORE_HEAD: dict[str, Any] = {
    "status-not-int": _bad_status,
    "status-out-of-range": _status_out_of_range,
    "headers-not-bytes": _bad_headers,
    "invalid-header-name": _invalid_header_name,
    "header-injection": _header_injection,
    "body-not-bytes": _str_body,
    "unknown-type": _unknown_type,
    "no-type": _no_type,
    "start-twice": _start_twice,
    "body-before-start": _body_before_start,
    "returns-without-response": _returns_without_response,
    "websocket-message": _websocket_message,
}


@pytest.mark.parametrize("misbehaviour", BEFORE_HEAD.values(), ids=BEFORE_HEAD.keys())
def test_invalid_message_before_the_head_gives_500(serve, caplog, misbehaviour):
    caplog.set_level(logging.INFO, logger="pounce")
    app, finished = track(_app_with(misbehaviour))
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/bad")
        response = conn.read_response()
        assert response.status == 500
        assert b"set-cookie" not in response.body
        assert response.header("set-cookie") is None
        if response.keeps_alive:
            conn.send_request("GET", "/ok")
            assert conn.read_response().body == b"fine"
        else:
            conn.read_until_close()
    _assert_fresh_connection_served(server)
    assert finished.wait(WAIT)
    (error,) = _errors(caplog)
    # A message that says what was wrong, not just "error".
    text = error.getMessage() + (str(error.exc_info[1]) if error.exc_info else "")
    assert any(word in text for word in ("status", "header", "bytes", "type", "ASGI", "response"))


async def _content_longer_than_declared(send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]}
    )
    await send({"type": "http.response.body", "body": b"toolong"})


async def _content_shorter_than_declared(send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"30")]}
    )
    await send({"type": "http.response.body", "body": b"short"})


async def _start_after_body(send: Send) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": b"a", "more_body": True})
    await send(START)


async def _returns_mid_body(send: Send) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": b"a", "more_body": True})


async def _str_body_later(send: Send) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": b"a", "more_body": True})
    await send({"type": "http.response.body", "body": "b"})


AFTER_HEAD: dict[str, Any] = {
    "longer-than-content-length": _content_longer_than_declared,
    "shorter-than-content-length": _content_shorter_than_declared,
    "start-after-body": _start_after_body,
    "returns-mid-body": _returns_mid_body,
    "str-body-later": _str_body_later,
}


@pytest.mark.parametrize("misbehaviour", AFTER_HEAD.values(), ids=AFTER_HEAD.keys())
def test_invalid_message_after_the_head_closes_or_completes(serve, caplog, misbehaviour):
    caplog.set_level(logging.INFO, logger="pounce")
    app, finished = track(_app_with(misbehaviour))
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/bad")
        head = conn.read_head()
        assert head.status == 200
        data = conn.read_until_close()  # the server must close, not hang
        assert not data.endswith(b"0\r\n\r\n")  # never a clean end of a broken body
    assert finished.wait(WAIT)
    _assert_fresh_connection_served(server)
    (error,) = _errors(caplog)
    assert error.getMessage()


def test_message_after_a_complete_response_is_logged(serve, caplog):
    """The response went out whole, so the client gets it; the app's extra
    message is still an error worth a log line."""
    caplog.set_level(logging.INFO, logger="pounce")

    async def body_after_end(send: Send) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b"a"})
        await send({"type": "http.response.body", "body": b"b"})

    app, finished = track(_app_with(body_after_end))
    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/bad")
        response = conn.read_response()
        assert response.body == b"a"
        assert finished.wait(WAIT)
        conn.send_request("GET", "/ok")
        assert conn.read_response().body == b"fine"
    (error,) = _errors(caplog)
    assert "http.response.body" in str(error.exc_info[1])


def test_app_that_never_responds_is_cancelled_at_shutdown(serve, caplog):
    """A stuck app holds its connection only until the grace period ends."""
    caplog.set_level(logging.INFO, logger="pounce")
    received: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        received.append(await receive())
        await asyncio.Event().wait()  # forever

    server = serve(app, timeout_graceful_shutdown=0.5)
    conn = RawConnection(server.host, server.port)
    with conn:
        conn.send_request("GET", "/")
        wait_for(lambda: received, what="the app to run")
        server.stop()
        conn.read_until_close()
    messages = [r.getMessage() for r in log_records(caplog, "pounce.error")]
    assert any("grace period" in m for m in messages)


def test_head_request_to_a_crashing_app_gets_a_bodiless_500(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(_app_with(_raise_before_start))
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("HEAD", "/crash")
        response = conn.read_response(method="HEAD")
        assert response.status == 500
        assert response.header("content-length") == str(len(b"500 Internal Server Error\n"))
        # Nothing but the head was sent: the next response follows directly.
        conn.send_request("GET", "/ok")
        assert conn.read_response().body == b"fine"


def test_head_request_over_the_body_limit_gets_a_bodiless_413(serve):
    server = serve(_app_with(_raise_before_start), limit_request_body=5)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("HEAD", "/", headers=[("content-length", "6")])
        response = conn.read_response(method="HEAD")
        assert response.status == 413
        conn.assert_closed()
