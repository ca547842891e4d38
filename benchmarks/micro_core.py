"""Micro-benchmark: a server's whole request path in one process, without sockets.

    python benchmarks/micro_core.py [-n 20000] [--loop asyncio|uvloop]
                                    [--server pounce|pounce-batteries|uvicorn|uvicorn-h11]
                                    [--app hello|stream]

Feeds a wrk-shaped request to the protocol's ``data_received`` on each of 50
connections, then lets the loop run the request tasks, as one loop iteration
under load does; a hello world app answers. The request is parsed, the scope
and the stream built, the app run and the response serialized, as on a real
socket. Prints the CPU time per request of the best of several repeats and
the writes per request. ``--app stream`` answers with 100 body messages of 64
bytes each instead (the harness's 100-chunk stream).

What it leaves out is the kernel and the event loop's own I/O, which are the
same for every server. The transport's methods are C callables, as uvloop's
and asyncio's are: a transport written in Python would charge each call a
Python frame that a real server never pays, and favour the server that makes
fewer transport calls. ``--server pounce-batteries`` serves the app inside
the stack the server builds from the installed batteries (pounce-extras) and
the default config, as a user who installs ``pounce-extras`` runs it.
``--once`` serves 500 requests then ``n`` and prints nothing, for
``valgrind --tool=callgrind`` instruction counts (run it with two values of
``n`` and take the difference over the extra requests); it freezes the
response date and turns the garbage collector off, so that the count does not
depend on how long valgrind takes.
``--server uvicorn`` runs Uvicorn's httptools protocol in the same harness
(``uvicorn-h11`` its h11 one), when Uvicorn is installed.
The py-spy profiles in docs/performance.md come from running this under
``py-spy record``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
CONNECTIONS = 50


HEADERS = [(b"content-type", b"text/plain")]


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


CHUNK = b"y" * 63 + b"\n"


async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    for _ in range(100):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


APPS = {"hello": hello, "stream": stream}


class CountingTransport(asyncio.Transport):
    """A transport that accepts everything and counts writes, in C calls only."""

    def __init__(self) -> None:
        super().__init__()
        self.written: collections.deque[Any] = collections.deque()
        extra = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}
        # Bound C methods and builtins, set per instance: no Python frame per call.
        self.write = self.written.append  # type: ignore[method-assign]
        self.writelines = self.written.append  # type: ignore[method-assign]
        self.get_extra_info = extra.get  # type: ignore[method-assign]
        self.is_closing = False.__bool__  # type: ignore[method-assign]
        self.get_write_buffer_size = int  # type: ignore[method-assign]
        self.close = int  # type: ignore[method-assign]
        self.abort = int  # type: ignore[method-assign]
        self.pause_reading = int  # type: ignore[method-assign]
        self.resume_reading = int  # type: ignore[method-assign]
        self.can_write_eof = True.__bool__  # type: ignore[method-assign]
        self.write_eof = int  # type: ignore[method-assign]
        # The protocol a connection hands the transport to (a WebSocket's edge).
        self.protocol: asyncio.BaseProtocol | None = None

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def take_writes(self) -> int:
        count = len(self.written)
        self.written.clear()
        return count


def pounce_connections(
    app: Any, *, batteries: bool = False, count: int = CONNECTIONS, **settings: Any
) -> list[asyncio.Protocol]:
    """Pounce's connections serving ``app``; with ``batteries``, inside the
    stack that the installed layers and plugins build for ``settings``."""
    from pounce._bridge.context import WorkerContext
    from pounce._edges.http1.connection import HTTP1Connection
    from pounce._runtime.error_responses import plain_text_error
    from pounce._runtime.lifecycle import LifecycleEmitter
    from pounce._settings.config import ServerConfig

    config = ServerConfig(access_log=False, **settings)
    renderer = plain_text_error
    emitter = LifecycleEmitter()
    if batteries:
        # The app stack as the server assembles it: every installed layer and
        # plugin the config turns on, in their order; the plugins that count
        # requests hear the lifecycle events.
        from pounce._bridge.app_stack import build_app
        from pounce._bridge.plugins import error_renderer, event_hooks, load_plugins

        plugins = load_plugins(config)
        app = build_app(app, config, plugins)
        renderer = error_renderer(plugins) or plain_text_error
        emitter = LifecycleEmitter(event_hooks(plugins))
    loop = asyncio.get_running_loop()
    ctx = WorkerContext(
        config=config,
        app=app,
        loop=loop,
        lifespan_state={},
        error_renderer=renderer,
        emitter=emitter,
    )
    ctx.access_logger.disabled = True  # as --no-access-log leaves it
    return [HTTP1Connection(ctx) for _ in range(count)]


def uvicorn_connections(http: str) -> Callable[..., list[asyncio.Protocol]]:
    def make(app: Any, *, count: int = CONNECTIONS) -> list[asyncio.Protocol]:
        from uvicorn.config import Config
        from uvicorn.server import ServerState

        if http == "httptools":
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Protocol
        else:
            from uvicorn.protocols.http.h11_impl import H11Protocol as Protocol  # type: ignore[assignment]
        config = Config(app=app, access_log=False, http=http, lifespan="off")
        config.load()
        state = ServerState()
        return [Protocol(config=config, server_state=state, app_state={}) for _ in range(count)]

    return make


SERVERS: dict[str, Callable[..., list[asyncio.Protocol]]] = {
    "pounce": pounce_connections,
    "pounce-batteries": functools.partial(pounce_connections, batteries=True),
    "uvicorn": uvicorn_connections("httptools"),
    "uvicorn-h11": uvicorn_connections("h11"),
}


def open_connections(
    server: str, app: Any
) -> tuple[list[asyncio.Protocol], list[CountingTransport]]:
    """``server``'s connections serving ``app``, each made on its own transport."""
    connections = SERVERS[server](app)
    transports = [CountingTransport() for _ in connections]
    for connection, transport in zip(connections, transports, strict=True):
        connection.connection_made(transport)
    return connections, transports


async def serve_batches(
    connections: list[asyncio.Protocol],
    transports: list[CountingTransport],
    n: int,
    request: bytes = REQUEST,
) -> int:
    """Serve ``n`` requests over ``connections``; the writes they made."""
    writes = 0
    for _batch in range(0, n, CONNECTIONS):
        # Like a loop iteration under load: every connection's request is
        # read, then the request tasks run and respond.
        for connection in connections:
            connection.data_received(request)  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        for transport in transports:
            writes += transport.take_writes()
    return writes


async def run(
    n: int, repeats: int, server: str = "pounce", app: str = "hello"
) -> tuple[float, float]:
    connections, transports = open_connections(server, APPS[app])
    try:
        return await best_of(lambda k: serve_batches(connections, transports, k), n, repeats)
    finally:
        for connection in connections:
            connection.connection_lost(None)


async def serve_once(n: int, server: str, app: str) -> None:
    connections, transports = open_connections(server, APPS[app])
    try:
        await serve_batches(connections, transports, 500)
        await serve_batches(connections, transports, n)
    finally:
        for connection in connections:
            connection.connection_lost(None)


async def best_of(
    serve: Callable[[int], Awaitable[int]], n: int, repeats: int
) -> tuple[float, float]:
    """CPU time per request of the best of ``repeats`` runs of ``serve(n)``
    (which serves ``n`` requests and returns its writes), and writes per request."""
    best = float("inf")
    writes = 0
    for _ in range(repeats):
        start = time.process_time()
        writes += await serve(n)
        best = min(best, time.process_time() - start)
    return best / n, writes / (n * repeats)


def loop_runner(loop: str) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """``asyncio.run``, or uvloop's."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run
    return asyncio.run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="requests per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--server", choices=sorted(SERVERS), default="pounce")
    parser.add_argument("--app", choices=sorted(APPS), default="hello")
    parser.add_argument("--once", action="store_true", help="one repeat, for callgrind")
    args = parser.parse_args()
    if args.once:
        # A warm-up of 500 requests (the caches of each connection fill),
        # then n: the difference of two such runs over their extra requests
        # is the path's own count. What depends on time or on when a count
        # starts is held still: the response date (rebuilt once a second,
        # however slowly valgrind runs) and the garbage collector (a
        # collection falls inside one count and not the other).
        import gc

        from pounce._bridge.http_date import HTTPDateCache

        frozen = HTTPDateCache().value()
        HTTPDateCache.value = lambda self: frozen  # type: ignore[method-assign]
        gc.disable()
        loop_runner(args.loop)(serve_once(args.n, args.server, args.app))
        return
    per_request, writes = loop_runner(args.loop)(run(args.n, args.repeats, args.server, args.app))
    print(
        f"{args.server}, {args.app}: {per_request * 1e6:.1f} us CPU per request, "
        f"{writes:.2f} writes per request"
    )


if __name__ == "__main__":
    main()
