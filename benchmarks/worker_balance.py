"""How evenly new connections spread over workers.

    python benchmarks/worker_balance.py [--workers 4] [--connections 2000]

Starts ``pounce memory_app:app`` with N thread workers twice: on TCP, where
each worker has its own SO_REUSEPORT socket and the kernel hashes every new
connection to one of them, and on a UNIX socket, shared by all workers, where
whichever worker's loop wakes first accepts. Each request uses a new
connection (sequentially, and then from 8 client threads at once), and the
table shows how many each worker accepted. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
READY = re.compile(r"serving on (\S+?);")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def _ask(address: str) -> str:
    if address.startswith("http+unix://"):
        conn: http.client.HTTPConnection = _UnixConnection(address.removeprefix("http+unix://"))
    else:
        conn = http.client.HTTPConnection(address.removeprefix("http://"))
    try:
        conn.request("GET", "/whoami", headers={"connection": "close"})
        return str(json.loads(conn.getresponse().read())["thread"])
    finally:
        conn.close()


def run(workers: int, connections: int, bind: list[str]) -> tuple[list[int], list[int]]:
    command = [sys.executable, "-m", "pounce", "memory_app:app", "--app-dir", str(HERE)]
    command += ["--workers", str(workers), "--worker-mode", "thread", "--no-access-log", *bind]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert server.stderr is not None
        address = ""
        for line in server.stderr:
            match = READY.search(line)
            if match:
                address = match.group(1)
                break
        threading.Thread(target=server.stderr.read, daemon=True).start()
        sequential = collections.Counter(_ask(address) for _ in range(connections))
        with ThreadPoolExecutor(8) as pool:
            parallel = collections.Counter(pool.map(lambda _: _ask(address), range(connections)))
        return sorted(sequential.values()), sorted(parallel.values())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "SO_REUSEPORT (TCP)": ["--host", "127.0.0.1", "--port", "0"],
            "shared socket (UNIX)": ["--uds", os.path.join(tmp, "pounce.sock")],
        }
        print(f"{args.workers} thread workers, {args.connections} new connections per run")
        print(f"{'listening':<22}{'sequential clients':<26}{'8 concurrent clients'}")
        for name, bind in cases.items():
            sequential, parallel = run(args.workers, args.connections, bind)
            print(f"{name:<22}{sequential!s:<26}{parallel!s}")


if __name__ == "__main__":
    main()
