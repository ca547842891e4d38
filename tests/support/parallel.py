"""Many clients at once, each checking that every answer is its own.

:class:`ParallelLoad` runs client threads until stopped: HTTP/1.1 keep-alive
clients (httpx), HTTP/2 clients that keep several streams in flight on one
cleartext connection (httpx with prior knowledge), and WebSocket clients
(websockets). Each request carries a token unique to it and a body of random
size whose digest the server returns (``support.parallel_apps``); any answer
that is not exactly the one expected is a failure, as is any error.

A WebSocket closed by the server with 1001 (going away, as on a reload or
shutdown) is not a failure: its client opens a new one, as a browser does.
The message in flight then is counted in ``ws_retried``, never as answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from support.load import ClientThreads
from support.waiting import WAIT, wait_for

__all__ = ["ParallelLoad"]


class ParallelLoad(ClientThreads):
    """``with ParallelLoad(host, port) as load: load.wait_for(n)``, then ``load.failures``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        http1_clients: int = 6,
        http2_clients: int = 3,
        http2_streams: int = 8,
        websocket_clients: int = 3,
        max_body: int = 40_000,
    ) -> None:
        super().__init__()
        self._base = f"http://{host}:{port}"
        self._ws_url = f"ws://{host}:{port}/ws"
        self._max_body = max_body
        self._streams = http2_streams
        self._ids = itertools.count()
        # Guarded by self._lock:
        self.failures: list[str] = []
        self.answered = {"1.1": 0, "2": 0, "ws": 0}
        self.workers: set[str] = set()
        self.ws_retried = 0
        self._add(self._http1, "h1", http1_clients)
        self._add(self._http2, "h2", http2_clients)
        self._add(self._websocket, "ws", websocket_clients)

    def stop(self) -> None:
        super().stop()
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self._fail(f"clients still running after stop: {alive}")

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.answered.values())

    def wait_for(self, count: int, timeout: float = WAIT) -> None:
        """Wait until at least ``count`` more requests and messages are answered."""
        target = self.total + count
        wait_for(lambda: self.total >= target, timeout=timeout, what=f"{count} more answers")

    # --- bookkeeping ---------------------------------------------------------

    def _fail(self, text: str) -> None:
        with self._lock:
            self.failures.append(text)

    def _ok(self, kind: str, worker: str | None = None) -> None:
        with self._lock:
            self.answered[kind] += 1
            if worker:
                self.workers.add(worker)

    def _request(self) -> tuple[str, bytes]:
        token = f"t{next(self._ids)}-{os.urandom(6).hex()}"
        size = int.from_bytes(os.urandom(3), "big") % self._max_body
        return token, token.encode() + b"|" + os.urandom(size)

    def _check(self, kind: str, token: str, body: bytes, response: httpx.Response) -> None:
        if response.status_code != 200:
            self._fail(f"{kind} {token}: status {response.status_code}")
            return
        got = json.loads(response.content)
        expected = {
            "token": token,
            "body_token": token,
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "http_version": kind,
        }
        wrong = {key: got.get(key) for key, value in expected.items() if got.get(key) != value}
        if wrong:
            self._fail(f"{kind} {token}: answer not its own: {wrong}")
        else:
            self._ok(kind, got["worker"])

    # --- clients ---------------------------------------------------------------

    def _http1(self) -> None:
        with httpx.Client(base_url=self._base, timeout=30) as client:
            while not self._stop.is_set():
                token, body = self._request()
                try:
                    response = client.post("/echo", content=body, headers={"x-token": token})
                except httpx.HTTPError as exc:
                    self._fail(f"1.1 {token}: {type(exc).__name__}: {exc}")
                    continue
                self._check("1.1", token, body, response)

    def _http2(self) -> None:
        asyncio.run(self._http2_streams())

    async def _http2_streams(self) -> None:
        async with httpx.AsyncClient(
            base_url=self._base, http1=False, http2=True, timeout=30
        ) as client:
            while not self._stop.is_set():
                await asyncio.gather(*(self._http2_one(client) for _ in range(self._streams)))

    async def _http2_one(self, client: httpx.AsyncClient) -> None:
        token, body = self._request()
        try:
            response = await client.post("/echo", content=body, headers={"x-token": token})
        except httpx.HTTPError as exc:
            self._fail(f"2 {token}: {type(exc).__name__}: {exc}")
            return
        self._check("2", token, body, response)

    def _websocket(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(self._ws_url, open_timeout=30, close_timeout=5) as ws:
                    while not self._stop.is_set():
                        token, body = self._request()
                        payload = body.hex()[:2000]
                        try:
                            ws.send(f"{token}:{payload}")
                            answer = ws.recv(timeout=30)
                        except ConnectionClosed as closed:
                            if closed.rcvd is not None and closed.rcvd.code == 1001:
                                with self._lock:
                                    self.ws_retried += 1
                                break  # the server is going away: reconnect
                            raise
                        digest = hashlib.sha256(payload.encode()).hexdigest()
                        if answer != f"{token}:{digest}":
                            self._fail(f"ws {token}: answer not its own: {answer!r:.80}")
                        else:
                            self._ok("ws")
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                if not self._stop.is_set():
                    self._fail(f"ws: {type(exc).__name__}: {exc}")
