"""Micro-benchmark: Pounce's whole request path in one process, without sockets.

    python benchmarks/micro_core.py [-n 20000] [--loop asyncio|uvloop]

Feeds a wrk-shaped request to ``HTTP1Connection.data_received`` on each of 50
connections, then lets the loop run the request tasks, as one loop iteration
under load does; a transport only counts writes, and a hello world app
answers. The request is parsed, the scope and the stream built, the app run
and the response serialized, as on a real socket. Prints the CPU
time per request of the best of several repeats and the writes per request.
What it leaves out is the kernel and the event loop's own I/O, which are the
same for every server; the py-spy profiles in docs/performance.md come from
running this under ``py-spy record``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from pounce._config import ServerConfig
from pounce._http1_connection import HTTP1Connection
from pounce._worker_context import WorkerContext

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
CONNECTIONS = 50


HEADERS = [(b"content-type", b"text/plain")]


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


class CountingTransport(asyncio.Transport):
    """A transport that accepts everything and counts writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self._extra = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1

    def writelines(self, list_of_data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def run(n: int, repeats: int) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    config = ServerConfig(access_log=False)
    ctx = WorkerContext(config=config, app=hello, loop=loop, lifespan_state={})
    ctx.access_logger.disabled = True  # as --no-access-log leaves it
    connections = [HTTP1Connection(ctx) for _ in range(CONNECTIONS)]
    transports = [CountingTransport() for _ in connections]
    for connection, transport in zip(connections, transports, strict=True):
        connection.connection_made(transport)
    best = float("inf")
    try:
        for _ in range(repeats):
            start = time.process_time()
            for _batch in range(0, n, CONNECTIONS):
                # Like a loop iteration under load: every connection's request
                # is read, then the request tasks run and respond.
                for connection in connections:
                    connection.data_received(REQUEST)
                await asyncio.sleep(0)
            best = min(best, time.process_time() - start)
    finally:
        ctx.access_logger.disabled = False
        for connection in connections:
            connection.connection_lost(None)
    writes = sum(t.writes for t in transports) / (n * repeats)
    return best / n, writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="requests per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        per_request, writes = uvloop.run(run(args.n, args.repeats))
    else:
        per_request, writes = asyncio.run(run(args.n, args.repeats))
    print(f"{per_request * 1e6:.1f} us CPU per request, {writes:.2f} writes per request")


if __name__ == "__main__":
    main()
