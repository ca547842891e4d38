"""A deep pipelined backlog on one connection, against ordinary keep-alive clients.

    python benchmarks/pipelined_backlog.py [--requests 200000] [--servers pounce,uvicorn]
                                           [--pounce-src CHECKOUT]... [--duration 5]

For each server in turn (one worker, started as ``run.py`` starts it):

1. keep-alive: wrk, 1 thread, 50 connections, ``--duration`` seconds of
   ``GET /small``: the worker's rate for ordinary clients, and its CPU time per
   request; then the same with one connection (one request at a time, each on
   a fresh keep-alive cycle);
2. pipelined: one connection writes ``--requests`` requests ``GET /small?n=N``
   back to back, as fast as the socket takes them, and reads the answers as
   they come, checking that each names its request (the order). A second
   client meanwhile sends one ordinary request every 100 ms, to see how the
   worker's other clients fare.

Reported: requests per second of each (the pipelined one over the wall time
from its first byte sent to its last answer), their ratio, the server's CPU
time per request, its peak RSS growth while the backlog is served, whether the
answers came in order, and the other client's latencies. A run that has not
finished after ``--timeout`` seconds is reported with what it answered.

A benchmark, not a test: nothing asserts on the figures. Compare within a run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import peers

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_REQUEST = b"GET /small?n=%07d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def keep_alive(port: int, seconds: float, connections: int = 50) -> float:
    """Requests per second of wrk's keep-alive connections."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    command.append(f"http://127.0.0.1:{port}/small")
    out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk said: {out.strip()[-300:]}")
    return float(found.group(1))


class Answers:
    """Reads the answers of one connection, in order, counting them."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pos = 0
        self.count = 0
        self.out_of_order = 0

    def feed(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = self.pos
        while True:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            length = _LENGTH.search(buf, pos, end + 2)
            stop = end + 4 + (int(length.group(1)) if length else 0)
            if stop > len(buf):
                break
            if buf[end + 4 : stop] != b"n=%07d" % self.count:
                self.out_of_order += 1
            self.count += 1
            pos = stop
        if pos > 1 << 20:
            del buf[:pos]
            pos = 0
        self.pos = pos


def _probe(port: int, stop: Any, results: Any) -> None:
    """One ordinary keep-alive client, a process of its own (the reader's work
    in this one would delay it): a request every 100 ms, its latencies sent
    back when ``stop`` is set."""
    latencies = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(30)
        while not stop.wait(0.1):
            answers = Answers()
            began = time.perf_counter()
            sock.sendall(_REQUEST % 0)
            while not answers.count:
                data = sock.recv(65536)
                if not data:
                    break
                answers.feed(data)
            latencies.append(time.perf_counter() - began)
    results.put(latencies)


def pipelined(port: int, count: int, timeout: float) -> dict[str, Any]:
    """Write ``count`` pipelined requests on one connection and read the answers."""
    requests = b"".join(_REQUEST % i for i in range(count))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    answers = Answers()
    stop = multiprocessing.Event()
    results: Any = multiprocessing.Queue()
    probe = multiprocessing.Process(target=_probe, args=(port, stop, results), daemon=True)

    def write() -> None:
        with contextlib.suppress(OSError):  # closed by the reader at the deadline
            sock.sendall(requests)

    writer = threading.Thread(target=write, daemon=True)
    began = time.perf_counter()
    deadline = began + timeout
    writer.start()
    probe.start()
    sock.settimeout(1.0)
    try:
        while answers.count < count and time.perf_counter() < deadline:
            try:
                data = sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                break
            answers.feed(data)
    finally:
        elapsed = time.perf_counter() - began
        stop.set()
        sock.close()
        writer.join(5)
        latencies = sorted(results.get(timeout=60))
        probe.join(5)
    return {
        "answered": answers.count,
        "in_order": answers.out_of_order == 0,
        "seconds": elapsed,
        "rate": answers.count / elapsed,
        "probe_p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "probe_max_ms": 1000 * latencies[-1] if latencies else None,
    }


def measure(contender: peers.Contender, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"server": contender.label}
    with peers.serving(contender, "h1", args.logs) as running:
        if isinstance(running, str):
            result["note"] = running
            return result
        port = running.port
        keep_alive(port, 1.0)  # warm up
        for connections, key in ((1, "one_client"), (50, "keep_alive")):
            cpu = peers.cpu_seconds(running)
            rate = keep_alive(port, args.duration, connections)
            cpu = peers.cpu_seconds(running) - cpu
            result[f"{key}_rate"] = rate
            result[f"{key}_cpu_us"] = cpu / (rate * args.duration) * 1e6
        rss = peers.rss_mb(running)
        with running.measured() as figures:
            result.update(pipelined(port, args.requests, args.timeout))
        result["pipelined_cpu_us"] = figures["cpu_s"] / max(result["answered"], 1) * 1e6
        result["rss_before_mb"] = rss
        result["rss_growth_mb"] = figures["rss_mb"] - rss
        result["ratio"] = result["rate"] / rate
    return result


def row(result: dict[str, Any]) -> str:
    if "note" in result:
        return f"| {result['server']} | {result['note']} ||||||||"
    probe = result["probe_p50_ms"]
    probe_text = "-" if probe is None else f"{probe:.1f} / {result['probe_max_ms']:.0f}"
    return (
        f"| {result['server']} | {result['keep_alive_rate']:,.0f} "
        f"({result['keep_alive_cpu_us']:.0f} µs) | {result['one_client_rate']:,.0f} "
        f"({result['one_client_cpu_us']:.0f} µs) | "
        f"{result['answered']:,} in {result['seconds']:.1f} s: {result['rate']:,.0f} "
        f"({result['pipelined_cpu_us']:.0f} µs) | {result['ratio']:.2f}x | "
        f"+{result['rss_growth_mb']:.0f} MB | {'yes' if result['in_order'] else 'NO'} | "
        f"{probe_text} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--servers", default="pounce,uvicorn")
    parser.add_argument("--pounce-src", type=Path, action="append", default=[])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of keep-alive load")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the backlog")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/pounce-bench-logs"))
    args = parser.parse_args(argv)
    print(f"{sys.implementation.name} {sys.version.split()[0]}, {args.requests:,} pipelined")
    print(
        "| server | keep-alive, 50 clients: req/s (CPU/req) | one client, one at a time "
        "| pipelined req/s (CPU/req) | pipelined / keep-alive | RSS growth | in order "
        "| other client p50 / max ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for contender in peers.contenders(args.servers, args.pounce_src):
        result = measure(contender, args)
        print(row(result), flush=True)
        print(json.dumps(result), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
