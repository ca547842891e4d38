"""An in-memory ``StreamSink``: what an ``HTTPStream`` asks of its connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pounce._bridge.http_stream import HTTPStream
from pounce_protocols import Headers, ResponseBody, ResponseEnd, ResponseEvent, ResponseHead


class FakeSink:
    """A StreamSink that records what the stream asks of the connection."""

    def __init__(self) -> None:
        self.events: list[ResponseEvent] = []
        self.calls: list[tuple[Any, ...]] = []
        self.finished: list[HTTPStream] = []
        self.whole: list[int] = []  # streams whose response came in one send_response
        self.is_writable = True
        self.waiting = asyncio.Event()  # set once a send waits for the client
        self.drained = asyncio.Event()  # set by a test to let waiting sends go on

    def send_event(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def send_body(self, stream_id: int, data: bytes) -> None:
        self.events.append(ResponseBody(stream_id=stream_id, data=data))

    def send_response(self, stream_id: int, status: int, headers: Headers, body: bytes) -> bool:
        # Taken, and recorded as the events it stands for.
        self.whole.append(stream_id)
        self.events.append(ResponseHead(stream_id=stream_id, status=status, headers=headers))
        if body:
            self.events.append(ResponseBody(stream_id=stream_id, data=body))
        self.events.append(ResponseEnd(stream_id=stream_id))
        return True

    def writable(self, stream_id: int) -> bool:
        return self.is_writable

    async def wait_writable(self, stream_id: int) -> None:
        self.calls.append(("wait_writable", stream_id))
        self.waiting.set()
        await self.drained.wait()

    def body_consumed(self, stream_id: int, nbytes: int) -> None:
        self.calls.append(("body_consumed", nbytes))

    def stream_finished(self, stream: HTTPStream) -> None:
        self.finished.append(stream)

    def abort_stream(self, stream_id: int) -> None:
        self.calls.append(("abort", stream_id))

    def send_continue(self, stream_id: int) -> None:
        self.calls.append(("continue", stream_id))

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        self.calls.append(("error_response", status))
        return 21
