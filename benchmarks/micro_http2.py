"""Micro-benchmark: Pounce's whole HTTP/2 request path in one process, without sockets.

    python benchmarks/micro_http2.py [-n 20000] [--loop asyncio|uvloop] [--streams 10]
                                     [--route fast|h2] [--compare-http1]

What ``micro_core.py`` does for HTTP/1.1, shaped like ``h2load -c 50 -m 10``:
each of 50 connections gets the client preface and SETTINGS that h2load sends
(a 1 GiB connection window, so the client never has to send WINDOW_UPDATE),
then, batch after batch, ten GET requests in one read (HEADERS with
END_STREAM, HPACK-indexed after the first as nghttp2 encodes them) to
``data_received``; the loop then runs the request tasks and the writes, as a
loop iteration under load does, and a hello world app answers. Prints the CPU
time per request of the best of several repeats and the writes per request.

``--route h2`` forces the machines through ``h2`` (the reference route) instead
of the fast path; ``--compare-http1`` also runs ``micro_core.py``'s HTTP/1.1
hello in the same process and prints the ratio, the figure the HTTP/2 fast
path is judged by. Every response is checked once, before the clock starts,
by an ``h2`` client reading one connection's output.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import hpack
from micro_core import APPS, CONNECTIONS, CountingTransport, best_of, loop_runner
from micro_core import run as run_http1

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# h2load's request: nghttp2 sends the pseudo-headers in this order.
REQUEST_FIELDS = [
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":authority", b"127.0.0.1:8000"),
    (b":path", b"/"),
    (b"user-agent", b"h2load nghttp2/1.64.0"),
]
_WINDOW = 2**30 - 1  # h2load's default -w 30 and -W 30


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


def client_prelude() -> bytes:
    """The preface, h2load's SETTINGS and window, and the ACK of the server's SETTINGS."""
    settings = (
        (2).to_bytes(2, "big") + (0).to_bytes(4, "big")  # ENABLE_PUSH 0
        + (3).to_bytes(2, "big") + (100).to_bytes(4, "big")  # MAX_CONCURRENT_STREAMS
        + (4).to_bytes(2, "big") + _WINDOW.to_bytes(4, "big")  # INITIAL_WINDOW_SIZE
    )  # fmt: skip
    return (
        PREFACE
        + frame(0x4, 0, 0, settings)
        + frame(0x8, 0, 0, (_WINDOW - 65_535).to_bytes(4, "big"))
        + frame(0x4, 0x1, 0)
    )


class Client:
    """One connection's request bytes, batch by batch (stream ids go up)."""

    def __init__(self, streams: int) -> None:
        encoder = hpack.Encoder()
        self.first_block = encoder.encode(REQUEST_FIELDS)
        self.block = encoder.encode(REQUEST_FIELDS)  # all indexed from now on
        self.streams = streams
        self.next_stream = 1

    def batch(self) -> bytes:
        frames = []
        for _ in range(self.streams):
            block = self.first_block if self.next_stream == 1 else self.block
            frames.append(frame(0x1, 0x5, self.next_stream, block))
            self.next_stream += 2
        return b"".join(frames)


def open_connections(
    app: Any, *, fast_path: bool
) -> tuple[list[asyncio.Protocol], list[CountingTransport]]:
    from pounce._bridge.context import WorkerContext
    from pounce._edges.http2.connection import HTTP2Connection
    from pounce._settings.config import ServerConfig
    from pounce_protocols import HTTP2ServerConnection

    config = ServerConfig(access_log=False)
    loop = asyncio.get_running_loop()
    ctx = WorkerContext(config=config, app=app, loop=loop, lifespan_state={})
    ctx.access_logger.disabled = True  # as --no-access-log leaves it
    connections: list[asyncio.Protocol] = []
    transports = []
    for _ in range(CONNECTIONS):
        machine = HTTP2ServerConnection(ctx.http2_limits, fast_path=fast_path)
        connection = HTTP2Connection(ctx, machine=machine)
        transport = CountingTransport()
        connection.connection_made(transport)
        connection.data_received(client_prelude())
        connections.append(connection)
        transports.append(transport)
    return connections, transports


async def serve_batches(
    connections: list[asyncio.Protocol],
    transports: list[CountingTransport],
    clients: list[Client],
    n: int,
    *,
    take: bool = True,
) -> int:
    """Serve ``n`` requests over ``connections``; the writes they made
    (``take=False``: leave them with the transports)."""
    writes = 0
    per_batch = CONNECTIONS * clients[0].streams
    for _batch in range(0, n, per_batch):
        for connection, client in zip(connections, clients, strict=True):
            connection.data_received(client.batch())  # type: ignore[attr-defined]
        # The request tasks run, then the writes they scheduled.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        if take:
            for transport in transports:
                writes += transport.take_writes()
    return writes


def check_responses(transport: CountingTransport, streams: int) -> None:
    """What one connection wrote, read frame by frame: every stream answered."""
    data = b"".join(bytes(piece) for piece in transport.written)
    transport.written.clear()
    ended = set()
    pos = 0
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        kind, flags = data[pos + 3], data[pos + 4]
        stream_id = int.from_bytes(data[pos + 5 : pos + 9], "big")
        if kind in (0x0, 0x1) and flags & 0x1:
            ended.add(stream_id)
        pos += 9 + length
    if pos != len(data) or len(ended) != streams:
        raise RuntimeError(f"{len(ended)} of {streams} streams answered")


async def run(
    n: int, repeats: int, *, streams: int, fast_path: bool, app: str = "hello"
) -> tuple[float, float]:
    connections, transports = open_connections(APPS[app], fast_path=fast_path)
    clients = [Client(streams) for _ in connections]
    try:
        # One checked batch first: it warms every cache, and proves the answers.
        for transport in transports:
            transport.take_writes()
        await serve_batches(connections, transports, clients, CONNECTIONS * streams, take=False)
        check_responses(transports[0], streams)
        for transport in transports:
            transport.take_writes()
        return await best_of(
            lambda k: serve_batches(connections, transports, clients, k), n, repeats
        )
    finally:
        for connection in connections:
            connection.connection_lost(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="requests per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--streams", type=int, default=10, help="requests per connection per read")
    parser.add_argument("--route", choices=["fast", "h2"], default="fast")
    parser.add_argument("--app", choices=sorted(APPS), default="hello")
    parser.add_argument("--compare-http1", action="store_true")
    args = parser.parse_args()
    runner = loop_runner(args.loop)
    route = run(
        args.n, args.repeats, streams=args.streams, fast_path=args.route == "fast", app=args.app
    )
    per_request, writes = runner(route)
    print(
        f"HTTP/2 ({args.route}), {args.app}, {args.streams} streams per read: "
        f"{per_request * 1e6:.1f} us CPU per request, {writes:.2f} writes per request"
    )
    if args.compare_http1:
        http1, _ = runner(run_http1(args.n, args.repeats, "pounce", args.app))
        print(
            f"HTTP/1.1, {args.app}: {http1 * 1e6:.1f} us CPU per request; "
            f"HTTP/2 costs {per_request / http1:.2f}x"
        )


if __name__ == "__main__":
    main()
