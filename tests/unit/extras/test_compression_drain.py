"""A compressed event stream asked to end as its worker drains ends its
encoding too, whether the layer follows it through the server's relay or
behind another layer's wrapper, and whether the app listens or is cancelled."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import pytest

from pounce import ASGIApp, ServerConfig
from pounce._bridge.app_stack import build_app
from pounce._bridge.http_stream import HTTPStream
from pounce._bridge.plugins import load_plugins
from pounce_protocols import ResponseBody, ResponseEnd, ResponseHead
from support.apps import behind_a_wrapper
from support.sinks import FakeSink

SSE = frozenset({b"text/event-stream"})
CONFIG = ServerConfig(compression_min_size=10)
EVENT = b"data: " + b"an event that compresses well " * 4 + b"\n\n"


def event_stream(listens: bool, sent: asyncio.Event) -> ASGIApp:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": EVENT, "more_body": True})
        sent.set()
        if not listens:
            await asyncio.sleep(3600)
        while (await receive())["type"] != "http.disconnect":
            pass
        # A last event after the disconnect, as the drain allows.
        await send({"type": "http.response.body", "body": EVENT, "more_body": True})

    return app


@pytest.mark.parametrize("wrapped", [False, True], ids=["relayed", "behind-a-wrapper"])
@pytest.mark.parametrize("listens", [True, False], ids=["returns", "cancelled"])
def test_a_compressed_stream_asked_to_end_ends_its_encoding(wrapped: bool, listens: bool) -> None:
    async def main() -> FakeSink:
        sink = FakeSink()
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"host", b"h"), (b"accept-encoding", b"gzip")],
            "extensions": {},
        }
        stream = HTTPStream(sink, 1, scope, list, False, 1024)
        stream.feed_end()
        sent = asyncio.Event()
        app = build_app(event_stream(listens, sent), CONFIG, load_plugins(CONFIG))
        if wrapped:
            app = behind_a_wrapper(app)
        task = asyncio.create_task(stream.run(app))
        await sent.wait()
        assert stream.ask_to_end(SSE)
        if listens:
            await task
        else:
            task.cancel()  # what the connection does after its grace
            with pytest.raises(asyncio.CancelledError):
                await task
        assert stream.response_complete
        return sink

    sink = asyncio.run(main())
    head = sink.events[0]
    assert isinstance(head, ResponseHead)
    assert (b"content-encoding", b"gzip") in head.headers
    assert isinstance(sink.events[-1], ResponseEnd)
    assert ("abort", 1) not in sink.calls
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    body = b"".join(e.data for e in sink.events if isinstance(e, ResponseBody))
    decoded = decoder.decompress(body)
    assert decoder.eof  # the gzip stream ended: its trailer came
    assert decoded == EVENT * (2 if listens else 1)
