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

``stop(force=True)`` cuts short whichever wait is under way: a lifespan
startup that never completes, the drain, or (when forced again) a lifespan
shutdown that hangs. Waiting on the app must never make a server unstoppable.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from pounce._asgi_types import ASGIApp
from pounce._config import ServerConfig
from pounce._error_responses import ErrorRenderer, plain_text_error
from pounce._http1_connection import HTTP1Connection
from pounce._lifecycle import LifecycleEmitter
from pounce._lifespan import Lifespan
from pounce._logging import ERROR_LOGGER
from pounce._worker_context import WorkerContext

__all__ = ["Worker"]

_logger = logging.getLogger(ERROR_LOGGER)

# How often the drain phase checks whether in-flight requests are done.
_DRAIN_POLL = 0.05
# Loop iterations asyncio needs to turn an accepted socket into a connection.
_SETUP_STEPS = 3


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
        emitter: LifecycleEmitter | None = None,
        worker_id: int = 0,
    ) -> None:
        self._emitter = emitter if emitter is not None else LifecycleEmitter()
        self._worker_id = worker_id
        self._config = config
        self._app = app
        self._sockets = sockets
        self._lifespan = lifespan
        self._error_renderer = error_renderer
        self._on_ready = on_ready
        self._stop: asyncio.Event | None = None
        self._force = False
        self._forced: asyncio.Event | None = None  # set by each forced stop
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
            if self._forced is not None:
                self._forced.set()
            ctx = self._ctx
            if ctx is not None:
                for conn in list(ctx.connections):
                    conn.force_close()
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._forced = asyncio.Event()
        lifespan_state: dict[str, Any] = {}
        if self._lifespan is not None:
            if not await self._unless_forced(self._lifespan.startup()):
                _logger.warning("Application startup cancelled.")
                return
            lifespan_state = self._lifespan.state
        ctx = WorkerContext(
            config=self._config,
            app=self._app,
            loop=loop,
            lifespan_state=lifespan_state,
            error_renderer=self._error_renderer,
            emitter=self._emitter,
            worker_id=self._worker_id,
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
            # Keep the listening sockets alive past the servers' close, long
            # enough to take the connections already waiting in their accept
            # queues: closing a listener resets those, and a client (or a
            # proxy) has already sent its request on them.
            await self._stop_accepting(ctx, servers)
            await self._drain(ctx)
            if self._lifespan is not None:
                # The app gets its shutdown even after a forced drain; only a
                # further forced stop cuts it short.
                self._forced.clear()
                timeout = self._config.timeout_graceful_shutdown
                if not await self._unless_forced(self._lifespan.shutdown(timeout)):
                    _logger.warning("Application shutdown cancelled.")

    async def _stop_accepting(self, ctx: WorkerContext, servers: list[asyncio.Server]) -> None:
        """Stop accepting without losing a connection a client already opened.

        Two kinds would be lost by simply closing the servers: sockets asyncio
        has accepted but is still setting up in tasks of its own (a closed
        server refuses to adopt them, and they leak unanswered), and
        connections still queued on the listening sockets (closing a listener
        resets them, with their requests already sent). So: stop watching the
        listeners, let the set-up tasks finish, close the servers while
        duplicates keep the listeners alive, and serve what is queued.
        """
        ctx.draining = True  # from now on, responses say connection: close
        loop = asyncio.get_running_loop()
        pending = [sock.dup() for sock in self._sockets]
        for sock in self._sockets:
            loop.remove_reader(sock.fileno())
        for _ in range(_SETUP_STEPS):
            await asyncio.sleep(0)
        for server in servers:
            server.close()
        await self._take_pending(ctx, pending)

    async def _take_pending(self, ctx: WorkerContext, listeners: list[socket.socket]) -> None:
        """Serve the connections queued on ``listeners`` (duplicates), then close them."""
        loop = asyncio.get_running_loop()
        for listener in listeners:
            try:
                listener.setblocking(False)
                while True:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:
                        _logger.debug("Accepting a queued connection failed: %s", exc)
                        break
                    try:
                        await loop.connect_accepted_socket(lambda: HTTP1Connection(ctx), conn)
                    except OSError:
                        conn.close()  # the client gave up while queued
            finally:
                listener.close()

    async def _unless_forced(self, work: Coroutine[Any, Any, None]) -> bool:
        """Await ``work`` unless a forced stop comes first; False if it was cut short.

        Cutting it short cancels it (and, through the lifespan, the app's
        lifespan task); an exception it raises is re-raised here.
        """
        assert self._forced is not None
        task = asyncio.ensure_future(work)
        forced = asyncio.ensure_future(self._forced.wait())
        try:
            await asyncio.wait((task, forced), return_when=asyncio.FIRST_COMPLETED)
        finally:
            forced.cancel()
            task.cancel()  # no-op once it has finished
        await asyncio.gather(task, return_exceptions=True)
        if task.cancelled():
            return False
        task.result()
        return True

    async def _drain(self, ctx: WorkerContext) -> None:
        ctx.draining = True
        for conn in list(ctx.connections):
            conn.shutdown()
        if ctx.connections and not self._force:
            # Idle connections were just told to close and leave the set once
            # their transport has; only the busy ones are worth reporting.
            busy = sum(1 for conn in ctx.connections if not conn.is_idle())
            if busy:
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
