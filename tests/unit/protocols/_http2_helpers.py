"""Drive an ``HTTP2ServerConnection`` with ``h2`` itself as the client.

A :class:`Pair` is a server machine and an ``h2`` client connection wired
back to back through byte strings: no socket, no event loop. Attack tests
need frames no well-behaved client sends, so :func:`frame` builds raw frames
and :func:`hpack_int`/:func:`hpack_literal` raw header blocks.
"""

from __future__ import annotations

from collections.abc import Iterable

import h2.config
import h2.connection
import h2.events

from pounce_protocols import Event, HTTP2Limits, HTTP2ServerConnection

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM = ACK = 0x1
END_HEADERS = 0x4


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One raw HTTP/2 frame."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer (RFC 7541 §5.1) with ``first`` in the prefix byte's high bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name: bytes, value: bytes, *, index: bool = False) -> bytes:
    """A literal field with a new name, added to the dynamic table when ``index``."""
    head = hpack_int(0, 6, 0x40) if index else hpack_int(0, 4, 0x00)
    return head + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


#: The static-table encodings of a GET / over https (RFC 7541 Appendix A).
GET_SLASH_HTTPS = bytes([0x82, 0x84, 0x87]) + hpack_literal(b":authority", b"example.com")


def request_headers(
    path: bytes = b"/",
    method: bytes = b"GET",
    extra: Iterable[tuple[bytes, bytes]] = (),
    *,
    authority: bytes | None = b"example.com",
    scheme: bytes = b"https",
) -> list[tuple[bytes, bytes]]:
    headers = [(b":method", method), (b":path", path), (b":scheme", scheme)]
    if authority is not None:
        headers.append((b":authority", authority))
    headers.extend(extra)
    return headers


class Pair:
    """A server machine and an ``h2`` client, connected by hand."""

    def __init__(
        self, limits: HTTP2Limits | None = None, *, clock: FakeClock | None = None
    ) -> None:
        self.clock = clock if clock is not None else FakeClock()
        self.server = HTTP2ServerConnection(limits, clock=self.clock)
        self.server.initiate()
        self.client = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.client.initiate_connection()
        assert self.to_server() == []
        self.to_client()  # our SETTINGS (and the client's ACK goes back next time)
        assert self.to_server() == []
        self.to_client()

    def to_server(self, extra: bytes = b"") -> list[Event]:
        """Everything the client has queued (and ``extra`` raw bytes) -> server events."""
        data = self.client.data_to_send() + extra
        return self.server.receive_data(data) if data else []

    def to_client(self) -> list[h2.events.Event]:
        """Everything the server has queued -> client events."""
        data = self.server.data_to_send()
        return self.client.receive_data(data) if data else []

    def request(
        self,
        stream_id: int,
        path: bytes = b"/",
        method: bytes = b"GET",
        extra: Iterable[tuple[bytes, bytes]] = (),
        *,
        body: bytes | None = None,
        end: bool = True,
    ) -> list[Event]:
        """Send a request head (and body); return the server's events."""
        self.client.send_headers(
            stream_id, request_headers(path, method, extra), end_stream=end and body is None
        )
        if body is not None:
            self.client.send_data(stream_id, body, end_stream=end)
        return self.to_server()


def client_events(events: Iterable[h2.events.Event], kind: type) -> list[object]:
    return [e for e in events if isinstance(e, kind)]


def parse_frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """Raw frames as (type, flags, stream id, payload)."""
    frames = []
    pos = 0
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        kind, flags = data[pos + 3], data[pos + 4]
        stream_id = int.from_bytes(data[pos + 5 : pos + 9], "big") & 0x7FFF_FFFF
        frames.append((kind, flags, stream_id, data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
    assert pos == len(data), "trailing partial frame"
    return frames


def goaway_of(data: bytes) -> tuple[int, int]:
    """(last stream id, error code) of the last GOAWAY frame in ``data``."""
    goaways = [p for kind, _, _, p in parse_frames(data) if kind == GOAWAY]
    assert goaways, "no GOAWAY was sent"
    payload = goaways[-1]
    return int.from_bytes(payload[:4], "big") & 0x7FFF_FFFF, int.from_bytes(payload[4:8], "big")
