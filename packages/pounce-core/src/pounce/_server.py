"""Run a server: load the app, bind, start lifespan and a worker, handle signals.

:func:`run` is the programmatic entry point behind ``pounce.run()`` and the
CLI. Failures a user can fix (an app that does not import, a port in use, a
bad setting) end in one logged line and a non-zero exit status, never a
traceback.
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
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from pounce._app_stack import build_app
from pounce._asgi_types import ASGIApp
from pounce._config import ServerConfig
from pounce._env_file import load_env_file
from pounce._error_responses import plain_text_error
from pounce._event_loop import loop_factory, resolve_loop
from pounce._importer import AppLoadError, load_app
from pounce._lifecycle import (
    LifecycleEmitter,
    LifecycleHook,
    ServerDraining,
    ServerStarted,
    ServerStopped,
    load_hooks,
)
from pounce._lifespan import Lifespan, LifespanFailure
from pounce._logging import ERROR_LOGGER, configure_logging
from pounce._plugins import (
    ServerPlugin,
    check_features,
    error_renderer,
    event_hooks,
    load_plugins,
)
from pounce._sockets import BindError, bind_sockets, describe_socket
from pounce._worker import Worker

__all__ = ["EXIT_BAD_CONFIG", "EXIT_STARTUP_FAILED", "Server", "build_config", "run"]

_logger = logging.getLogger(ERROR_LOGGER)

EXIT_BAD_CONFIG = 1  # the app, a setting or the address is unusable
EXIT_STARTUP_FAILED = 3  # the app's lifespan startup failed

VERSION = "0.1.0"


def _gil_enabled() -> bool:
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def runtime_description() -> str:
    """``Python 3.14.0 (GIL enabled)`` or ``(free-threaded, GIL disabled)``."""
    version = ".".join(str(v) for v in sys.version_info[:3])
    free_threaded_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if _gil_enabled():
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
    """A Pounce server for one app and one config."""

    def __init__(
        self,
        config: ServerConfig,
        app: str | ASGIApp,
        *,
        lifecycle_hooks: Iterable[LifecycleHook] = (),
    ) -> None:
        self.config = config
        self._app_target = app
        self._extra_hooks = tuple(lifecycle_hooks)
        self._emitter = LifecycleEmitter()
        self._worker: Worker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signals = 0
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
        self._loop = asyncio.get_running_loop()
        try:
            if config.env_file is not None:
                load_env_file(config.env_file)
            check_features(config)
            plugins = load_plugins(config)
            self._emitter = LifecycleEmitter(
                [*load_hooks(config.lifecycle_hooks), *self._extra_hooks, *event_hooks(plugins)]
            )
            app = load_app(self._app_target, factory=config.factory, app_dir=config.app_dir)
            app = build_app(app, config, plugins)
        except (AppLoadError, ValueError) as exc:
            _logger.error("%s", exc)
            self.exit_code = EXIT_BAD_CONFIG
            return self.exit_code
        try:
            self.sockets = bind_sockets(config)
        except BindError as exc:
            _logger.error("%s", exc)
            self.exit_code = EXIT_BAD_CONFIG
            return self.exit_code
        try:
            started = _start_plugins(plugins)
        except ValueError as exc:
            _logger.error("%s", exc)
            for sock in self.sockets:
                sock.close()
            self.exit_code = EXIT_BAD_CONFIG
            return self.exit_code
        lifespan = Lifespan(app, config.lifespan)
        worker = Worker(
            config=config,
            app=app,
            sockets=self.sockets,
            lifespan=lifespan,
            error_renderer=error_renderer(plugins) or plain_text_error,
            on_ready=self._on_ready,
            emitter=self._emitter,
        )
        self._worker = worker
        self._install_signal_handlers()
        try:
            await worker.serve()
        except LifespanFailure as exc:
            _logger.error("Application startup failed: %s", exc)
            self.exit_code = EXIT_STARTUP_FAILED
        finally:
            self._remove_signal_handlers()
            _stop_plugins(started)
            for sock in self.sockets:
                sock.close()
            if config.uds is not None:
                with contextlib.suppress(OSError):
                    os.unlink(config.uds)
            _logger.info("Finished server process [%d].", os.getpid())
            self._emitter.emit(ServerStopped(exit_code=self.exit_code))
        return self.exit_code

    def _on_ready(self) -> None:
        addresses = [describe_socket(s) for s in self.sockets]
        _logger.info(
            "Pounce %s serving on %s; 1 worker (%s); %s; pid %d.",
            VERSION,
            ", ".join(addresses),
            resolve_loop(self.config.loop),
            runtime_description(),
            os.getpid(),
        )
        self._emitter.emit(
            ServerStarted(addresses=tuple(addresses), workers=1, worker_mode="single")
        )
        self.started.set()

    def shutdown(self, *, force: bool = False) -> None:
        """Stop serving. Safe to call from any thread."""
        loop, worker = self._loop, self._worker
        if loop is None or worker is None or loop.is_closed():
            return
        if force:
            loop.call_soon_threadsafe(lambda: worker.stop(force=True))
            return
        self._emitter.emit(ServerDraining(reason="shutdown requested"))
        loop.call_soon_threadsafe(self._stop_after_delay, worker)

    def _stop_after_delay(self, worker: Worker) -> None:
        """Stop ``worker`` gracefully, after ``shutdown_delay`` (on the loop)."""
        delay = self.config.shutdown_delay
        if delay > 0 and self._loop is not None:
            _logger.info("Still serving for %.1fs before shutting down.", delay)
            self._loop.call_later(delay, worker.stop)
        else:
            worker.stop()

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        worker = self._worker
        if worker is None:
            return
        if self._signals == 1:
            name = signal.Signals(signum).name
            _logger.info("Received %s: shutting down gracefully.", name)
            self._emitter.emit(ServerDraining(reason=name))
            self._stop_after_delay(worker)
        else:
            _logger.warning("Received %s again: shutting down now.", signal.Signals(signum).name)
            worker.stop(force=True)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._loop is None:
            return  # signals only reach the main thread; the embedder stops us
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(signum, self._on_signal, signum)

    def _remove_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._loop is None:
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.remove_signal_handler(signum)


def _start_plugins(plugins: list[ServerPlugin]) -> list[ServerPlugin]:
    """Start each plugin; if one refuses, stop those already started and re-raise."""
    started: list[ServerPlugin] = []
    try:
        for plugin in plugins:
            plugin.start()
            started.append(plugin)
    except BaseException:
        _stop_plugins(started)
        raise
    return started


def _stop_plugins(plugins: list[ServerPlugin]) -> None:
    for plugin in reversed(plugins):
        try:
            plugin.stop()
        except Exception:
            _logger.exception("Stopping server plugin %s failed.", type(plugin).__name__)


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
        configure_logging(
            log_level=config.log_level,
            access_log=config.access_log,
            log_config=config.log_config,
            log_format=config.log_format,
        )
    except ValueError as exc:
        # The user's logging setup is what failed: report it through ours.
        configure_logging(log_level="info", access_log=False, log_config=None)
        _logger.error("%s", exc)
        sys.exit(EXIT_BAD_CONFIG)
    code = Server(config, app).run()
    if code:
        sys.exit(code)
