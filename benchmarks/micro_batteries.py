"""Micro-benchmark: what each battery costs a request, when it acts and when not.

    python benchmarks/micro_batteries.py [-n 5000] [--repeats 7] [--cases SUBSTRING,...]

Runs ``micro_core.py``'s request path (a wrk-shaped request fed to 50
HTTP/1.1 connections, the app run, the response serialized, no sockets) with
the app inside the stack the server builds from the installed batteries
(pounce-extras) for one setting at a time, and prints the CPU time per
request of each, best of ``--repeats``, next to Pounce without any layer
serving the same request and app, the runs taking turns so that noise on a
shared machine falls on all of them. The batteries' own cases run with
``--no-compression`` so that each shows its own cost; ``defaults`` is what a
user who installs pounce-extras gets without choosing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from micro_core import (
    APPS,
    CONNECTIONS,
    REQUEST,
    CountingTransport,
    pounce_connections,
    serve_batches,
)

TEN_KB_HEADERS = [(b"content-type", b"text/plain")]
TEN_KB = b"x" * 10 * 1024


async def ten_kb(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": TEN_KB_HEADERS})
    await send({"type": "http.response.body", "body": TEN_KB})


@dataclass(frozen=True)
class Case:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    headers: bytes = b""  # request fields added to the wrk-shaped request
    app: Callable[..., Any] = APPS["hello"]
    batteries: bool = True

    @property
    def request(self) -> bytes:
        return REQUEST[:-2] + self.headers + b"\r\n"


OFF = {"compression": False}
GZIP = b"Accept-Encoding: gzip\r\n"
ORIGIN = b"Origin: https://a.example\r\n"


def cases(static_dir: str) -> list[Case]:
    return [
        Case("pounce-extras installed, every battery off", {**OFF, "error_pages": False}),
        Case("defaults, no Accept-Encoding"),
        Case("defaults, Accept-Encoding: gzip, 13 B body", headers=GZIP),
        Case("defaults, Accept-Encoding: gzip, 10 KB compressed", headers=GZIP, app=ten_kb),
        Case("--cors-allow-origins, no Origin", {**OFF, "cors_allow_origins": ("*",)}),
        Case("--cors-allow-origins, Origin", {**OFF, "cors_allow_origins": ("*",)}, ORIGIN),
        Case("--security-headers", {**OFF, "security_headers": True}),
        Case("--request-id", {**OFF, "request_id": True}),
        Case("--server-timing", {**OFF, "server_timing": True}),
        Case("--rate-limit", {**OFF, "rate_limit": 1e9}),
        Case("--limit-concurrency", {**OFF, "limit_concurrency": 1000}),
        Case("--static, another path", {**OFF, "static": (f"/static={static_dir}",)}),
        Case("--metrics", {**OFF, "metrics": True}),
        Case("--debug", {**OFF, "debug": True}),
    ]


async def measure(chosen: list[Case], n: int, repeats: int) -> dict[str, float]:
    served: dict[str, tuple[list[asyncio.Protocol], list[CountingTransport]]] = {}
    for case in chosen:
        connections = pounce_connections(case.app, batteries=case.batteries, **case.settings)
        transports = [CountingTransport() for _ in connections]
        for connection, transport in zip(connections, transports, strict=True):
            connection.connection_made(transport)
        served[case.name] = (connections, transports)
        await serve_batches(connections, transports, CONNECTIONS * 20, case.request)
    best = {case.name: float("inf") for case in chosen}
    for _ in range(repeats):
        for case in chosen:
            connections, transports = served[case.name]
            start = time.process_time()
            await serve_batches(connections, transports, n, case.request)
            best[case.name] = min(best[case.name], (time.process_time() - start) / n)
    for connections, _ in served.values():
        for connection in connections:
            connection.connection_lost(None)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="requests per repeat and case")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cases", default="", help="only cases whose name contains one of these")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as static_dir:
        chosen = cases(static_dir)
        if args.cases:
            wanted = args.cases.split(",")
            chosen = [c for c in chosen if any(w in c.name for w in wanted)]
        # Each case against the core alone serving the same request and app.
        bare = {
            (c.request, c.app): Case(
                f"core: {c.name}", batteries=False, headers=c.headers, app=c.app
            )
            for c in chosen
        }
        best = asyncio.run(measure([*bare.values(), *chosen], args.n, args.repeats))
    width = max(len(c.name) for c in chosen)
    print(f"{'case':{width}}  batteries    core alone  ratio")
    for case in chosen:
        cost = best[case.name]
        core = best[bare[case.request, case.app].name]
        print(
            f"{case.name:{width}}  {cost * 1e6:6.1f} µs  {core * 1e6:6.1f} µs  {core / cost:5.2f}x"
        )


if __name__ == "__main__":
    main()
