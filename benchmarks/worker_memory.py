"""Memory of N thread workers against N process workers, serving one FastAPI app.

    python benchmarks/worker_memory.py [--workers 4] [--python PYTHON]

For each worker mode it starts ``pounce memory_app:app --workers N``, sends
every worker some requests (so each has run its lifespan and served), and
then sums over the server's process tree:

* RSS: resident memory, counting pages shared between processes once per
  process (what ``ps`` and most dashboards show);
* PSS: proportional set size, sharing each shared page among the processes
  that map it (the fairer total; from /proc/PID/smaps_rollup).

A benchmark, not a test: the figures depend on the machine, the interpreter
and the app, and nothing here asserts on them. Linux only (/proc).
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
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
READY = re.compile(r"serving on http://127\.0\.0\.1:(\d+)")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _kib(path: str, field: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(pid: int) -> tuple[int, int, int]:
    """(processes, total RSS KiB, total PSS KiB) of ``pid`` and its descendants."""
    pids = _tree(pid)
    rss = sum(_kib(f"/proc/{p}/status", "VmRSS") for p in pids)
    pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)
    return len(pids), rss, pss


def run(python: str, mode: str, workers: int) -> tuple[int, int, int]:
    command = [
        python, "-m", "pounce", "memory_app:app", "--app-dir", str(HERE),
        "--workers", str(workers), "--worker-mode", mode,
        "--port", "0", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        port = 0
        for line in server.stderr:
            match = READY.search(line)
            if match:
                port = int(match.group(1))
                break
        if not port:
            raise RuntimeError(f"{mode} server did not start")
        # Keep reading its log, so the server never blocks on a full pipe.
        threading.Thread(target=server.stderr.read, daemon=True).start()
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        # New connections until every worker has answered, then some load on each.
        while len(seen) < workers and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/whoami") as response:
                who = json.load(response)
            seen.add(f"{who['pid']}/{who['thread']}")
        for i in range(200):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/?offset={i}") as response:
                response.read()
        time.sleep(0.5)  # let freed memory settle
        return measure(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    version = subprocess.run(
        [args.python, "-c", "import sys; print(sys.version.split()[0], "
         "'GIL' if getattr(sys, '_is_gil_enabled', lambda: True)() else 'free-threaded')"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"Python {version}; {args.workers} workers; memory_app (FastAPI)")
    print(f"{'mode':<10}{'workers':>8}{'processes':>10}{'RSS MiB':>10}{'PSS MiB':>10}")
    for mode, workers in (("thread", 1), ("thread", args.workers), ("process", args.workers)):
        processes, rss, pss = run(args.python, mode, workers)
        print(f"{mode:<10}{workers:>8}{processes:>10}{rss / 1024:>10.1f}{pss / 1024:>10.1f}")


if __name__ == "__main__":
    main()
