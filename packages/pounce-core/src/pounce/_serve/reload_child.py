"""The server process that ``--reload`` restarts (see :mod:`pounce._reload.reloader`).

It serves on the sockets the reloader inherited to it, ignores SIGINT (the
reloader passes a terminal's Ctrl-C on as SIGTERM, so it is not counted
twice), and stops when the reloader's end of the control channel closes.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading

from pounce._runtime.logs import configure_logging_for
from pounce._serve.server import Server
from pounce._workers.child_process import receive_spec

__all__ = ["child_main"]


class _ReloadedServer(Server):
    handled_signals = (signal.SIGTERM, signal.SIGHUP)


def _watch_parent(control: socket.socket, server: Server) -> None:
    # Blocks until the reloader closes its end: on purpose, or by dying.
    try:
        while control.recv(4096):
            pass
    except OSError:
        pass
    server.shutdown()


def child_main() -> None:
    """Entry point of the reloaded server process."""
    control = socket.socket(fileno=int(sys.argv[1]))
    spec = receive_spec(control)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path[:] = spec.sys_path
    config = spec.config
    configure_logging_for(config)
    sockets = [socket.socket(fileno=fd) for fd in spec.listen_fds]
    server = _ReloadedServer(config, spec.app, sockets=sockets)
    threading.Thread(
        target=_watch_parent, args=(control, server), name="pounce-reload-watch", daemon=True
    ).start()
    sys.exit(server.run())
