"""--timeout-write against a real server: a client that reads nothing is cut, a slow one never.

200 stalled readers used to hold their connections and app tasks forever
(back-pressure kept memory flat, but nothing ended the wait). Now a response
that the client takes nothing of for ``timeout_write`` seconds is abandoned:
the app hears ``http.disconnect``, the connection is closed, and it is logged
once with the peer. Progress is judged on what the peer acknowledges, so a
client on a slow link keeps its response however long it takes.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from pounce import ClientDisconnected, Receive, Scope, Send
from support.raw import RawConnection
from support.waiting import WAIT

PIECE = b"w" * 65536


def streaming_app(total: int, outcome: dict[str, Any]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/hello":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello"})
            return
        headers = [(b"content-length", str(total).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        sent = 0
        try:
            while sent < total:
                piece = PIECE[: total - sent]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                sent += len(piece)
            await send({"type": "http.response.body", "body": b""})
            outcome["completed"] = True
        except ClientDisconnected:
            outcome["disconnected"] = time.monotonic()
            message = await receive()  # the (empty) request body comes first
            while message["type"] == "http.request":
                message = await receive()
            outcome["message"] = message
        finally:
            outcome.setdefault("event", threading.Event()).set()

    return app


def _reader(server: Any) -> RawConnection:
    # A small receive buffer, so that the server's writes back up quickly.
    return RawConnection(server.host, server.port, receive_buffer=4096)


def test_a_client_that_reads_nothing_is_cut_and_its_app_told(serve: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="pounce.error")
    outcome: dict[str, Any] = {"event": threading.Event()}
    total = 50 * 1024 * 1024
    server = serve(streaming_app(total, outcome), timeout_write=1.0)
    with _reader(server) as conn:
        conn.send_request("GET", "/big")
        assert conn.read_head().status == 200
        stopped = time.monotonic()
        # Read nothing more: the app must hear of it after about a second.
        assert outcome["event"].wait(WAIT)
        assert "completed" not in outcome
        assert outcome["message"] == {"type": "http.disconnect"}
        assert 0.9 <= outcome["disconnected"] - stopped < 8
        # Meanwhile another client is served at once.
        assert httpx.get(server.url + "/hello", timeout=5).text == "hello"
        received = 0
        conn.sock.settimeout(WAIT)
        try:
            while chunk := conn.sock.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < total
    lines = [r.getMessage() for r in caplog.records if "--timeout-write" in r.getMessage()]
    assert len(lines) == 1
    assert "read nothing of its response for 1 s" in lines[0]
    assert "127.0.0.1:" in lines[0]


def _listener_with_small_send_buffers() -> int:
    """A listening socket whose connections inherit a small send buffer: the
    kernel then holds little, and a slow reader keeps the server's transport
    paused for many periods in a row, not only its kernel queue full."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener.detach()


def test_a_slow_client_that_keeps_reading_gets_everything(serve: Any) -> None:
    outcome: dict[str, Any] = {"event": threading.Event()}
    total = 256 * 1024
    server = serve(
        streaming_app(total, outcome), timeout_write=0.5, fd=_listener_with_small_send_buffers()
    )
    with _reader(server) as conn:
        conn.send_request("GET", "/slow")
        head = conn.read_head()
        assert head.status == 200
        received = len(conn.read_some())
        began = time.monotonic()
        conn.sock.settimeout(WAIT)
        while received < total:
            # About 20 KB/s: every half-second period sees progress, though the
            # transport stays paused for many periods in a row.
            received += len(conn.sock.recv(2048))
            time.sleep(0.1)
        assert received == total
        assert time.monotonic() - began > 3 * 0.5  # it was slower than the timeout
    assert outcome["event"].wait(WAIT)
    assert outcome.get("completed") is True


def test_a_file_the_client_reads_nothing_of_is_abandoned(serve: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    size = 64 * 1024 * 1024
    with path.open("wb") as out:
        out.truncate(size)
    outcome: dict[str, Any] = {"event": threading.Event()}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        assert "http.response.zerocopysend" in scope["extensions"]
        headers = [(b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        with path.open("rb") as file:
            try:
                await send({"type": "http.response.zerocopysend", "file": file})
                outcome["completed"] = True
            except ClientDisconnected:
                outcome["disconnected"] = True
        outcome["event"].set()

    # asyncio's loop implements sendfile (uvloop's does not).
    server = serve(app, timeout_write=1.0, loop="asyncio")
    with _reader(server) as conn:
        conn.send_request("GET", "/file")
        assert conn.read_head().status == 200
        assert outcome["event"].wait(WAIT)
    assert outcome.get("disconnected") is True


def test_none_waits_for_the_client(serve: Any) -> None:
    outcome: dict[str, Any] = {"event": threading.Event()}
    server = serve(streaming_app(50 * 1024 * 1024, outcome), timeout_write=None)
    with _reader(server) as conn:
        conn.send_request("GET", "/big")
        assert conn.read_head().status == 200
        assert not outcome["event"].wait(3)


def test_a_websocket_peer_that_reads_nothing_is_cut(serve: Any) -> None:
    outcome: dict[str, Any] = {"event": threading.Event()}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        try:
            while True:
                await send({"type": "websocket.send", "bytes": PIECE})
        except ClientDisconnected:
            outcome["disconnected"] = True
        finally:
            outcome["event"].set()

    # No pings: only the write timeout can notice this peer.
    server = serve(app, timeout_write=1.0, ws_ping_interval=None)
    with _reader(server) as conn:
        conn.send_request(
            "GET",
            "/ws",
            headers=[
                ("upgrade", "websocket"),
                ("connection", "upgrade"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("sec-websocket-version", "13"),
            ],
        )
        assert conn.read_head().status == 101
        assert outcome["event"].wait(WAIT)  # read nothing more
    assert outcome.get("disconnected") is True
