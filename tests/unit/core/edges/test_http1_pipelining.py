"""A deep pipelined backlog on one HTTP/1.1 connection: bounded, in order, paced by the client.

A client may write thousands of requests without reading a response. The
connection serves them one at a time, in order, from what it has read; it
reads on only when that backlog is down to about one head, so what it holds
never grows past one read, and while the client does not take the responses
(the transport asks us to stop writing) it neither serves nor reads more.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pounce import ServerConfig
from pounce._bridge.context import WorkerContext
from pounce._edges.http1.connection import HTTP1Connection
from support.transports import RecordingTransport

READ_SIZE = 64 * 1024


class ClientSocket(RecordingTransport):
    """A transport fed by a pipelining client: it delivers the client's bytes
    one read at a time while reading is on, and records what the connection
    holds when it asks for more."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.pending = data
        self.reading = True
        self.resumes = 0
        self.held_at_resume: list[int] = []
        self.protocol: HTTP1Connection | None = None

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        assert self.protocol is not None
        self.reading = True
        self.resumes += 1
        self.held_at_resume.append(self.protocol._machine.buffered_bytes)

    def deliver(self) -> bool:
        """One read, if reading is on and anything is left; whether one happened."""
        if not self.reading or not self.pending:
            return False
        assert self.protocol is not None
        data, self.pending = self.pending[:READ_SIZE], self.pending[READ_SIZE:]
        self.protocol.data_received(data)
        return True


async def path_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the request's path."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def _requests(count: int) -> bytes:
    return b"".join(b"GET /r%06d HTTP/1.1\r\nhost: example.com\r\n\r\n" % i for i in range(count))


def _answered(transport: ClientSocket) -> list[bytes]:
    return re.findall(rb"/r\d{6}", transport.written)


async def _serve_all(transport: ClientSocket, count: int) -> None:
    """Deliver reads as the connection asks for them until ``count`` are answered."""
    for _ in range(count * 4):
        transport.deliver()
        await asyncio.sleep(0)
        if len(transport.writes) == count:  # one write per response here
            return


def _connect(transport: ClientSocket) -> HTTP1Connection:
    ctx = WorkerContext(
        config=ServerConfig(), app=path_app, loop=asyncio.get_running_loop(), lifespan_state={}
    )
    connection = HTTP1Connection(ctx)
    transport.protocol = connection
    connection.connection_made(transport)
    return connection


def test_a_deep_backlog_is_served_in_order_reading_one_read_at_a_time() -> None:
    count = 5000
    data = _requests(count)
    transport = ClientSocket(data)
    head_limits: list[int] = []

    async def scenario() -> None:
        connection = _connect(transport)
        head_limits.append(connection._ctx.http1_limits.max_header_bytes)
        await _serve_all(transport, count)
        connection.connection_lost(None)

    asyncio.run(scenario())
    assert _answered(transport) == [b"/r%06d" % i for i in range(count)]
    # Reading resumed once per read (the first needs none), each time with
    # at most part of a head left, never once per request.
    reads = -(-len(data) // READ_SIZE)
    assert transport.resumes <= reads
    assert all(held <= head_limits[0] for held in transport.held_at_resume)


def test_nothing_more_is_served_or_read_while_responses_are_not_taken() -> None:
    count = 3000
    transport = ClientSocket(_requests(count))
    stalled: list[tuple[int, int, bool]] = []

    async def scenario() -> None:
        connection = _connect(transport)
        transport.deliver()
        for _ in range(50):
            await asyncio.sleep(0)
        # The client stops reading: the transport's buffer fills.
        connection.pause_writing()
        for _ in range(20):
            await asyncio.sleep(0)
        answered = len(transport.writes)
        resumes = transport.resumes
        for _ in range(500):
            transport.deliver()
            await asyncio.sleep(0)
        stalled.append((answered, len(transport.writes), transport.resumes == resumes))
        connection.resume_writing()
        await _serve_all(transport, count)
        connection.connection_lost(None)

    asyncio.run(scenario())
    ((before, after, no_resume),) = stalled
    assert 0 < before < count
    assert after == before  # no response while the client took none
    assert no_resume  # and nothing more read
    assert _answered(transport) == [b"/r%06d" % i for i in range(count)]
