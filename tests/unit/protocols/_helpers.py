"""Drive an ``HTTP1ServerConnection`` with scripted bytes, as h11's tests do.

Nothing here opens a socket: a test hands bytes to the machine, plays the part
of the server for the response side, and compares the events it got.
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import HealthCheck, settings

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    Event,
    HTTP1Limits,
    HTTP1ServerConnection,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

# Every property test runs the same examples on every run (no flaky CI), keeps
# no example database in the checkout, and has no per-example deadline.
PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Every status a RemoteProtocolError from the HTTP/1.1 machine may carry.
REMOTE_ERROR_STATUSES = frozenset({400, 413, 414, 431, 501, 505})

#: Byte strings worth splicing into a valid request when mutating it.
INTERESTING = [
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"\x00",
    b"\x7f",
    b"\xff",
    b"0",
    b"f",
    b"-",
    b"chunked",
    b"HTTP/1.1",
    b"HTTP/2.0",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Host: x\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: close\r\n",
    b"Upgrade: websocket\r\nConnection: upgrade\r\n",
    b"0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
]


def request(
    target: bytes = b"/",
    *,
    method: bytes = b"GET",
    version: bytes = b"HTTP/1.1",
    headers: Iterable[bytes] = (b"Host: example.com",),
    body: bytes = b"",
) -> bytes:
    """One request: request line, header lines, blank line, then ``body`` as is."""
    lines = [method + b" " + target + b" " + version, *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(*chunks: bytes, trailers: Iterable[bytes] = ()) -> bytes:
    """A chunked body carrying ``chunks`` (empty ones skipped) and trailer lines."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return out + b"0\r\n" + b"".join(t + b"\r\n" for t in trailers) + b"\r\n"


def feed(conn: HTTP1ServerConnection, data: bytes, *, step: int | None = None) -> list[Event]:
    """Give ``data`` to ``conn`` whole or ``step`` bytes at a time; the events."""
    if step is None:
        return conn.receive_data(data)
    events: list[Event] = []
    for offset in range(0, len(data), step):
        events += conn.receive_data(data[offset : offset + step])
    return events


def feed_until_refused(
    conn: HTTP1ServerConnection, piece: bytes, times: int
) -> tuple[int, RemoteProtocolError]:
    """Feed ``piece`` up to ``times`` times until ``conn`` refuses it.

    Returns how many pieces it took (the refused one included) and the error.
    """
    for count in range(1, times + 1):
        try:
            conn.receive_data(piece)
        except RemoteProtocolError as exc:
            return count, exc
    raise AssertionError(f"still accepted after {times} pieces")


def receive(
    data: bytes, *, step: int | None = None, limits: HTTP1Limits | None = None
) -> list[Event]:
    """The events of a fresh connection fed ``data``."""
    return feed(HTTP1ServerConnection(limits), data, step=step)


def rejection(
    data: bytes, *, step: int | None = None, limits: HTTP1Limits | None = None
) -> tuple[RemoteProtocolError, list[Event], HTTP1ServerConnection]:
    """Feed ``data`` to a fresh connection, expecting a RemoteProtocolError.

    Returns the error, the events produced before it and the connection.
    """
    conn = HTTP1ServerConnection(limits)
    events: list[Event] = []
    chunks = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for chunk in chunks:
        try:
            events += conn.receive_data(chunk)
        except RemoteProtocolError as exc:
            return exc, events, conn
    raise AssertionError(f"no RemoteProtocolError; events were {events!r}")


def respond(conn: HTTP1ServerConnection, status: int = 200, body: bytes = b"") -> bytes:
    """Send a complete response for the current cycle; the bytes to write."""
    stream_id = conn.stream_id
    head = ResponseHead(
        stream_id=stream_id,
        status=status,
        headers=((b"content-length", str(len(body)).encode()),),
    )
    out = conn.send(head)
    if body:
        out += conn.send(ResponseBody(stream_id=stream_id, data=body))
    return out + conn.send(ResponseEnd(stream_id=stream_id))


def serve(chunks: Iterable[bytes], limits: HTTP1Limits | None = None) -> list[Event]:
    """Play a keep-alive server: feed ``chunks`` in order, answer each complete
    request with an empty 200 and start the next cycle. The events, in order."""
    conn = HTTP1ServerConnection(limits)
    events: list[Event] = []

    def answer_complete_requests() -> bool:
        while conn.request_complete:
            respond(conn)
            if not conn.keep_alive:
                return False
            events.extend(conn.start_next_cycle())
        return True

    for chunk in chunks:
        events.extend(conn.receive_data(chunk))
        if not answer_complete_requests():
            break
    return events


def merge_body(events: Iterable[Event]) -> list[Event]:
    """``events`` with runs of BodyReceived of one stream joined into one.

    How the network splits a body decides how many BodyReceived events it
    makes; what the body *is* must not depend on it.
    """
    merged: list[Event] = []
    for event in events:
        last = merged[-1] if merged else None
        if (
            isinstance(event, BodyReceived)
            and isinstance(last, BodyReceived)
            and last.stream_id == event.stream_id
        ):
            merged[-1] = BodyReceived(stream_id=event.stream_id, data=last.data + event.data)
        elif isinstance(event, BodyReceived) and not event.data:
            continue
        else:
            merged.append(event)
    return merged


def requests_of(events: Iterable[Event]) -> list[RequestReceived]:
    return [e for e in events if isinstance(e, RequestReceived)]


def body_of(events: Iterable[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, BodyReceived))


def ended(events: Iterable[Event]) -> list[BodyEnded]:
    return [e for e in events if isinstance(e, BodyEnded)]
