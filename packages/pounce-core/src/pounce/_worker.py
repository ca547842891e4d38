"""A worker: one event loop serving connections from listening sockets.

The worker knows nothing about threads, processes or signals: whoever runs it
calls :meth:`Worker.serve` on a loop and, from that loop, :meth:`Worker.stop`.
``serve`` goes through these phases:

1. lifespan startup (when this worker owns the app's lifespan);
2. accept connections until :meth:`stop` is called;
3. drain: stop accepting, close idle connections, let in-flight requests
   finish for up to ``timeout_graceful_shutdown`` seconds, then cancel what is
   left and drop those connections;
4. lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from pounce._asgi_types import ASGIApp
from pounce._config import ServerConfig
from pounce._error_responses import ErrorRenderer, plain_text_error
from pounce._http1_connection import HTTP1Connection
from pounce._lifespan import Lifespan
from pounce._logging import ERROR_LOGGER
from pounce._worker_context import WorkerContext

__all__ = ["Worker"]

_logger = logging.getLogger(ERROR_LOGGER)

# How often the drain phase checks whether in-flight requests are done.
_DRAIN_POLL = 0.05


class Worker:
    """Serves HTTP on the given listening sockets with the running event loop."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        app: ASGIApp,
        sockets: list[socket.socket],
        lifespan: Lifespan | None = None,
        error_renderer: ErrorRenderer = plain_text_error,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._app = app
        self._sockets = sockets
        self._lifespan = lifespan
        self._error_renderer = error_renderer
        self._on_ready = on_ready
        self._stop: asyncio.Event | None = None
        self._force = False
        self._ctx: WorkerContext | None = None

    @property
    def context(self) -> WorkerContext | None:
        return self._ctx

    def stop(self, *, force: bool = False) -> None:
        """Begin a graceful shutdown (or, with ``force``, skip the grace period).

        Must be called from the worker's own loop (use
        ``loop.call_soon_threadsafe`` from elsewhere).
        """
        if force:
            self._force = True
            ctx = self._ctx
            if ctx is not None:
                for conn in list(ctx.connections):
                    conn.force_close()
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        lifespan_state: dict[str, Any] = {}
        if self._lifespan is not None:
            await self._lifespan.startup()
            lifespan_state = self._lifespan.state
        ctx = WorkerContext(
            config=self._config,
            app=self._app,
            loop=loop,
            lifespan_state=lifespan_state,
            error_renderer=self._error_renderer,
        )
        self._ctx = ctx
        servers = [
            await loop.create_server(
                lambda: HTTP1Connection(ctx), sock=sock, backlog=self._config.backlog
            )
            for sock in self._sockets
        ]
        if self._on_ready is not None:
            self._on_ready()
        try:
            await self._stop.wait()
        finally:
            for server in servers:
                server.close()
            await self._drain(ctx)
            if self._lifespan is not None:
                await self._lifespan.shutdown(self._config.timeout_graceful_shutdown)

    async def _drain(self, ctx: WorkerContext) -> None:
        ctx.draining = True
        for conn in list(ctx.connections):
            conn.shutdown()
        if ctx.connections and not self._force:
            busy = len(ctx.connections)
            _logger.info("Waiting for %d connection(s) to finish their requests.", busy)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._config.timeout_graceful_shutdown
            # Polling keeps connections free of shutdown bookkeeping on their
            # hot path; 50 ms is invisible next to a grace period of seconds.
            while ctx.connections and loop.time() < deadline and not self._force:  # noqa: ASYNC110
                await asyncio.sleep(_DRAIN_POLL)
        if ctx.connections:
            _logger.warning(
                "Cancelling %d connection(s) still busy after the shutdown grace period.",
                len(ctx.connections),
            )
            for conn in list(ctx.connections):
                conn.force_close()
            # Let cancelled app tasks run their cleanup.
            await asyncio.sleep(0)
