"""Known HTTP/2 attacks over a real socket, each answered and survived.

Every flood ends in GOAWAY ENHANCE_YOUR_CALM (0xb) and a closed connection;
the server then serves the next client as if nothing had happened. A peer
holding flow-control windows shut gets its stream reset after
``timeout_flow_control``; one reading nothing at all has its connection
dropped after ``timeout_write``; neither holds up other streams or shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import pytest

from pounce import ClientDisconnected, Receive, Scope, Send
from support.apps import respond
from support.h2client import H2Client, frame
from support.waiting import WAIT, wait_for

ENHANCE_YOUR_CALM = 0xB
CANCEL = 0x8
HEADERS, SETTINGS, PING, CONTINUATION = 0x1, 0x4, 0x6, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4
INITIAL_WINDOW_SIZE = 0x4


class Work:
    """Counts the app calls running, and the most that ever ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = 0
        self.running = 0
        self.most = 0
        self.cancelled = 0
        self.disconnected = threading.Event()

    def enter(self) -> None:
        with self.lock:
            self.started += 1
            self.running += 1
            self.most = max(self.most, self.running)

    def leave(self, cancelled: bool) -> None:
        with self.lock:
            self.running -= 1
            self.cancelled += cancelled


def make_app(work: Work) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/work":  # expensive, and deaf to the client leaving
            work.enter()
            cancelled = False
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled = True
                raise
            finally:
                work.leave(cancelled)
        elif path == "/big":
            size = int(scope["query_string"].decode().partition("=")[2])
            chunk = b"b" * 65536
            await send({"type": "http.response.start", "status": 200, "headers": []})
            try:
                for _ in range(size // len(chunk)):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            except ClientDisconnected:
                work.disconnected.set()
                raise
        else:
            await respond(send, "ok")

    return app


@pytest.fixture
def work() -> Work:
    return Work()


def calmed(client: H2Client) -> None:
    """The server answered with GOAWAY ENHANCE_YOUR_CALM and closed."""
    client.read_until_closed()
    assert client.goaway is not None, "no GOAWAY"
    assert client.goaway[1] == ENHANCE_YOUR_CALM


def still_serving(server: Any) -> None:
    with H2Client(server.host, server.port) as client:
        response = client.response(client.request("/"))
        assert (response.status, response.body) == (200, b"ok")


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
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


# The static-table encodings of GET, /, http, then :authority localhost.
GET_SLASH = bytes([0x82, 0x84, 0x86, 0x41]) + hpack_int(9, 7) + b"localhost"


# ------------------------------------------------ rapid reset (CVE-2023-44487)


def open_streams(client: H2Client, count: int, path: bytes = b"/work") -> list[int]:
    streams = []
    for _ in range(count):
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":path", path),
                (b":scheme", b"http"),
                (b":authority", b"localhost"),
            ],
            end_stream=True,
        )
        streams.append(stream_id)
    return streams


def test_rapid_reset(serve: Any, work: Work) -> None:
    server = serve(make_app(work), http2_max_concurrent_streams=100)
    with H2Client(server.host, server.port) as client:
        # Streams whose apps have started, then reset: their work must stop.
        for batch in range(1, 4):
            streams = open_streams(client, 20)
            client.flush()
            wait_for(lambda b=batch: work.started == 20 * b, what="the apps to start")
            for stream_id in streams:
                client.conn.reset_stream(stream_id, CANCEL)
            client.flush()
        # Then the attack proper: open-and-cancel as fast as bytes go.
        with contextlib.suppress(OSError):  # closed on us mid-attack
            for _ in range(50):
                for stream_id in open_streams(client, 20):
                    client.conn.reset_stream(stream_id, CANCEL)
                client.flush()
        calmed(client)
    # Apps of reset streams never piled up past the stream limit, and every
    # one of them (they never finish on their own) was cancelled.
    assert work.started >= 60
    assert work.most <= 100
    wait_for(lambda: work.running == 0, what="the reset streams' apps to stop")
    assert work.cancelled == work.started
    still_serving(server)


# ------------------------------------------------------- CONTINUATION flood


def test_continuation_flood(serve: Any, work: Work) -> None:
    server = serve(make_app(work))
    with H2Client(server.host, server.port) as client:
        flood = frame(HEADERS, END_STREAM, 1, GET_SLASH) + frame(CONTINUATION, 0, 1) * 10_000
        with contextlib.suppress(OSError):  # the server may close before reading it all
            client.send_raw(flood)
        calmed(client)
    assert work.started == 0
    still_serving(server)


def test_header_block_growing_without_end(serve: Any, work: Work) -> None:
    server = serve(make_app(work))
    with H2Client(server.host, server.port) as client:
        client.send_raw(frame(HEADERS, END_STREAM, 1, GET_SLASH))
        with contextlib.suppress(OSError):
            for _ in range(100):
                client.send_raw(frame(CONTINUATION, 0, 1, b"\x00" * 16_000))
        calmed(client)
    still_serving(server)


# ------------------------------------------------ PING and SETTINGS floods


@pytest.mark.parametrize(
    "flood",
    [frame(PING, 0, 0, bytes(8)) * 5000, frame(SETTINGS, 0, 0) * 5000],
    ids=["ping", "settings"],
)
def test_control_frame_flood(serve: Any, work: Work, flood: bytes) -> None:
    server = serve(make_app(work))
    with H2Client(server.host, server.port) as client:
        with contextlib.suppress(OSError):
            client.send_raw(flood)
        calmed(client)
    still_serving(server)


# -------------------------------------------------------------- HPACK bomb


def test_hpack_bomb(serve: Any, work: Work) -> None:
    server = serve(make_app(work))
    with H2Client(server.host, server.port) as client:
        # A 4000-byte field enters the dynamic table; 2000 one-byte references
        # to it would decode to 8 MB.
        block = GET_SLASH + b"\x40" + hpack_int(1, 7) + b"x" + hpack_int(4000, 7) + b"b" * 4000
        block += hpack_int(62, 7, 0x80) * 2000
        client.send_raw(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        calmed(client)
    assert work.started == 0
    still_serving(server)


# -------------------------------------------------------- zero-window stall


def test_a_stream_whose_window_stays_shut_is_reset_and_others_go_on(serve: Any, work: Work) -> None:
    server = serve(make_app(work), timeout_flow_control=1.0)
    with H2Client(server.host, server.port, settings={INITIAL_WINDOW_SIZE: 0}) as client:
        client.read_until(
            lambda: any(type(e).__name__ == "SettingsAcknowledged" for e in client.events)
        )
        stalled = client.request("/big?size=655360")
        flowing = client.request("/")
        client.conn.increment_flow_control_window(65_535, stream_id=flowing)
        client.flush()
        assert client.response(flowing).body == b"ok"
        assert not client.responses[stalled].done
        response = client.response(stalled)
        assert response.reset == CANCEL
        assert work.disconnected.wait(WAIT)
        # The connection is still good for new streams.
        client.conn.update_settings({INITIAL_WINDOW_SIZE: 65_535})
        assert client.response(client.request("/")).body == b"ok"


def test_a_stalled_stream_does_not_hold_up_shutdown(serve: Any, work: Work) -> None:
    server = serve(make_app(work), timeout_flow_control=1.0, timeout_graceful_shutdown=60.0)
    with H2Client(server.host, server.port, settings={INITIAL_WINDOW_SIZE: 0}) as client:
        stalled = client.request("/big?size=655360")
        client.read_until(lambda: client.responses[stalled].headers, what="the response head")
        began = time.monotonic()
        server.stop()
        client.read_until_closed()
        # Closed because the stalled stream was reset, well before the
        # 60-second grace period would have forced it.
        assert client.responses[stalled].reset == CANCEL
        assert client.goaway is not None
        assert client.goaway[1] == 0
        assert time.monotonic() - began < 45


def test_a_client_that_reads_nothing_is_disconnected(serve: Any, work: Work) -> None:
    server = serve(make_app(work), timeout_write=1.0)
    client = H2Client(server.host, server.port, settings={INITIAL_WINDOW_SIZE: 2**31 - 1})
    with client:
        client.conn.increment_flow_control_window(2**30)
        client.request("/big?size=104857600")  # 100 MiB, far more than any buffer
        # Now read nothing: the server's writes back up, its app waits, and
        # after timeout_write the connection is dropped.
        assert work.disconnected.wait(WAIT)
        client.sock.settimeout(WAIT)
        received = 0
        try:
            while chunk := client.sock.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < 104_857_600
    still_serving(server)
