"""WebSocket echo load: messages per second over a few connections.

    python benchmarks/ws_client.py ws://127.0.0.1:8000/ws --connections 8 --duration 5

Each connection sends a message, waits for its echo, and repeats; the result
(one JSON line) counts echoes and their round-trip latencies. A server that
does not accept the handshake yields ``{"unsupported": "<reason>"}``. The
client is Python too, so it shares the machine with the server: compare
servers with each other, not with other tools' numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus


async def _connection(url: str, message: str, deadline: float, latencies: list[float]) -> int:
    count = 0
    async with connect(url, compression=None, max_size=None) as ws:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await ws.send(message)
            await ws.recv()
            latencies.append(time.perf_counter() - start)
            count += 1
    return count


async def _probe(url: str) -> str | None:
    try:
        async with asyncio.timeout(10), connect(url, compression=None) as ws:
            await ws.send("probe")
            if await ws.recv() != "probe":
                return "the server did not echo"
    except InvalidStatus as exc:
        return f"handshake refused with HTTP {exc.response.status_code}"
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        return f"handshake failed: {type(exc).__name__}"
    return None


async def main(url: str, connections: int, duration: float, size: int) -> dict[str, object]:
    problem = await _probe(url)
    if problem is not None:
        return {"unsupported": problem}
    message = "m" * size
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + duration
    results = await asyncio.gather(
        *(_connection(url, message, deadline, latencies) for _ in range(connections)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    errors = [r for r in results if isinstance(r, BaseException)]
    messages = sum(r for r in results if isinstance(r, int))
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6

    return {
        "requests": messages,
        "seconds": elapsed,
        "rate": messages / elapsed if elapsed else 0.0,
        "p50_us": percentile(50),
        "p99_us": percentile(99),
        "errors": len(errors),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=64, help="message size in bytes")
    args = parser.parse_args()
    result = asyncio.run(main(args.url, args.connections, args.duration, args.size))
    print(json.dumps(result))
