"""A client that goes away: the app is told, and nobody logs an error for it."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from pounce import ClientDisconnected, Message, Receive, Scope, Send
from support.apps import respond, track
from support.raw import RawConnection
from support.waiting import WAIT, log_records, wait_for


def test_app_waiting_in_receive_gets_http_disconnect(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    waiting = threading.Event()
    outcome: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        first = await receive()
        assert first == {"type": "http.request", "body": b"", "more_body": False}
        waiting.set()
        outcome.append(await receive())  # blocks until the client leaves

    tracked, finished = track(app)
    server = serve(tracked)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert waiting.wait(WAIT)
    assert finished.wait(WAIT)
    assert outcome == [{"type": "http.disconnect"}]
    # Returning without a response to a client that left is not an error.
    assert not log_records(caplog, "pounce", level=logging.WARNING)


def test_disconnect_mid_body_is_reported(serve):
    outcome: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                outcome.append(message)
                return

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/", headers=[("content-length", "1000")], body=b"partial")
    wait_for(lambda: outcome, what="the app to see the disconnect")
    assert outcome == [{"type": "http.disconnect"}]


def test_send_after_disconnect_raises_oserror_and_is_not_logged(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    started = threading.Event()
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"tick", "more_body": True})
        started.set()
        # Keep streaming until the server tells us the client is gone.
        try:
            while True:
                await asyncio.sleep(0.01)
                await send({"type": "http.response.body", "body": b"tick", "more_body": True})
        except OSError as exc:
            raised.append(exc)
            raise  # an app that lets it propagate must not cause an error log either

    tracked, finished = track(app)
    server = serve(tracked)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert started.wait(WAIT)
    assert finished.wait(WAIT)
    assert isinstance(raised[0], ClientDisconnected)  # an OSError, as the ASGI spec asks
    assert not log_records(caplog, "pounce", level=logging.WARNING)


def test_send_start_after_disconnect_raises(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()
        assert await receive() == {"type": "http.disconnect"}
        try:
            await respond(send, "too late")
        except OSError as exc:
            raised.append(exc)

    tracked, finished = track(app)
    server = serve(tracked)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
    assert finished.wait(WAIT)
    assert len(raised) == 1
    assert isinstance(raised[0], OSError)
    assert not log_records(caplog, "pounce", level=logging.WARNING)


@pytest.mark.parametrize("half_close", [False, True])
def test_server_survives_clients_vanishing(serve, half_close):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(0.05)
            await respond(send, "x" * 100_000)

    server = serve(app)
    for _ in range(10):
        conn = RawConnection(server.host, server.port)
        conn.send_request("GET", "/")
        if half_close:
            conn.shutdown_write()
        conn.close()
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().status == 200
