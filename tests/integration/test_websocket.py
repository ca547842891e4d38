"""WebSocket over HTTP/1.1 against a real server, with the ``websockets`` client
(and a raw-socket peer for the misbehaviour it will not commit)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from pounce import Receive, Scope, Send
from pounce._runtime.logs import ERROR_LOGGER
from support.raw import RawConnection
from support.servers import TESTS_DIR, run_pounce
from support.waiting import WAIT, log_records, wait_for
from support.ws import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    RawWebSocket,
    client_frame,
    close_payload,
    handshake_request,
)

Record = Callable[[Any], None]


class Recorder:
    """What an app saw, handed to the test thread."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()

    def __call__(self, item: Any) -> None:
        self._queue.put(item)

    def next(self) -> Any:
        return self._queue.get(timeout=WAIT)


def echo_app(record: Record | None = None, **accept: Any) -> Any:
    """Accept (with ``accept`` keys), echo every message, record the disconnect."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"plain http"})
            return
        assert (await receive())["type"] == "websocket.connect"
        if record is not None:
            record(scope)
        await send({"type": "websocket.accept", **accept})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                if record is not None:
                    record(message)
                return
            if message.get("text") == "close please":
                await send({"type": "websocket.close", "code": 4001, "reason": "as asked"})
            elif "text" in message:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})

    return app


def ws_url(server: Any, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def open_ws(server: Any, path: str = "/ws", **options: Any) -> ClientConnection:
    options.setdefault("open_timeout", WAIT)
    options.setdefault("close_timeout", WAIT)
    return connect(ws_url(server, path), **options)


# ------------------------------------------------------------ handshake


def test_scope_subprotocol_and_accept_headers(serve):
    record = Recorder()
    server = serve(
        echo_app(record, subprotocol="chat.v2", headers=[(b"x-accepted", b"yes")]),
        root_path="/mnt",
    )
    with open_ws(
        server,
        "/ws/caf%C3%A9?room=1&x=%20",
        subprotocols=["chat.v1", "chat.v2"],
        additional_headers={"X-Extra": "hi"},
    ) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.response.status_code == 101
        assert ws.response.headers["x-accepted"] == "yes"
        assert ws.response.headers["server"] == "pounce"
        ws.send("ping")
        assert ws.recv(timeout=WAIT) == "ping"
    scope = record.next()
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/mnt/ws/café"
    assert scope["raw_path"] == b"/mnt/ws/caf%C3%A9"
    assert scope["root_path"] == "/mnt"
    assert scope["query_string"] == b"room=1&x=%20"
    assert scope["subprotocols"] == ["chat.v1", "chat.v2"]
    assert (b"x-extra", b"hi") in scope["headers"]
    assert (b"sec-websocket-protocol", b"chat.v1, chat.v2") in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ("127.0.0.1", server.port)
    assert scope["state"] == {}
    assert set(scope["extensions"]) == {"websocket.http.response", "pounce.drain"}
    assert scope["extensions"]["websocket.http.response"] == {}
    assert not scope["extensions"]["pounce.drain"]["event"].is_set()  # serving, not draining


def test_forwarded_proto_makes_the_scheme_wss(serve):
    record = Recorder()
    server = serve(echo_app(record))
    with open_ws(server, additional_headers={"X-Forwarded-Proto": "https"}):
        pass
    assert record.next()["scheme"] == "wss"


def test_close_before_accept_is_403(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4003})

    server = serve(app)
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server)
    assert caught.value.response.status_code == 403


def test_denial_response(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"www-authenticate", b"Bearer"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"log in ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"first"})

    server = serve(app)
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server)
    response = caught.value.response
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.body == b"log in first"


def test_app_exception_before_accept_is_500(serve, caplog):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise ValueError("broken before accepting")

    server = serve(app)
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server)
    assert caught.value.response.status_code == 500
    wait_for(lambda: "broken before accepting" in caplog.text, what="the logged error")


def test_subprotocol_not_offered_is_500(serve, caplog):
    server = serve(echo_app(subprotocol="never-offered"))
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, subprotocols=["chat"])
    assert caught.value.response.status_code == 500
    wait_for(lambda: "'never-offered' was not offered" in caplog.text, what="the logged error")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"Sec-WebSocket-Version": "8"}, 426),
        ({"Sec-WebSocket-Key": "short"}, 400),
        ({"Sec-WebSocket-Key": None}, 400),
    ],
)
def test_invalid_handshake_is_refused_without_running_the_app(serve, change, status):
    called = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            called.set()

    server = serve(app)
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    headers = [(n, change.get(n, v)) for n, v in headers if change.get(n, v) is not None]
    with RawConnection("127.0.0.1", server.port) as conn:
        conn.send_request("GET", "/", headers=headers)
        response = conn.read_response()
        assert response.status == status
        assert response.header("connection") == "close"
        if status == 426:
            assert response.header("sec-websocket-version") == "13"
        conn.assert_closed()
    assert not called.is_set()


def test_ws_off_serves_upgrades_as_plain_http(serve):
    server = serve(echo_app(), ws="off")
    response = httpx.get(
        f"{server.url}/",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
        timeout=WAIT,
    )
    assert response.status_code == 200
    assert response.text == "plain http"


def test_http_still_served_next_to_websockets(serve):
    server = serve(echo_app())
    with open_ws(server) as ws:
        assert httpx.get(server.url, timeout=WAIT).text == "plain http"
        ws.send("still here")
        assert ws.recv(timeout=WAIT) == "still here"


# ------------------------------------------------------------- messages


def test_text_and_binary_echo(serve):
    server = serve(echo_app())
    with open_ws(server) as ws:
        for message in ["hello", "", "ünïcödé ✓", b"\x00\x01\xff", b""]:
            ws.send(message)
            assert ws.recv(timeout=WAIT) == message


@pytest.mark.parametrize("compression", ["deflate", None])
def test_large_and_fragmented_messages(serve, compression):
    server = serve(echo_app())
    big = bytes(range(256)) * 40_000  # ~10 MB
    with open_ws(server, compression=compression, max_size=None) as ws:
        ws.send(big)
        assert ws.recv(timeout=WAIT) == big
        ws.send(["frag", "mented ", "téxt"])  # one message in three frames
        assert ws.recv(timeout=WAIT) == "fragmented téxt"
        ws.send([b"a" * 70_000, b"b" * 70_000])
        assert ws.recv(timeout=WAIT) == b"a" * 70_000 + b"b" * 70_000


def test_per_message_deflate_negotiated_by_default(serve):
    server = serve(echo_app())
    with open_ws(server) as ws:  # the client offers it by default
        assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        ws.send("x" * 100_000)
        assert ws.recv(timeout=WAIT) == "x" * 100_000


def test_per_message_deflate_can_be_turned_off(serve):
    server = serve(echo_app(), ws_per_message_deflate=False)
    with open_ws(server) as ws:
        assert "sec-websocket-extensions" not in ws.response.headers
        ws.send("x" * 100_000)
        assert ws.recv(timeout=WAIT) == "x" * 100_000


def test_message_over_max_size_is_1009(serve):
    record = Recorder()
    server = serve(echo_app(record), ws_max_size=1000)
    with open_ws(server) as ws:
        ws.send(b"x" * 1000)
        assert ws.recv(timeout=WAIT) == b"x" * 1000
        ws.send(b"x" * 1001)
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1009
    record.next()  # the scope
    assert record.next()["code"] == 1009


def test_invalid_utf8_is_1007(serve):
    server = serve(echo_app())
    with RawWebSocket(server.port) as ws:
        ws.send_frame(TEXT, b"valid")
        assert ws.read_frame().payload == b"valid"
        ws.send_frame(TEXT, b"caf\xc3")  # a truncated sequence
        close = ws.read_frame()
        assert (close.opcode, close.close_code) == (CLOSE, 1007)
        ws.assert_closed()


# -------------------------------------------------------------- closing


def test_app_closes_with_code_and_reason(serve):
    record = Recorder()
    server = serve(echo_app(record))
    with open_ws(server) as ws:
        ws.send("close please")
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
    assert caught.value.rcvd is not None
    assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4001, "as asked")
    record.next()
    # The app is told once the peer has answered the Close (websockets echoes it).
    assert record.next() == {"type": "websocket.disconnect", "code": 4001, "reason": "as asked"}


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1001, "bye"), (4999, "ça va")])
def test_client_closes_with_code_and_reason(serve, code, reason):
    record = Recorder()
    server = serve(echo_app(record))
    with open_ws(server) as ws:
        ws.send("x")
        ws.recv(timeout=WAIT)
        ws.close(code, reason)
        assert ws.close_code == code  # echoed back: a clean close handshake
    record.next()
    assert record.next() == {"type": "websocket.disconnect", "code": code, "reason": reason}


def test_close_without_code_is_1005(serve):
    record = Recorder()
    server = serve(echo_app(record))
    with RawWebSocket(server.port) as ws:
        ws.send_frame(CLOSE)
        answer = ws.read_frame()
        assert (answer.opcode, answer.payload) == (CLOSE, b"")
        ws.assert_closed()  # the server closes the TCP connection first
    record.next()
    assert record.next() == {"type": "websocket.disconnect", "code": 1005, "reason": ""}


def test_dropped_connection_is_1006(serve):
    record = Recorder()
    server = serve(echo_app(record))
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    sock.sendall(handshake_request())
    assert b" 101 " in sock.recv(4096)
    record.next()
    sock.close()
    assert record.next() == {"type": "websocket.disconnect", "code": 1006, "reason": ""}


def test_app_exception_after_accept_is_1011(serve, caplog):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise RuntimeError("broken mid-conversation")

    server = serve(app)
    with open_ws(server) as ws:
        ws.send("trigger")
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1011
    wait_for(lambda: "broken mid-conversation" in caplog.text, what="the logged error")


def test_app_returning_closes_normally(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "goodbye"})

    server = serve(app)
    with open_ws(server) as ws:
        assert ws.recv(timeout=WAIT) == "goodbye"
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1000


def test_close_handshake_timeout_drops_a_silent_peer(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    record = Recorder()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        record(await receive())

    server = serve(app, ws_close_timeout=0.5)
    with RawWebSocket(server.port) as ws:
        close = ws.read_frame()
        assert (close.opcode, close.close_code) == (CLOSE, 1000)
        # We never answer: the server gives up and drops the connection.
        ws.assert_closed()
    assert record.next() == {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    wait_for(lambda: "did not answer the Close frame" in caplog.text, what="the logged note")


# ------------------------------------------------------------ keep-alive


def test_ping_timeout_closes_a_silent_peer(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    record = Recorder()
    server = serve(echo_app(record), ws_ping_interval=0.2, ws_ping_timeout=0.3)
    with RawWebSocket(server.port) as ws:
        ping = ws.read_frame()
        assert ping.opcode == PING
        close = ws.read_frame()  # no pong from us
        assert (close.opcode, close.close_code, close.close_reason) == (
            CLOSE,
            1011,
            "keepalive ping timeout",
        )
        ws.assert_closed()
    record.next()
    assert record.next()["code"] == 1006
    wait_for(lambda: "did not answer a ping" in caplog.text, what="the logged note")


def test_answered_pings_keep_the_connection(serve):
    # A generous timeout: only a peer that never answers may be dropped.
    server = serve(echo_app(), ws_ping_interval=0.05, ws_ping_timeout=WAIT)
    with RawWebSocket(server.port) as ws:
        for _ in range(3):
            ping = ws.read_frame()
            assert ping.opcode == PING
            ws.send_frame(PONG, ping.payload)
        ws.send_frame(TEXT, b"still open")
        frame = ws.read_frame()
        while frame.opcode == PING:
            frame = ws.read_frame()
        assert frame.payload == b"still open"


def test_websockets_client_answers_pings(serve):
    server = serve(echo_app(), ws_ping_interval=0.05, ws_ping_timeout=WAIT)
    with open_ws(server) as ws:
        time.sleep(0.3)  # several pings go back and forth meanwhile
        ws.send("alive")
        assert ws.recv(timeout=WAIT) == "alive"


# ---------------------------------------------------------- back-pressure


def _settle(counter: Callable[[], int]) -> int:
    """Wait until ``counter`` stops moving; return where it stopped."""
    last = -1
    while True:
        current = counter()
        if current == last:
            return current
        last = current
        time.sleep(0.5)


def test_send_waits_for_a_slow_reader(serve):
    sent = [0]
    # More than every buffer on the way can hold: the client's queue of one
    # message, and loopback socket buffers that autotune up to tcp_rmem and
    # tcp_wmem's maximum (32 MB and 4 MB on common kernels).
    total = 64

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for i in range(total):
            await send({"type": "websocket.send", "bytes": bytes([i]) * 1_000_000})
            sent[0] += 1
        await receive()

    server = serve(app, ws_per_message_deflate=False, ws_ping_interval=None)
    with open_ws(server, max_size=None, compression=None, max_queue=1) as ws:
        stalled_at = _settle(lambda: sent[0])
        assert stalled_at < total  # the app waits instead of buffering 64 MB
        for i in range(total):
            assert ws.recv(timeout=WAIT) == bytes([i]) * 1_000_000


def test_reading_pauses_while_the_app_does_not_receive(serve):
    release = threading.Event()
    received = Recorder()
    total = 64

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.to_thread(release.wait, WAIT)
        for _ in range(total):
            received((await receive())["bytes"][:1])

    server = serve(app, ws_per_message_deflate=False)
    sent = [0]
    with open_ws(server, compression=None) as ws:

        def writer() -> None:
            for i in range(total):
                ws.send(bytes([i]) * 1_000_000)
                sent[0] += 1

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        stalled_at = _settle(lambda: sent[0])
        assert stalled_at < total  # the server stopped reading: 64 MB were not taken
        release.set()
        assert [received.next() for _ in range(total)] == [bytes([i]) for i in range(total)]
        thread.join(WAIT)


# ------------------------------------------------------------- shutdown


def test_graceful_shutdown_closes_with_1001(serve):
    record = Recorder()
    server = serve(echo_app(record))
    with open_ws(server) as ws:
        ws.send("hi")
        assert ws.recv(timeout=WAIT) == "hi"
        record.next()
        server.stop()
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1001
    assert record.next()["code"] == 1001  # the app heard the client's answer


def test_protocol_failure_is_logged(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(echo_app())
    with RawWebSocket(server.port) as ws:
        ws.send_frame(0x3, b"")  # a reserved opcode
        close = ws.read_frame()
        assert close.close_code == 1002
        ws.assert_closed()
    records = wait_for(
        lambda: [r for r in log_records(caplog, ERROR_LOGGER) if "failed" in r.getMessage()],
        what="the logged failure",
    )
    assert records[0].levelno == logging.INFO
    assert "(close 1002)" in records[0].getMessage()


def test_frames_sent_with_the_handshake_are_kept(serve):
    server = serve(echo_app())
    early = client_frame(TEXT, b"right behind the request") + client_frame(PING, b"p")
    with RawWebSocket(server.port, early=early) as ws:
        # The server answers the ping itself; the echo comes from the app.
        frames = {(frame.opcode, frame.payload) for frame in (ws.read_frame(), ws.read_frame())}
        assert frames == {(PONG, b"p"), (TEXT, b"right behind the request")}


def test_ping_from_the_client_is_answered(serve):
    server = serve(echo_app())
    with RawWebSocket(server.port) as ws:
        ws.send_frame(PING, b"are you there")
        pong = ws.read_frame()
        assert (pong.opcode, pong.payload) == (PONG, b"are you there")
        ws.send_frame(CLOSE, close_payload(1000))
        assert ws.read_frame().close_code == 1000


# --------------------------------------------------------- without wsproto


@pytest.fixture
def no_wsproto(tmp_path) -> dict[str, str]:
    """An environment in which ``import wsproto`` fails, as if it were not installed."""
    hidden = tmp_path / "hide"
    (hidden / "wsproto").mkdir(parents=True)
    (hidden / "wsproto" / "__init__.py").write_text('raise ImportError("wsproto is hidden")\n')
    return {"PYTHONPATH": os.pathsep.join([str(hidden), str(TESTS_DIR)])}


def test_without_wsproto_upgrades_are_plain_http(pounce, no_wsproto):
    server = pounce("support.apps:app", env=no_wsproto)
    assert "wsproto is not installed" in server.output
    with RawConnection("127.0.0.1", server.port) as conn:
        conn.send_request(
            "GET",
            "/scope",
            headers=[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ],
        )
        response = conn.read_response()
    assert response.status == 200
    assert json.loads(response.body)["type"] == "http"


def test_ws_on_without_wsproto_refuses_to_start(no_wsproto):
    code, out, err = run_pounce("support.apps:app", "--ws", "on", "--port", "0", env=no_wsproto)
    assert code != 0
    assert "--ws on needs wsproto installed" in out + err


def test_wss_over_tls_has_the_tls_extension(serve, tmp_path):
    """Over TLS the scheme is wss and the scope carries the ASGI TLS extension."""
    from support.tls import client_context, make_certificates

    certificates = make_certificates(tmp_path)
    record = Recorder()
    server = serve(echo_app(record), **certificates.server_options())
    uri = f"wss://localhost:{server.port}/secure"
    context = client_context(certificates, alpn=["http/1.1"])

    # The asyncio client, not the threaded one: that one reads on a thread of
    # its own while the test writes, and one SSL object used by two threads at
    # once fails at random on a free-threaded build (OpenSSL's SSL is not
    # thread-safe; the GIL used to serialize the two).
    async def echo() -> str:
        async with async_connect(uri, ssl=context) as ws:
            await ws.send("over tls")
            reply = await asyncio.wait_for(ws.recv(), WAIT)
            assert isinstance(reply, str)
            return reply

    assert asyncio.run(echo()) == "over tls"
    scope = record.next()
    assert scope["scheme"] == "wss"
    tls = scope["extensions"]["tls"]
    assert tls["tls_version"] in (0x0303, 0x0304)
    assert not tls["client_cert_chain"]
