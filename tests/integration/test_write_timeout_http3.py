"""--timeout-write over HTTP/3: a client that acknowledges nothing has its stream reset.

The client (aioquic's) sends a request for a large response, reads its head,
and then goes deaf: its datagrams are no longer processed, so it acknowledges
nothing. The server resets the stream after about ``timeout_write`` and the
app hears ``http.disconnect``, well before the connection's idle timeout
(``--timeout-keep-alive``) would have ended it.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from typing import Any

import pytest

pytest.importorskip(
    "aioquic",
    reason="HTTP/3 needs aioquic, which has no free-threaded build (stable-ABI wheels only)",
)

from aioquic.asyncio.client import connect
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration

from pounce import ClientDisconnected, Receive, Scope, Send
from support.h3client import H3Request, _Client
from support.tls import Certificates, certificates
from support.waiting import WAIT

__all__ = ["certificates"]  # the fixture, used by name below


def test_a_client_that_acknowledges_nothing_has_its_stream_reset(
    serve: Any, certificates: Certificates
) -> None:
    outcome: dict[str, Any] = {"event": threading.Event()}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for _ in range(2000):  # 128 MiB: far more than any window
                await send({"type": "http.response.body", "body": b"q" * 65536, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            outcome["completed"] = True
        except ClientDisconnected:
            outcome["disconnected"] = time.monotonic()
        finally:
            outcome["event"].set()

    server = serve(app, http3=True, timeout_write=1.0, **certificates.server_options())

    async def deaf_client() -> float:
        configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
        configuration.load_verify_locations(str(certificates.ca_file))
        configuration.verify_mode = ssl.CERT_REQUIRED
        configuration.server_name = "localhost"
        configuration.idle_timeout = 120.0
        async with connect(
            "127.0.0.1", server.port, configuration=configuration, create_protocol=_Client
        ) as protocol:
            assert isinstance(protocol, _Client)
            response = protocol.start(H3Request(path="/big"), f"localhost:{server.port}")
            while response.status is None:  # noqa: ASYNC110 - the client has no event for it
                await asyncio.sleep(0.01)
            # Deaf from now on: nothing received is processed, nothing acknowledged.
            protocol.datagram_received = lambda data, addr: None  # type: ignore[method-assign]
            deaf_since = time.monotonic()
            await asyncio.to_thread(outcome["event"].wait, WAIT)
            return deaf_since

    deaf_since = asyncio.run(deaf_client())
    assert "completed" not in outcome
    # Before the QUIC idle timeout (--timeout-keep-alive, 5 s) would end it.
    assert 0.9 <= outcome["disconnected"] - deaf_since < 4.5
