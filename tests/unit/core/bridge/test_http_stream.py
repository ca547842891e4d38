"""``HTTPStream``: the ASGI ``http`` bridge, driven through an in-memory sink."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import textwrap
from collections.abc import Iterable
from typing import Any
from unittest import mock

import pytest

from pounce import ASGIApp as App
from pounce import ClientDisconnected, Message, ServerConfig
from pounce._bridge import http_stream
from pounce._bridge.app_stack import split_hook_layers
from pounce._bridge.context import WorkerContext
from pounce._bridge.http_stream import HTTPStream, StreamState
from pounce_protocols import ResponseBody, ResponseEnd, ResponseEvent, ResponseHead
from support.apps import behind_a_wrapper
from support.sinks import FakeSink

DEFAULT_HEADERS = [(b"server", b"pounce"), (b"date", b"Sun, 06 Nov 1994 08:49:37 GMT")]


def make_stream(
    sink: FakeSink,
    *,
    method: str = "GET",
    expect_continue: bool = False,
    body_limit: int = 1024,
    layer_hooks: tuple[http_stream.HTTPStartHook, ...] = (),
    default_names: frozenset[bytes] | None = None,
) -> HTTPStream:
    return HTTPStream(
        sink=sink,
        stream_id=7,
        scope={"type": "http", "method": method, "headers": [(b"host", b"h")]},
        default_headers=lambda: list(DEFAULT_HEADERS),
        expect_continue=expect_continue,
        body_limit=body_limit,
        layer_hooks=layer_hooks,
        default_names=default_names,
    )


def run_app(app: App, **options: Any) -> tuple[FakeSink, HTTPStream]:
    """Run ``app`` on a fresh stream whose request (no body) is complete."""

    async def main() -> tuple[FakeSink, HTTPStream]:
        sink = FakeSink()
        stream = make_stream(sink, **options)
        stream.feed_end()
        await stream.run(app)
        return sink, stream

    return asyncio.run(main())


def sending(*messages: Message) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)

    return app


def start(status: Any = 200, headers: Iterable[Any] = (), **extra: Any) -> Message:
    return {"type": "http.response.start", "status": status, "headers": list(headers), **extra}


def body(data: bytes = b"", more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


def head_of(sink: FakeSink) -> ResponseHead:
    heads = [e for e in sink.events if isinstance(e, ResponseHead)]
    assert len(heads) == 1
    return heads[0]


def header_names(sink: FakeSink) -> list[bytes]:
    return [name for name, _ in head_of(sink).headers]


# ------------------------------------------------------- response ordering


def test_single_body_response_gets_an_exact_content_length() -> None:
    sink, stream = run_app(sending(start(headers=[(b"Content-Type", b"text/plain")]), body(b"hi")))
    assert sink.events == [
        ResponseHead(
            stream_id=7,
            status=200,
            headers=(*DEFAULT_HEADERS, (b"content-type", b"text/plain"), (b"content-length", b"2")),
        ),
        ResponseBody(stream_id=7, data=b"hi"),
        ResponseEnd(stream_id=7),
    ]
    assert (stream.status, stream.bytes_sent, stream.state) == (200, 2, StreamState.DONE)
    assert sink.finished == [stream]
    assert sink.calls == []


@pytest.mark.parametrize(
    ("messages", "whole"),
    [
        ([start(), body(b"hi")], True),
        ([start(), body()], True),
        ([start(headers=[(b"content-length", b"2")]), body(b"hi")], True),
        ([start(status=204), body()], True),
        ([start(), body(b"h", more=True), body(b"i")], False),
        ([start(trailers=True), body(b"hi"), {"type": "http.response.trailers"}], False),
        # Bodies that disagree with the app's Content-Length go step by step,
        # so the head is out before the error.
        ([start(headers=[(b"content-length", b"5")]), body(b"hi")], False),
        ([start(headers=[(b"content-length", b"1")]), body(b"hi")], False),
    ],
)
def test_one_message_responses_reach_the_sink_in_one_call(
    messages: list[Message], whole: bool
) -> None:
    sink, _ = run_app(sending(*messages))
    assert sink.whole == ([7] if whole else [])
    assert isinstance(sink.events[0], ResponseHead)


def test_empty_single_body_response() -> None:
    sink, _ = run_app(sending(start(), body()))
    assert sink.events == [
        ResponseHead(
            stream_id=7, status=200, headers=(*DEFAULT_HEADERS, (b"content-length", b"0"))
        ),
        ResponseEnd(stream_id=7),
    ]


def test_streamed_response_has_no_length() -> None:
    sink, stream = run_app(
        sending(start(), body(b"a", more=True), body(b"", more=True), body(b"b", more=True), body())
    )
    assert sink.events == [
        ResponseHead(stream_id=7, status=200, headers=tuple(DEFAULT_HEADERS)),
        ResponseBody(stream_id=7, data=b"a"),
        ResponseBody(stream_id=7, data=b"b"),
        ResponseEnd(stream_id=7),
    ]
    assert stream.bytes_sent == 2


def test_response_with_trailers() -> None:
    app = sending(
        start(trailers=True),
        body(b"data"),
        {"type": "http.response.trailers", "headers": [(b"x-a", b"1")], "more_trailers": True},
        {"type": "http.response.trailers", "headers": [(b"x-b", b"2")]},
    )
    sink, stream = run_app(app)
    assert b"content-length" not in header_names(sink)
    assert sink.events[1:] == [
        ResponseBody(stream_id=7, data=b"data"),
        ResponseEnd(stream_id=7, trailers=((b"x-b", b"2"),)),
    ]
    assert stream.response_complete


def test_head_is_held_back_until_the_first_body_message() -> None:
    async def main() -> list[ResponseEvent]:
        sink = FakeSink()
        stream = make_stream(sink)
        await stream.send(start())
        assert sink.events == []
        assert stream.state is StreamState.STARTED
        assert not stream.response_started
        await stream.send(body(b"x", more=True))
        assert stream.response_started
        return sink.events

    assert [type(e) for e in asyncio.run(main())] == [ResponseHead, ResponseBody]


@pytest.mark.parametrize(
    ("method", "status", "first", "extra"),
    [
        pytest.param("GET", 200, body(b"", more=True), {}, id="empty-first-piece"),
        pytest.param("HEAD", 200, body(b"x", more=True), {}, id="head-request"),
        pytest.param("GET", 204, body(b"x", more=True), {}, id="bodiless-status"),
        pytest.param("GET", 200, body(b""), {"trailers": True}, id="empty-then-trailers"),
        pytest.param("GET", 200, body(b"x"), {}, id="whole-body"),
        pytest.param("HEAD", 200, body(b""), {}, id="head-request-ended"),
    ],
)
def test_a_head_is_never_the_last_event_of_a_send(
    method: str, status: int, first: Message, extra: dict[str, Any]
) -> None:
    # A sink may hold the head to write it with what follows (StreamSink):
    # something must follow before the app gets control back.
    async def main() -> list[ResponseEvent]:
        sink = FakeSink()
        stream = make_stream(sink, method=method)
        await stream.send(start(status, **extra))
        await stream.send(first)
        return sink.events

    events = asyncio.run(main())
    assert type(events[0]) is ResponseHead
    assert len(events) >= 2, events


def test_a_coroutine_handler_in_the_transition_table_is_awaited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Handlers are plain calls, but the table may hold coroutine functions too.
    seen: list[Message] = []

    async def on_custom(stream: HTTPStream, message: Message) -> None:
        await asyncio.sleep(0)
        seen.append(message)

    table = {**http_stream._TRANSITIONS, (StreamState.START, "x.custom"): on_custom}
    monkeypatch.setattr(http_stream, "_TRANSITIONS", table)

    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.send({"type": "x.custom"})

    asyncio.run(main())
    assert seen == [{"type": "x.custom"}]


# The names of the default fields, as the edges pass them (read from the
# fields themselves when not given).
DEFAULT_NAMES = frozenset({b"server", b"date"})


@pytest.mark.parametrize("default_names", [None, DEFAULT_NAMES])
def test_app_headers_replace_defaults_and_framing_is_the_servers(
    default_names: frozenset[bytes] | None,
) -> None:
    headers = [(b"Server", b"custom"), (b"Transfer-Encoding", b"chunked"), (b"X-A", b"1")]
    sink, _ = run_app(sending(start(headers=headers), body(b"hi")), default_names=default_names)
    assert head_of(sink).headers == (
        (b"date", DEFAULT_HEADERS[1][1]),
        (b"server", b"custom"),
        (b"x-a", b"1"),
        (b"content-length", b"2"),
    )


@pytest.mark.parametrize("default_names", [None, DEFAULT_NAMES])
def test_fields_a_hook_adds_replace_defaults_too(default_names: frozenset[bytes] | None) -> None:
    def dated(scope: Any, status: int, fields: list[tuple[bytes, bytes]]) -> None:
        fields.append((b"date", b"Mon, 07 Nov 1994 08:49:37 GMT"))

    sink, _ = run_app(
        sending(start(headers=[(b"x-a", b"1")]), body(b"hi")),
        layer_hooks=(dated,),
        default_names=default_names,
    )
    assert head_of(sink).headers == (
        (b"server", b"pounce"),
        (b"x-a", b"1"),
        (b"date", b"Mon, 07 Nov 1994 08:49:37 GMT"),
        (b"content-length", b"2"),
    )


def test_app_content_length_is_kept() -> None:
    sink, _ = run_app(
        sending(start(headers=[(b"content-length", b"2")]), body(b"h", more=True), body(b"i"))
    )
    assert header_names(sink).count(b"content-length") == 1
    assert sink.events[-1] == ResponseEnd(stream_id=7)


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_length_or_body_for_bodiless_statuses(status: int) -> None:
    sink, _ = run_app(sending(start(status), body(b"ignored")))
    assert b"content-length" not in header_names(sink)
    assert [type(e) for e in sink.events] == [ResponseHead, ResponseEnd]


def test_head_request_drops_the_body() -> None:
    sink, stream = run_app(sending(start(), body(b"hello")), method="HEAD")
    assert (b"content-length", b"5") in head_of(sink).headers
    assert [type(e) for e in sink.events] == [ResponseHead, ResponseEnd]
    assert stream.response_complete


def test_head_request_with_empty_body_gets_no_invented_length() -> None:
    sink, _ = run_app(sending(start(), body()), method="HEAD")
    assert b"content-length" not in header_names(sink)


def test_head_request_with_declared_length_and_no_body() -> None:
    app = sending(start(headers=[(b"content-length", b"100")]), body())
    sink, _ = run_app(app, method="HEAD")
    assert (b"content-length", b"100") in head_of(sink).headers
    assert sink.calls == []  # not "shorter than Content-Length"


# --------------------------------------------------- the transition table

STATES = {
    "START": [],
    "STARTED": [start()],
    "BODY": [start(), body(b"x", more=True)],
    "TRAILERS": [start(trailers=True), body(b"x")],
    "DONE": [start(), body(b"x")],
}
KINDS = ["http.response.start", "http.response.body", "http.response.trailers", "http.response.x"]
ALLOWED = {
    ("START", "http.response.start"),
    ("STARTED", "http.response.body"),
    ("BODY", "http.response.body"),
    ("TRAILERS", "http.response.trailers"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("state", list(STATES))
def test_transition_table(state: str, kind: str) -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        for message in STATES[state]:
            await stream.send(message)
        assert stream.state is StreamState[state]
        message = start() if kind == "http.response.start" else {"type": kind}
        await stream.send(message)

    if (state, kind) in ALLOWED:
        asyncio.run(main())
    else:
        expected = f"Unexpected ASGI message '{kind}' sent while the response is "
        with pytest.raises(RuntimeError, match="^" + expected + StreamState[state].value):
            asyncio.run(main())


# ------------------------------------------------------- invalid messages


@pytest.mark.parametrize(
    ("message", "text"),
    [
        pytest.param({}, "ASGI message without a 'type'", id="no-type"),
        pytest.param(None, "ASGI message without a 'type'", id="none"),
        pytest.param("http.response.start", "ASGI message without a 'type'", id="str"),
        pytest.param({"type": "http.response.start"}, "'status' must be an int", id="no-status"),
        pytest.param(
            start(status=99), "'status' must be an int in 200..999, got 99", id="status-99"
        ),
        pytest.param(start(status=101), "got 101", id="status-101"),
        pytest.param(start(status=1000), "got 1000", id="status-1000"),
        pytest.param(start(status="200"), "got '200'", id="status-str"),
        pytest.param(start(status=True), "got True", id="status-bool"),
        pytest.param(
            {"type": "http.response.start", "status": 200, "headers": 5},
            "'headers' must be an iterable of [name, value] pairs",
            id="headers-int",
        ),
        pytest.param(
            start(headers=[(b"a",)]),
            "must be an iterable of [name, value] pairs",
            id="header-short",
        ),
        pytest.param(start(headers=[("a", "b")]), "must be a pair of bytes", id="header-str"),
        pytest.param(start(headers=[(b"a", "b")]), "must be a pair of bytes", id="value-str"),
    ],
)
def test_invalid_start_message(message: Any, text: str) -> None:
    async def main() -> None:
        await make_stream(FakeSink()).send(message)

    with pytest.raises(RuntimeError, match=re.escape(text)):
        asyncio.run(main())


def test_unhashable_message_type_is_a_runtime_error() -> None:
    async def main() -> None:
        await make_stream(FakeSink()).send({"type": ["http.response.start"]})

    with pytest.raises(RuntimeError, match="Unexpected ASGI message"):
        asyncio.run(main())


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("text", "'body' must be bytes, got str"),
        (None, "'body' must be bytes, got NoneType"),
        (123, "'body' must be bytes, got int"),
    ],
    ids=["str", "none", "int"],
)
@pytest.mark.parametrize("first", [True, False], ids=["first-body", "later-body"])
def test_invalid_body(data: Any, text: str, first: bool) -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        await stream.send(start())
        if not first:
            await stream.send(body(b"x", more=True))
        await stream.send({"type": "http.response.body", "body": data})

    with pytest.raises(RuntimeError, match=re.escape(text)):
        asyncio.run(main())


def test_bytearray_and_memoryview_bodies_are_accepted() -> None:
    sink, _ = run_app(
        sending(
            start(),
            {"type": "http.response.body", "body": bytearray(b"ab"), "more_body": True},
            {"type": "http.response.body", "body": memoryview(b"cd")},
        )
    )
    assert [e.data for e in sink.events if isinstance(e, ResponseBody)] == [b"ab", b"cd"]
    assert all(type(e.data) is bytes for e in sink.events if isinstance(e, ResponseBody))


# ------------------------------------------------------ Content-Length


@pytest.mark.parametrize(
    ("messages", "text"),
    [
        (
            [start(headers=[(b"content-length", b"3")]), body(b"toolong")],
            "longer than Content-Length",
        ),
        (
            [start(headers=[(b"content-length", b"3")]), body(b"ab", more=True), body(b"cd")],
            "longer than Content-Length",
        ),
        (
            [start(headers=[(b"content-length", b"10")]), body(b"short")],
            "shorter than Content-Length",
        ),
        ([start(headers=[(b"content-length", b"ten")]), body(b"x")], "invalid content-length"),
    ],
    ids=["longer-single", "longer-streamed", "shorter", "not-a-number"],
)
def test_content_length_mismatch_raises_in_the_app(messages: list[Message], text: str) -> None:
    errors: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            for message in messages:
                await send(message)
        except RuntimeError as exc:
            errors.append(str(exc))

    run_app(app)
    assert len(errors) == 1
    assert text in errors[0]


def test_content_length_overrun_aborts_the_stream() -> None:
    app = sending(start(headers=[(b"content-length", b"3")]), body(b"ab", more=True), body(b"cd"))
    sink, stream = run_app(app)
    assert ("abort", 7) in sink.calls
    assert stream.response_complete


def test_invalid_content_length_before_the_head_is_a_500() -> None:
    sink, stream = run_app(sending(start(headers=[(b"content-length", b"ten")]), body(b"x")))
    assert sink.events == []
    assert sink.calls == [("error_response", 500)]
    assert stream.status == 500


# ------------------------------------------------------------ app errors


async def fail_at_once(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("boom")


async def fail_after_start(scope: Any, receive: Any, send: Any) -> None:
    await send(start())
    raise ValueError("boom")


async def fail_after_body(scope: Any, receive: Any, send: Any) -> None:
    await send(start())
    await send(body(b"partial", more=True))
    raise ValueError("boom")


@pytest.mark.parametrize(
    "app", [fail_at_once, fail_after_start], ids=["before-start", "after-start"]
)
def test_app_error_before_any_byte_is_a_500(app: App, caplog: pytest.LogCaptureFixture) -> None:
    sink, stream = run_app(app)
    assert sink.events == []  # the held-back head is dropped
    assert sink.calls == [("error_response", 500)]
    assert (stream.status, stream.bytes_sent) == (500, 21)
    assert stream.response_complete
    assert sink.finished == [stream]
    assert "Exception in ASGI application" in caplog.text


def test_app_error_after_the_body_started_aborts() -> None:
    sink, stream = run_app(fail_after_body)
    assert sink.calls == [("abort", 7)]
    assert [type(e) for e in sink.events] == [ResponseHead, ResponseBody]
    assert stream.response_complete
    assert sink.finished == [stream]


def test_app_error_after_the_response_completed_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send(body(b"done"))
        raise ValueError("late")

    sink, _ = run_app(app)
    assert sink.calls == []
    assert sink.events[-1] == ResponseEnd(stream_id=7)
    assert "Exception in ASGI application" in caplog.text


def test_app_returning_without_a_response_is_a_500() -> None:
    sink, stream = run_app(sending())
    assert sink.calls == [("error_response", 500)]
    assert stream.status == 500


def test_app_returning_mid_response_aborts() -> None:
    sink, _ = run_app(sending(start(), body(b"a", more=True)))
    assert sink.calls == [("abort", 7)]


def test_cancelled_app_aborts_and_propagates() -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        stream = make_stream(sink)

        streaming = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(start())
            await send(body(b"a", more=True))
            streaming.set()
            await asyncio.Event().wait()

        task = asyncio.ensure_future(stream.run(app))
        await streaming.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sink.finished == [stream]
        return sink

    assert asyncio.run(main()).calls == [("abort", 7)]


# --------------------------------------------------------------- receive


def test_body_chunks_are_joined_and_consumption_reported() -> None:
    async def main() -> tuple[list[Message], FakeSink]:
        sink = FakeSink()
        stream = make_stream(sink)
        assert stream.feed_body(b"ab")
        assert stream.feed_body(b"cd")
        assert stream.buffered_body == 4
        first = await stream.receive()
        assert stream.buffered_body == 0
        stream.feed_body(b"e")
        stream.feed_end()
        second = await stream.receive()
        return [first, second], sink

    messages, sink = asyncio.run(main())
    assert messages == [
        {"type": "http.request", "body": b"abcd", "more_body": True},
        {"type": "http.request", "body": b"e", "more_body": False},
    ]
    assert sink.calls == [("body_consumed", 4), ("body_consumed", 1)]


def test_request_without_body() -> None:
    async def main() -> Message:
        stream = make_stream(FakeSink())
        stream.feed_end()
        return await stream.receive()

    assert asyncio.run(main()) == {"type": "http.request", "body": b"", "more_body": False}


def test_receive_waits_for_the_body() -> None:
    async def main() -> Message:
        stream = make_stream(FakeSink())
        waiting = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        assert not waiting.done()
        stream.feed_body(b"late")
        stream.feed_end()
        return await waiting

    assert asyncio.run(main()) == {"type": "http.request", "body": b"late", "more_body": False}


def test_disconnect_after_the_response_completed() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await send(start())
        await send(body(b"ok"))
        seen.append(await receive())

    seen: list[Message] = []
    run_app(app)
    assert seen == [{"type": "http.disconnect"}]


def test_disconnect_wakes_a_waiting_receive() -> None:
    async def main() -> Message:
        stream = make_stream(FakeSink())
        waiting = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        stream.feed_disconnect()
        return await waiting

    assert asyncio.run(main()) == {"type": "http.disconnect"}


def test_send_after_disconnect_raises_client_disconnected() -> None:
    async def main() -> None:
        stream = make_stream(FakeSink())
        stream.feed_disconnect()
        await stream.send(start())

    with pytest.raises(ClientDisconnected) as info:
        asyncio.run(main())
    assert isinstance(info.value, OSError)


def test_client_disconnected_is_not_an_app_error(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        stream = make_stream(sink)
        stream.feed_disconnect()
        await stream.run(sending(start(), body(b"x")))
        return sink

    sink = asyncio.run(main())
    assert sink.events == []
    assert "Exception in ASGI application" not in caplog.text


def test_wait_for_a_slow_client_then_disconnect() -> None:
    async def main() -> None:
        sink = FakeSink()
        sink.is_writable = False
        stream = make_stream(sink)
        await stream.send(start())
        sending_task = asyncio.ensure_future(stream.send(body(b"x", more=True)))
        await sink.waiting.wait()
        assert sink.calls == [("wait_writable", 7)]
        stream.feed_disconnect()
        sink.drained.set()
        await sending_task

    with pytest.raises(ClientDisconnected):
        asyncio.run(main())


# ----------------------------------------------------------- 100-continue


def test_100_continue_is_requested_on_the_first_receive() -> None:
    async def main() -> list[tuple[Any, ...]]:
        sink = FakeSink()
        stream = make_stream(sink, expect_continue=True)
        assert sink.calls == []  # not before the app asks for the body
        first = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        assert sink.calls == [("continue", 7)]
        stream.feed_body(b"x")
        stream.feed_end()
        await first
        return sink.calls

    assert asyncio.run(main()) == [("continue", 7), ("body_consumed", 1)]


def test_100_continue_is_not_sent_once_the_response_started() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(417))
        await send(body())

    sink, _ = run_app(app, expect_continue=True)
    assert ("continue", 7) not in sink.calls


def test_100_continue_is_not_needed_when_the_body_is_there() -> None:
    async def main() -> list[tuple[Any, ...]]:
        sink = FakeSink()
        stream = make_stream(sink, expect_continue=True)
        stream.feed_body(b"x")
        stream.feed_end()
        await stream.receive()
        return sink.calls

    assert asyncio.run(main()) == [("body_consumed", 1)]


# ----------------------------------------------------------- body limit


def test_body_limit() -> None:
    stream = make_stream(FakeSink(), body_limit=10)
    assert stream.feed_body(b"12345")
    assert stream.feed_body(b"67890")  # exactly at the limit
    assert not stream.feed_body(b"1")
    assert stream.buffered_body == 10


def test_rejected_request_before_the_response_gets_the_status() -> None:
    async def main() -> tuple[FakeSink, Message]:
        sink = FakeSink()
        stream = make_stream(sink, body_limit=1)
        assert not stream.feed_body(b"too much")
        stream.reject_request(413)
        return sink, await stream.receive()

    sink, message = asyncio.run(main())
    assert sink.calls == [("error_response", 413)]
    assert message == {"type": "http.disconnect"}


def test_rejected_request_mid_response_aborts() -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        stream = make_stream(sink)
        await stream.send(start())
        await stream.send(body(b"x", more=True))
        stream.reject_request(413)
        with pytest.raises(ClientDisconnected):
            await stream.send(body(b"y"))
        return sink

    assert asyncio.run(main()).calls == [("abort", 7)]


# ------------------------------------------------------------- start hooks


def adding(name: bytes, log: list[bytes] | None = None) -> http_stream.StartHook:
    """A start hook that appends the field ``name: 1`` (and logs its call)."""

    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> None:
        if log is not None:
            log.append(name)
        fields.append((name, b"1"))

    return hook


def layer(hook: http_stream.StartHook, app: App, handed: list[bool] | None = None) -> App:
    """A layer that adjusts the start through ``hook`` and notes whether the
    app was handed the very ``send`` the layer was given."""

    async def call(scope: Any, receive: Any, send: Any) -> None:
        adjusted = http_stream.on_response_start(send, hook)
        if handed is not None:
            handed.append(adjusted is send)
        await app(scope, receive, adjusted)

    return call


HELLO = sending(start(headers=[(b"content-type", b"text/plain")]), body(b"hi"))


def test_a_hook_on_the_streams_own_send_costs_the_app_no_wrapper() -> None:
    handed: list[bool] = []
    sink, _ = run_app(layer(adding(b"x-layer"), HELLO, handed))
    # The app sends straight to the stream: no call of the layer's per message.
    assert handed == [True]
    assert head_of(sink).headers[2:] == (
        (b"content-type", b"text/plain"),
        (b"x-layer", b"1"),
        (b"content-length", b"2"),
    )
    assert sink.whole == [7]  # still one call to the connection


def test_hooks_run_innermost_first_as_wrappers_would() -> None:
    log: list[bytes] = []
    app = layer(adding(b"x-outer", log), layer(adding(b"x-inner", log), HELLO))
    sink, _ = run_app(app)
    assert log == [b"x-inner", b"x-outer"]
    assert header_names(sink)[3:5] == [b"x-inner", b"x-outer"]


def test_behind_a_wrapper_the_layer_wraps_too_and_keeps_its_place() -> None:
    # outer hook, a wrapping middleware, inner hook: the inner layer cannot
    # hand its adjustment to the stream (the middleware would see the start
    # first), so it wraps, and the fields come out in layer order.
    handed: list[bool] = []
    log: list[bytes] = []
    inner = layer(adding(b"x-inner", log), HELLO, handed)
    app = layer(adding(b"x-outer", log), behind_a_wrapper(inner), handed)
    sink, _ = run_app(app)
    assert handed == [True, False]
    assert log == [b"x-inner", b"x-outer"]
    assert header_names(sink)[3:5] == [b"x-inner", b"x-outer"]


def test_a_hook_sees_the_fields_the_server_will_send() -> None:
    seen: list[tuple[int, list[tuple[bytes, bytes]]]] = []

    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> None:
        seen.append((status, list(fields)))

    app = sending(start(201, [(b"X-Mixed", b"a"), (b"transfer-encoding", b"chunked")]), body(b"hi"))
    run_app(layer(hook, app))
    assert seen == [(201, [(b"x-mixed", b"a")])]


def test_the_wrapper_hands_a_hook_lowercase_fields_and_sends_what_it_leaves() -> None:
    sent: list[Message] = []

    async def collect(message: Message) -> None:
        sent.append(message)

    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> None:
        fields[:] = [pair for pair in fields if pair[0] != b"x-drop"]
        fields.append((b"x-status", str(status).encode()))

    original = start(404, [(b"X-Drop", b"1"), (b"Content-Type", b"text/plain")])

    async def main() -> None:
        adjusted = http_stream.on_response_start(collect, hook)
        assert adjusted is not collect
        await adjusted(original)
        await adjusted(body(b"x"))

    asyncio.run(main())
    assert sent[0]["headers"] == [(b"content-type", b"text/plain"), (b"x-status", b"404")]
    assert sent[1] == body(b"x")
    assert original["headers"] == [(b"X-Drop", b"1"), (b"Content-Type", b"text/plain")]


def test_the_wrapper_leaves_a_start_the_server_will_refuse_alone() -> None:
    log: list[bytes] = []
    for bad in (start("200"), start(headers=[(b"a",)]), {**start(), "headers": 5}):
        sink, _ = run_app(behind_a_wrapper(layer(adding(b"x-layer", log), sending(bad, body()))))
        assert sink.calls == [("error_response", 500)]  # the stream refused it
    assert log == []


def test_once_the_response_started_a_hook_is_not_registered_but_wrapped() -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        stream = make_stream(sink)
        send = stream.send
        await send(start())
        adjusted = http_stream.on_response_start(send, adding(b"x-late"))
        assert adjusted is not send
        await adjusted(body(b"hi"))
        return sink

    assert b"x-late" not in header_names(asyncio.run(main()))


def test_a_hook_that_fails_fails_the_apps_send() -> None:
    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> None:
        raise ValueError("no")

    sink, stream = run_app(layer(hook, HELLO))
    assert sink.calls == [("error_response", 500)]  # as a failing wrapper would
    assert stream.status == 500


# -------------------------------------------------------------- relays


def relaying(
    name: bytes, seen: list[Message], firsts: list[Message] | None = None, take: bool = True
) -> http_stream.StartHook:
    """A start hook whose relay notes the first message after the start and,
    when it ``take``s the response, every message, adds ``name: 1`` to the
    start it passes on and doubles each body."""

    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> http_stream.ResponseRelay:
        def relay(downstream: Any, first: Message) -> Any:
            if firsts is not None:
                firsts.append(first)
            if not take:
                return None

            async def relayed(message: Message) -> None:
                seen.append(message)
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message["headers"], (name, b"1")]}
                elif message["type"] == "http.response.body":
                    message = {**message, "body": message.get("body", b"") * 2}
                await downstream(message)

            return relayed

        return relay

    return hook


def test_a_relay_gets_the_start_as_the_hooks_left_it_and_every_later_message() -> None:
    seen: list[Message] = []
    app = sending(start(headers=[(b"X-App", b"a")]), body(b"ab", more=True), body(b"c"))
    handed: list[bool] = []
    inner = layer(adding(b"x-inner"), app, handed)
    sink, stream = run_app(
        layer(adding(b"x-outer"), layer(relaying(b"x-relay", seen), inner, handed), handed)
    )
    assert handed == [True, True, True]  # the app still has the stream's own send
    assert [m["type"] for m in seen] == ["http.response.start", *["http.response.body"] * 2]
    # The inner hook ran before the relay took over; the outer one after it,
    # on the start the relay sent; no hook ran twice.
    assert seen[0]["headers"] == [(b"x-app", b"a"), (b"x-inner", b"1")]
    assert header_names(sink)[2:] == [b"x-app", b"x-inner", b"x-relay", b"x-outer"]
    sent = b"".join(e.data for e in sink.events if isinstance(e, ResponseBody))
    assert sent == b"ababcc"
    assert stream.response_complete


def test_a_relay_behind_a_wrapper_does_what_it_does_through_the_stream() -> None:
    def served(wrapped: bool) -> FakeSink:
        seen: list[Message] = []
        app = sending(start(headers=[(b"x-app", b"a")]), body(b"ab", more=True), body(b"c"))
        inner: App = layer(relaying(b"x-relay", seen), layer(adding(b"x-inner"), app))
        if wrapped:
            inner = behind_a_wrapper(inner)
        sink, _ = run_app(layer(adding(b"x-outer"), inner))
        return sink

    assert served(True).events == served(False).events


def test_a_hook_that_returns_no_relay_leaves_the_response_to_the_stream() -> None:
    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> None:
        fields.append((b"x-judged", b"1"))

    sink, stream = run_app(layer(hook, HELLO))
    assert stream._relay is None
    assert b"x-judged" in header_names(sink)
    assert sink.whole == [7]


def test_send_and_deliver_are_the_same_lines_but_the_relay() -> None:
    # ``send`` is ``_deliver`` with the relay check in front, written out
    # twice so that every message saves a call: they must not drift apart.
    def statements(function: Any) -> list[str]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        definition = tree.body[0]
        assert isinstance(definition, ast.AsyncFunctionDef)
        return [ast.dump(node) for node in definition.body]

    send = statements(HTTPStream.send)
    deliver = statements(HTTPStream._deliver)
    assert send[0] == ast.dump(ast.parse("relay = self._relay").body[0])
    assert send[1].startswith("If(test=Compare(left=Name(id='relay'")
    assert send[2:] == deliver


@pytest.mark.parametrize("wrapped", [False, True], ids=["hooked", "behind-a-wrapper"])
def test_a_relay_that_declines_leaves_the_response_as_the_hooks_made_it(wrapped: bool) -> None:
    seen: list[Message] = []
    firsts: list[Message] = []
    log: list[bytes] = []
    app = sending(start(headers=[(b"x-app", b"a")]), body(b"ab"))
    inner: App = layer(
        relaying(b"x-relay", seen, firsts, take=False), layer(adding(b"x-inner", log), app)
    )
    if wrapped:
        inner = behind_a_wrapper(inner)
    sink, stream = run_app(layer(adding(b"x-outer", log), inner))
    assert firsts == [body(b"ab")]  # the relay saw the first body ...
    assert seen == []  # ... and left the response alone
    assert log == [b"x-inner", b"x-outer"]  # every hook once, in layer order
    assert header_names(sink)[2:] == [b"x-app", b"x-inner", b"x-outer", b"content-length"]
    assert b"".join(e.data for e in sink.events if isinstance(e, ResponseBody)) == b"ab"
    assert sink.whole == [7]  # still one call to the connection
    assert stream.response_complete


def test_a_relay_declined_by_one_layer_may_be_taken_by_an_outer_one() -> None:
    inner_seen: list[Message] = []
    outer_seen: list[Message] = []
    app = sending(start(), body(b"ab", more=True), body(b"c"))
    inner: App = layer(relaying(b"x-inner", inner_seen, take=False), app)
    sink, _ = run_app(layer(relaying(b"x-outer", outer_seen), inner))
    assert inner_seen == []
    assert [m["type"] for m in outer_seen] == ["http.response.start", *["http.response.body"] * 2]
    assert b"x-outer" in header_names(sink)
    assert b"".join(e.data for e in sink.events if isinstance(e, ResponseBody)) == b"ababcc"


# ---------------------------------------------- layers that declare their hook


class HookLayer:
    """A layer that, for HTTP, only registers a hook chosen from the request,
    and says so (``app`` and ``http_start_hook``): the server may run the
    hook itself and skip the layer."""

    def __init__(self, hook: http_stream.StartHook, app: App, log: list[str] | None = None):
        self.app = app
        self._hook = hook
        self._log = log

    def _chosen(self, scope: Any) -> http_stream.StartHook:
        if self._log is not None:
            self._log.append(scope["method"])
        return self._hook

    def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self.app(scope, receive, http_stream.on_response_start(send, self._chosen(scope)))

    def http_start_hook(
        self, scope: Any, status: int, fields: list[tuple[bytes, bytes]]
    ) -> http_stream.ResponseRelay | None:
        return self._chosen(scope)(status, fields)


def run_split(app: App) -> tuple[FakeSink, HTTPStream]:
    """Run ``app`` as the workers do: without its outermost hook layers,
    whose hooks the stream runs."""
    inner, hooks = split_hook_layers(app)
    return run_app(inner, layer_hooks=hooks)


def test_split_takes_the_outermost_hook_layers_innermost_first() -> None:
    innermost = HookLayer(adding(b"x-c"), HELLO)
    middle = layer(adding(b"x-plain"), innermost)
    inner = HookLayer(adding(b"x-b"), middle)
    outer = HookLayer(adding(b"x-a"), inner)
    app, hooks = split_hook_layers(outer)
    assert app is middle  # the first layer that does not say so stops it
    assert [hook.__self__ for hook in hooks] == [inner, outer]  # type: ignore[attr-defined]


def test_split_leaves_apps_that_declare_nothing_alone() -> None:
    assert split_hook_layers(HELLO) == (HELLO, ())
    anything = mock.MagicMock()  # answers every attribute: declares nothing
    assert split_hook_layers(anything) == (anything, ())

    class HookOnly:  # a hook, but no app inside: not one of them
        def http_start_hook(self, *args: Any) -> None:
            return None

    lone = HookOnly()
    assert split_hook_layers(lone) == (lone, ())


def _stacks() -> dict[str, Any]:
    """Stacks of hook layers, registering layers, relays and wrappers, built
    afresh for each run (a relay's records are per run)."""

    def build(name: str) -> tuple[App, list[Any]]:
        log: list[Any] = []
        app = sending(start(headers=[(b"x-app", b"a")]), body(b"ab", more=True), body(b"c"))
        if name == "one":
            return HookLayer(adding(b"x-layer", log), app, log), log
        if name == "two-over-a-registering-layer":
            inner = layer(adding(b"x-inner", log), app)
            return HookLayer(adding(b"x-b", log), HookLayer(adding(b"x-a", log), inner)), log
        if name == "over-a-wrapper":
            inner = behind_a_wrapper(layer(adding(b"x-inner", log), app))
            return HookLayer(adding(b"x-layer", log), inner), log
        if name == "relaying-layer":
            return HookLayer(adding(b"x-out", log), HookLayer(relaying(b"x-r", log), app)), log
        if name == "declining-layer":
            relay = relaying(b"x-r", log, log, take=False)
            return HookLayer(adding(b"x-out", log), HookLayer(relay, app)), log
        if name == "over-an-inner-relay":
            inner = layer(relaying(b"x-r", log), app)
            return HookLayer(adding(b"x-b", log), HookLayer(adding(b"x-a", log), inner)), log
        if name == "over-an-inner-declining-relay":
            inner = layer(relaying(b"x-r", log, log, take=False), app)
            return HookLayer(adding(b"x-layer", log), inner), log
        raise AssertionError(name)

    return {
        name: build
        for name in (
            "one",
            "two-over-a-registering-layer",
            "over-a-wrapper",
            "relaying-layer",
            "declining-layer",
            "over-an-inner-relay",
            "over-an-inner-declining-relay",
        )
    }


@pytest.mark.parametrize("name", list(_stacks()))
def test_the_stream_runs_the_hooks_of_split_layers_as_the_layers_would(name: str) -> None:
    build = _stacks()[name]
    app, log = build(name)
    called, _ = run_app(app)
    called_log = list(log)
    app, log = build(name)
    split, stream = run_split(app)
    assert split.events == called.events
    assert split.calls == called.calls
    assert log == called_log  # every hook as often, in the same order
    assert stream.response_complete
    assert called_log.count(b"x-layer") <= 1
    assert called_log.count(b"x-out") <= 1


def test_a_split_layers_hook_runs_after_an_inner_relay_took_the_response_once() -> None:
    log: list[Any] = []
    app = sending(start(), body(b"ab"))
    sink, _ = run_split(HookLayer(adding(b"x-layer", log), layer(relaying(b"x-r", []), app)))
    # On the start the relay sent, after its own field; not on the app's.
    assert header_names(sink)[2:] == [b"x-r", b"x-layer", b"content-length"]
    assert log == [b"x-layer"]
    assert b"".join(e.data for e in sink.events if isinstance(e, ResponseBody)) == b"abab"


def test_a_worker_serves_http_without_split_layers_and_the_rest_through_them() -> None:
    outer = HookLayer(adding(b"x-layer"), HELLO)

    async def main() -> WorkerContext:
        return WorkerContext(
            config=ServerConfig(), app=outer, loop=asyncio.get_running_loop(), lifespan_state={}
        )

    ctx = asyncio.run(main())
    assert ctx.app is outer  # WebSocket sessions and lifespan: every layer
    assert ctx.http_app is HELLO
    assert [hook.__self__ for hook in ctx.http_start_hooks] == [outer]  # type: ignore[attr-defined]
