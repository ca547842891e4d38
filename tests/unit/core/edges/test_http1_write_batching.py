"""How an HTTP/1.1 connection batches the writes of a streamed response.

The pieces an app sends without suspending leave in one write when it yields
to the loop (or when the response ends); past a bound they leave at once. A
piece never waits for the app's next piece once the app awaits something.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import h11

from pounce import ServerConfig
from pounce._bridge.context import WorkerContext
from pounce._edges.http1.connection import _CORK_LIMIT, HTTP1Connection
from support.transports import RecordingTransport

REQUEST = b"GET /stream HTTP/1.1\r\nhost: example.com\r\n\r\n"


def _chunked_body(data: bytes) -> bytes:
    """The body of the response ``data``, read as an HTTP/1.1 client reads it."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/stream", headers=[("host", "example.com")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    body = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return body
        else:
            assert isinstance(event, h11.Response), event


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def _serve_one(
    app: Any,
    transport: RecordingTransport | None = None,
    meanwhile: Callable[[RecordingTransport], Awaitable[None]] | None = None,
) -> RecordingTransport:
    """Run one request for ``app`` over a recording transport; ``meanwhile``
    runs beside the app."""
    transport = transport or RecordingTransport()

    async def scenario() -> None:
        ctx = WorkerContext(
            config=ServerConfig(), app=app, loop=asyncio.get_running_loop(), lifespan_state={}
        )
        connection = HTTP1Connection(ctx)
        connection.connection_made(transport)
        connection.data_received(REQUEST)
        if meanwhile is not None:
            await meanwhile(transport)
        await _turns(50)
        connection.connection_lost(None)

    asyncio.run(scenario())
    return transport


async def _start(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})


def test_pieces_sent_in_one_run_leave_in_one_write() -> None:
    pieces = [b"piece %03d\n" % number for number in range(100)]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _start(send)
        for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    transport = _serve_one(app)
    assert len(transport.writes) == 1
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert _chunked_body(transport.written) == b"".join(pieces)


def test_a_piece_leaves_when_the_app_waits_for_something() -> None:
    gate: list[asyncio.Future[None]] = []
    written_while_waiting: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _start(send)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        gate.append(asyncio.get_running_loop().create_future())
        await gate[0]  # e.g. the next server-sent event is not ready yet
        await send({"type": "http.response.body", "body": b"second"})

    async def release_once_written(transport: RecordingTransport) -> None:
        for _ in range(20):
            await asyncio.sleep(0)
            if transport.writes:
                break
        written_while_waiting.append(transport.written)
        gate[0].set_result(None)

    transport = _serve_one(app, meanwhile=release_once_written)
    # While the app waited, the head and the first piece were on the wire.
    (before_gate,) = written_while_waiting
    assert before_gate.startswith(b"HTTP/1.1 200 OK\r\n")
    assert before_gate.endswith(b"\r\n5\r\nfirst\r\n")
    assert len(transport.writes) == 2
    assert _chunked_body(transport.written) == b"firstsecond"


def test_a_long_run_of_pieces_does_not_wait_past_the_bound() -> None:
    piece = b"x" * 4096
    count = 3 * _CORK_LIMIT // len(piece)  # three bounds' worth, sent without yielding
    transport = RecordingTransport()
    written_while_sending: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _start(send)
        for _ in range(count):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            written_while_sending.append(len(transport.written))
        await send({"type": "http.response.body", "body": b""})

    _serve_one(app, transport)
    assert _chunked_body(transport.written) == piece * count
    # What the app had sent but the transport had not yet seen stayed under
    # the bound at every step of the run.
    for sent, written in enumerate(written_while_sending, start=1):
        assert sent * len(piece) - written < _CORK_LIMIT
    assert 3 <= len(transport.writes) <= 4
    assert all(len(write) >= _CORK_LIMIT for write in transport.writes[:-1])


def test_a_whole_response_is_one_write() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _start(send)
        await send({"type": "http.response.body", "body": b"hello"})

    transport = _serve_one(app)
    assert len(transport.writes) == 1
    assert transport.written.endswith(b"\r\n\r\nhello")


def test_a_response_cut_short_still_writes_what_it_sent() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _start(send)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("the app failed mid-body")

    transport = _serve_one(app)
    # The head and the piece went out before the connection was closed (the
    # client sees a truncated chunked body, not a silent reset).
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.written.endswith(b"\r\n7\r\npartial\r\n")
    assert transport.closed
