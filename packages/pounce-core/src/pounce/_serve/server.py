"""Run a server: plan the workers, bind, run the supervisor, handle signals.

:class:`Server` loads the app (or, for worker processes, checks its import
string), binds the listening sockets and hands both to a
:class:`~pounce._workers.supervisor.Supervisor`, which runs the workers. Signals map
onto the supervisor: SIGTERM and SIGINT stop it gracefully (a second one
forces; a burst delivered together, as one Ctrl-C reaches a whole process
group, is one), SIGHUP starts a rolling reload.

:func:`run` is the programmatic entry point behind ``pounce.run()`` and the
CLI; with ``reload`` it runs the development reloader instead. Failures a
user can fix (an app that does not import, a port in use, a bad setting) end
in one logged line and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import os
import platform
import signal
import socket
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

from pounce._bridge.plugins import (
    ServerPlugin,
    error_renderer,
    event_hooks,
    start_plugins,
    stop_plugins,
)
from pounce._edges.listeners import Listeners, bind_listeners
from pounce._edges.sockets import BindError, describe_socket
from pounce._edges.tls import ServerTLS
from pounce._reload.reloader import run_reloader
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.error_responses import plain_text_error
from pounce._runtime.exit_codes import EXIT_BAD_CONFIG, EXIT_CRASH_LOOP, EXIT_STARTUP_FAILED
from pounce._runtime.importer import AppLoadError
from pounce._runtime.interpreter import gil_enabled
from pounce._runtime.lifecycle import (
    LifecycleEmitter,
    LifecycleHook,
    ServerDraining,
    ServerStarted,
    ServerStopped,
)
from pounce._runtime.logs import ERROR_LOGGER, configure_logging, configure_logging_for
from pounce._runtime.stop_signals import StopSignals
from pounce._serve.startup import Startup
from pounce._settings.config import ServerConfig
from pounce._version import VERSION
from pounce._workers.event_loop import loop_factory, loop_for_worker, resolve_loop
from pounce._workers.interpreters import InterpreterWorkers
from pounce._workers.link import WorkerEdge
from pounce._workers.plan import WorkerPlan
from pounce._workers.processes import ProcessWorkers
from pounce._workers.supervisor import Supervisor
from pounce._workers.threads import ThreadWorkers

__all__ = [
    "EXIT_BAD_CONFIG",
    "EXIT_CRASH_LOOP",
    "EXIT_STARTUP_FAILED",
    "Server",
    "build_config",
    "run",
]

_logger = logging.getLogger(ERROR_LOGGER)


def runtime_description() -> str:
    """``Python 3.14.0 (GIL enabled)`` or ``(free-threaded, GIL disabled)``."""
    version = ".".join(str(v) for v in sys.version_info[:3])
    free_threaded_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if gil_enabled():
        gil = "GIL enabled" + (" on a free-threaded build" if free_threaded_build else "")
    else:
        gil = "free-threaded, GIL disabled"
    return f"{platform.python_implementation()} {version} ({gil})"


def build_config(options: dict[str, Any]) -> ServerConfig:
    """``ServerConfig(**options)`` with a helpful message for unknown names."""
    known = {f.name for f in fields(ServerConfig)}
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"Unknown server option {name!r}.{hint}")
    return ServerConfig(**options)


class Server:
    """A Pounce server for one app and one config.

    ``sockets``, when given, are already-listening sockets to serve instead
    of binding what the config names; the server takes them over and closes
    them when it stops.
    """

    # Signals handled when the server runs in the main thread. Immutable: a
    # subclass narrows it (the --reload child leaves SIGINT to its parent).
    handled_signals: tuple[signal.Signals, ...] = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
    )

    def __init__(
        self,
        config: ServerConfig,
        app: str | ASGIApp,
        *,
        lifecycle_hooks: Iterable[LifecycleHook] = (),
        sockets: Sequence[socket.socket] | None = None,
    ) -> None:
        self.config = config
        self._app_target = app
        self._extra_hooks = tuple(lifecycle_hooks)
        self._inherited = list(sockets) if sockets is not None else None
        self._emitter = LifecycleEmitter()
        self._supervisor: Supervisor | None = None
        self._plan: WorkerPlan | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._installed: list[signal.Signals] = []
        # Set by shutdown() from any thread, read by serve(): a shutdown asked
        # for before the supervisor exists is applied as soon as it does.
        self._shutdown_requested = threading.Event()
        self._stop_signals = StopSignals()
        self._tls: ServerTLS | None = None
        self.sockets: list[socket.socket] = []
        self.started = threading.Event()
        self.exit_code = 0

    def run(self) -> int:
        """Serve until shut down; return the process exit status."""
        try:
            factory = loop_factory(self.config.loop)
        except ValueError as exc:
            _logger.error("%s", exc)
            self.exit_code = EXIT_BAD_CONFIG
            return self.exit_code
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(self.serve())

    async def serve(self) -> int:
        config = self.config
        loop = asyncio.get_running_loop()
        self._loop = loop
        target = self._app_target
        startup = Startup(config, target)
        try:
            startup.run()  # exactly what ``pounce check`` runs
            plugins = startup.plugins
            self._emitter = LifecycleEmitter(
                [*startup.hooks, *self._extra_hooks, *event_hooks(plugins)]
            )
            self._tls = startup.tls
            plan = startup.plan
            assert plan is not None
            edge: WorkerEdge
            if plan.mode == "process":
                assert isinstance(target, str)
                edge = ProcessWorkers(config=config, app=target, loop=loop)
            elif plan.mode == "interpreter":
                assert isinstance(target, str)
                edge = InterpreterWorkers(config=config, app=target, loop=loop)
            else:
                edge = ThreadWorkers(
                    config=config,
                    app=target,
                    emitter=self._emitter,
                    loop=loop,
                    plugins=plugins,
                    error_renderer=error_renderer(plugins) or plain_text_error,
                )
            payload = await edge.load(0)
        except (AppLoadError, ValueError) as exc:
            _logger.error("%s", exc)
            self.exit_code = EXIT_BAD_CONFIG
            return self.exit_code
        self._plan = plan
        if plan.note:
            _logger.info("Note: %s.", plan.note)
        try:
            if self._inherited is not None:
                listeners = Listeners([self._inherited] * plan.count, shared=True)
            else:
                listeners = bind_listeners(config, plan.count)
        except BindError as exc:
            _logger.error("%s", exc)
            self.exit_code = EXIT_BAD_CONFIG
            return self.exit_code
        self.sockets = listeners.primary
        # Thread workers share this process's plugins: they start once the
        # sockets are bound. Worker processes load and start their own; here
        # the plugins only hear the supervisor's lifecycle events.
        started: list[ServerPlugin] = []
        if plan.mode != "process":
            try:
                started = start_plugins(plugins)
            except ValueError as exc:
                _logger.error("%s", exc)
                listeners.close()
                self.exit_code = EXIT_BAD_CONFIG
                return self.exit_code
        # As Uvicorn says it; after everything a user can get wrong, which
        # each end in one line of their own.
        _logger.info("Started server process [%d].", os.getpid())
        supervisor = Supervisor(
            config=config,
            edge=edge,
            listeners=listeners,
            emitter=self._emitter,
            on_ready=self._on_ready,
        )
        self._supervisor = supervisor
        if self._shutdown_requested.is_set():
            supervisor.stop()
        self._install_signal_handlers()
        # The first generation's app goes to the supervisor alone: this frame
        # lives as long as the server, and a reload must be able to free it.
        supervised = supervisor.run(payload)
        del payload
        try:
            self.exit_code = await supervised
        finally:
            self._remove_signal_handlers()
            stop_plugins(started)
            listeners.close()
            if config.uds is not None and self._inherited is None:
                with contextlib.suppress(OSError):
                    os.unlink(config.uds)
            _logger.info("Finished server process [%d].", os.getpid())
            self._emitter.emit(ServerStopped(exit_code=self.exit_code))
        return self.exit_code

    def _on_ready(self) -> None:
        plan = self._plan
        assert plan is not None
        scheme = "https" if self._tls is not None else "http"
        addresses = [describe_socket(s, scheme=scheme) for s in self.sockets]
        # Uvicorn's hint ends the line: scripts and harnesses wait for it.
        hint = " (Press CTRL+C to quit)" if self._installed else "."
        _logger.info(
            "Pounce %s serving on %s; %d worker%s (%s, %s); %s; pid %d%s",
            VERSION,
            ", ".join(addresses),
            plan.count,
            "" if plan.count == 1 else "s",
            plan.mode,
            resolve_loop(loop_for_worker(self.config.loop, plan.mode)),
            runtime_description(),
            os.getpid(),
            hint,
        )
        self._emitter.emit(
            ServerStarted(addresses=tuple(addresses), workers=plan.count, worker_mode=plan.mode)
        )
        self.started.set()

    def shutdown(self, *, force: bool = False) -> None:
        """Stop serving (at once if still starting). Safe to call from any thread."""
        self._shutdown_requested.set()
        self._call_on_loop(self._shutdown, force)

    def reload(self) -> None:
        """Start a rolling reload, as SIGHUP does. Safe to call from any thread."""
        self._call_on_loop(self._reload)

    def _call_on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed in the meantime
            loop.call_soon_threadsafe(callback, *args)

    def _shutdown(self, force: bool) -> None:
        supervisor = self._supervisor
        if supervisor is None:
            return
        if not force:
            self._emitter.emit(ServerDraining(reason="shutdown requested"))
        supervisor.stop(force=force)

    def _reload(self) -> None:
        if self._supervisor is not None:
            self._supervisor.reload()

    def _on_signal(self, signum: int) -> None:
        supervisor = self._supervisor
        if supervisor is None:
            return
        name = signal.Signals(signum).name
        if name == "SIGHUP":
            _logger.info("Received %s: reloading.", name)
            supervisor.reload()
            return
        if not self._stop_signals.received():
            _logger.debug("Received %s with the one before: the same request.", name)
            return
        if self._stop_signals.requests == 1:
            _logger.info("Received %s: shutting down gracefully.", name)
            self._emitter.emit(ServerDraining(reason=name))
            supervisor.stop()
        else:
            _logger.warning("Received %s again: shutting down now.", name)
            supervisor.stop(force=True)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._loop is None:
            return  # signals only reach the main thread; the embedder stops us
        for signum in self.handled_signals:
            self._loop.add_signal_handler(signum, self._on_signal, signum)
            self._installed.append(signum)

    def _remove_signal_handlers(self) -> None:
        if self._loop is None:
            return
        for signum in self._installed:
            self._loop.remove_signal_handler(signum)
        self._installed.clear()


def run(app: str | ASGIApp, **options: Any) -> None:
    """Serve ``app`` (an ASGI app or ``"module:attribute"``) until stopped.

    ``options`` are :class:`ServerConfig` fields. Exits the process with a
    non-zero status when the server cannot start.
    """
    try:
        config = build_config(options)
    except (TypeError, ValueError) as exc:
        configure_logging(log_level="info", access_log=False, log_config=None)
        _logger.error("%s", exc)
        sys.exit(EXIT_BAD_CONFIG)
    try:
        configure_logging_for(config)
    except ValueError as exc:
        # The user's logging setup is what failed: report it through ours.
        configure_logging(log_level="info", access_log=False, log_config=None)
        _logger.error("%s", exc)
        sys.exit(EXIT_BAD_CONFIG)
    code = run_reloader(config, app) if config.reload else Server(config, app).run()
    if code:
        sys.exit(code)
