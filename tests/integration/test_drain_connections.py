"""What a draining server does with connections that have no request yet."""

from __future__ import annotations

import socket
import threading

import pytest

from pounce import ConnectionOpened, LifecycleEvent, Server, ServerConfig
from support.apps import app as hello
from support.raw import RawConnection, request_bytes
from support.waiting import WAIT, wait_for


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True  # refused, or queued on the listener as it closed
    return False


@pytest.mark.parametrize(
    ("options", "first"),
    [
        ({"h2c": False}, b""),  # an HTTP/1.1 connection from the start
        ({}, b"G"),  # still choosing its protocol: one byte decides
    ],
    ids=["http1", "protocol-selection"],
)
def test_a_new_connection_is_served_not_reset_when_the_drain_begins(
    options: dict[str, object], first: bytes
) -> None:
    # The client connected to send a request; it may be on the wire when the
    # server starts draining. It gets its answer, then the connection closes.
    opened = threading.Event()

    def hook(event: LifecycleEvent) -> None:
        if isinstance(event, ConnectionOpened):
            opened.set()

    server = Server(ServerConfig(port=0, **options), hello, lifecycle_hooks=[hook])
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert server.started.wait(WAIT)
        port = server.sockets[0].getsockname()[1]
        with RawConnection("127.0.0.1", port) as conn:
            conn.send(first)
            assert opened.wait(WAIT)
            server.shutdown()
            # Once new connections are refused, the drain has begun.
            wait_for(lambda: refused(port), what="the listener to close")
            conn.send(request_bytes("GET", "/")[len(first) :])
            response = conn.read_response()
            assert response.status == 200
            assert response.header("connection") == "close"
            conn.assert_closed()
    finally:
        server.shutdown()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert server.exit_code == 0


def test_a_silent_new_connection_does_not_hold_the_shutdown_forever() -> None:
    server = Server(ServerConfig(port=0, timeout_request_header=0.5), hello)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert server.started.wait(WAIT)
        port = server.sockets[0].getsockname()[1]
        with RawConnection("127.0.0.1", port) as conn:
            server.shutdown()
            thread.join(WAIT)  # the request-head timeout closes it
            assert not thread.is_alive()
            conn.assert_closed()
    finally:
        server.shutdown(force=True)
        thread.join(WAIT)
