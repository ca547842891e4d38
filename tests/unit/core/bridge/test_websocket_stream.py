"""``WebSocketStream``: the ASGI ``websocket`` bridge, driven through an in-memory sink."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from pounce import ASGIApp as App
from pounce import ClientDisconnected, Message
from pounce._bridge.websocket_stream import WebSocketStream, WebSocketStreamState
from pounce_protocols import ResponseBody, ResponseEnd, ResponseEvent, ResponseHead

DEFAULT_HEADERS = [(b"server", b"pounce")]
State = WebSocketStreamState


class FakeSink:
    """A WebSocketSink that records what the stream asks of the connection."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.events: list[ResponseEvent] = []
        self.finished: list[WebSocketStream] = []
        self.is_writable = True
        self.waiting = asyncio.Event()
        self.drained = asyncio.Event()
        self.refuse_subprotocol = False

    def accept(
        self, stream_id: int, subprotocol: str | None, headers: list[tuple[bytes, bytes]]
    ) -> None:
        if self.refuse_subprotocol:
            raise RuntimeError("websocket.accept: subprotocol 'x' was not offered")
        self.calls.append(("accept", subprotocol, headers))

    def send_message(self, stream_id: int, data: str | bytes) -> None:
        self.calls.append(("message", data))

    def close(self, stream_id: int, code: int, reason: str) -> None:
        self.calls.append(("close", code, reason))

    def send_event(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        self.calls.append(("error_response", status))
        return 9

    def writable(self, stream_id: int) -> bool:
        return self.is_writable

    async def wait_writable(self, stream_id: int) -> None:
        self.calls.append(("wait_writable",))
        self.waiting.set()
        await self.drained.wait()

    def message_consumed(self, stream_id: int, message: str | bytes) -> None:
        self.calls.append(("consumed", len(message)))

    def stream_finished(self, stream: WebSocketStream) -> None:
        self.finished.append(stream)

    def abort_stream(self, stream_id: int) -> None:
        self.calls.append(("abort",))


def make_stream(sink: FakeSink) -> WebSocketStream:
    return WebSocketStream(
        sink=sink,
        stream_id=3,
        scope={"type": "websocket", "headers": [(b"host", b"h")]},
        default_headers=lambda: list(DEFAULT_HEADERS),
    )


def run_app(
    app: App, prepare: Callable[[WebSocketStream], None] | None = None
) -> tuple[FakeSink, WebSocketStream]:
    async def main() -> tuple[FakeSink, WebSocketStream]:
        sink = FakeSink()
        stream = make_stream(sink)
        if prepare is not None:
            prepare(stream)
        await stream.run(app)
        return sink, stream

    return asyncio.run(main())


def sending(*messages: Message) -> App:
    """An app that takes websocket.connect, then sends ``messages``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert await receive() == {"type": "websocket.connect"}
        for message in messages:
            await send(message)

    return app


ACCEPT: Message = {"type": "websocket.accept"}
CLOSE: Message = {"type": "websocket.close"}


def text(value: str) -> Message:
    return {"type": "websocket.send", "text": value}


def denial_start(status: int = 401, headers: Iterable[Any] = ()) -> Message:
    return {"type": "websocket.http.response.start", "status": status, "headers": list(headers)}


def denial_body(data: bytes = b"", more: bool = False) -> Message:
    return {"type": "websocket.http.response.body", "body": data, "more_body": more}


# ------------------------------------------------------------ handshake


def test_accept_with_subprotocol_and_headers() -> None:
    sink, stream = run_app(
        sending(
            {
                "type": "websocket.accept",
                "subprotocol": "chat",
                "headers": [(b"X-Custom", b"1"), (b"connection", b"dropped")],
            },
            CLOSE,
        )
    )
    assert sink.calls == [("accept", "chat", [(b"x-custom", b"1")]), ("close", 1000, "")]
    assert stream.status == 101
    assert stream.state is State.CLOSED
    assert sink.finished == [stream]


def test_close_before_accept_is_403() -> None:
    sink, stream = run_app(sending({"type": "websocket.close", "code": 4000}))
    assert sink.calls == [("error_response", 403)]
    assert (stream.status, stream.bytes_sent) == (403, 9)


def test_accept_must_not_name_the_subprotocol_header() -> None:
    app = sending({"type": "websocket.accept", "headers": [(b"Sec-WebSocket-Protocol", b"x")]})
    sink, _ = run_app(app)
    assert sink.calls == [("error_response", 500)]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "websocket.accept", "subprotocol": b"chat"},
        {"type": "websocket.accept", "headers": [("x", "y")]},
        {"type": "websocket.accept", "headers": 5},
    ],
)
def test_invalid_accept_is_a_runtime_error(message: Message) -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.receive()
        with pytest.raises(RuntimeError, match=r"websocket\.accept"):
            await stream.send(message)
        assert stream.state is State.HANDSHAKE

    asyncio.run(main())


def test_refused_subprotocol_is_an_app_error(caplog: pytest.LogCaptureFixture) -> None:
    def prepare(stream: WebSocketStream) -> None:
        stream._sink.refuse_subprotocol = True  # type: ignore[attr-defined]

    sink, _ = run_app(sending({"type": "websocket.accept", "subprotocol": "x"}), prepare)
    assert sink.calls == [("error_response", 500)]
    assert "was not offered" in caplog.text


# ------------------------------------------------------ denial response


def test_denial_response_in_one_body() -> None:
    sink, stream = run_app(
        sending(denial_start(401, [(b"WWW-Authenticate", b"Basic")]), denial_body(b"nope"))
    )
    assert sink.events == [
        ResponseHead(
            stream_id=3,
            status=401,
            headers=(
                *DEFAULT_HEADERS,
                (b"www-authenticate", b"Basic"),
                (b"content-length", b"4"),
            ),
        ),
        ResponseBody(stream_id=3, data=b"nope"),
        ResponseEnd(stream_id=3),
    ]
    assert (stream.status, stream.bytes_sent, stream.state) == (401, 4, State.CLOSED)
    assert sink.calls == []


def test_streamed_denial_response_has_no_invented_length() -> None:
    sink, _ = run_app(
        sending(
            denial_start(400, [(b"server", b"app"), (b"transfer-encoding", b"chunked")]),
            denial_body(b"a", more=True),
            denial_body(b"b"),
        )
    )
    head = sink.events[0]
    assert isinstance(head, ResponseHead)
    assert head.headers == ((b"server", b"app"),)
    assert sink.events[1:] == [
        ResponseBody(stream_id=3, data=b"a"),
        ResponseBody(stream_id=3, data=b"b"),
        ResponseEnd(stream_id=3),
    ]


@pytest.mark.parametrize("status", [101, 199, 1000, "401", None])
def test_denial_status_must_be_final(status: Any) -> None:
    sink, _ = run_app(sending(denial_start(status), denial_body()))
    assert sink.calls == [("error_response", 500)]
    assert sink.events == []


def test_invalid_denial_header_name_is_a_500() -> None:
    sink, _ = run_app(sending(denial_start(403, [(b"bad name", b"x")]), denial_body()))
    assert sink.calls == [("error_response", 500)]


def test_app_failing_mid_denial_aborts(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(denial_start(403))
        await send(denial_body(b"x", more=True))
        raise ValueError("boom")

    sink, _ = run_app(app)
    assert sink.calls == [("abort",)]
    assert "Exception in ASGI application" in caplog.text


# ------------------------------------------------------------- messages


def test_receive_order_and_back_pressure_accounting() -> None:
    async def main() -> tuple[FakeSink, list[Message]]:
        sink = FakeSink()
        stream = make_stream(sink)
        received = [await stream.receive()]
        await stream.send(ACCEPT)
        assert stream.feed_message("héllo")
        assert stream.feed_message(b"\x00\x01")
        stream.feed_close(4001, "bye")
        received += [await stream.receive() for _ in range(4)]
        return sink, received

    sink, received = asyncio.run(main())
    assert received == [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "héllo"},
        {"type": "websocket.receive", "bytes": b"\x00\x01"},
        {"type": "websocket.disconnect", "code": 4001, "reason": "bye"},
        {"type": "websocket.disconnect", "code": 4001, "reason": "bye"},
    ]
    assert sink.calls[1:] == [("consumed", 5), ("consumed", 2)]


def test_receive_waits_for_messages() -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        assert (await stream.receive())["type"] == "websocket.connect"
        pending = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        assert not pending.done()
        stream.feed_message("late")
        assert await pending == {"type": "websocket.receive", "text": "late"}
        pending = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        stream.feed_close(1006)
        assert await pending == {"type": "websocket.disconnect", "code": 1006, "reason": ""}

    asyncio.run(main())


def test_first_close_report_wins() -> None:
    stream = make_stream(FakeSink())
    stream.feed_close(1001, "away")
    stream.feed_close(1006)
    assert stream.disconnected
    assert not stream.feed_message("after the end")


def test_messages_after_the_app_closed_are_dropped() -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.receive()
        await stream.send(ACCEPT)
        await stream.send(CLOSE)
        assert not stream.feed_message("ignored")

    asyncio.run(main())


def test_send_text_and_bytes() -> None:
    sink, _ = run_app(
        sending(
            ACCEPT,
            text("t"),
            {"type": "websocket.send", "bytes": b"b"},
            {"type": "websocket.send", "bytes": bytearray(b"ba")},
            {"type": "websocket.send", "bytes": None, "text": "both keys, one set"},
        )
    )
    assert [c for c in sink.calls if c[0] == "message"] == [
        ("message", "t"),
        ("message", b"b"),
        ("message", b"ba"),
        ("message", "both keys, one set"),
    ]
    assert sink.calls[-1] == ("close", 1000, "")  # returning closes normally


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"type": "websocket.send"}, "needs 'bytes' or 'text'"),
        ({"type": "websocket.send", "text": "a", "bytes": b"b"}, "not both"),
        ({"type": "websocket.send", "text": b"a"}, "'text' must be a string"),
        ({"type": "websocket.send", "bytes": "a"}, "'bytes' must be bytes"),
        ({"type": "websocket.close", "code": 1006}, "may not be sent"),
        ({"type": "websocket.close", "code": "1000"}, "may not be sent"),
        ({"type": "websocket.close", "reason": 5}, "'reason' must be a string"),
    ],
)
def test_invalid_messages_after_accept(message: Message, error: str) -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        stream = make_stream(sink)
        await stream.receive()
        await stream.send(ACCEPT)
        with pytest.raises(RuntimeError, match=error):
            await stream.send(message)
        assert stream.state is State.CLOSED or stream.state is State.CONNECTED
        return sink

    sink = asyncio.run(main())
    assert not [c for c in sink.calls if c[0] in ("message", "close")]


def test_close_with_code_and_reason() -> None:
    sink, _ = run_app(
        sending(ACCEPT, {"type": "websocket.close", "code": 4321, "reason": None}),
    )
    assert sink.calls[-1] == ("close", 4321, "")
    sink, _ = run_app(
        sending(ACCEPT, {"type": "websocket.close", "code": None, "reason": "done"}),
    )
    assert sink.calls[-1] == ("close", 1000, "done")


def test_send_waits_while_not_writable() -> None:
    async def main() -> None:
        sink = FakeSink()
        stream = make_stream(sink)
        await stream.receive()
        await stream.send(ACCEPT)
        sink.is_writable = False
        sending_task = asyncio.ensure_future(stream.send(text("x")))
        await sink.waiting.wait()
        assert not sending_task.done()
        sink.drained.set()
        await sending_task

    asyncio.run(main())


# ------------------------------------------------------------ disconnect


def test_send_after_disconnect_raises_client_disconnected() -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.receive()
        await stream.send(ACCEPT)
        stream.feed_close(1001)
        with pytest.raises(ClientDisconnected):
            await stream.send(text("x"))
        assert isinstance(ClientDisconnected(), OSError)
        await stream.send(CLOSE)  # closing what is closed: no error

    asyncio.run(main())


def test_client_disconnected_escaping_the_app_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        try:
            await send(text("x"))
        except ClientDisconnected as exc:
            raise ValueError("framework translation") from exc

    def prepare(stream: WebSocketStream) -> None:
        stream.feed_close(1001)

    with caplog.at_level(logging.ERROR):
        sink, _ = run_app(app, prepare)
    assert caplog.text == ""
    assert sink.calls == []  # accept was refused as well: the peer had left


def test_disconnect_before_accept() -> None:
    received: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())
        received.append(await receive())

    def prepare(stream: WebSocketStream) -> None:
        stream.feed_close(1006)

    sink, _ = run_app(app, prepare)
    assert received == [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1006, "reason": ""},
    ]
    assert sink.calls == []  # nobody to answer


# ----------------------------------------------------------- app failures


def test_exception_before_accept_is_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("boom")

    sink, stream = run_app(app)
    assert sink.calls == [("error_response", 500)]
    assert stream.status == 500
    assert "Exception in ASGI application" in caplog.text


def test_exception_after_accept_is_1011(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        raise ValueError("boom")

    sink, _ = run_app(app)
    assert sink.calls[-1] == ("close", 1011, "")
    assert "Exception in ASGI application" in caplog.text


def test_invalid_message_escaping_the_app_is_logged_and_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, _ = run_app(sending(ACCEPT, {"type": "http.response.start", "status": 200}))
    assert sink.calls[-1] == ("close", 1011, "")
    assert "Unexpected ASGI message 'http.response.start'" in caplog.text


def test_returning_without_an_answer_is_500(caplog: pytest.LogCaptureFixture) -> None:
    sink, _ = run_app(sending())
    assert sink.calls == [("error_response", 500)]
    assert "without accepting or closing" in caplog.text


def test_returning_mid_denial_aborts(caplog: pytest.LogCaptureFixture) -> None:
    sink, _ = run_app(sending(denial_start(), denial_body(b"x", more=True)))
    assert sink.calls == [("abort",)]
    assert "without completing the denial response" in caplog.text


def test_cancelled_app_aborts() -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        stream = make_stream(sink)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send(ACCEPT)
            await receive()  # waits forever

        task = asyncio.ensure_future(stream.run(app))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sink.finished == [stream]
        return sink

    assert asyncio.run(main()).calls[-1] == ("abort",)


# ------------------------------------------------------ transition table

MESSAGE_TYPES = [
    "websocket.accept",
    "websocket.send",
    "websocket.close",
    "websocket.http.response.start",
    "websocket.http.response.body",
    "http.response.start",
    "websocket.connect",
    "lifespan.startup",
]
VALID = {
    (State.HANDSHAKE, "websocket.accept"),
    (State.HANDSHAKE, "websocket.close"),
    (State.HANDSHAKE, "websocket.http.response.start"),
    (State.RESPONSE_STARTED, "websocket.http.response.body"),
    (State.RESPONSE_BODY, "websocket.http.response.body"),
    (State.CONNECTED, "websocket.send"),
    (State.CONNECTED, "websocket.close"),
}
# How to bring a fresh stream into each state.
REACH: dict[State, list[Message]] = {
    State.HANDSHAKE: [],
    State.RESPONSE_STARTED: [denial_start()],
    State.RESPONSE_BODY: [denial_start(), denial_body(more=True)],
    State.CONNECTED: [ACCEPT],
    State.CLOSED: [ACCEPT, CLOSE],
}
MINIMAL: dict[str, Message] = {
    "websocket.send": text("x"),
    "websocket.http.response.start": denial_start(),
}


@pytest.mark.parametrize(("state", "kind"), list(itertools.product(list(State), MESSAGE_TYPES)))
def test_transition_table(state: State, kind: str) -> None:
    """Every (state, message) pair is either a listed transition or a RuntimeError
    that names the state's expectation."""

    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.receive()
        for message in REACH[state]:
            await stream.send(message)
        assert stream.state is state
        message = MINIMAL.get(kind, {"type": kind})
        if (state, kind) in VALID:
            await stream.send(message)
        else:
            with pytest.raises(RuntimeError, match=f"Unexpected ASGI message '{kind}'") as err:
                await stream.send(message)
            assert state.value in str(err.value)
            assert stream.state is state

    asyncio.run(main())


@pytest.mark.parametrize("message", [{}, {"type": ["unhashable"]}, "not a dict"])
def test_malformed_messages(message: Any) -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.receive()
        with pytest.raises(RuntimeError):
            await stream.send(message)

    asyncio.run(main())
