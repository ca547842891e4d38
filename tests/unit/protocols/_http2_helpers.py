"""Drive an ``HTTP2ServerConnection`` with ``h2`` itself as the client.

A :class:`Pair` is a server machine and an ``h2`` client connection wired
back to back through byte strings: no socket, no event loop. Attack tests
need frames no well-behaved client sends, so :func:`frame` builds raw frames
and :func:`hpack_int`/:func:`hpack_literal` raw header blocks.

The server machine of every test here is a :class:`Twin`: the fast path and
the ``h2`` route side by side, fed the same calls, every answer compared
(:func:`make_server` makes one). So each test of this directory is also a
differential test of the fast path against its reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import h2.config
import h2.connection
import h2.events
import hpack

from pounce_protocols import (
    Event,
    HTTP2Limits,
    HTTP2ServerConnection,
    ProtocolError,
    RequestReceived,
    RequestRejected,
    UpgradeRequested,
)

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


Frame = tuple[int, int, int, object]


def wire(data: bytes, decoder: hpack.Decoder) -> list[Frame]:
    """``data`` as frames (type, flags, stream, payload), each header block
    (HEADERS + CONTINUATION) one frame with its fields decoded. Two routes
    may encode the same fields differently (RFC 7541 leaves that to the
    encoder), and cut the block differently; what they say must be the same."""
    frames: list[Frame] = []
    block: list[bytes] = []
    first: tuple[int, int] | None = None
    for kind, flags, stream_id, payload in parse_frames(data):
        if kind == HEADERS or (kind == CONTINUATION and first is not None):
            if kind == HEADERS:
                first = (flags & END_STREAM, stream_id)
                block = []
            block.append(payload)
            if flags & END_HEADERS:
                assert first is not None
                fields = tuple(
                    (bytes(n), bytes(v)) for n, v in decoder.decode(b"".join(block), raw=True)
                )
                frames.append((HEADERS, first[0], first[1], fields))
                first = None
            continue
        assert first is None, "a header block was interrupted"
        frames.append((kind, flags, stream_id, payload))
    assert first is None, "a header block did not end"
    return frames


def outcome(action: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return action(), None
    except ProtocolError as exc:
        return None, exc


def _same_error(fast: BaseException | None, reference: BaseException | None) -> bool:
    if fast is None or reference is None:
        return fast is reference
    return type(fast) is type(reference) and getattr(fast, "error_code", None) == getattr(
        reference, "error_code", None
    )


class Twin:
    """Both routes of the machine, fed the same calls (see the module docstring).

    Every call goes to the fast path and to the ``h2`` route; what they
    return (or the kind and HTTP/2 error code of what they raise), the output
    they queue (:func:`wire`) and their state after the call (every public
    query, for every stream seen) must be the same. The fast path's answer
    is the one handed back.
    """

    def __init__(self, limits: HTTP2Limits | None = None, *, clock: Callable[[], float]) -> None:
        self.fast = HTTP2ServerConnection(limits, clock=clock, fast_path=True)
        self.reference = HTTP2ServerConnection(limits, clock=clock, fast_path=False)
        self._decoders = (hpack.Decoder(), hpack.Decoder())
        for decoder in self._decoders:
            # A client's own limits are its business; here: whatever was sent.
            decoder.max_header_list_size = 1 << 30
            decoder.max_allowed_table_size = 1 << 30
        self._streams: set[int] = set()
        self.calls = 0

    def _both(self, name: str, *args: Any) -> Any:
        self.calls += 1
        fast, fast_error = outcome(lambda: getattr(self.fast, name)(*args))
        reference, reference_error = outcome(lambda: getattr(self.reference, name)(*args))
        assert _same_error(fast_error, reference_error), (name, args, fast_error, reference_error)
        assert fast == reference, (name, args, fast, reference)
        self._compare_state(name)
        if fast_error is not None:
            raise fast_error
        return fast

    def _compare_state(self, after: str) -> None:
        assert self._state(self.fast) == self._state(self.reference), f"state after {after}"

    def _state(self, conn: HTTP2ServerConnection) -> tuple[Any, ...]:
        return (
            conn.preface_received,
            conn.open_streams,
            conn.closed,
            conn.accepting_streams,
            conn.buffered_output > 0,
            conn.data_sent,
            tuple((s, conn.pending_bytes(s), conn.awaiting_turn(s)) for s in sorted(self._streams)),
        )

    def _seen(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, RequestReceived | UpgradeRequested | RequestRejected):
                self._streams.add(event.stream_id)

    # The machine's interface.

    def initiate(self) -> None:
        self._both("initiate")

    def initiate_upgrade(self, settings: bytes, request: RequestReceived) -> list[Event]:
        events: list[Event] = self._both("initiate_upgrade", settings, request)
        self._seen(events)
        return events

    def receive_data(self, data: bytes) -> list[Event]:
        events: list[Event] = self._both("receive_data", data)
        self._seen(events)
        return events

    def send(self, event: Any) -> None:
        self._streams.add(event.stream_id)
        self._both("send", event)

    def send_response(self, stream_id: int, status: int, headers: Any, body: bytes) -> bool:
        self._streams.add(stream_id)
        return bool(self._both("send_response", stream_id, status, headers, body))

    def send_body(self, stream_id: int, data: bytes) -> None:
        self._both("send_body", stream_id, data)

    def acknowledge_received_data(self, stream_id: int, nbytes: int) -> None:
        self._both("acknowledge_received_data", stream_id, nbytes)

    def reset_stream(self, stream_id: int, *error_code: int) -> None:
        self._both("reset_stream", stream_id, *error_code)

    def set_output_room(self, nbytes: int | None) -> None:
        self._both("set_output_room", nbytes)

    def start_graceful_shutdown(self) -> None:
        self._both("start_graceful_shutdown")

    def close(self, *error_code: int) -> None:
        self._both("close", *error_code)

    def data_to_send(self) -> bytes:
        self.calls += 1
        fast = self.fast.data_to_send()
        reference = self.reference.data_to_send()
        fast_frames = wire(fast, self._decoders[0])
        reference_frames = wire(reference, self._decoders[1])
        assert fast_frames == reference_frames, (fast_frames, reference_frames)
        self._compare_state("data_to_send")
        return fast

    def pending_bytes(self, stream_id: int) -> int:
        self._streams.add(stream_id)
        return int(self._both("pending_bytes", stream_id))

    def awaiting_turn(self, stream_id: int) -> bool:
        return bool(self._both("awaiting_turn", stream_id))

    def __getattr__(self, name: str) -> Any:
        # Properties (compared), and private parts a test looks at (the fast path's).
        if name in {"preface_received", "open_streams", "closed", "accepting_streams", "data_sent"}:
            fast = getattr(self.fast, name)
            assert fast == getattr(self.reference, name), name
            return fast
        if name == "buffered_output":
            fast = self.fast.buffered_output
            assert (fast > 0) == (self.reference.buffered_output > 0)
            return fast
        return getattr(self.fast, name)


def make_server(
    limits: HTTP2Limits | None = None, *, clock: Callable[[], float] | None = None
) -> Twin:
    """A server machine for a test: both routes, held to each other."""
    return Twin(limits, clock=clock if clock is not None else FakeClock())


class Pair:
    """A server machine and an ``h2`` client, connected by hand."""

    def __init__(
        self, limits: HTTP2Limits | None = None, *, clock: FakeClock | None = None
    ) -> None:
        self.clock = clock if clock is not None else FakeClock()
        self.server = make_server(limits, clock=self.clock)
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
