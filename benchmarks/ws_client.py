"""WebSocket echo load: messages per second over a few connections.

    python benchmarks/ws_client.py ws://127.0.0.1:8000/ws [--connections 8] [--duration 5]
                                   [--size 64] [--client frames|websockets]

Each connection sends a message, waits for its echo, and repeats; the result
(one JSON line) counts echoes and their round-trip latencies. A server that
does not accept the handshake yields ``{"unsupported": "<reason>"}``.

Why two clients. The load generator shares the machine's CPUs with the
server, so it must cost less per message than the servers it compares, as
wrk does for HTTP; otherwise the row measures the client. The websockets
library's client (``--client websockets``) spends about 22 to 27 µs of CPU
per echo, more than any server measured here spends answering it, and runs
at 100 % of a CPU while the server idles part of the time: every server then
scores what the client can do. The default ``frames`` client does the
protocol's work and nothing else, on uvloop when it is installed: it opens
each connection with a checked handshake (the server's
``Sec-WebSocket-Accept`` must match the key), sends each message as one
masked text frame (the masks are random, drawn ahead of the run), reads the
server's frames and checks that every echo is the message sent, byte for
byte; anything else (another opcode, a fragment, a masked server frame, a
different payload, a close) ends the connection and counts as an error. Both
clients are kept so that the two figures can be compared; the probe that
decides whether a server supports WebSocket at all uses the library.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.utils import accept_key

_OPCODE_TEXT = 0x1
# A masked close, code 1000 (normal closure), that ends a connection at the deadline.
_CLOSE_NORMAL = Frame(Opcode.CLOSE, (1000).to_bytes(2, "big")).serialize(mask=True)
_MASKS_PER_CONNECTION = 64  # frames prepared ahead, each with its own random mask


class EchoError(Exception):
    """The server answered something other than the echo of the message."""


def masked_text_frames(payload: bytes, count: int) -> list[bytes]:
    """``count`` final text frames carrying ``payload``, each masked with its own key."""
    frame = Frame(Opcode.TEXT, payload)
    return [frame.serialize(mask=True) for _ in range(count)]


class EchoProtocol(asyncio.Protocol):
    """One connection: the handshake, then send, await the echo, repeat until the deadline."""

    def __init__(self, host: bytes, target: bytes, payload: bytes, deadline: float) -> None:
        self.key = base64.b64encode(os.urandom(16))
        self.request = (
            b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + self.key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.payload = payload
        self.frames = masked_text_frames(payload, _MASKS_PER_CONNECTION)
        self.deadline = deadline
        self.latencies: list[float] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or EchoError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        try:
            if not self.upgraded:
                buffer = self._handshake(buffer)
                if not self.upgraded:
                    self.buffer = buffer
                    return
                self._send()
            self.buffer = self._echoes(buffer)
        except EchoError as exc:
            self._finish(exc)

    def _handshake(self, buffer: bytes) -> bytes:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return buffer
        lines = buffer[:end].split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            raise EchoError(f"handshake refused: {lines[0]!r}")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if fields.get(b"sec-websocket-accept") != accept_key(self.key.decode()).encode():
            raise EchoError("the server's Sec-WebSocket-Accept does not match the key")
        self.upgraded = True
        return buffer[end + 4 :]

    def _echoes(self, buffer: bytes) -> bytes:
        """Take every complete frame in ``buffer``; the rest waits for more bytes."""
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            if first != 0x80 | _OPCODE_TEXT or second & 0x80:
                raise EchoError(f"unexpected frame header {buffer[:2].hex()}")
            size = second
            start = 2
            if size == 126:
                if len(buffer) < 4:
                    break
                size = int.from_bytes(buffer[2:4], "big")
                start = 4
            elif size == 127:
                if len(buffer) < 10:
                    break
                size = int.from_bytes(buffer[2:10], "big")
                start = 10
            end = start + size
            if len(buffer) < end:
                break
            if buffer[start:end] != self.payload:
                raise EchoError("the echo differs from the message sent")
            buffer = buffer[end:]
            now = time.perf_counter()
            self.latencies.append(now - self.sent_at)
            if now >= self.deadline:
                self._finish(None)
                return b""
            self._send()
        return buffer

    def _send(self) -> None:
        assert self.transport is not None
        frames = self.frames
        self.sent_at = time.perf_counter()
        self.transport.write(frames[len(self.latencies) % len(frames)])

    def _finish(self, error: Exception | None) -> None:
        if self.transport is not None:
            if error is None:
                self.transport.write(_CLOSE_NORMAL)
            self.transport.close()
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)


async def _frames_connection(
    url: str, message: str, deadline: float, latencies: list[float]
) -> int:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: EchoProtocol(parts.netloc.encode(), target.encode(), message.encode(), deadline),
        host,
        port,
    )
    try:
        # A server that stops answering ends the run as an error, not a hang.
        await asyncio.wait_for(protocol.done, deadline - time.perf_counter() + 10)
    finally:
        latencies.extend(protocol.latencies)
    return len(protocol.latencies)


async def _websockets_connection(
    url: str, message: str, deadline: float, latencies: list[float]
) -> int:
    count = 0
    async with connect(url, compression=None, max_size=None) as ws:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await ws.send(message)
            if await ws.recv() != message:
                raise EchoError("the echo differs from the message sent")
            latencies.append(time.perf_counter() - start)
            count += 1
    return count


CLIENTS = {"frames": _frames_connection, "websockets": _websockets_connection}


async def _probe(url: str) -> str | None:
    try:
        async with asyncio.timeout(10), connect(url, compression=None) as ws:
            await ws.send("probe")
            if await ws.recv() != "probe":
                return "the server did not echo"
    except InvalidStatus as exc:
        return f"handshake refused with HTTP {exc.response.status_code}"
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        return f"handshake failed: {type(exc).__name__}"
    return None


async def main(
    url: str, connections: int, duration: float, size: int, client: str = "frames"
) -> dict[str, object]:
    problem = await _probe(url)
    if problem is not None:
        return {"unsupported": problem}
    message = "m" * size
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + duration
    one_connection = CLIENTS[client]
    results = await asyncio.gather(
        *(one_connection(url, message, deadline, latencies) for _ in range(connections)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    errors = [r for r in results if isinstance(r, BaseException)]
    messages = len(latencies)
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6

    result: dict[str, object] = {
        "requests": messages,
        "seconds": elapsed,
        "rate": messages / elapsed if elapsed else 0.0,
        "p50_us": percentile(50),
        "p99_us": percentile(99),
        "errors": len(errors),
    }
    if errors:
        result["first_error"] = f"{type(errors[0]).__name__}: {errors[0]}"
    return result


def _runner() -> Callable[[Coroutine[Any, Any, dict[str, object]]], dict[str, object]]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=64, help="message size in bytes")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="frames",
        help="frames: a client that only frames and checks (default); websockets: the library's",
    )
    args = parser.parse_args()
    run = _runner()
    result = run(main(args.url, args.connections, args.duration, args.size, args.client))
    print(json.dumps(result))
