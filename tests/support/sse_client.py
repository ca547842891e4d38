"""Server-sent-event clients that reconnect as a browser's EventSource does.

Each :class:`SSEClients` thread opens the stream, reads events, and when the
stream ends (cleanly: the server ended the response) opens it again, until
stopped. It records every event, the generation token each stream started
with (``support.drain_apps``), how many streams ended cleanly, and any error:
a stream that breaks off (a response cut short) or a request that fails.
"""

from __future__ import annotations

import functools
import time

import httpx

from support.load import ClientThreads
from support.waiting import WAIT, wait_for

__all__ = ["RECONNECT_DELAY", "SSEClients"]

# Seconds before a client reconnects after its stream ended; a browser's
# EventSource waits its "reconnection time" (a few seconds unless the server
# says otherwise with ``retry:``), shortened here to keep tests quick.
RECONNECT_DELAY = 0.2


class SSEClients(ClientThreads):
    """``with SSEClients(url, count) as clients: ...``; then ``clients.errors``."""

    def __init__(
        self, url: str, count: int = 3, *, http2: bool = False, reconnect: bool = True
    ) -> None:
        super().__init__()
        self._url = url
        self._http2 = http2
        self._reconnect = reconnect
        # Guarded by self._lock:
        self.events = 0
        self.generations: list[set[str]] = [set() for _ in range(count)]
        self.clean_ends = 0
        self.ended_at: list[float] = []
        self.errors: list[str] = []
        for index in range(count):
            self._add(functools.partial(self._run, index), f"sse{index}", 1)

    def wait_for_events(self, count: int) -> None:
        with self._lock:
            target = self.events + count
        wait_for(lambda: self.events >= target, what=f"{count} more events")

    def _run(self, index: int) -> None:
        # HTTP/2 without TLS: prior knowledge (h2c), as h2load and curl do.
        http1 = not self._http2
        with httpx.Client(http1=http1, http2=self._http2, timeout=WAIT) as client:
            while not self._stop.is_set():
                try:
                    with client.stream("GET", self._url) as response:
                        if self._ok(index, response.status_code):
                            for line in response.iter_lines():
                                if self._stop.is_set():
                                    return
                                self._line(index, line)
                            self._clean_end()
                except httpx.HTTPError as exc:
                    if not self._stop.is_set():
                        self._error(f"stream {index}: {type(exc).__name__}: {exc}")
                if not self._reconnect:
                    return
                # Like a browser's EventSource, wait its reconnection time.
                self._stop.wait(RECONNECT_DELAY)

    def _ok(self, index: int, status: int) -> bool:
        if status != 200:
            self._error(f"stream {index}: status {status}")
        return status == 200

    def _line(self, index: int, line: str) -> None:
        if not line.startswith("data: "):
            return
        data = line.removeprefix("data: ")
        with self._lock:
            self.events += 1
            if data.startswith("gen "):
                self.generations[index].add(data.removeprefix("gen "))

    def _clean_end(self) -> None:
        with self._lock:
            self.clean_ends += 1
            self.ended_at.append(time.monotonic())

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)
