"""``--reload``: restart the server whenever the code changes (development).

The process the user started becomes a small *reloader*. It binds the
listening sockets once, watches the files (:mod:`pounce._reload.watcher`),
and runs the real server in a child process (:mod:`pounce._serve.reload_child`)
that inherits the sockets. When a watched file changes, the child is
stopped gracefully and a new one started: a fresh interpreter imports the
changed code, which works the same with or without a GIL and whatever the
app imported. Because the reloader keeps the sockets, the port never
changes and connections made during the restart wait in the accept queue.

If the new code does not start (a syntax error, an import error), the
reloader says so and waits for the next change instead of exiting.

Signals: SIGINT and SIGTERM are passed on to the child as SIGTERM (the child
ignores SIGINT, which a terminal's Ctrl-C sends to both), so a second one
forces the child's shutdown as usual (signals arriving together, as one
Ctrl-C reaches a whole process group, count as one: see
:mod:`pounce._runtime.stop_signals`); SIGHUP is passed on as is. The child
watches its control channel and stops if the reloader dies, so it is never
left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from pounce._edges.sockets import BindError, bind_sockets
from pounce._reload.watcher import FileWatcher
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.exit_codes import EXIT_BAD_CONFIG
from pounce._runtime.logs import ERROR_LOGGER
from pounce._runtime.stop_signals import StopSignals
from pounce._settings.config import ServerConfig
from pounce._workers.child_process import ChildSpec, start_child

__all__ = ["Reloader", "run_reloader"]

_logger = logging.getLogger(ERROR_LOGGER)

_CHILD_CODE = "from pounce._serve.reload_child import child_main; child_main()"
# Beyond the child's own grace period, before it is killed on a restart.
_KILL_MARGIN = 5.0


def run_reloader(config: ServerConfig, app: str | ASGIApp) -> int:
    """Serve ``app`` in a child process restarted on every code change."""
    if not isinstance(app, str):
        _logger.error(
            "--reload needs the app as an import string such as 'package.module:app', "
            "so that each restart can import it afresh."
        )
        return EXIT_BAD_CONFIG
    try:
        sockets = bind_sockets(config)
    except BindError as exc:
        _logger.error("%s", exc)
        return EXIT_BAD_CONFIG
    try:
        return Reloader(config, app, sockets).run()
    finally:
        for sock in sockets:
            sock.close()
        if config.uds is not None:
            with contextlib.suppress(OSError):
                os.unlink(config.uds)


class Reloader:
    """The watching parent: one child server at a time."""

    def __init__(self, config: ServerConfig, app: str, sockets: list[socket.socket]) -> None:
        self._config = config
        self._app = app
        self._sockets = sockets
        dirs = config.reload_dirs or (config.app_dir,)
        self._watcher = FileWatcher(
            dirs, includes=config.reload_includes, excludes=config.reload_excludes
        )
        self._wake = threading.Event()
        # Set by signal handlers, read by the loop in run(); both run in the
        # main thread (Python runs handlers there, between bytecodes).
        self._stop_signals = StopSignals()
        self._forwarded = 0
        self._hangups = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def run(self) -> int:
        self._install_signal_handlers()
        try:
            shown = ", ".join(str(d) for d in self._watcher.dirs)
            _logger.info("Reloading enabled: watching %s.", shown)
            self._start_child()
            reported_exit = False
            while True:
                self._wake.wait(self._config.reload_delay)
                self._wake.clear()
                child = self._child
                if self._stop_signals.requests:
                    return self._stop_child()
                if self._hangups and child is not None:
                    self._hangups = 0
                    with contextlib.suppress(ProcessLookupError):
                        child.send_signal(signal.SIGHUP)
                changed = self._watcher.changes()
                if changed:
                    names = ", ".join(self._relative(p) for p in changed[:5])
                    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
                    _logger.info("Detected changes in %s%s; restarting.", names, more)
                    self._terminate_child()
                    self._start_child()
                    reported_exit = False
                elif child is not None and child.poll() is not None and not reported_exit:
                    reported_exit = True
                    _logger.error(
                        "The server exited with status %d; waiting for a change to restart it.",
                        child.returncode,
                    )
        finally:
            self._terminate_child()
            self._remove_signal_handlers()

    # ------------------------------------------------------------ children

    def _start_child(self) -> None:
        config = self._config.replace(reload=False)
        spec = ChildSpec(
            config=config,
            app=self._app,
            listen_fds=tuple(s.fileno() for s in self._sockets),
            sys_path=tuple(sys.path),
        )
        try:
            self._child, self._control = start_child(_CHILD_CODE, spec, self._sockets)
        except OSError as exc:
            _logger.error("Could not start the server process: %s", exc)
            self._child = self._control = None

    def _stop_child(self) -> int:
        """Stop on a signal: forward it, and every further one, until the child ends."""
        child = self._child
        if child is None:
            return 0
        while True:
            while self._forwarded < self._stop_signals.requests:
                self._forwarded += 1
                with contextlib.suppress(ProcessLookupError):
                    if self._forwarded == 1:
                        _logger.info("Stopping the server process.")
                        child.send_signal(signal.SIGTERM)
                    elif self._forwarded == 2:
                        # The child counts this one as its second: it forces.
                        _logger.warning("Asked to stop again: stopping the server process now.")
                        child.send_signal(signal.SIGTERM)
                    else:
                        _logger.warning("Killing the server process.")
                        child.kill()
            try:
                code = child.wait(0.1)
            except subprocess.TimeoutExpired:
                continue
            self._close_child()
            return code

    def _terminate_child(self) -> None:
        child = self._child
        if child is None:
            return
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(self._config.timeout_graceful_shutdown + _KILL_MARGIN)
            except subprocess.TimeoutExpired:
                _logger.warning("The server process did not stop in time; killing it.")
                child.kill()
                child.wait()
        self._close_child()

    def _close_child(self) -> None:
        if self._control is not None:
            self._control.close()
        self._child = self._control = None

    def _relative(self, path: Path) -> str:
        for root in self._watcher.dirs:
            if root in path.parents:
                return str(path.relative_to(root))
        return str(path)

    # ------------------------------------------------------------- signals

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._hangups += 1
        else:
            self._stop_signals.received()  # a burst of them is one request
        self._wake.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _remove_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
