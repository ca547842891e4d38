"""``WebSocketSession``: handshake answer, flow control and closing, over a fake carrier."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, TextMessage

from pounce import ServerConfig
from pounce._bridge.context import WorkerContext
from pounce._bridge.http_scope import websocket_scope
from pounce._bridge.websocket_session import WebSocketSession
from pounce_protocols import Headers, RequestReceived, ResponseEvent, WebSocketRequest

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


class FakeCarrier:
    """Records what the session asks of the connection."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.written = bytearray()
        self.early = b""

    def send_handshake_response(self, headers: Headers) -> bytes:
        self.calls.append(("handshake", dict(headers)))
        return self.early

    def send_response_event(self, event: ResponseEvent) -> None:
        self.calls.append(("event", event))

    def send_error_response(
        self, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        self.calls.append(("error", status))
        return 0

    def write(self, data: bytes) -> None:
        self.written += data

    def writable(self) -> bool:
        return True

    async def wait_writable(self) -> None:
        return

    def pause_reading(self) -> None:
        self.calls.append(("pause",))

    def resume_reading(self) -> None:
        self.calls.append(("resume",))

    def shutdown_write(self) -> None:
        self.calls.append(("shutdown_write",))

    def close(self) -> None:
        self.calls.append(("close",))

    def abort(self) -> None:
        self.calls.append(("abort",))

    def frames(self) -> list[object]:
        peer = Connection(ConnectionType.CLIENT)
        peer.receive_data(bytes(self.written))
        return list(peer.events())


App = Callable[[Any, Any, Any], Awaitable[None]]


Drive = Callable[[WebSocketSession, FakeCarrier], Awaitable[None]]


def run(app: App, drive: Drive, **config: Any) -> FakeCarrier:
    async def main() -> FakeCarrier:
        ctx = WorkerContext(
            config=ServerConfig(ws_ping_interval=None, **config),
            app=app,
            loop=asyncio.get_running_loop(),
            lifespan_state={},
        )
        carrier = FakeCarrier()
        request = RequestReceived(
            stream_id=1, method=b"GET", path=b"/", query_string=b"", http_version="1.1", headers=()
        )
        scope = websocket_scope(
            ctx,
            request,
            [],
            client=("127.0.0.1", 5000),
            server=("127.0.0.1", 8000),
            scheme="http",
            tls=None,
            subprotocols=(),
        )
        session = WebSocketSession(
            ctx=ctx,
            carrier=carrier,
            request=WebSocketRequest(key=KEY),
            stream_id=1,
            scope=scope,
            method="GET",
            peer="test peer",
        )
        await drive(session, carrier)
        return carrier

    return asyncio.run(main())


def accepting(after: Callable[[Any, Any], Awaitable[None]] | None = None) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        if after is not None:
            await after(receive, send)

    return app


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_early_frames_are_fed_after_the_101() -> None:
    peer = Connection(ConnectionType.CLIENT)
    got: list[Any] = []

    async def after(receive: Any, send: Any) -> None:
        got.append(await receive())
        got.append(await receive())

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        carrier.early = peer.send(TextMessage(data="one"))
        session.data_received(peer.send(TextMessage(data="two")))  # before the app runs
        session.start()
        await settle()

    carrier = run(accepting(after), drive)
    assert carrier.calls[0][0] == "handshake"
    assert carrier.calls[0][1][b"sec-websocket-accept"] == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert got == [
        {"type": "websocket.receive", "text": "one"},
        {"type": "websocket.receive", "text": "two"},
    ]


def test_reading_pauses_for_a_slow_app_and_resumes() -> None:
    peer = Connection(ConnectionType.CLIENT)
    release = asyncio.Event()

    async def after(receive: Any, send: Any) -> None:
        await release.wait()
        for _ in range(6):
            await receive()

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        session.start()
        await settle()
        for _ in range(6):
            session.data_received(peer.send(BytesMessage(data=b"x" * 300_000)))
        assert carrier.calls.count(("pause",)) == 1  # 1.8 MB queued: over the mark
        release.set()
        await settle()

    carrier = run(accepting(after), drive)
    assert carrier.calls[-1] == ("resume",)


def test_reading_pauses_at_ws_max_queue_messages_and_resumes_at_a_quarter() -> None:
    # Small messages: the byte mark is far away; the count (Uvicorn's
    # --ws-max-queue) is what stops reading.
    peer = Connection(ConnectionType.CLIENT)
    release = asyncio.Event()
    pauses: list[int] = []
    resumed_after: list[int] = []

    async def after(receive: Any, send: Any) -> None:
        await release.wait()
        for taken in range(1, 9):
            await receive()
            if ("resume",) in carrier_calls and not resumed_after:
                resumed_after.append(taken)

    carrier_calls: list[tuple[Any, ...]] = []

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        carrier.calls = carrier_calls
        session.start()
        await settle()
        for sent in range(1, 9):
            session.data_received(peer.send(TextMessage(data="hi")))
            if ("pause",) in carrier.calls and not pauses:
                pauses.append(sent)
        release.set()
        await settle()

    carrier = run(accepting(after), drive, ws_max_queue=8)
    assert pauses == [8]  # the eighth waiting message
    assert carrier.calls.count(("pause",)) == 1
    # Resumed once no more than 8 // 4 = 2 wait: after the app took the sixth.
    assert resumed_after == [6]


def test_peer_close_is_answered_and_the_carrier_closed() -> None:
    peer = Connection(ConnectionType.CLIENT)
    got: list[Any] = []

    async def after(receive: Any, send: Any) -> None:
        got.append(await receive())

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        session.start()
        await settle()
        session.data_received(peer.send(CloseConnection(code=4000, reason="bye")))
        await settle()

    carrier = run(accepting(after), drive)
    assert got == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]
    assert carrier.frames() == [CloseConnection(code=4000, reason="")]
    assert ("close",) in carrier.calls


def test_shutdown_during_the_handshake_closes_with_1001_once_accepted() -> None:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await release.wait()
        await send({"type": "websocket.accept"})

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        session.start()
        await settle()
        session.shutdown()
        assert not session.is_idle()
        release.set()
        await settle()

    carrier = run(app, drive)
    assert carrier.frames() == [CloseConnection(code=1001, reason="server shutting down")]


def test_failed_handshake_closes_the_carrier() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close"})

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        session.start()
        await settle()
        assert session.is_idle()

    carrier = run(app, drive)
    assert carrier.calls == [("error", 403), ("close",)]


def test_protocol_failure_half_closes_and_waits() -> None:
    async def after(receive: Any, send: Any) -> None:
        await receive()

    async def drive(session: WebSocketSession, carrier: FakeCarrier) -> None:
        session.start()
        await settle()
        session.data_received(b"\x83\x80abcd")  # a reserved opcode
        await settle()
        assert ("shutdown_write",) in carrier.calls
        assert ("close",) not in carrier.calls  # the peer goes first, or the timeout
        session.eof_received()

    carrier = run(accepting(after), drive)
    assert carrier.frames() == [CloseConnection(code=1002, reason="protocol error")]
    assert carrier.calls[-1] == ("close",)
