"""Run a real Pounce server inside a test.

    from pounce.testing import live_server

    def test_home(app):
        with live_server(app) as server:
            assert httpx.get(server.url + "/").status_code == 200

The server listens on a free port of 127.0.0.1 and runs in a background
thread with its own event loop, so the test talks to it over real sockets
exactly as a client would, and it is always stopped when the block ends.

What a test can reach:

* HTTP/1.1 and, on the same port, HTTP/2: a cleartext server accepts HTTP/2
  with prior knowledge (``httpx.Client(http1=False, http2=True)``) and
  ``Upgrade: h2c``; over TLS, HTTP/2 is offered by ALPN;
* WebSocket at :attr:`LiveServer.ws_url` (``ws://`` or ``wss://``);
* TLS with ``live_server(app, tls=True)``: a certificate for ``localhost``
  and ``127.0.0.1`` is made for the block by a throw-away CA (needs the
  ``trustme`` package); :attr:`LiveServer.ca_file` and
  :meth:`LiveServer.client_ssl_context` let a client trust it.

For pytest, the ``pounce_server`` and ``pounce_server_factory`` fixtures
(registered by the ``pounce`` pytest plugin) wrap this.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pounce._runtime.asgi_types import ASGIApp
from pounce._serve.server import Server, build_config

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
    ca_file: str | None = None  # with tls=True: the PEM of the CA that signed the server

    @property
    def ws_url(self) -> str:
        """The base URL for WebSocket clients (``ws://...`` or ``wss://...``)."""
        return "ws" + self.url.removeprefix("http")

    def client_ssl_context(self) -> ssl.SSLContext:
        """An SSL context for clients that trusts this server's certificate."""
        if self.ca_file is None:
            raise RuntimeError("the server does not use TLS: start it with tls=True")
        return ssl.create_default_context(cafile=self.ca_file)

    def stop(self, *, force: bool = False) -> None:
        """Begin shutting the server down (the context manager waits for it)."""
        self.server.shutdown(force=force)


def _make_certificate(directory: Path) -> tuple[str, str, str]:
    """(certfile, keyfile, ca_file) for localhost, made by a throw-away CA."""
    try:
        trustme = importlib.import_module("trustme")
    except ImportError:
        raise RuntimeError(
            "live_server(tls=True) makes its certificate with trustme: pip install trustme"
        ) from None
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1")
    certfile, keyfile, ca_file = (directory / n for n in ("cert.pem", "key.pem", "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(certfile))
    for pem in leaf.cert_chain_pems[1:]:
        pem.write_to_path(str(certfile), append=True)
    leaf.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    return str(certfile), str(keyfile), str(ca_file)


@contextmanager
def live_server(app: str | ASGIApp, *, tls: bool = False, **options: Any) -> Iterator[LiveServer]:
    """Serve ``app`` on a free loopback port for the duration of the block.

    ``options`` are :class:`pounce.ServerConfig` fields; ``host`` defaults to
    127.0.0.1 and ``port`` to 0 (any free port). ``tls=True`` serves HTTPS
    with a certificate made for the block (see the module docstring). Raises
    ``RuntimeError`` when the server cannot start, with the reason logged by
    the server.
    """
    with contextlib.ExitStack() as stack:
        ca_file = None
        if tls:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            certfile, keyfile, ca_file = _make_certificate(directory)
            options.setdefault("ssl_certfile", certfile)
            options.setdefault("ssl_keyfile", keyfile)
        yield stack.enter_context(_serving(app, ca_file, options))


@contextmanager
def _serving(
    app: str | ASGIApp, ca_file: str | None, options: dict[str, Any]
) -> Iterator[LiveServer]:
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
        running = LiveServer(
            url=f"{scheme}://localhost", host=name, port=0, server=server, ca_file=ca_file
        )
    else:
        host, port = name[0], name[1]
        shown = f"[{host}]" if ":" in host else host
        running = LiveServer(
            url=f"{scheme}://{shown}:{port}", host=host, port=port, server=server, ca_file=ca_file
        )
    try:
        yield running
    finally:
        server.shutdown()
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            server.shutdown(force=True)
            thread.join(_STOP_TIMEOUT)
