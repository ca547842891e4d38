"""A long-lived response asked to end as its worker drains (HTTPStream.ask_to_end)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pounce._bridge.http_stream import HTTPStream, on_response_start
from pounce_protocols import ResponseBody, ResponseEnd
from support.sinks import FakeSink

SSE = frozenset({b"text/event-stream"})


def make_stream(sink: FakeSink) -> HTTPStream:
    return HTTPStream(
        sink=sink,
        stream_id=3,
        scope={"type": "http", "method": "GET", "headers": [], "extensions": {}},
        default_headers=list,
        expect_continue=False,
        body_limit=1024,
    )


def start(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": list(headers)}


def chunk(data: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": True}


async def _started(sink: FakeSink, *headers: tuple[bytes, bytes]) -> tuple[HTTPStream, Any]:
    """A stream whose app has sent its head and a first chunk, and now waits."""
    stream = make_stream(sink)
    stream.feed_end()
    heard: list[str] = []
    go_on = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(*headers))
        await send(chunk(b"data: 1\n\n"))
        assert (await receive())["type"] == "http.request"
        heard.append((await receive())["type"])
        await go_on.wait()
        await send(chunk(b"data: last\n\n"))

    task = asyncio.create_task(stream.run(app))
    await asyncio.sleep(0)
    return stream, (task, heard, go_on)


@pytest.mark.parametrize(
    "content_type",
    [b"text/event-stream", b"Text/Event-Stream; charset=utf-8", b"text/event-stream ;x=1"],
)
def test_an_event_stream_is_asked_to_end_and_ends_cleanly(content_type: bytes) -> None:
    async def main() -> None:
        sink = FakeSink()
        stream, (task, heard, go_on) = await _started(sink, (b"content-type", content_type))
        assert stream.ask_to_end(SSE)
        assert not stream.ask_to_end(SSE)  # once
        await asyncio.sleep(0)
        assert heard == ["http.disconnect"]
        assert stream.scope["extensions"]["pounce.drain"]["ending"] is True
        go_on.set()
        await task
        # The last event went out, and the response ended: not aborted.
        assert [type(e) for e in sink.events][-2:] == [ResponseBody, ResponseEnd]
        assert sink.events[-2].data == b"data: last\n\n"  # type: ignore[union-attr]
        assert ("abort", 3) not in sink.calls
        assert stream.response_complete

    asyncio.run(main())


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-type", b"text/plain")],
        [],
        [(b"content-type", b"text/event-stream"), (b"content-length", b"100000")],
        [(b"content-type", b"text/event-stream"), (b"trailer", b"x-done")],
    ],
    ids=["other-type", "no-type", "fixed-length", "trailers"],
)
def test_other_responses_keep_the_whole_grace(headers: list[tuple[bytes, bytes]]) -> None:
    async def main() -> None:
        sink = FakeSink()
        with_trailers = any(name == b"trailer" for name, _ in headers)
        extra: dict[str, Any] = {"trailers": True} if with_trailers else {}
        stream = make_stream(sink)
        stream.feed_end()
        waiting = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({**start(*headers), **extra})
            await send(chunk(b"x"))
            waiting.set()
            await asyncio.sleep(3600)

        task = asyncio.create_task(stream.run(app))
        await waiting.wait()
        assert not stream.ask_to_end(SSE)
        assert "pounce.drain" not in stream.scope["extensions"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_response_not_yet_started_is_not_asked() -> None:
    stream = make_stream(FakeSink())
    assert not stream.ask_to_end(SSE)


def test_an_app_that_does_not_listen_is_cancelled_and_its_response_still_ends() -> None:
    async def main() -> None:
        sink = FakeSink()
        stream = make_stream(sink)
        stream.feed_end()
        sent = asyncio.Event()

        async def deaf(scope: Any, receive: Any, send: Any) -> None:
            await send(start((b"content-type", b"text/event-stream")))
            while True:
                await send(chunk(b"data: x\n\n"))
                sent.set()
                await asyncio.sleep(0.01)

        task = asyncio.create_task(stream.run(deaf))
        await sent.wait()
        assert stream.ask_to_end(SSE)
        task.cancel()  # what the connection does after its grace
        with pytest.raises(asyncio.CancelledError):
            await task
        assert isinstance(sink.events[-1], ResponseEnd)
        assert stream.response_complete

    asyncio.run(main())


def test_cancelled_without_being_asked_is_still_an_abort() -> None:
    async def main() -> None:
        sink = FakeSink()
        stream = make_stream(sink)
        stream.feed_end()
        sent = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(start((b"content-type", b"text/event-stream")))
            await send(chunk(b"data: x\n\n"))
            sent.set()
            await asyncio.sleep(3600)

        task = asyncio.create_task(stream.run(app))
        await sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not isinstance(sink.events[-1], ResponseEnd)

    asyncio.run(main())


def _encoding_layer(app: Any, ended: list[str]) -> Any:
    """A layer that encodes the body through a relay (each piece upper-cased,
    ``END`` sent when the body ends), as a compressing layer would."""

    def hook(status: int, fields: list[tuple[bytes, bytes]]) -> Any:
        def relay(downstream: Any, first: Any) -> Any:
            async def relayed(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    data = message.get("body", b"").upper()
                    if not message.get("more_body", False):
                        ended.append("end")
                        data += b"END"
                    message = {**message, "body": data}
                await downstream(message)

            return relayed

        return relay

    async def layered(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, on_response_start(send, hook))

    return layered


@pytest.mark.parametrize("listens", [True, False], ids=["returns", "cancelled"])
def test_a_relayed_response_asked_to_end_ends_through_its_relay(listens: bool) -> None:
    async def main() -> None:
        sink = FakeSink()
        stream = make_stream(sink)
        stream.feed_end()
        sent = asyncio.Event()
        ended: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(start((b"content-type", b"text/event-stream")))
            await send(chunk(b"data: x\n\n"))
            sent.set()
            if listens:
                while (await receive())["type"] != "http.disconnect":
                    pass
                return
            await asyncio.sleep(3600)

        task = asyncio.create_task(stream.run(_encoding_layer(app, ended)))
        await sent.wait()
        assert stream.ask_to_end(SSE)
        if not listens:
            task.cancel()  # what the connection does after its grace
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            await task
        assert ended == ["end"]
        assert [type(e) for e in sink.events][-2:] == [ResponseBody, ResponseEnd]
        assert sink.events[-2].data == b"END"  # type: ignore[union-attr]
        assert ("abort", 3) not in sink.calls
        assert stream.response_complete

    asyncio.run(main())
