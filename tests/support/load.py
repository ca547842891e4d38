"""Steady client load against a server, counting every request that fails.

:class:`Load` runs client threads until stopped: some reuse one keep-alive
connection (httpx), some open a new connection per request. A request fails
when it raises (connection refused, reset, closed without a response,
timeout) or gets an unexpected status. The tests assert the count is zero;
nothing here measures speed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

import httpx

from support.waiting import WAIT, wait_for

__all__ = ["ClientThreads", "Load"]


class ClientThreads:
    """Client threads that run from ``__enter__`` until ``stop()`` (or ``__exit__``).

    Subclasses add their clients with :meth:`_add` and check ``self._stop``
    between requests; ``self._lock`` guards what they count.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _add(self, target: Callable[[], None], name: str, count: int) -> None:
        self._threads += [
            threading.Thread(target=target, name=f"load-{name}-{i}", daemon=True)
            for i in range(count)
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


class Load(ClientThreads):
    """``with Load(url) as load: ...`` then ``load.failures`` / ``load.succeeded``."""

    def __init__(
        self,
        url: str,
        *,
        keep_alive_clients: int = 2,
        new_connection_clients: int = 2,
        check: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
    ) -> None:
        super().__init__()
        self._url = url
        self._check = check
        # Guarded by self._lock:
        self._succeeded = 0
        self._failures: list[str] = []
        self._bodies: set[bytes] = set()
        self._add(self._keep_alive, "keepalive", keep_alive_clients)
        self._add(self._new_connections, "new", new_connection_clients)

    @property
    def succeeded(self) -> int:
        with self._lock:
            return self._succeeded

    @property
    def failures(self) -> list[str]:
        with self._lock:
            return list(self._failures)

    @property
    def bodies(self) -> set[bytes]:
        """Every distinct response body seen."""
        with self._lock:
            return set(self._bodies)

    def wait_for(self, count: int, timeout: float = WAIT) -> None:
        """Wait until at least ``count`` more requests have succeeded."""
        target = self.succeeded + count
        wait_for(lambda: self.succeeded >= target, timeout=timeout, what=f"{count} more requests")

    def _record(self, response: httpx.Response | None, error: BaseException | None) -> None:
        with self._lock:
            if error is not None:
                self._failures.append(f"{type(error).__name__}: {error}")
            elif response is not None and self._check(response):
                self._succeeded += 1
                self._bodies.add(response.content)
            elif response is not None:
                self._failures.append(f"status {response.status_code}: {response.text[:80]}")

    def _keep_alive(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self._url)
                except httpx.HTTPError as exc:
                    self._record(None, exc)
                else:
                    self._record(response, None)

    def _new_connections(self) -> None:
        # No keep-alive pool: every request opens (and closes) its own connection.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=30, limits=limits) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self._url)
                except httpx.HTTPError as exc:
                    self._record(None, exc)
                else:
                    self._record(response, None)
