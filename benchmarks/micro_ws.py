"""Micro-benchmark: a WebSocket echo's server side in one process, without sockets.

    python benchmarks/micro_ws.py [-n 20000] [--loop asyncio|uvloop]
                                  [--server pounce|uvicorn] [--size 64] [--kind text|binary]
                                  [--fragments N]

Opens 8 WebSockets (the harness's ``ws_client.py`` uses 8 connections) on
the server's own HTTP/1.1 protocol objects, each on a fake transport, then
feeds each one masked client frame at a time through ``data_received`` and
lets the loop run, as one loop iteration does when every client has sent its
message: the frame is parsed and unmasked, the message reaches the app
(``bench_app.py``'s echo), and the echo is framed and written. Prints the
CPU time per message of the best of several repeats, the transport writes
per message and the loop turns each echo needed.

``--fragments N`` sends each message as N frames instead (a first frame,
continuations, the last with FIN): the per-frame cost of fragmented messages.

The transport's methods are C callables, as uvloop's and asyncio's are (see
``micro_core.py``), so no server is charged a Python frame a real transport
never costs. ``--server uvicorn`` runs Uvicorn's default WebSocket protocol
(websockets' Sans-IO implementation) in the same harness, when Uvicorn is
installed. ``--once`` serves ``n`` messages once and prints nothing but the
figure, for ``valgrind --tool=callgrind`` instruction counts (run it with two
values of ``n`` and take the difference over the extra messages).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench_app import app
from micro_core import SERVERS as CORE_SERVERS
from micro_core import CountingTransport

CONNECTIONS = 8
HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
MASK = b"\x37\xfa\x21\x3d"
SERVERS = ("pounce", "uvicorn")


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked client frame."""
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + masked


def client_message(kind: str, size: int, fragments: int) -> bytes:
    """One message as a client sends it, in ``fragments`` frames."""
    opcode = 0x1 if kind == "text" else 0x2
    payload = b"m" * size
    if fragments <= 1:
        return client_frame(opcode, payload)
    step = max(1, size // fragments)
    pieces = [payload[at : at + step] for at in range(0, step * (fragments - 1), step)]
    pieces.append(payload[step * (fragments - 1) :])
    return b"".join(
        client_frame(0 if index else opcode, piece, fin=index == len(pieces) - 1)
        for index, piece in enumerate(pieces)
    )


async def open_websockets(server: str) -> list[CountingTransport]:
    """Upgraded connections, their handshakes answered; their transports."""
    transports = []
    connections = CORE_SERVERS[server](app, count=CONNECTIONS)
    # Uvicorn logs every handshake and connection at INFO; the access log is off.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    for connection in connections:
        transport = CountingTransport()
        transport.protocol = connection
        connection.connection_made(transport)
        transports.append(transport)
        connection.data_received(HANDSHAKE)  # type: ignore[attr-defined]
    for _ in range(5):
        await asyncio.sleep(0)
    for transport in transports:
        answer = b"".join(transport.written)
        if not answer.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake answered {answer[:80]!r}")
        transport.take_writes()
    return transports


async def serve(transports: list[CountingTransport], message: bytes, n: int) -> tuple[int, int]:
    """Echo ``n`` messages over ``transports``; the writes and loop turns they took."""
    writes = turns = 0
    protocols = [transport.protocol for transport in transports]
    for _batch in range(0, n, CONNECTIONS):
        # Like a loop iteration with every client's message read: each is
        # fed, then the loop runs until every echo has been written.
        for protocol in protocols:
            protocol.data_received(message)  # type: ignore[union-attr]
        pending = len(transports)
        while pending:
            await asyncio.sleep(0)
            turns += 1
            pending = 0
            for transport in transports:
                if transport.written:
                    writes += transport.take_writes()
                else:
                    pending += 1
            if turns > 10 * n:
                raise RuntimeError("the echoes never came")
    return writes, turns


async def run(n: int, repeats: int, server: str, message: bytes) -> tuple[float, float, float]:
    transports = await open_websockets(server)
    best = float("inf")
    writes = turns = 0
    for _ in range(repeats):
        start = time.process_time()
        more_writes, more_turns = await serve(transports, message, n)
        best = min(best, time.process_time() - start)
        writes += more_writes
        turns += more_turns
    # Close every WebSocket as a client would, so that every app returns.
    close = client_frame(0x8, (1000).to_bytes(2, "big"))
    for transport in transports:
        transport.protocol.data_received(close)  # type: ignore[union-attr]
    for _ in range(5):
        await asyncio.sleep(0)
    for transport in transports:
        transport.protocol.connection_lost(None)  # type: ignore[union-attr]
    await asyncio.sleep(0)
    batches = repeats * -(-n // CONNECTIONS)
    return best / n, writes / (n * repeats), turns / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="messages per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--server", choices=sorted(SERVERS), default="pounce")
    parser.add_argument("--size", type=int, default=64, help="message size in bytes")
    parser.add_argument("--kind", choices=["text", "binary"], default="text")
    parser.add_argument("--fragments", type=int, default=1, help="frames per message")
    parser.add_argument("--once", action="store_true", help="one repeat, for callgrind")
    args = parser.parse_args()
    message = client_message(args.kind, args.size, args.fragments)
    repeats = 1 if args.once else args.repeats
    runner: Callable[[Any], Any] = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        runner = uvloop.run
    per_message, writes, turns = runner(run(args.n, repeats, args.server, message))
    if args.once:
        return
    print(
        f"{args.server}, {args.kind} {args.size} B in {args.fragments} frame(s): "
        f"{per_message * 1e6:.2f} us CPU per message, {writes:.2f} writes per message, "
        f"{turns:.2f} loop turns per echo ({sys.implementation.name} "
        f"{sys.version.split()[0]}, {args.loop}, pid {os.getpid()})"
    )


if __name__ == "__main__":
    main()
