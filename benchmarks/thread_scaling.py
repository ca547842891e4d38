"""How the request path scales over thread workers, with no load generator in the way.

    python benchmarks/thread_scaling.py [--threads 1,2] [-n 20000] [--repeats 5]
                                        [--app hello|stream]

Each thread is what a thread worker is: its own event loop, its own
``WorkerContext`` and connections, the one app and the one frozen
``ServerConfig`` shared by all. Every thread feeds wrk-shaped requests to its
connections and runs the request tasks, as ``micro_core.py`` does for one
worker, all starting together; the figure is requests per second of wall time
over all threads, best of the repeats. The kernel and the load generator are
left out, so on a machine whose cores are all taken by the server this shows
what the cores allow: on a free-threaded build N threads should serve close to
N times what one does (nothing on the request path is shared or locked); with
the GIL they serve about what one does.

Prints one JSON line per thread count, then the ratio of each to one thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from typing import Any

from micro_core import (
    APPS,
    CONNECTIONS,
    REQUEST,
    open_connections,
    serve_batches,
)


async def _serve(app: Any, n: int, start: threading.Barrier) -> float:
    """Serve ``n`` requests once every thread is ready; when it finished."""
    connections, transports = open_connections("pounce", app)
    # One round first, so that every cache is warm before the clock starts.
    for connection in connections:
        connection.data_received(REQUEST)  # type: ignore[attr-defined]
    await asyncio.sleep(0)
    for transport in transports:
        transport.take_writes()
    start.wait()
    try:
        writes = await serve_batches(connections, transports, n)
        finished = time.perf_counter()
    finally:
        for connection in connections:
            connection.connection_lost(None)
    # Every request was answered (one write each: hello, or a batched stream).
    if writes != n:
        raise RuntimeError(f"{writes} writes for {n} requests")
    return finished


def measure(threads: int, n: int, app_name: str) -> float:
    """Requests per second of wall time over ``threads`` threads (one run)."""
    app = APPS[app_name]
    # The clock starts once, when the last thread is ready: a thread that has
    # to wait for the GIL after the barrier is still counted from then.
    began: list[float] = []
    start = threading.Barrier(threads, action=lambda: began.append(time.perf_counter()))
    finished: list[float] = [0.0] * threads
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            finished[index] = asyncio.run(_serve(app, n, start))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)
            start.abort()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise failures[0]
    # The last thread to finish decides: together they served threads * n.
    return threads * n / (max(finished) - began[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    parser.add_argument("-n", type=int, default=20_000, help="requests per thread per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--app", choices=sorted(APPS), default="hello")
    args = parser.parse_args()
    counts = [int(part) for part in args.threads.split(",")]
    n = -(-args.n // CONNECTIONS) * CONNECTIONS  # whole batches, one request per connection
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    best: dict[int, float] = {}
    for _ in range(args.repeats):
        for count in counts:  # interleaved, so machine noise hits every count alike
            best[count] = max(best.get(count, 0.0), measure(count, n, args.app))
    for count in counts:
        print(
            json.dumps(
                {
                    "threads": count,
                    "app": args.app,
                    "requests_per_second": round(best[count]),
                    "gil": gil,
                    "python": sys.version.split()[0],
                }
            )
        )
    base = best[counts[0]]
    ratios = ", ".join(f"{count} threads {best[count] / base:.2f}x" for count in counts[1:])
    print(f"against {counts[0]} thread(s): {ratios}" if ratios else "")


if __name__ == "__main__":
    main()
