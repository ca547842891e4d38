"""``--timeout-request``: an app that never answers.

504 while the client still waits for a response head; a dropped connection
(HTTP/1.1) or a reset stream (HTTP/2) once the response has started, since a
truncated body must never look complete. Either way the server goes on
serving, and with the option off (the default) a slow app is left alone.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from pounce import Receive, Scope, Send
from support.apps import respond
from support.h2client import H2Client
from support.raw import RawConnection
from support.waiting import log_records


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/hang":
        await asyncio.Event().wait()
    elif path == "/hang-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.Event().wait()
    elif path == "/slow":
        await asyncio.sleep(0.6)
        await respond(send, b"slow but fine")
    elif path == "/own-timeout":
        raise TimeoutError("the app's own")
    else:
        await respond(send, b"ok")


def _fresh_request_served(server) -> None:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().body == b"ok"


def test_app_that_never_answers_gets_504(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(app, timeout_request=0.3)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/hang")
        response = conn.read_response()
        assert response.status == 504
        assert response.body == b"504 Gateway Timeout\n"
        # The app was cancelled and the response was complete: the
        # connection may carry the next request.
        conn.send_request("GET", "/")
        assert conn.read_response().body == b"ok"
    assert any("504" in r.getMessage() for r in log_records(caplog, "pounce.error"))
    _fresh_request_served(server)


def test_timeout_after_the_response_started_drops_the_connection(serve):
    server = serve(app, timeout_request=0.3)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/hang-after-start")
        head = conn.read_head()
        assert head.status == 200
        assert head.header("transfer-encoding") == "chunked"
        assert conn.read_chunk() == b"partial"
        rest = conn.read_until_close()
        assert not rest.endswith(b"0\r\n\r\n"), "a cut-off body must not look complete"
    _fresh_request_served(server)


def test_http2_timeouts_answer_504_or_reset_only_their_stream(serve):
    server = serve(app, timeout_request=0.3)
    with H2Client(server.host, server.port) as client:
        hanging = client.request("/hang")
        started = client.request("/hang-after-start")
        assert client.response(hanging).status == 504
        cut = client.response(started)
        assert cut.status == 200
        assert cut.reset is not None
        assert not cut.ended
        # The connection itself is fine.
        assert client.response(client.request("/")).body == b"ok"


def test_a_slow_app_within_the_timeout_is_served(serve):
    server = serve(app, timeout_request=5)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/slow")
        assert conn.read_response().body == b"slow but fine"


def test_off_by_default(serve):
    server = serve(app)
    assert server.server.config.timeout_request is None
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/slow")
        assert conn.read_response().body == b"slow but fine"


def test_the_apps_own_timeout_error_is_a_500(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(app, timeout_request=5)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/own-timeout")
        assert conn.read_response().status == 500
    assert any(r.exc_info for r in log_records(caplog, "pounce.error"))


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
def test_timeout_must_be_positive_seconds(value):
    from pounce import ServerConfig

    with pytest.raises(ValueError, match="timeout_request"):
        ServerConfig(timeout_request=value)
