"""Rate limiting: a token bucket per client, ``--rate-limit RATE`` per second.

Each client has a bucket holding up to ``--rate-limit-burst`` tokens that
refills at RATE tokens per second; a request takes one token, and a request
that finds the bucket empty gets 429 with ``Retry-After`` (seconds until a
token is back). Every response carries the bucket's state in the fields of
the IETF RateLimit draft (draft-ietf-httpapi-ratelimit-headers-10)::

    RateLimit-Policy: "default";q=<burst>;w=<seconds to refill a bucket>
    RateLimit: "default";r=<tokens left>;t=<seconds until full again>

A client is its address as the server resolved it (through trusted proxies,
see ``--forwarded-allow-ips``), or the value of ``--rate-limit-key-header``
when the request has it (an API key, say); keys longer than 128 characters
are hashed.

Where buckets live
------------------
``--rate-limit-store memory`` (the default) keeps them in this process. The
store is one object shared by every worker of the server; thread workers call
it concurrently, so it is guarded by a lock (a plain one: a take is a few
arithmetic operations, never a wait). Its memory is bounded: it remembers at
most ``--rate-limit-max-keys`` clients and forgets the least recently seen one
to make room (a forgotten client starts again with a full bucket). Workers
in separate processes each have their own memory store, so the limit then
holds per process; ``--rate-limit-store redis://...`` (see
:mod:`._rate_limit_redis`) keeps the buckets in Redis, one limit across
processes and machines.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from pounce import ASGIApp, Receive, Scope, Send, ServerConfig, ServerPlugin, on_response_start
from pounce_extras._error_pages import send_error
from pounce_extras._http import get_header
from pounce_extras._layers import ORDER
from pounce_extras._rate_limit_bucket import Decision, bucket_take

__all__ = [
    "Decision",
    "MemoryStore",
    "RateLimitLayer",
    "RateLimitPlugin",
    "RateLimitStore",
    "bucket_take",
]

_MAX_KEY = 128


class RateLimitStore(Protocol):
    """Where buckets live; one instance serves every worker of the server."""

    async def take(self, key: str) -> Decision:
        """Take a token from ``key``'s bucket."""

    def check(self) -> None:
        """Called at start-up: log (never raise) if the store is unreachable."""

    def close(self) -> None:
        """Release connections and threads."""


class MemoryStore:
    """Buckets in this process, least recently used forgotten first. Thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        # key -> (tokens, time of the last take). Thread workers share this
        # store, and an OrderedDict is not safe to reorder from two threads
        # at once (nor is read-modify-write of a bucket): every access holds
        # the lock, which is never held across an await.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def take_now(self, key: str) -> Decision:
        """Take a token from ``key``'s bucket (synchronously)."""
        with self._lock:
            now = self._clock()
            state = self._buckets.get(key)
            if state is None:
                tokens, last = float(self.burst), now
                if len(self._buckets) >= self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                tokens, last = state
                self._buckets.move_to_end(key)
            tokens, decision = bucket_take(tokens, now - last, self.rate, self.burst)
            self._buckets[key] = (tokens, now)
        return decision

    async def take(self, key: str) -> Decision:
        return self.take_now(key)

    def check(self) -> None:
        """Nothing to reach."""

    def close(self) -> None:
        """Nothing to release."""


class RateLimitLayer:
    """The ASGI layer: one token per HTTP request, 429 when there is none."""

    def __init__(self, app: ASGIApp, config: ServerConfig, store: RateLimitStore) -> None:
        assert config.rate_limit is not None
        self.app = app
        self.config = config
        self.store = store
        self.rate = config.rate_limit
        self.burst = config.rate_limit_burst or math.ceil(self.rate)
        self.key_header = (
            config.rate_limit_key_header.lower().encode("latin-1")
            if config.rate_limit_key_header
            else None
        )
        window = math.ceil(self.burst / self.rate)
        self.policy = f'"default";q={self.burst};w={window}'.encode("ascii")

    def key(self, scope: Scope) -> str:
        """Whose bucket a request takes from."""
        if self.key_header is not None:
            value = get_header(scope["headers"], self.key_header)
            if value:
                key = "h:" + value.decode("latin-1")
                if len(key) > _MAX_KEY:
                    key = "h#" + hashlib.sha256(value).hexdigest()
                return key
        client = scope.get("client")
        return "a:" + (client[0] if client else "unix")

    def headers(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        """The RateLimit fields describing ``decision``."""
        state = f'"default";r={decision.remaining};t={math.ceil(decision.reset)}'
        return [(b"ratelimit-policy", self.policy), (b"ratelimit", state.encode("ascii"))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = await self.store.take(self.key(scope))
        fields = self.headers(decision)
        if not decision.allowed:
            retry = str(max(1, math.ceil(decision.retry_after))).encode("ascii")
            await send_error(
                send, self.config, 429, scope, headers=[(b"retry-after", retry), *fields]
            )
            return

        def add_state(status: int, response_fields: list[tuple[bytes, bytes]]) -> None:
            response_fields.extend(fields)

        await self.app(scope, receive, on_response_start(send, add_state))


class RateLimitPlugin(ServerPlugin):
    """Owns the store for the server's lifetime (a Redis pool must be closed)."""

    order = ORDER["rate_limit"]

    def __init__(self, config: ServerConfig, store: RateLimitStore) -> None:
        self.config = config
        self.store = store

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        return RateLimitLayer(app, self.config, self.store)

    def start(self) -> None:
        self.store.check()

    def stop(self) -> None:
        self.store.close()


def make_store(config: ServerConfig) -> RateLimitStore:
    """The store ``--rate-limit-store`` names."""
    assert config.rate_limit is not None
    burst = config.rate_limit_burst or math.ceil(config.rate_limit)
    if config.rate_limit_store == "memory":
        return MemoryStore(config.rate_limit, burst, config.rate_limit_max_keys)
    from pounce_extras._rate_limit_redis import RedisStore  # noqa: PLC0415 - needs redis

    return RedisStore(config.rate_limit_store, config.rate_limit, burst)
