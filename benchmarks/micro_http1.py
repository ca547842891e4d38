"""Micro-benchmark: one HTTP/1.1 request/response cycle, fast path vs h11.

    python benchmarks/micro_http1.py [--json PATH]

Drives ``HTTP1ServerConnection`` without any I/O through complete keep-alive
cycles (request bytes in, events out, a response serialized, next cycle) for
a few request shapes, once with the fast path and once forced through h11
(``fast_path=False``), and prints the time per cycle and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable

from pounce_protocols import (
    BodyEnded,
    HTTP1ServerConnection,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

# What wrk sends, what a browser sends, and a small JSON POST.
REQUESTS = {
    "wrk GET": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
    "browser GET": (
        b"GET /static/app.js?v=3 HTTP/1.1\r\n"
        b"Host: example.com\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Language: en-US,en;q=0.5\r\n"
        b"Accept-Encoding: gzip, deflate, br\r\n"
        b"Connection: keep-alive\r\n"
        b"Cookie: session=abcdef0123456789; theme=dark\r\n"
        b"Upgrade-Insecure-Requests: 1\r\n"
        b"Sec-Fetch-Dest: document\r\n"
        b"\r\n"
    ),
    "JSON POST": (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
        b"Content-Type: application/json\r\nContent-Length: 27\r\n\r\n"
        b'{"name": "pounce", "n": 42}'
    ),
}

RESPONSE_HEADERS = (
    (b"server", b"pounce"),
    (b"date", b"Thu, 01 Jan 2026 00:00:00 GMT"),
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"13"),
)
BODY = b"Hello, world!"


def cycle_runner(request: bytes, *, fast_path: bool) -> Callable[[int], None]:
    def run(n: int) -> None:
        conn = HTTP1ServerConnection(fast_path=fast_path)
        receive = conn.receive_data
        send = conn.send
        for _ in range(n):
            events = receive(request)
            assert type(events[-1]) is BodyEnded
            stream_id = conn.stream_id
            out = send(
                ResponseHead(
                    stream_id=stream_id, status=200, headers=RESPONSE_HEADERS, _trusted=True
                )
            )
            out += send(ResponseBody(stream_id=stream_id, data=BODY, _trusted=True))
            out += send(ResponseEnd(stream_id=stream_id))
            conn.start_next_cycle()

    return run


def best_time_per_cycle(run: Callable[[int], None], n: int, repeats: int) -> float:
    """CPU time per cycle of the best repeat (CPU time: other processes on a
    busy machine inflate wall-clock time, not this)."""
    run(n // 10)  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run(n)
        best = min(best, (time.process_time() - start) / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="cycles per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {args.n} cycles x "
        f"{args.repeats} repeats, best repeat"
    )
    print(f"{'request':<14} {'h11 (us)':>10} {'fast (us)':>10} {'speed-up':>9}")
    results = []
    for name, request in REQUESTS.items():
        ref = best_time_per_cycle(cycle_runner(request, fast_path=False), args.n, args.repeats)
        fast = best_time_per_cycle(cycle_runner(request, fast_path=True), args.n, args.repeats)
        print(f"{name:<14} {ref * 1e6:>10.2f} {fast * 1e6:>10.2f} {ref / fast:>8.1f}x")
        results.append(
            {"request": name, "h11_us": ref * 1e6, "fast_us": fast * 1e6, "speedup": ref / fast}
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
