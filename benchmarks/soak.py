"""Soak: a bounded run of mixed HTTP/1.1, HTTP/2 and WebSocket traffic
against one real server, sampling its memory.

    python benchmarks/soak.py [--duration 300] [--workers 1] [--max-growth-mib 8]

It starts ``python -m pounce soak_app:app`` on a free loopback port and runs
client threads until ``--duration`` seconds have passed:

* HTTP/1.1 on keep-alive connections (GET and POST echo) and with a new
  connection per request;
* HTTP/2 over cleartext (prior knowledge), many requests on one connection;
* WebSocket: connect, echo text and binary messages, close; again.

Every response is checked (status and body); anything else, or any exception,
is an error. The server's resident memory (RSS, its whole process tree) is
sampled every second. The first ``--warmup`` seconds are not judged (imports,
caches and allocator arenas settle); after that, the peak may exceed the
RSS at the end of the warm-up by at most ``--max-growth-mib``.

The run fails (exit status 1) on any error or on growth past the bound, and
prints one JSON line with the figures: duration, requests per protocol,
errors, RSS at start, after warm-up, peak and end. ``nox -s soak`` runs a
short version (45 s) in the full check; run it for minutes by hand. Linux
only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from websockets.sync.client import connect as ws_connect

HERE = Path(__file__).resolve().parent
READY = re.compile(r"serving on http://127\.0\.0\.1:(\d+)")


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            todo += [int(c) for c in (task / "children").read_text().split()]
    return pids


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, in KiB."""
    total = 0
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


class Tally:
    """Requests and errors per protocol, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.errors: list[str] = []

    def ok(self, protocol: str, count: int = 1) -> None:
        with self.lock:
            self.requests[protocol] += count

    def error(self, protocol: str, what: object) -> None:
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(f"{protocol}: {what}")
            self.requests[protocol + " errors"] += 1


def http1_keep_alive(base: str, stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        n = 0
        while not stop.is_set():
            n += 1
            body = b"x" * (n % 4096)
            try:
                if n % 2:
                    r = client.get("/")
                    good = r.status_code == 200 and r.content == b"ok"
                else:
                    r = client.post("/echo", content=body)
                    good = r.status_code == 200 and r.content == body
            except httpx.HTTPError as exc:
                tally.error("http/1.1", repr(exc))
                continue
            tally.ok("http/1.1") if good else tally.error("http/1.1", r.status_code)


def http1_new_connections(base: str, stop: threading.Event, tally: Tally) -> None:
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=30, limits=limits) as client:
        while not stop.is_set():
            try:
                r = client.get("/")
            except httpx.HTTPError as exc:
                tally.error("http/1.1", repr(exc))
                continue
            good = r.status_code == 200 and r.content == b"ok"
            tally.ok("http/1.1") if good else tally.error("http/1.1", r.status_code)


def http2(base: str, stop: threading.Event, tally: Tally) -> None:
    # A new connection every 500 requests, so connection setup is soaked too.
    while not stop.is_set():
        with httpx.Client(base_url=base, timeout=30, http1=False, http2=True) as client:
            for n in range(500):
                if stop.is_set():
                    break
                body = b"y" * (n * 7 % 8192)
                try:
                    r = client.post("/echo", content=body)
                except httpx.HTTPError as exc:
                    tally.error("http/2", repr(exc))
                    continue
                good = r.status_code == 200 and r.content == body and r.http_version == "HTTP/2"
                if good:
                    tally.ok("http/2")
                else:
                    tally.error("http/2", (r.status_code, r.http_version))


def websocket(url: str, stop: threading.Event, tally: Tally) -> None:
    while not stop.is_set():
        try:
            with ws_connect(url, open_timeout=30, close_timeout=30) as ws:
                for n in range(50):
                    text = "z" * (n * 13 % 2000)
                    ws.send(text)
                    if ws.recv(timeout=30) != text:
                        tally.error("websocket", "text echo differs")
                    data = bytes([n % 256]) * (n * 17 % 3000)
                    ws.send(data)
                    if ws.recv(timeout=30) != data:
                        tally.error("websocket", "binary echo differs")
                    tally.ok("websocket", 2)
            tally.ok("websocket connections")
        except Exception as exc:
            tally.error("websocket", repr(exc))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of traffic")
    parser.add_argument("--warmup", type=float, default=None, help="seconds not judged")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-growth-mib", type=float, default=8.0)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--protocols",
        default="http1,http2,websocket",
        help="which traffic to send (comma-separated: http1, http2, websocket)",
    )
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else min(20.0, args.duration / 3)

    server = subprocess.Popen(
        [
            args.python,
            "-m",
            "pounce",
            "soak_app:app",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            str(args.workers),
            "--no-access-log",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert server.stdout is not None
    port = None
    output: list[str] = []
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        output.append(line)
        if match := READY.search(line):
            port = int(match.group(1))
    if port is None:
        server.kill()
        print("".join(output), file=sys.stderr)
        print("the server did not start", file=sys.stderr)
        return 1
    # Keep reading the server's output so it never blocks on a full pipe.
    drain = threading.Thread(target=lambda: output.extend(server.stdout), daemon=True)  # type: ignore[arg-type]
    drain.start()

    base = f"http://127.0.0.1:{port}"
    tally = Tally()
    stop = threading.Event()
    chosen = set(args.protocols.split(","))
    clients = []
    if "http1" in chosen:
        clients += [
            threading.Thread(target=http1_keep_alive, args=(base, stop, tally)),
            threading.Thread(target=http1_new_connections, args=(base, stop, tally)),
        ]
    if "http2" in chosen:
        clients.append(threading.Thread(target=http2, args=(base, stop, tally)))
    if "websocket" in chosen:
        ws_url = f"ws://127.0.0.1:{port}/ws"
        clients.append(threading.Thread(target=websocket, args=(ws_url, stop, tally)))
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    rss_start = rss_kib(server.pid)
    for client in clients:
        client.start()
    try:
        while (elapsed := time.monotonic() - started) < args.duration:
            samples.append((elapsed, rss_kib(server.pid)))
            time.sleep(1.0)
    finally:
        stop.set()
        for client in clients:
            client.join(60)
        rss_end = rss_kib(server.pid)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            exit_code = server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            exit_code = server.wait()
    judged = [rss for t, rss in samples if t >= warmup] or [rss_end]
    after_warmup = judged[0]
    peak = max(*judged, rss_end)
    growth_mib = (peak - after_warmup) / 1024
    errors = list(tally.errors)
    if exit_code != 0:
        errors.append(f"server exit status {exit_code}")
    if any(word in "".join(output) for word in ("Traceback", "ERROR")):
        errors.append("the server logged an error")
    figures = {
        "duration_s": round(time.monotonic() - started, 1),
        "requests": dict(tally.requests),
        "errors": len(errors),
        "rss_kib": {
            "start": rss_start,
            "after_warmup": after_warmup,
            "peak": peak,
            "end": rss_end,
        },
        "growth_after_warmup_mib": round(growth_mib, 2),
        # One sample every ten seconds, to tell settling from a steady leak.
        "rss_kib_every_10s": [rss for i, (_, rss) in enumerate(samples) if i % 10 == 0],
        "max_growth_mib": args.max_growth_mib,
    }
    print(json.dumps(figures))
    for error in errors[:20]:
        print("error:", error, file=sys.stderr)
    if errors:
        print("".join(output[-40:]), file=sys.stderr)
    return 1 if errors or growth_mib > args.max_growth_mib else 0


if __name__ == "__main__":
    sys.exit(main())
