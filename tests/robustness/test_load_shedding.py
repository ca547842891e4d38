"""Overload: ``--limit-concurrency`` (pounce-extras) and ``--limit-connections``
(core) shed load with 503 instead of collapsing.

A flood far past the limits gets only two answers, 200 or 503 (with
``retry-after``), never a reset, a timeout or a 5xx of another kind; the
requests the server took are all served; and the moment the flood ends a
normal request is served at once. HTTP/2 streams are shed one by one without
harming their connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.h2client import H2Client
from support.raw import RawConnection


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await read_body(receive)
    if scope["path"] == "/slow":
        await asyncio.sleep(0.2)
    await respond(send, b"ok")


def _flood(server, count: int) -> Counter[object]:
    """``count`` concurrent requests, one connection each; their outcomes."""
    outcomes: Counter[object] = Counter()
    conns = [RawConnection(server.host, server.port) for _ in range(count)]
    try:
        for conn in conns:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.send_request("GET", "/slow")
        for conn in conns:
            try:
                response = conn.read_response()
            except (ConnectionResetError, TimeoutError) as exc:
                outcomes[type(exc).__name__] += 1
                continue
            if response.status == 503:
                assert response.header("retry-after") == "1"
            else:
                assert response.body == b"ok"
            outcomes[response.status] += 1
    finally:
        for conn in conns:
            conn.close()
    return outcomes


def _served_at_once(server) -> None:
    with RawConnection(server.host, server.port, timeout=10) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().status == 200


def test_a_flood_past_the_concurrency_limit_is_shed_with_503(serve):
    server = serve(app, workers=1, limit_concurrency=4, limit_queue=4)
    outcomes = _flood(server, 150)
    assert set(outcomes) <= {200, 503}, outcomes
    assert outcomes[200] >= 8  # the running and the queued ones, at least
    assert outcomes[503] > 0
    _served_at_once(server)


def test_a_flood_past_both_limits_is_shed_with_503(serve):
    server = serve(app, workers=1, limit_concurrency=4, limit_queue=4, limit_connections=30)
    outcomes = _flood(server, 150)
    assert set(outcomes) <= {200, 503}, outcomes
    assert outcomes[200] >= 8
    assert outcomes[503] >= 150 - 30  # the connections past the bound, at least
    _served_at_once(server)


def test_http2_streams_are_shed_one_by_one(serve):
    server = serve(app, workers=1, limit_concurrency=2, limit_queue=2)
    with H2Client(server.host, server.port) as client:
        streams = [client.request("/slow") for _ in range(40)]
        statuses = Counter(client.response(stream).status for stream in streams)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[200] >= 4
        assert statuses[503] > 0
        assert not any(client.responses[s].reset for s in streams)
        # The connection itself is unharmed.
        assert client.response(client.request("/")).status == 200
    _served_at_once(server)
