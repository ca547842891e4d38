"""Load shedding: ``--limit-concurrency N`` requests at once, the rest wait or go.

When N requests are being handled, a new one waits in a queue of at most
``--limit-queue`` requests (default N) for up to ``--limit-queue-timeout``
seconds; when the queue is full, or the wait runs out, it gets 503 with
``Retry-After`` at once, before the app sees it. A server that says "later"
quickly stays responsive, where one that accepts everything slows down for
everyone. WebSocket connections are not counted: they would hold a slot for
their whole life.

The limit is one for the whole server. Thread workers each run their own
event loop, so the limiter is thread-safe rather than an asyncio primitive: a
lock guards the count and a FIFO of waiters, and a slot freed on one thread
is handed to the first waiter and its loop woken with
``call_soon_threadsafe``. A waiter that times out or is cancelled just as it
is handed a slot notices (under the lock) and keeps or returns it, so slots
are never lost. Workers in separate processes each have their own limiter.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field

from pounce import ASGIApp, Receive, Scope, Send, ServerConfig
from pounce_extras._error_pages import send_error

__all__ = ["ConcurrencyLimiter", "LoadShedding"]

_RETRY_AFTER = b"1"


@dataclass(eq=False, slots=True)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = field(default=False)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ConcurrencyLimiter:
    """``limit`` slots, a queue of ``queue`` waiters, ``timeout`` seconds of waiting."""

    def __init__(self, limit: int, queue: int, timeout: float) -> None:
        self.limit = limit
        self.queue = queue
        self.timeout = timeout
        self._lock = threading.Lock()
        self._active = 0
        self._waiters: deque[_Waiter] = deque()

    @property
    def active(self) -> int:
        """Slots in use."""
        with self._lock:
            return self._active

    @property
    def waiting(self) -> int:
        """Requests in the queue."""
        with self._lock:
            return len(self._waiters)

    async def acquire(self) -> bool:
        """Take a slot, waiting if needed; ``False``: shed this request."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._active < self.limit and not self._waiters:
                self._active += 1
                return True
            if len(self._waiters) >= self.queue:
                return False
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                await waiter.future
        except BaseException as exc:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                return granted  # a slot that arrived as time ran out is ours
            if granted:
                self.release()
            raise
        return True

    def release(self) -> None:
        """Give a slot back: to the first waiter, or to the pool."""
        while True:
            with self._lock:
                if not self._waiters:
                    self._active -= 1
                    return
                waiter = self._waiters.popleft()
                waiter.granted = True  # the slot changes hands; the count stays
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                return
            except RuntimeError:
                continue  # that worker's loop is closed; give the slot to the next


class LoadShedding:
    """The ASGI layer around the limiter."""

    def __init__(self, app: ASGIApp, config: ServerConfig, limiter: ConcurrencyLimiter) -> None:
        self.app = app
        self.config = config
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not await self.limiter.acquire():
            await send_error(
                send, self.config, 503, scope, headers=[(b"retry-after", _RETRY_AFTER)]
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release()
