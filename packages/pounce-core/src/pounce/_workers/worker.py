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

``stop(handoff=True)`` drains for a worker that is being *replaced* (a rolling
reload, a retirement) while another worker keeps accepting from the same
listening sockets. Idle keep-alive connections are then not closed at once
(a client may be writing its next request on one that very moment); each
gets ``connection: close`` on its next response, or is closed by its
keep-alive timer, so no request is lost to the handover.

A stop requested before :meth:`serve` has started is remembered.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from pounce._bridge.context import WorkerContext
from pounce._bridge.lifespan import Lifespan
from pounce._edges.protocol_select import protocol_factory
from pounce._edges.tls import ServerTLS, build_server_tls
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.error_responses import ErrorRenderer, plain_text_error
from pounce._runtime.lifecycle import LifecycleEmitter
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig
from pounce._workers.hooks import WorkerHooks, WorkerInfo

__all__ = ["Worker"]

_logger = logging.getLogger(ERROR_LOGGER)

# How often the drain phase checks whether in-flight requests are done.
_DRAIN_POLL = 0.05
# How long closing a TLS connection waits for the client's close_notify.
_TLS_SHUTDOWN_TIMEOUT = 5.0


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
        tls: ServerTLS | None = None,
        hooks: WorkerHooks | None = None,
        info: WorkerInfo | None = None,
    ) -> None:
        # Without an explicit context the worker builds its own from the
        # config, as a worker process must (an SSLContext cannot be sent there).
        self._tls = tls if tls is not None else build_server_tls(config)
        self._emitter = emitter if emitter is not None else LifecycleEmitter()
        self._worker_id = worker_id
        self._config = config
        self._app = app
        self._sockets = sockets
        self._lifespan = lifespan
        self._error_renderer = error_renderer
        self._on_ready = on_ready
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._handoff = False
        self._force = False
        self._forced: asyncio.Event | None = None  # set by each forced stop
        self._ctx: WorkerContext | None = None
        # --on-worker-* hooks (see hooks.py for their order), with the
        # WorkerInfo they are called with.
        self._hooks = hooks
        self._info = info or WorkerInfo(
            worker_id=worker_id, slot=0, generation=0, mode="thread", pid=0
        )

    @property
    def context(self) -> WorkerContext | None:
        return self._ctx

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        """Begin a graceful shutdown (or, with ``force``, skip the grace period).

        ``handoff`` means another worker takes over this one's sockets: idle
        connections are left to finish their keep-alive cycle (see the module
        docstring). A plain stop after a handoff stop turns it into a shutdown.
        Must be called from the worker's own loop (use
        ``loop.call_soon_threadsafe`` from elsewhere).
        """
        if not self._stop_requested:
            self._handoff = handoff
        elif not handoff and self._handoff:
            self._handoff = False
            ctx = self._ctx
            if ctx is not None and ctx.draining:
                ctx.handoff = False
                for conn in list(ctx.connections):
                    conn.shutdown()
        self._stop_requested = True
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
        self._stop = asyncio.Event()
        self._forced = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
            if self._force:
                self._forced.set()
        hooks = self._hooks
        if hooks is None:
            await self._serve()
            return
        # A failing start hook fails the worker (WorkerHookError) before the
        # app's lifespan runs; the stop hooks run for every worker whose
        # start hooks all ran, whatever happens after.
        if not await self._unless_forced(hooks.started(self._info)):
            _logger.warning("Worker start hooks cancelled.")
            return
        try:
            await self._serve()
        finally:
            await hooks.stopped(self._info)

    async def _serve(self) -> None:
        assert self._stop is not None
        assert self._forced is not None
        loop = asyncio.get_running_loop()
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
            tls=self._tls,
        )
        self._ctx = ctx
        factory = protocol_factory(ctx)
        tls_options: dict[str, Any] = {}
        if self._tls is not None:
            tls_options = {
                "ssl": self._tls.context,
                # The client must finish its handshake as soon as its head.
                "ssl_handshake_timeout": self._config.timeout_request_header,
                "ssl_shutdown_timeout": _TLS_SHUTDOWN_TIMEOUT,
            }
        servers = [
            await loop.create_server(
                factory, sock=sock, backlog=self._config.backlog, **tls_options
            )
            for sock in self._sockets
        ]
        quic: list[Any] = []
        if self._config.http3:
            # Imported only when asked for: aioquic is an optional extra.
            from pounce._edges.http3.connection import start_http3  # noqa: PLC0415

            quic = await start_http3(ctx, self._sockets)
        if self._on_ready is not None:
            self._on_ready()
        try:
            await self._stop.wait()
        finally:
            if self._hooks is not None:
                await self._unless_forced(self._hooks.draining(self._info))
            for listener in quic:
                listener.stop_accepting()
            await self._stop_accepting(servers, ctx, factory)
            await self._drain(ctx)
            for listener in quic:
                listener.close()
            if self._lifespan is not None:
                # The app gets its shutdown even after a forced drain; only a
                # further forced stop cuts it short.
                self._forced.clear()
                timeout = self._config.timeout_graceful_shutdown
                if not await self._unless_forced(self._lifespan.shutdown(timeout)):
                    _logger.warning("Application shutdown cancelled.")

    async def _stop_accepting(
        self,
        servers: list[asyncio.Server],
        ctx: WorkerContext,
        factory: Callable[[], asyncio.Protocol],
    ) -> None:
        """Stop accepting without losing a connection accepted a moment ago.

        asyncio accepts in a reader callback, then sets each connection up in
        a task of its own: one loop turn later the transport attaches to its
        server (which fails once the server is closed, dropping the
        connection), and one more turn later ``connection_made`` adds it to
        our connections. So the readers go first, the loop turns twice, and
        only then are the servers closed; the drain that follows sees every
        connection that was accepted. Closing a server closes only this
        worker's descriptor of each listening socket, never the socket.

        When the server is shutting down (not handing over to a successor),
        the last descriptor of a listening socket may be this one, and
        closing it resets the connections still in its accept queue, whose
        clients have sent their requests. So this worker first takes them
        (through a duplicate that outlives the server) and serves them.
        """
        loop = asyncio.get_running_loop()
        pending: list[socket.socket] = []
        if not self._handoff:
            ctx.draining = True  # responses from now on say connection: close
            pending = [sock.dup() for sock in self._sockets if sock.fileno() >= 0]
        for sock in self._sockets:
            if sock.fileno() >= 0:
                loop.remove_reader(sock.fileno())
        for _ in range(2):
            await asyncio.sleep(0)
        for server in servers:
            server.close()
        for listener in pending:
            await self._take_queued(listener, factory)

    async def _take_queued(
        self, listener: socket.socket, factory: Callable[[], asyncio.Protocol]
    ) -> None:
        """Serve the connections waiting on ``listener`` (a duplicate), then close it."""
        loop = asyncio.get_running_loop()
        accepted: list[socket.socket] = []
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
                accepted.append(conn)
        finally:
            listener.close()
        tls: dict[str, Any] = {}
        if self._tls is not None:
            tls = {
                "ssl": self._tls.context,
                "ssl_handshake_timeout": self._config.timeout_request_header,
            }
        results = await asyncio.gather(
            *(loop.connect_accepted_socket(factory, conn, **tls) for conn in accepted),
            return_exceptions=True,
        )
        for conn, result in zip(accepted, results, strict=True):
            if isinstance(result, BaseException):
                conn.close()  # the client gave up while queued, or its handshake failed

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
        ctx.handoff = self._handoff
        # Apps watching the "pounce.drain" extension hear it first; responses
        # that would never end by themselves are asked to, on a handoff too.
        ctx.drain_event.set()
        # Those with a response asked to end wind down once it has.
        winding_down = {conn for conn in list(ctx.connections) if conn.drain_streams()}
        if not self._handoff:
            for conn in list(ctx.connections):
                if conn not in winding_down:
                    conn.shutdown()
        if ctx.connections and not self._force:
            # Idle connections were just told to close and leave the set once
            # their transport has; only the busy ones are worth reporting.
            busy = sum(1 for conn in ctx.connections if not conn.is_idle())
            if busy and not self._handoff:
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
