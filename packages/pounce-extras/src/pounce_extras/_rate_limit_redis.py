"""Token buckets in Redis: one rate limit across processes and machines.

Each bucket is a Redis hash (``tokens``, ``ts``) updated by one Lua script,
so a take is atomic however many servers share the Redis, and it uses Redis's
own clock (``TIME``), so the servers' clocks need not agree. The arithmetic
is the same as :func:`._rate_limit_bucket.bucket_take` (a unit test runs both). A
bucket expires once it would be full again, so Redis holds only active
clients.

redis-py's blocking client is used from a small thread pool owned by the
store: its connection pool is thread-safe and belongs to no event loop, so
thread workers (each with its own loop) share it, and the server closes it
once when it stops. If Redis cannot be reached the request is let through
(failing open: a rate limiter must not take the site down with it), and a
warning is logged at most every 10 seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pounce import FeatureUnavailable
from pounce_extras._rate_limit_bucket import Decision

try:
    import redis
except ImportError:  # pragma: no cover - depends on the install
    raise FeatureUnavailable("--rate-limit-store redis://", "redis") from None

__all__ = ["BUCKET_SCRIPT", "RedisStore", "redact"]

_logger = logging.getLogger("pounce.error")

_KEY_PREFIX = "pounce:ratelimit:"
_WARN_EVERY = 10.0
# Redis calls are short; a few threads keep many requests in flight.
_THREADS = 8

BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
local reset_ms = math.ceil((burst - tokens) / rate * 1000)
redis.call('PEXPIRE', KEYS[1], reset_ms + 1000)
local retry_ms = 0
if allowed == 0 then retry_ms = math.ceil((1 - tokens) / rate * 1000) end
return {allowed, math.floor(tokens), retry_ms, reset_ms}
"""


def redact(url: str) -> str:
    """``url`` without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class RedisStore:
    """Buckets in Redis at ``url``; safe to share between threads and loops."""

    def __init__(self, url: str, rate: float, burst: int) -> None:
        self.url = url
        self.rate = rate
        self.burst = burst
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
        except ValueError as exc:
            raise ValueError(f"--rate-limit-store {redact(url)}: {exc}") from None
        self._script = self._client.register_script(BUCKET_SCRIPT)
        self._executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="pounce-redis")
        self._warn_lock = threading.Lock()
        self._last_warning = -math.inf

    def _key(self, key: str) -> str:
        if len(key) > 128:
            key = "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()
        return _KEY_PREFIX + key

    def take_now(self, key: str) -> Decision:
        """Take a token (blocking: runs on the store's threads)."""
        try:
            allowed, remaining, retry_ms, reset_ms = self._script(
                keys=[self._key(key)], args=[repr(self.rate), self.burst]
            )
        except redis.RedisError as exc:
            self._warn(exc)
            return Decision(allowed=True, remaining=self.burst, retry_after=0.0, reset=0.0)
        return Decision(
            allowed=bool(allowed),
            remaining=int(remaining),
            retry_after=int(retry_ms) / 1000,
            reset=int(reset_ms) / 1000,
        )

    async def take(self, key: str) -> Decision:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.take_now, key)

    def check(self) -> None:
        """Log a warning if Redis does not answer now (requests will still pass)."""
        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._warn(exc)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._client.close()

    def _warn(self, exc: Exception) -> None:
        with self._warn_lock:
            now = time.monotonic()
            if now - self._last_warning < _WARN_EVERY:
                return
            self._last_warning = now
        _logger.warning(
            "Rate limit store %s unreachable (%s); letting requests through.",
            redact(self.url),
            exc,
        )
