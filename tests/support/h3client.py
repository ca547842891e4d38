"""A small HTTP/3 client for the tests, on aioquic's QUIC and H3 machines.

:func:`h3_exchange` opens one QUIC connection, sends the given requests on
concurrent streams and collects the responses. With ``session_ticket`` and
``early=True`` the requests leave before the handshake completes, in 0-RTT
(early data), as a resuming browser would send them.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamReset
from aioquic.tls import SessionTicket

__all__ = ["H3Request", "H3Response", "H3Result", "h3_exchange", "run_h3"]

WAIT = 30.0


@dataclass
class H3Request:
    method: str = "GET"
    path: str = "/"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes | None = None
    body_chunks: list[bytes] = field(default_factory=list)


@dataclass
class H3Response:
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    data_events: int = 0  # how many DATA deliveries the body came in
    reset: int | None = None  # the error code of a RESET_STREAM, if any
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n == name), None)


@dataclass
class H3Result:
    responses: list[H3Response]
    tickets: list[SessionTicket]
    early_data_accepted: bool
    session_resumed: bool


class _Client(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.responses: dict[int, H3Response] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamReset) and event.stream_id in self.responses:
            response = self.responses[event.stream_id]
            response.reset = event.error_code
            response.done.set()
        for h3_event in self.h3.handle_event(event):
            response = self.responses.get(getattr(h3_event, "stream_id", -1))
            if response is None:
                continue
            if isinstance(h3_event, HeadersReceived):
                if response.status is None:
                    response.headers = list(h3_event.headers)
                    status = dict(h3_event.headers)[b":status"]
                    response.status = int(status)
                    if response.status < 200:
                        response.status = None  # an interim response
            elif isinstance(h3_event, DataReceived):
                response.body += h3_event.data
                if h3_event.data:
                    response.data_events += 1
            if getattr(h3_event, "stream_ended", False):
                response.done.set()

    def start(self, request: H3Request, authority: str) -> H3Response:
        stream_id = self._quic.get_next_available_stream_id()
        response = H3Response()
        self.responses[stream_id] = response
        headers = [
            (b":method", request.method.encode()),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", request.path.encode()),
            *request.headers,
        ]
        body = request.body
        self.h3.send_headers(
            stream_id, headers, end_stream=body is None and not request.body_chunks
        )
        for chunk in request.body_chunks:
            self.h3.send_data(stream_id, chunk, end_stream=False)
        if request.body_chunks and body is None:
            body = b""
        if body is not None:
            self.h3.send_data(stream_id, body, end_stream=True)
        self.transmit()
        return response


async def h3_exchange(
    port: int,
    cafile: str,
    requests: list[H3Request],
    *,
    session_ticket: SessionTicket | None = None,
    early: bool = False,
    host: str = "127.0.0.1",
) -> H3Result:
    """Send ``requests`` on one HTTP/3 connection; wait for every response."""
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    configuration.load_verify_locations(cafile)
    configuration.verify_mode = ssl.CERT_REQUIRED
    configuration.server_name = "localhost"
    configuration.session_ticket = session_ticket
    tickets: list[SessionTicket] = []
    async with connect(
        host,
        port,
        configuration=configuration,
        create_protocol=_Client,
        session_ticket_handler=tickets.append,
        wait_connected=not early,
    ) as protocol:
        assert isinstance(protocol, _Client)
        responses = [protocol.start(r, f"localhost:{port}") for r in requests]
        waits = [asyncio.ensure_future(r.done.wait()) for r in responses]
        _, pending = await asyncio.wait(waits, timeout=WAIT)
        for waiter in pending:
            waiter.cancel()
        if pending:
            states = [(r.status, r.reset, len(r.body)) for r in responses]
            raise TimeoutError(f"responses incomplete: (status, reset, body) = {states}")
        if session_ticket is None:
            # The ticket comes after the handshake; give it a moment to arrive.
            for _ in range(100):
                if tickets:
                    break
                await asyncio.sleep(0.02)
        tls = protocol._quic.tls
        return H3Result(
            responses=responses,
            tickets=tickets,
            early_data_accepted=bool(tls.early_data_accepted),
            session_resumed=bool(tls.session_resumed),
        )


def run_h3(port: int, cafile: str, requests: list[H3Request], **kwargs: Any) -> H3Result:
    """:func:`h3_exchange` from synchronous test code."""
    return asyncio.run(h3_exchange(port, cafile, requests, **kwargs))
