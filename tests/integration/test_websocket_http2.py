"""WebSocket over HTTP/2 (RFC 8441) against a real server.

The client is ``h2`` (tests/support/h2client.py) opening extended CONNECT
streams, with wsproto's post-handshake ``Connection`` making and reading the
WebSocket frames carried in DATA frames. No Python WebSocket client
library (websockets, aiohttp, httpx) speaks RFC 8441; Node's HTTP/2 client
does, and one test drives it (tests/support/ws_over_h2.js).
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import h2.events
import h2.settings
import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage

from pounce._runtime.asgi_types import Receive, Scope, Send
from support.h2client import H2Client
from support.tls import Certificates, certificates, client_context

__all__ = ["certificates"]

ENABLE_CONNECT_PROTOCOL = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain " + scope["path"].encode()})
        return
    if scope["type"] != "websocket":
        return
    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/deny":
        await send(
            {"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-no", b"1")]}
        )
        await send({"type": "websocket.http.response.body", "body": b"go away"})
        return
    if path == "/close":
        await send({"type": "websocket.close"})
        return
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    if path == "/scope":
        info = f"{scope['http_version']} {scope['scheme']} {','.join(scope['subprotocols'])}"
        await send({"type": "websocket.send", "text": info})
    if path == "/big":
        await send({"type": "websocket.send", "bytes": b"z" * 300_000})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            DISCONNECTS.append(message["code"])
            DISCONNECTED.set()
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4000, "reason": "done"})
            continue
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


DISCONNECTS: list[int] = []
DISCONNECTED = threading.Event()


class WS:
    """One WebSocket on an extended CONNECT stream of ``client``."""

    def __init__(self, client: H2Client, stream_id: int) -> None:
        self.client = client
        self.stream_id = stream_id
        self.ws = Connection(ConnectionType.CLIENT)
        self.seen = 0
        self.events: list[Any] = []

    def send(self, event: Any) -> None:
        self.client.conn.send_data(self.stream_id, self.ws.send(event))
        self.client.flush()

    def _pull(self) -> bool:
        body = self.client.responses[self.stream_id].body
        if len(body) > self.seen:
            self.ws.receive_data(body[self.seen :])
            self.seen = len(body)
            self.events.extend(self.ws.events())
        return bool(self.events)

    def next_event(self) -> Any:
        self.client.read_until(self._pull, what="a WebSocket event")
        return self.events.pop(0)

    def next_message(self) -> str | bytes:
        data: Any = None
        while True:
            event = self.next_event()
            if isinstance(event, Message):
                data = event.data if data is None else data + event.data
                if event.message_finished:
                    return data  # type: ignore[no-any-return]


def open_ws(
    client: H2Client, path: str = "/", *, headers: tuple[tuple[str, str], ...] = ()
) -> tuple[int, Any]:
    stream_id = client.request(
        path,
        "CONNECT",
        headers=(("sec-websocket-version", "13"), *headers),
        end=False,
        scheme="https" if client.sock.__class__.__name__ == "SSLSocket" else "http",
    )
    return stream_id, client.responses[stream_id]


def connect_client(port: int, **kwargs: Any) -> H2Client:
    client = H2Client("127.0.0.1", port, **kwargs)
    wait_settings(client)
    return client


def wait_settings(client: H2Client) -> None:
    client.read_until(
        lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in client.events),
        what="SETTINGS",
    )


def _extended_connect(client: H2Client) -> None:
    # h2 (the client) refuses to send :protocol unless the server allowed it.
    assert client.conn.remote_settings[ENABLE_CONNECT_PROTOCOL] == 1


def request_ws(client: H2Client, path: str, **kwargs: Any) -> int:
    _extended_connect(client)
    stream_id = client.conn.get_next_available_stream_id()
    scheme = kwargs.pop("scheme", "http")
    fields = [
        (b":method", b"CONNECT"),
        (b":protocol", kwargs.pop("protocol", b"websocket")),
        (b":scheme", scheme.encode()),
        (b":path", path.encode()),
        (b":authority", b"localhost"),
        (b"sec-websocket-version", kwargs.pop("version", b"13")),
        *kwargs.pop("headers", ()),
    ]
    client.conn.send_headers(stream_id, fields, end_stream=False)
    client.flush()
    return stream_id


def wait_head(client: H2Client, stream_id: int) -> Any:
    client.read_until(
        lambda: client.responses[stream_id].headers or client.responses[stream_id].done,
        what="the response head",
    )
    return client.responses[stream_id]


def test_setting_advertised_only_with_websocket(serve: Any) -> None:
    on = serve(app)
    off = serve(app, ws="off")
    with connect_client(on.port) as client:
        assert client.conn.remote_settings[ENABLE_CONNECT_PROTOCOL] == 1
    with H2Client("127.0.0.1", off.port) as client:
        wait_settings(client)
        assert client.conn.remote_settings.get(ENABLE_CONNECT_PROTOCOL, 0) == 0


def test_echo_text_and_bytes_and_scope(serve: Any) -> None:
    server = serve(app)
    with connect_client(server.port) as client:
        stream_id = request_ws(
            client, "/scope", headers=[(b"sec-websocket-protocol", b"chat, superchat")]
        )
        response = wait_head(client, stream_id)
        assert response.status == 200
        assert response.header(b"sec-websocket-protocol") == b"chat"
        assert response.header(b"sec-websocket-accept") is None
        ws = WS(client, stream_id)
        assert ws.next_message() == "2 ws chat,superchat"
        ws.send(TextMessage(data="héllo"))
        assert ws.next_message() == "héllo"
        ws.send(BytesMessage(data=b"\x00\x01" * 1000))
        assert ws.next_message() == b"\x00\x01" * 1000
        ws.send(Ping(payload=b"p"))
        # Ordinary requests on the same connection are unaffected.
        plain = client.request("/plain")
        assert client.response(plain).body == b"plain /plain"
        ws.send(TextMessage(data="bye"))
        event = ws.next_event()
        while not isinstance(event, CloseConnection):
            event = ws.next_event()
        assert event.code == 4000
        ws.send(event.response())
        client.conn.end_stream(stream_id)
        client.flush()
        client.read_until(lambda: client.responses[stream_id].done, what="END_STREAM")
        assert client.responses[stream_id].ended
        assert client.responses[stream_id].reset is None


def test_wss_over_tls(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    context = client_context(certificates, alpn=["h2"])
    with connect_client(server.port, tls=context) as client:
        stream_id = request_ws(client, "/scope", scheme="https")
        assert wait_head(client, stream_id).status == 200
        assert WS(client, stream_id).next_message() == "2 wss "


def test_permessage_deflate(serve: Any) -> None:
    server = serve(app)
    with connect_client(server.port) as client:
        stream_id = request_ws(
            client,
            "/",
            headers=[(b"sec-websocket-extensions", b"permessage-deflate")],
        )
        response = wait_head(client, stream_id)
        assert response.header(b"sec-websocket-extensions") == b"permessage-deflate"


def test_denial_and_close_before_accept(serve: Any) -> None:
    server = serve(app)
    with connect_client(server.port) as client:
        denied = request_ws(client, "/deny")
        closed = request_ws(client, "/close")
        bad_version = request_ws(client, "/", version=b"8")
        deny = client.response(denied)
        assert deny.status == 401
        assert deny.header(b"x-no") == b"1"
        assert deny.body == b"go away"
        assert client.response(closed).status == 403
        bad = client.response(bad_version)
        assert bad.status == 426
        assert bad.header(b"sec-websocket-version") == b"13"
        # The connection goes on.
        assert client.response(client.request("/after")).body == b"plain /after"


def test_malformed_extended_connect(serve: Any) -> None:
    server = serve(app)
    with connect_client(server.port) as client:
        unknown = request_ws(client, "/", protocol=b"chat-tunnel")
        assert client.response(unknown).status == 501
        plain_connect = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            plain_connect, [(b":method", b"CONNECT"), (b":authority", b"example.com:443")]
        )
        client.flush()
        assert client.response(plain_connect).status == 501
        assert client.response(client.request("/still")).status == 200
    # Without :path, the request is malformed: h2 makes that a connection error.
    with connect_client(server.port) as client:
        client.conn.config.validate_outbound_headers = False  # send it anyway
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            stream_id,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"websocket"),
                (b":scheme", b"http"),
                (b":authority", b"localhost"),
            ],
            end_stream=False,
        )
        client.flush()
        client.read_until_closed()
        assert client.goaway is not None
        assert client.goaway[1] == 0x1  # PROTOCOL_ERROR


def test_extended_connect_refused_when_websocket_is_off(serve: Any) -> None:
    server = serve(app, ws="off")
    with H2Client("127.0.0.1", server.port) as client:
        wait_settings(client)
        # Make h2 believe the server allowed it, to send what a rogue client would.
        client.conn.remote_settings[ENABLE_CONNECT_PROTOCOL] = 1
        client.conn.remote_settings.acknowledge()
        stream_id = request_ws(client, "/")
        assert client.response(stream_id).status == 400


def test_client_reset_is_a_disconnect(serve: Any) -> None:
    DISCONNECTS.clear()
    DISCONNECTED.clear()
    server = serve(app)
    with connect_client(server.port) as client:
        stream_id = request_ws(client, "/")
        assert wait_head(client, stream_id).status == 200
        ws = WS(client, stream_id)
        ws.send(TextMessage(data="x"))
        assert ws.next_message() == "x"
        client.reset(stream_id, 0x8)
        plain = client.request("/plain")
        assert client.response(plain).status == 200

    assert DISCONNECTED.wait(30)
    assert DISCONNECTS == [1006]


def test_message_size_limit(serve: Any) -> None:
    server = serve(app, ws_max_size=1000)
    with connect_client(server.port) as client:
        stream_id = request_ws(client, "/")
        assert wait_head(client, stream_id).status == 200
        ws = WS(client, stream_id)
        ws.send(BytesMessage(data=b"a" * 2000))
        event = ws.next_event()
        assert isinstance(event, CloseConnection)
        assert event.code == 1009


def test_flow_control_both_ways(serve: Any) -> None:
    server = serve(app)
    # The client keeps its window shut: the 300 kB message waits for it.
    with connect_client(server.port, auto_ack=False) as client:
        stream_id = request_ws(client, "/big")
        assert wait_head(client, stream_id).status == 200
        client.read_until(lambda: len(client.responses[stream_id].body) >= 65535)
        with pytest.raises(TimeoutError):
            client.read_until(lambda: len(client.responses[stream_id].body) > 65535, timeout=1)
        assert len(client.responses[stream_id].body) == 65535
        client.conn.increment_flow_control_window(1_000_000)
        client.conn.increment_flow_control_window(1_000_000, stream_id=stream_id)
        client.flush()
        ws = WS(client, stream_id)
        assert ws.next_message() == b"z" * 300_000
    # Client to server: a large message goes through the server's windows.
    with connect_client(server.port) as client:
        stream_id = request_ws(client, "/")
        assert wait_head(client, stream_id).status == 200
        ws = WS(client, stream_id)
        data = bytes(range(256)) * 1000
        client.send_body(stream_id, ws.ws.send(BytesMessage(data=data)), end=False)
        assert ws.next_message() == data


def test_node_http2_client(serve: Any, require_tool: Any) -> None:
    # Node's HTTP/2 client implements RFC 8441's side of extended CONNECT.
    node = require_tool("node")
    server = serve(app)
    script = Path(__file__).parent.parent / "support" / "ws_over_h2.js"
    done = subprocess.run(
        [node, str(script), str(server.port), "über node"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"status": 200, "opcode": 1, "text": "über node"}


def test_shutdown_closes_with_1001(serve: Any) -> None:
    server = serve(app)
    with connect_client(server.port) as client:
        stream_id = request_ws(client, "/")
        assert wait_head(client, stream_id).status == 200
        ws = WS(client, stream_id)
        server.server.shutdown()
        event = ws.next_event()
        assert isinstance(event, CloseConnection)
        assert event.code == 1001
        ws.send(event.response())
        client.conn.end_stream(stream_id)
        client.flush()
        client.read_until_closed()
        assert client.responses[stream_id].ended
