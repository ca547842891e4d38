"""The Sans-IO HTTP/3 machine, driven by aioquic's client in memory (no sockets).

Datagrams are carried by hand between a client ``QuicConnection`` +
``H3Connection`` and an :class:`HTTP3Endpoint`, on a fake clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "aioquic",
    reason="HTTP/3 needs aioquic, which has no free-threaded build (stable-ABI wheels only)",
)

from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.tls import SessionTicket

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    Event,
    HTTP3Endpoint,
    HTTP3Limits,
    HTTP3ServerConnection,
    LocalProtocolError,
    RequestReceived,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    SessionTicketStore,
    StreamReset,
)
from support.tls import Certificates, make_certificates

CLIENT_ADDR = ("127.0.0.1", 50000)


class Pair:
    """A client and the server endpoint, with a hand-cranked network."""

    def __init__(
        self,
        certs: Certificates,
        *,
        limits: HTTP3Limits | None = None,
        ticket: SessionTicket | None = None,
        tickets: SessionTicketStore | None = None,
    ) -> None:
        self.now = 1000.0
        self.endpoint = HTTP3Endpoint(
            certfile=str(certs.server_cert),
            keyfile=str(certs.server_key),
            limits=limits or HTTP3Limits(),
            tickets=tickets,
        )
        config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
        config.load_verify_locations(str(certs.ca_file))
        config.server_name = "localhost"
        config.session_ticket = ticket
        self.new_tickets: list[SessionTicket] = []
        self.client = QuicConnection(
            configuration=config, session_ticket_handler=self.new_tickets.append
        )
        self.client.connect(("127.0.0.1", 443), now=self.now)
        self.h3 = H3Connection(self.client)
        self.server: HTTP3ServerConnection | None = None
        self.events: list[Event] = []
        self.responses: dict[int, dict[str, Any]] = {}

    def to_server(self) -> None:
        for data, _ in self.client.datagrams_to_send(self.now):
            conn, events, _stateless = self.endpoint.receive_datagram(data, CLIENT_ADDR, self.now)
            if conn is not None:
                self.server = conn
            self.events += events

    def to_client(self) -> None:
        if self.server is None:
            return
        for data, _ in self.server.datagrams_to_send(self.now):
            self.client.receive_datagram(data, ("127.0.0.1", 443), self.now)
        while (event := self.client.next_event()) is not None:
            for h3_event in self.h3.handle_event(event):
                response = self.responses.setdefault(
                    getattr(h3_event, "stream_id", -1), {"headers": None, "body": b""}
                )
                if isinstance(h3_event, HeadersReceived):
                    response["headers"] = dict(h3_event.headers)
                elif isinstance(h3_event, DataReceived):
                    response["body"] += h3_event.data

    def pump(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            self.now += 0.001
            self.to_server()
            self.to_client()

    def request(
        self,
        method: bytes = b"GET",
        path: bytes = b"/",
        body: bytes | None = None,
        *,
        authority: bytes = b"localhost",
        **extra: bytes,
    ) -> int:
        stream_id = self.client.get_next_available_stream_id()
        headers = [
            (b":method", method),
            (b":scheme", b"https"),
            (b":authority", authority),
            (b":path", path),
            *((k.replace("_", "-").encode(), v) for k, v in extra.items()),
        ]
        self.h3.send_headers(stream_id, headers, end_stream=body is None)
        if body is not None:
            self.h3.send_data(stream_id, body, end_stream=True)
        return stream_id

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


def test_request_and_response(certs: Certificates) -> None:
    pair = Pair(certs)
    pair.pump()
    stream_id = pair.request(b"POST", b"/p?q=1", b"hello", x_a=b"1")
    pair.pump()
    events = pair.take()
    request = next(e for e in events if isinstance(e, RequestReceived))
    assert request.method == b"POST"
    assert request.path == b"/p"
    assert request.query_string == b"q=1"
    assert request.http_version == "3"
    assert request.headers == ((b"host", b"localhost"), (b"x-a", b"1"))
    assert b"".join(e.data for e in events if isinstance(e, BodyReceived)) == b"hello"
    assert any(isinstance(e, BodyEnded) for e in events)
    server = pair.server
    assert server is not None
    server.send(ResponseHead(stream_id=stream_id, status=201, headers=((b"X-B", b"2"),)))
    server.send(ResponseBody(stream_id=stream_id, data=b"made"))
    server.send(ResponseEnd(stream_id=stream_id))
    pair.pump()
    response = pair.responses[stream_id]
    assert response["headers"][b":status"] == b"201"
    assert response["headers"][b"x-b"] == b"2"
    assert response["body"] == b"made"
    # A finished stream is gone: late events are dropped, as after a reset.
    server.send(ResponseBody(stream_id=stream_id, data=b"late"))
    with pytest.raises(LocalProtocolError):
        server.send(ResponseBody(stream_id=stream_id + 1, data=b"not a request stream"))


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        (b"relative", b"GET", 400),
        (b"/a#frag", b"GET", 400),
        (b"*", b"GET", 400),
    ],
)
def test_bad_requests_are_rejected_on_their_stream(
    certs: Certificates, path: bytes, method: bytes, status: int
) -> None:
    pair = Pair(certs)
    pair.pump()
    stream_id = pair.request(method, path)
    pair.pump()
    (event,) = [e for e in pair.take() if not isinstance(e, BodyEnded)]
    assert isinstance(event, RequestRejected)
    assert event.stream_id == stream_id
    assert event.status_hint == status


@pytest.mark.parametrize(
    "authority",
    [b"user@example.com", b"example.com/a", b"example.com:80x", b"a b", b"[::1"],
    ids=["userinfo", "path", "bad-port", "space", "open-bracket"],
)
def test_invalid_authority_is_rejected_on_its_stream(certs: Certificates, authority: bytes) -> None:
    pair = Pair(certs)
    pair.pump()
    stream_id = pair.request(authority=authority)
    pair.pump()
    (event,) = [e for e in pair.take() if not isinstance(e, BodyEnded)]
    assert isinstance(event, RequestRejected)
    assert event.stream_id == stream_id
    assert (event.status_hint, event.reason) == (400, "invalid :authority or host")


@pytest.mark.parametrize("authority", [b"example.com", b"example.com:8443", b"[::1]:443"])
def test_valid_authority_becomes_the_host_field(certs: Certificates, authority: bytes) -> None:
    pair = Pair(certs)
    pair.pump()
    pair.request(authority=authority)
    pair.pump()
    (request,) = [e for e in pair.take() if isinstance(e, RequestReceived)]
    assert request.authority == authority
    assert request.headers[0] == (b"host", authority)


def test_header_limits_give_431(certs: Certificates) -> None:
    pair = Pair(certs, limits=HTTP3Limits(max_header_list_size=1000, max_header_count=3))
    pair.pump()
    pair.request(x_big=b"a" * 1000)
    pair.request(a=b"1", b=b"2", c=b"3", d=b"4")
    ok = pair.request(a=b"1")
    pair.pump()
    events = pair.take()
    assert [(e.status_hint) for e in events if isinstance(e, RequestRejected)] == [431, 431]
    assert [e.stream_id for e in events if isinstance(e, RequestReceived)] == [ok]


def test_client_reset_is_stream_reset(certs: Certificates) -> None:
    pair = Pair(certs)
    pair.pump()
    stream_id = pair.client.get_next_available_stream_id()
    pair.h3.send_headers(
        stream_id,
        [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"h"), (b":path", b"/")],
    )
    pair.pump()
    pair.client.reset_stream(stream_id, 0x010C)
    pair.pump()
    resets = [e for e in pair.take() if isinstance(e, StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(stream_id, 0x010C)]


def test_graceful_shutdown_then_close(certs: Certificates) -> None:
    pair = Pair(certs)
    pair.pump()
    pair.request()
    pair.pump()
    server = pair.server
    assert server is not None
    server.start_graceful_shutdown()
    assert not server.accepting_streams
    pair.pump()
    late = pair.request()
    pair.pump()
    assert not any(isinstance(e, RequestReceived) and e.stream_id == late for e in pair.take())
    server.close()
    pair.pump()
    pair.now += 10  # the closing period ends on the server's timer
    pair.take()
    assert server.handle_timer(pair.now) == [ConnectionLost()]
    assert server.closed
    assert pair.endpoint.connection_count == 1
    pair.endpoint.update_routes(server)  # what the server does after each event batch
    assert pair.endpoint.connection_count == 0


def test_zero_rtt_policy(certs: Certificates) -> None:
    store = SessionTicketStore(10)
    first = Pair(certs, tickets=store)
    first.pump(10)
    assert first.new_tickets
    assert len(store) == 1
    ticket = first.new_tickets[-1]
    # A second endpoint sharing the store stands in for the same worker.
    pair = Pair(certs, ticket=ticket, tickets=store)
    get = pair.request(b"GET", b"/")
    post = pair.request(b"POST", b"/", b"x")
    pair.to_server()  # ClientHello and the 0-RTT packets; no handshake yet
    events = pair.take()
    assert [e.stream_id for e in events if isinstance(e, RequestReceived)] == [get]
    rejected = [e for e in events if isinstance(e, RequestRejected)]
    assert [(e.stream_id, e.status_hint) for e in rejected] == [(post, 425)]
    assert len(store) == 0  # single use


def test_no_tickets_without_early_data(certs: Certificates) -> None:
    store = SessionTicketStore(10)
    pair = Pair(certs, tickets=store, limits=HTTP3Limits(early_data=False))
    pair.pump(10)
    assert not pair.new_tickets
    assert len(store) == 0


def test_ticket_store_is_bounded() -> None:
    store = SessionTicketStore(2)
    made = []
    for i in range(3):
        ticket = SessionTicket(
            age_add=0,
            cipher_suite=0x1301,  # type: ignore[arg-type]
            not_valid_after=None,  # type: ignore[arg-type]
            not_valid_before=None,  # type: ignore[arg-type]
            resumption_secret=b"",
            server_name="x",
            ticket=b"t%d" % i,
        )
        made.append(ticket)
        store.add(ticket)
    assert len(store) == 2
    assert store.pop(b"t0") is None  # the oldest went
    assert store.pop(b"t2") is made[2]
    assert store.pop(b"t2") is None


def test_endpoint_drops_garbage_and_unknown_connections(certs: Certificates) -> None:
    endpoint = HTTP3Endpoint(
        certfile=str(certs.server_cert), keyfile=str(certs.server_key), limits=HTTP3Limits()
    )
    assert endpoint.receive_datagram(b"", CLIENT_ADDR, 0.0) == (None, [], [])
    assert endpoint.receive_datagram(b"\x40" + b"\x00" * 30, CLIENT_ADDR, 0.0) == (None, [], [])
    # A long header with an unknown version gets Version Negotiation.
    packet = b"\xc0" + b"\x1a\x2a\x3a\x4a" + b"\x08" + b"d" * 8 + b"\x08" + b"s" * 8
    conn, events, stateless = endpoint.receive_datagram(packet + b"\x00" * 1200, CLIENT_ADDR, 0.0)
    assert conn is None
    assert events == []
    assert len(stateless) == 1
    # An Initial that is not padded to 1200 bytes creates nothing.
    pair = Pair(certs)
    (datagram, _), *_ = pair.client.datagrams_to_send(pair.now)
    assert endpoint.receive_datagram(datagram[:1000], CLIENT_ADDR, 0.0)[0] is None
    endpoint.accepting = False
    assert endpoint.receive_datagram(datagram, CLIENT_ADDR, 0.0)[0] is None
    assert endpoint.connection_count == 0
