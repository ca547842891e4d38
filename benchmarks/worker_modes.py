"""Requests per second and memory: thread, process and subinterpreter workers.

    python benchmarks/worker_modes.py [--workers 2] [--duration 10] [--python PYTHON]

For each worker mode (``interpreter`` only on CPython 3.14+) it starts
``pounce worker_modes_app:app --workers N --worker-mode MODE``, warms it up,
runs ``wrk`` (2 threads, 64 connections) against ``/`` (the server's own
work) and ``/cpu`` (about a millisecond of Python per request), and then
sums RSS and PSS over the server's process tree (see ``worker_memory.py``).

A benchmark, not a test: the figures depend on the machine, the load on it
and the interpreter; nothing here asserts on them. Linux only; needs wrk.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from worker_memory import measure

HERE = Path(__file__).resolve().parent
READY = re.compile(r"serving on http://127\.0\.0\.1:(\d+)")
REQUESTS = re.compile(r"Requests/sec:\s+([\d.]+)")
ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")


def _start(python: str, mode: str, workers: int) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [
            python, "-m", "pounce", "worker_modes_app:app",
            "--workers", str(workers), "--worker-mode", mode,
            "--port", "0", "--no-access-log",
        ],
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stderr is not None
    deadline = time.monotonic() + 60
    for line in server.stderr:
        match = READY.search(line)
        if match:
            # Keep draining its log so the server never blocks on a full pipe.
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return server, int(match.group(1))
        if time.monotonic() > deadline:
            break
    server.kill()
    raise RuntimeError(f"{mode}: the server did not start")


def _wrk(url: str, duration: float) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration:g}s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = REQUESTS.search(out)
    errors = "; ".join(m.group(0) for m in ERRORS.finditer(out))
    return (float(match.group(1)) if match else 0.0), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    probe = "import sys; print(sys.version_info >= (3, 14), sys.version.split()[0])"
    version = subprocess.run(
        [args.python, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    modes = ["thread", "process"] + (["interpreter"] if version[0] == "True" else [])
    print(f"Python {version[1]}, {args.workers} workers, wrk -t2 -c64 -d{args.duration:g}s")
    print(f"{'mode':<12}{'/ req/s':>10}{'/cpu req/s':>12}{'procs':>7}{'RSS MiB':>9}{'PSS MiB':>9}")
    for mode in modes:
        server, port = _start(args.python, mode, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            _wrk(base + "/", 2)  # warm-up: every worker has served
            plain, plain_errors = _wrk(base + "/", args.duration)
            cpu, cpu_errors = _wrk(base + "/cpu", args.duration)
            processes, rss, pss = measure(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
        memory = f"{processes:>7}{rss / 1024:>9.1f}{pss / 1024:>9.1f}"
        print(f"{mode:<12}{plain:>10.0f}{cpu:>12.0f}{memory}")
        for errors in (plain_errors, cpu_errors):
            if errors:
                print(f"  ({errors})")


if __name__ == "__main__":
    main()
