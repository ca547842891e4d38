"""Clients that ask for a large response and then read nothing: what ``--timeout-write`` frees.

    python benchmarks/stalled_readers.py [--clients 200] [--timeout-write 10]
                                         [--servers pounce,pounce-none,uvicorn]

Each server in turn (one worker, serving ``stalled_app.py``, its log in a file)
gets ``--clients`` raw-socket clients, each with a 4 KiB receive buffer (set
before connecting, so the window it offers stays small), that send
``GET /big`` (20 MB, streamed in 64 KiB pieces), read the response head and
then never read again. The rows:

* ``pounce``: ``--timeout-write T`` (``--timeout-write``, 10 s by default so a
  run is short); watched until the server has closed every stalled connection
  or ``3 T + 5`` s have passed;
* ``pounce-none``: ``--timeout-write none``, watched for ``2 T``;
* ``uvicorn`` (httptools+uvloop, when installed), which has no such bound,
  watched for ``2 T``.

Watching means, every 0.5 s: the stalled connections still ESTABLISHED on the
server's side (``/proc/net/tcp``, by the clients' ports; a client that read
nothing cannot tell a close from its own socket without reading), the
server's memory (``Rss`` less ``LazyFree`` of its processes, from
``smaps_rollup``) and the kernel's TCP buffer memory (``/proc/net/sockstat``,
whole machine). Meanwhile a probe client, a process of its own, sends
``GET /small?hello`` every 50 ms on a keep-alive connection (a new one after
an error).

Reported per row: memory before the clients, at the peak while they stall, at
the end of the watch and after the clients have gone; how many connections the
server closed and when (seconds from the last client's request, to within a
sample); what the clients' sockets saw at the end (reset, closed, still open:
``TCP_INFO``, which reads no data); the server's log lines naming
``--timeout-write``; and the probe's p50 / p99 / max latency and errors.

A benchmark, not a test: nothing asserts on the figures. Compare within a run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import run

from pounce._workers.memory_limit import rss_bytes

APP = "stalled_app:app"
SAMPLE = 0.5  # seconds between two looks at the server
PROBE_EVERY = 0.05
PROBE_TIMEOUT = 5.0
_SMALL = b"GET /small?hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
_BIG = b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
_TCP_STATES = {1: "open", 7: "reset", 8: "closed"}  # ESTABLISHED, CLOSE, CLOSE_WAIT


@dataclass(frozen=True)
class Row:
    """One server, one setting: how to start it and how long to watch it."""

    key: str
    label: str
    module: str
    timeout_write: float | None  # None: the server does not bound it

    def argv(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", self.module, APP, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1", "--no-access-log"]
        if self.module == "pounce":
            bound = "none" if self.timeout_write is None else f"{self.timeout_write:g}"
            # Info, for the line each abandoned response logs.
            return [*argv, "--log-level", "info", "--loop", "auto", "--timeout-write", bound]
        return [*argv, "--http", "httptools", "--loop", "uvloop"]


def rows(keys: str, timeout: float) -> list[Row]:
    known = {
        "pounce": Row("pounce", f"Pounce --timeout-write {timeout:g}", "pounce", timeout),
        "pounce-none": Row("pounce-none", "Pounce --timeout-write none", "pounce", None),
        "uvicorn": Row("uvicorn", "Uvicorn (httptools+uvloop)", "uvicorn", None),
    }
    return [known[key] for key in keys.split(",") if key]


# --------------------------------------------------------------- looking


def _memory_mb(running: run.Running) -> float:
    held = (rss_bytes(pid) for pid in run._tree(running.process.pid))
    return sum(size or 0 for size in held) / 2**20


def _tcp_memory_mb() -> float:
    """Pages the kernel holds in TCP buffers, all sockets of the machine."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * 4096 / 2**20
    return 0.0


def _established(port: int, peers: set[int]) -> set[int]:
    """The ports among ``peers`` whose connection to ``port`` the server still holds."""
    held = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == "01" and int(local.split(":")[1], 16) == port:
            peer = int(remote.split(":")[1], 16)
            if peer in peers:
                held.add(peer)
    return held


def _client_state(sock: socket.socket) -> str:
    """What a client's socket saw, without reading: tcpi_state, the first byte of TCP_INFO."""
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return "error"
    return _TCP_STATES.get(state, f"state {state}")


# ----------------------------------------------------------------- clients


def _stall(port: int) -> socket.socket:
    """A client that asks for /big, reads the head and stops."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sock.sendall(_BIG)
    head = b""
    while b"\r\n\r\n" not in head:
        more = sock.recv(4096)
        if not more:
            raise ConnectionError(f"closed before the head: {head[:100]!r}")
        head += more
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"answered {head[:100]!r}")
    return sock


def _ask(sock: socket.socket) -> None:
    sock.sendall(_SMALL)
    answer = b""
    while not answer.endswith(b"\r\n\r\nhello"):  # /small has a content-length
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("closed")
        answer += more


def _probe(port: int, stop: Any, results: Any) -> None:
    """An ordinary keep-alive client, in a process of its own: a request every
    50 ms, its latencies and errors sent back when ``stop`` is set."""
    latencies: list[float] = []
    errors = 0
    sock: socket.socket | None = None
    while not stop.wait(PROBE_EVERY):
        began = time.perf_counter()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)
            _ask(sock)
            latencies.append(time.perf_counter() - began)
        except OSError:
            errors += 1
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    results.put((latencies, errors))


# --------------------------------------------------------------- measuring


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def watch(running: run.Running, args: argparse.Namespace, row: Row) -> dict[str, Any]:
    port = running.port
    result: dict[str, Any] = {"before_mb": _memory_mb(running), "tcp_before_mb": _tcp_memory_mb()}
    stop = multiprocessing.Event()
    results: Any = multiprocessing.Queue()
    probe = multiprocessing.Process(target=_probe, args=(port, stop, results), daemon=True)
    probe.start()
    first = time.monotonic()
    clients = [_stall(port) for _ in range(args.clients)]
    began = time.monotonic()  # the last client's request is in
    result["requests_s"] = began - first
    ports = {sock.getsockname()[1] for sock in clients}
    if row.timeout_write is None:
        deadline = began + 2 * args.timeout_write
    else:
        deadline = began + 3 * row.timeout_write + 5
    closed_at: dict[int, float] = {}
    peak = peak_tcp = 0.0
    held = ports
    while time.monotonic() < deadline:
        time.sleep(SAMPLE)
        now = time.monotonic() - began
        held = _established(port, ports)
        for gone in ports - held - closed_at.keys():
            closed_at[gone] = now
        peak = max(peak, _memory_mb(running))
        peak_tcp = max(peak_tcp, _tcp_memory_mb())
        if row.timeout_write is not None and not held:
            time.sleep(1.0)  # let what the closes free settle
            break
    result["watched_s"] = time.monotonic() - began
    result["peak_mb"] = peak
    result["tcp_peak_mb"] = peak_tcp
    result["end_mb"] = _memory_mb(running)
    result["tcp_end_mb"] = _tcp_memory_mb()
    result["held"] = len(held)
    result["closed"] = len(closed_at)
    times = sorted(closed_at.values())
    if times:
        result["close_s"] = [times[0], statistics.median(times), times[-1]]
    states = [_client_state(sock) for sock in clients]
    result["clients"] = {state: states.count(state) for state in sorted(set(states))}
    stop.set()
    latencies, errors = results.get(timeout=60)
    probe.join(5)
    for sock in clients:
        sock.close()
    time.sleep(2.0)
    result["gone_mb"] = _memory_mb(running)
    result["probe_n"] = len(latencies)
    result["probe_errors"] = errors
    if latencies:
        result["probe_ms"] = [
            1000 * statistics.median(latencies),
            1000 * _percentile(latencies, 0.99),
            1000 * max(latencies),
        ]
    return result


def measure(row: Row, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"server": row.label}
    if not run._has_module(row.module):
        result["note"] = f"n/a: {row.module} not installed"
        return result
    port = run._free_port()
    args.logs.mkdir(parents=True, exist_ok=True)
    log = args.logs / f"stalled-{row.key}.log"
    # Pounce's own row is core only, as run.py's "pounce" row is.
    path = (str(run.CORE_ONLY),) if row.key.startswith("pounce") else ()
    running = run.Running(row.argv(port), port, log, path)
    try:
        problem = running.wait_ready("h1")
        if problem is not None:
            result["note"] = f"error: {problem}"
            return result
        for _ in range(20):  # warm up
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                _ask(sock)
        result.update(watch(running, args, row))
    except (OSError, RuntimeError) as exc:
        result["note"] = f"error: {exc}"[:200]
    finally:
        running.stop()
    text = log.read_text(errors="replace")
    result["log_lines"] = sum("--timeout-write" in line for line in text.splitlines())
    return result


def report(result: dict[str, Any], clients: int) -> str:
    if "note" in result:
        return f"| {result['server']} | {result['note']} ||||||||"
    closes = result.get("close_s")
    when = "-" if closes is None else "{:.1f} / {:.1f} / {:.1f} s".format(*closes)
    seen = ", ".join(f"{count} {state}" for state, count in result["clients"].items())
    probe = result.get("probe_ms")
    latency = "-" if probe is None else "{:.1f} / {:.1f} / {:.0f}".format(*probe)
    return (
        f"| {result['server']} | {result['before_mb']:.0f} / {result['peak_mb']:.0f} / "
        f"{result['end_mb']:.0f} / {result['gone_mb']:.0f} MB | "
        f"{result['tcp_before_mb']:.0f} / {result['tcp_peak_mb']:.0f} / "
        f"{result['tcp_end_mb']:.0f} MB | "
        f"{result['closed']} of {clients} ({result['held']} held at {result['watched_s']:.0f} s) | "
        f"{result['requests_s']:.1f} s | "
        f"{when} | {seen} | {result['log_lines']} | "
        f"{latency} ms ({result['probe_n']} asked, {result['probe_errors']} errors) |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--timeout-write", type=float, default=10.0)
    parser.add_argument("--servers", default="pounce,pounce-none,uvicorn")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/pounce-bench-logs"))
    args = parser.parse_args(argv)
    print(
        f"{sys.implementation.name} {sys.version.split()[0]}, {args.clients} clients stalled "
        f"on GET /big (20 MB), 4 KiB receive buffers"
    )
    print(
        "| server | server memory: before / peak / end of watch / clients gone "
        "| kernel TCP memory (machine): before / peak / end "
        "| stalled connections the server closed | clients' requests spread over "
        "| first / median / last close, from the last request "
        "| clients' sockets at the end | log lines | probe p50 / p99 / max |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows(args.servers, args.timeout_write):
        result = measure(row, args)
        print(report(result, args.clients), flush=True)
        print(json.dumps(result), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
