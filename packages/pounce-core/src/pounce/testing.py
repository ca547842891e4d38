"""Run a real Pounce server inside a test.

    from pounce.testing import live_server

    def test_home(app):
        with live_server(app) as server:
            assert httpx.get(server.url + "/").status_code == 200

The server listens on a free port of 127.0.0.1 and runs in a background
thread with its own event loop, so the test talks to it over real sockets
exactly as a client would, and it is always stopped when the block ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pounce._asgi_types import ASGIApp
from pounce._server import Server, build_config

__all__ = ["LiveServer", "live_server"]

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A running test server."""

    url: str
    host: str
    port: int
    server: Server

    def stop(self, *, force: bool = False) -> None:
        """Begin shutting the server down (the context manager waits for it)."""
        self.server.shutdown(force=force)


@contextmanager
def live_server(app: str | ASGIApp, **options: Any) -> Iterator[LiveServer]:
    """Serve ``app`` on a free loopback port for the duration of the block.

    ``options`` are :class:`pounce.ServerConfig` fields; ``host`` defaults to
    127.0.0.1 and ``port`` to 0 (any free port). Raises ``RuntimeError`` when
    the server cannot start, with the reason logged by the server.
    """
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 0)
    server = Server(build_config(options), app)
    thread = threading.Thread(target=server.run, name="pounce-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started.wait(0.01):
        if not thread.is_alive():
            raise RuntimeError(f"the server did not start (exit status {server.exit_code})")
        if time.monotonic() > deadline:
            server.shutdown(force=True)
            thread.join(_STOP_TIMEOUT)
            raise RuntimeError(f"the server did not start within {_START_TIMEOUT:.0f}s")
    sock = server.sockets[0]
    name = sock.getsockname()
    scheme = "https" if server.config.ssl_certfile is not None else "http"
    if isinstance(name, str):
        running = LiveServer(url=f"{scheme}://localhost", host=name, port=0, server=server)
    else:
        host, port = name[0], name[1]
        shown = f"[{host}]" if ":" in host else host
        running = LiveServer(url=f"{scheme}://{shown}:{port}", host=host, port=port, server=server)
    try:
        yield running
    finally:
        server.shutdown()
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            server.shutdown(force=True)
            thread.join(_STOP_TIMEOUT)
