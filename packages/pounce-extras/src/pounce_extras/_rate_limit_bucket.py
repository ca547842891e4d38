"""The token bucket's arithmetic, shared by every rate-limit store.

Pure functions and values only, so the memory store (:mod:`._rate_limit`) and the
Redis store (:mod:`._rate_limit_redis`, whose Lua script does the same sums) are
held to one definition by one test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Decision", "bucket_take"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of taking a token: allowed or not, and the bucket's state."""

    allowed: bool
    remaining: int
    retry_after: float  # seconds until a token is available (0 when allowed)
    reset: float  # seconds until the bucket is full again


def bucket_take(tokens: float, elapsed: float, rate: float, burst: int) -> tuple[float, Decision]:
    """Refill a bucket for ``elapsed`` seconds, then take one token if there is one.

    Returns the tokens left and the decision. Pure, so the memory store and
    the Redis script can be held to the same arithmetic by one test.
    """
    tokens = min(float(burst), tokens + max(0.0, elapsed) * rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    retry_after = 0.0 if allowed else (1.0 - tokens) / rate
    decision = Decision(
        allowed=allowed,
        remaining=math.floor(tokens),
        retry_after=retry_after,
        reset=(burst - tokens) / rate,
    )
    return tokens, decision
