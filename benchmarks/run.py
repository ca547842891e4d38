"""Pounce against its peers: one server at a time, same app, interleaved rounds.

    ./benchmarks/run.sh                 # the documented command (makes the environment)
    python benchmarks/run.py --help     # inside an environment that has the servers

Each measurement starts one server on 127.0.0.1 (a free port), waits until it
answers, warms it up, loads it for ``--duration`` seconds while sampling its
memory and CPU time, and stops it. Servers take turns within every round
(A, B, C, D, then again, starting one further along each round), so a burst of
noise on a shared machine lands on all of them rather than on one; the table
shows each figure as the median over the rounds.

Pounce is measured twice, as users install it: alone (``Pounce (core only)``:
the pounce-extras batteries hidden from the process, as if not installed) and
with ``pounce-extras[all]`` and its defaults on (``Pounce + pounce-extras[all]``).
``--quick`` gives the hello-world ratios of those two and Uvicorn in under two
minutes.

Load generators: wrk for HTTP/1.1 keep-alive, h2load for HTTP/2 over cleartext
(prior knowledge), and ``ws_client.py`` for WebSocket echo. A server that lacks
a feature or cannot run here (Uvicorn's h11 and httptools parsers and HTTP/2,
a peer with no build for this interpreter, a Pounce build without
multi-worker, HTTP/2 or WebSocket support) gets a row that says "n/a" and
why, never a failure.

Results go to ``benchmarks/results/<stamp>-<python>.json``, ``.md`` and
``.png`` unless ``--no-save``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
APP = "bench_app:app"
FASTAPI_APP = "bench_fastapi:app"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def _json_document(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes (the echo workload's body)."""
    document: dict[str, Any] = {"id": 1, "name": "pounce", "tags": ["asgi", "http"] * 8, "text": ""}
    empty = len(json.dumps(document, separators=(",", ":")))
    document["text"] = "x" * (size - empty)
    return json.dumps(document, separators=(",", ":")).encode()


JSON_BODY = _json_document(1024)


# ----------------------------------------------------------------- servers


def _gil_enabled() -> bool:
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def _pounce_fields() -> set[str]:
    """The settings this Pounce build knows (features are detected, not assumed)."""
    try:
        from pounce import ServerConfig
    except ImportError:
        return set()
    return {f.name for f in dataclasses.fields(ServerConfig)}


@dataclass(frozen=True)
class Launch:
    """How to run one server for one measurement, or why it cannot."""

    argv: list[str] | None
    unsupported: str | None = None
    # Directories put in front of the server's PYTHONPATH.
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Server:
    key: str
    label: str
    module: str  # the import that must succeed for the server to be available
    build: Callable[[str, int, int, str, str], Launch]  # app, port, workers, protocol, mode

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


# On the PYTHONPATH of "core only" rows: a sitecustomize that hides the
# entry points of pounce-extras, so the server starts as if it were not
# installed (in every process, worker processes included).
CORE_ONLY = HERE / "core_only"


def _pounce_core(app: str, port: int, workers: int, protocol: str, mode: str) -> Launch:
    launch = _pounce(app, port, workers, protocol, mode)
    return dataclasses.replace(launch, path=(str(CORE_ONLY),))


def _pounce(app: str, port: int, workers: int, protocol: str, mode: str) -> Launch:
    fields = _pounce_fields()
    argv = [sys.executable, "-m", "pounce", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning", "--loop", "auto"]
    if workers > 1 or mode:
        if "workers" not in fields:
            return Launch(None, "n/a: not supported yet (multi-worker)")
        argv += ["--workers", str(workers)]
        if mode:
            if "worker_mode" not in fields:
                return Launch(None, "n/a: not supported yet (worker modes)")
            argv += ["--worker-mode", mode]
    if protocol == "h2":
        if "h2c" not in fields:
            return Launch(None, "n/a: not supported yet (HTTP/2)")
        argv += ["--http2", "--h2c"]
    return Launch(argv)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package is missing
        return False


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _uvicorn(http: str, loop: str) -> Callable[[str, int, int, str, str], Launch]:
    def build(app: str, port: int, workers: int, protocol: str, mode: str) -> Launch:
        if http == "zttp" and not _has_module("uvicorn.protocols.http.zttp_impl"):
            return Launch(None, f"n/a: Uvicorn {_version('uvicorn')} has no --http zttp")
        for parser in ("httptools", "zttp"):
            if http == parser and not _has_module(parser):
                return Launch(None, f"n/a: {parser} not installed (no build for this Python?)")
        if loop == "uvloop" and not _has_module("uvloop"):
            return Launch(None, "n/a: uvloop not installed (no build for this Python?)")
        if protocol == "h2" and http != "zttp":
            return Launch(None, "n/a: Uvicorn's HTTP/2 needs --http zttp")
        argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--no-access-log", "--log-level", "warning", "--http", http, "--loop", loop]
        if protocol == "h2":
            argv.append("--http2")  # cleartext connections opening with the preface
        if workers > 1:
            argv += ["--workers", str(workers)]
        return Launch(argv)

    return build


def _gunicorn(app: str, port: int, workers: int, protocol: str, mode: str) -> Launch:
    if not _has_module("gunicorn.workers.gasgi"):
        return Launch(None, f"n/a: Gunicorn {_version('gunicorn')} has no asgi worker")
    argv = [sys.executable, "-m", "gunicorn", app, "--worker-class", "asgi"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    argv += ["--asgi-loop", "auto"]  # uvloop when installed, as with the others
    if protocol == "h2":
        # Cleartext HTTP/2 with prior knowledge (and HTTP/1.1 on the same port).
        argv += ["--http-protocols", "h2,h1", "--http2-cleartext", "both"]
    return Launch(argv)


def _hypercorn(app: str, port: int, workers: int, protocol: str, mode: str) -> Launch:
    argv = [sys.executable, "-m", "hypercorn", app, "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(workers), "--log-level", "warning"]
    return Launch(argv)  # HTTP/2 over cleartext is on by default


def _granian(app: str, port: int, workers: int, protocol: str, mode: str) -> Launch:
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", app]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    argv += ["--log-level", "warning", "--http", "2" if protocol == "h2" else "1"]
    return Launch(argv)


SERVERS = [
    Server("pounce", "Pounce (core only)", "pounce", _pounce_core),
    Server("pounce-batteries", "Pounce + pounce-extras[all]", "pounce_extras", _pounce),
    Server("uvicorn", "Uvicorn (httptools+uvloop)", "uvicorn", _uvicorn("httptools", "uvloop")),
    Server("uvicorn-zttp", "Uvicorn (zttp+uvloop)", "uvicorn", _uvicorn("zttp", "uvloop")),
    Server("uvicorn-h11", "Uvicorn (h11+asyncio)", "uvicorn", _uvicorn("h11", "asyncio")),
    Server("gunicorn", "Gunicorn (-k asgi)", "gunicorn", _gunicorn),
    Server("hypercorn", "Hypercorn", "hypercorn", _hypercorn),
    Server("granian", "Granian (ceiling)", "granian", _granian),
]


# --------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    tool: str  # "wrk", "h2load" or "ws"
    path: str
    app: str = APP
    lua: str = ""


_WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _post_lua(body: bytes) -> str:
    literal = body.decode().replace("\\", "\\\\").replace('"', '\\"')
    return (
        'wrk.method = "POST"\n'
        f'wrk.body = "{literal}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )


# What browsers send, and HTTP libraries much alike (httpx, requests, Go's
# client ask for gzip): a server with compression judges every response of
# such a request, although a 13-byte body is never compressed.
_ACCEPT_ENCODING_LUA = 'wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"\n'

WORKLOADS = [
    Workload("hello", "plain-text hello", "wrk", "/"),
    Workload(
        "hello-gzip",
        "plain-text hello, client accepts gzip",
        "wrk",
        "/",
        lua=_ACCEPT_ENCODING_LUA,
    ),
    Workload("10k", "10 KB body", "wrk", "/10k"),
    Workload("json", "1 KB JSON POST echoed", "wrk", "/echo", lua=_post_lua(JSON_BODY)),
    Workload("stream", "100-chunk stream", "wrk", "/stream"),
    Workload("fastapi", "FastAPI route", "wrk", "/items/42?q=pounce", app=FASTAPI_APP),
    Workload("h2", "plain-text hello over HTTP/2 (h2load)", "h2load", "/"),
    Workload("ws", "WebSocket echo (messages/s)", "ws", "/ws"),
]


# ------------------------------------------------------------ measurement


@dataclass
class Sample:
    """One measurement of one server on one workload."""

    rate: float = 0.0  # requests (or messages) per second
    p50_us: float = 0.0
    p99_us: float = 0.0
    errors: int = 0
    rss_mb: float = 0.0
    cpu_us: float = 0.0  # server CPU time per request
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found = [pid]
    for current in found:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    children = Path(f"/proc/{current}/task/{task}/children").read_text()
                    found.extend(int(child) for child in children.split())
    return found


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Running:
    """A server process for the length of one measurement."""

    def __init__(self, argv: list[str], port: int, log: Path, path: tuple[str, ...] = ()) -> None:
        self.port = port
        self.log = log
        pythonpath = os.pathsep.join([*path, str(HERE)])
        env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=HERE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._peak_kb = 0
        self._sampling = False
        self._sampler: threading.Thread | None = None

    def wait_ready(self, protocol: str) -> str | None:
        """None when the server answers a request; otherwise why it does not."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"exited with {self.process.returncode}: {self._tail()}"
            if self._answers(protocol):
                return None
            time.sleep(0.2)
        return f"did not answer within {START_TIMEOUT:.0f}s: {self._tail()}"

    def _answers(self, protocol: str) -> bool:
        url = f"http://127.0.0.1:{self.port}/"
        if protocol == "h2":
            # An HTTP/1.1 probe would not do for an HTTP/2-only server.
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                out = subprocess.run(
                    ["h2load", "-n1", "-c1", url], capture_output=True, text=True, check=False
                ).stdout
                return " 0 succeeded" not in out and "succeeded" in out
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
        except urllib.error.HTTPError:
            return True  # any status is an answer (a FastAPI app has no "/")
        except OSError:
            return False
        return True

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log.read_text(errors="replace").strip().splitlines()
            return " | ".join(lines[-3:])[-300:]
        return ""

    def _sample(self) -> None:
        while self._sampling:
            self._peak_kb = max(self._peak_kb, _rss_kb(_tree(self.process.pid)))
            time.sleep(0.1)

    @contextlib.contextmanager
    def measured(self) -> Iterator[dict[str, float]]:
        """Sample RSS and CPU time while the block runs."""
        figures: dict[str, float] = {}
        self._peak_kb = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        cpu_before = _cpu_seconds(_tree(self.process.pid))
        try:
            yield figures
        finally:
            figures["cpu_s"] = _cpu_seconds(_tree(self.process.pid)) - cpu_before
            self._sampling = False
            self._sampler.join()
            figures["rss_mb"] = self._peak_kb / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT)
        # Whatever is left of the group (workers of a killed parent) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)
        self._log_file.close()


Result = dict[str, Any]


def _run_wrk(args: argparse.Namespace, workload: Workload, port: int, seconds: float) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(workload.lua + _WRK_REPORT)
    try:
        command = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds:g}s"]
        command += [
            "--timeout",
            "10s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}{workload.path}",
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"BENCH-JSON (\{.*\})", out)
    if match is None:
        return {"error": f"wrk said: {out.strip()[-300:]}"}
    data = json.loads(match.group(1))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": data["requests"],
        "rate": data["requests"] / (data["duration_us"] / 1e6),
        "p50_us": data["p50_us"],
        "p99_us": data["p99_us"],
        "errors": errors,
    }


def _run_h2load(args: argparse.Namespace, workload: Workload, port: int, seconds: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp, "h2load.log")
        command = ["h2load", "-t1", f"-c{args.connections}", "-m10", f"-D{max(1, round(seconds))}"]
        command += [f"--log-file={log}", f"http://127.0.0.1:{port}{workload.path}"]
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        durations = []
        with contextlib.suppress(OSError):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[1].isdigit() and 200 <= int(parts[1]) < 400:
                    durations.append(int(parts[2]))
    rate = re.search(r"finished in [^,]+, ([\d.]+) req/s", out)
    counts = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    if rate is None or counts is None:
        return {"error": f"h2load said: {out.strip()[-300:]}"}
    succeeded, failed, errored, timeout = (int(x) for x in counts.groups())
    if succeeded == 0:
        return {"unsupported": "n/a: no HTTP/2 over cleartext (every request failed)"}
    durations.sort()

    def pct(p: float) -> float:
        return float(durations[min(len(durations) - 1, int(p / 100 * len(durations)))])

    return {
        "requests": succeeded,
        "rate": float(rate.group(1)),
        "p50_us": pct(50) if durations else 0.0,
        "p99_us": pct(99) if durations else 0.0,
        "errors": failed + errored + timeout,
    }


def _run_ws(args: argparse.Namespace, workload: Workload, port: int, seconds: float) -> Result:
    command = [sys.executable, str(HERE / "ws_client.py"), f"ws://127.0.0.1:{port}{workload.path}"]
    command += ["--duration", f"{seconds:g}", "--connections", str(args.ws_connections)]
    command += ["--client", args.ws_client]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        data = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"ws client said: {(out.stdout + out.stderr).strip()[-300:]}"}
    if "unsupported" in data:
        return {"unsupported": f"n/a: {data['unsupported']}"}
    return data


TOOLS = {"wrk": _run_wrk, "h2load": _run_h2load, "ws": _run_ws}


def measure(
    args: argparse.Namespace,
    server: Server,
    *,
    workload: Workload,
    workers: int,
    mode: str,
    logs: Path,
) -> Sample:
    if not server.available():
        return Sample(note=f"n/a: {server.module} not installed")
    port = _free_port()
    protocol = "h2" if workload.tool == "h2load" else "h1"
    launch = server.build(workload.app, port, workers, protocol, mode)
    if launch.argv is None:
        return Sample(note=launch.unsupported or "n/a")
    log = logs / f"{server.key}-{workload.key}-{workers}{mode}.log"
    running = Running(launch.argv, port, log, launch.path)
    try:
        problem = running.wait_ready(protocol)
        if problem is not None:
            return Sample(note=f"error: {problem}")
        tool = TOOLS[workload.tool]
        if args.warmup > 0:
            first = tool(args, workload, port, args.warmup)
            if "unsupported" in first:
                return Sample(note=first["unsupported"])
        with running.measured() as figures:
            result = tool(args, workload, port, args.duration)
        if "unsupported" in result:
            return Sample(note=result["unsupported"])
        if "error" in result:
            return Sample(note=f"error: {result['error']}")
        requests = result.get("requests", 0)
        return Sample(
            rate=result["rate"],
            p50_us=result["p50_us"],
            p99_us=result["p99_us"],
            errors=int(result["errors"]),
            rss_mb=figures["rss_mb"],
            cpu_us=figures["cpu_s"] / requests * 1e6 if requests else 0.0,
        )
    finally:
        running.stop()


# ----------------------------------------------------------------- report


FIGURES = ("rate", "p50_us", "p99_us", "errors", "rss_mb", "cpu_us")


@dataclass
class Row:
    workload: Workload
    workers: int
    server: Server
    mode: str = ""
    samples: list[Sample] = field(default_factory=list)

    def figure(self, name: str) -> float:
        values = [getattr(s, name) for s in self.samples if s.ok]
        return statistics.median(values) if values else 0.0

    @property
    def note(self) -> str:
        notes = [s.note for s in self.samples if not s.ok]
        if notes and len(notes) == len(self.samples):
            return notes[0]
        return ""

    @property
    def name(self) -> str:
        return self.server.label + (f", {self.mode} workers" if self.mode else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload.key,
            "workers": self.workers,
            "server": self.server.key,
            "mode": self.mode,
            "median": {k: self.figure(k) for k in FIGURES},
            "note": self.note,
            "rounds": [dataclasses.asdict(s) for s in self.samples],
        }


def _ratio(row: Row, rows: list[Row]) -> str:
    pounce = next(
        (
            r
            for r in rows
            if r.server.key == "pounce"
            and r.workload is row.workload
            and r.workers == row.workers
            and not r.mode
        ),
        None,
    )
    if row.note or pounce is None or pounce.note or not pounce.figure("rate"):
        return "-"
    return f"{row.figure('rate') / pounce.figure('rate'):.2f}x"


def table(rows: list[Row]) -> str:
    lines = [
        "| workload | workers | server | req/s | p50 ms | p99 ms | errors | peak RSS MB "
        "| CPU µs/req | vs Pounce (core only) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.note:
            lines.append(
                f"| {row.workload.label} | {row.workers} | {row.name} | {row.note} | | | | | | |"
            )
            continue
        lines.append(
            f"| {row.workload.label} | {row.workers} | {row.name} "
            f"| {row.figure('rate'):,.0f} | {row.figure('p50_us') / 1000:.2f} "
            f"| {row.figure('p99_us') / 1000:.2f} | {row.figure('errors'):.0f} "
            f"| {row.figure('rss_mb'):.0f} | {row.figure('cpu_us'):.0f} | {_ratio(row, rows)} |"
        )
    return "\n".join(lines)


def _find(rows: list[Row], key: str, workload: str = "hello", workers: int = 1) -> Row | None:
    """The measured row of server ``key`` for ``workload`` and ``workers``."""
    return next(
        (
            r
            for r in rows
            if r.workload.key == workload and r.workers == workers and r.server.key == key
            and not r.mode and not r.note and r.figure("rate")
        ),
        None,
    )  # fmt: skip


def _counted(row: Row) -> str:
    """The row's server with its number (and kind) of workers."""
    kind = f"{row.mode} " if row.mode else ""
    return f"{row.server.label}, {row.workers} {kind}worker{'s' if row.workers > 1 else ''}"


def _judged(ours: Row, other: Row, wanted: float, *, counted: bool = False) -> str:
    ratio = ours.figure("rate") / other.figure("rate")
    verdict = "met" if ratio >= wanted else "NOT met"
    mine, theirs = (_counted(ours), _counted(other)) if counted else (ours.name, other.name)
    return f"- {mine} req/s ≥ {wanted:g}x {theirs}: {ratio:.2f}x ({verdict})"


def targets(rows: list[Row]) -> list[str]:
    """The issue's speed targets, judged on this run (hello world, one worker;
    and every workload with one worker against Uvicorn)."""
    pounce = _find(rows, "pounce")
    batteries = _find(rows, "pounce-batteries")
    if pounce is None and batteries is None:
        return ["targets: no Pounce hello-world figure in this run"]
    uvicorn = _find(rows, "uvicorn")
    out = []
    if batteries is not None and pounce is not None:
        out.append(_judged(batteries, pounce, 0.95))
    for ours, wanted in ((pounce, (("uvicorn", 1.0), ("uvicorn-h11", 3.0), ("hypercorn", 3.0))),
                         (batteries, (("uvicorn", 1.1),))):  # fmt: skip
        if ours is None:
            continue
        for key, ratio in wanted:
            other = _find(rows, key)
            if other is None:
                out.append(f"- {ours.name} vs {key}: not measured in this run")
            else:
                out.append(_judged(ours, other, ratio))
        if uvicorn is not None:
            mine, theirs = ours.figure("p99_us") / 1000, uvicorn.figure("p99_us") / 1000
            verdict = "met" if mine <= theirs else "NOT met"
            out.append(
                f"- {ours.name} p99 ≤ {uvicorn.name} p99: {mine:.2f} ms vs {theirs:.2f} ms "
                f"({verdict})"
            )
    out.extend(_every_workload(rows))
    granian = _find(rows, "granian")
    base = pounce or batteries
    if granian is not None and base is not None:
        out.append(
            f"- Granian (ceiling): {granian.figure('rate') / base.figure('rate'):.2f}x {base.name}"
        )
    return out


def _every_workload(rows: list[Row]) -> list[str]:
    """Each Pounce row against Uvicorn (httptools+uvloop) on every workload
    measured with one worker: met when none is below 1.0x."""
    out = []
    for key in ("pounce", "pounce-batteries"):
        ratios = []
        for workload in WORKLOADS:
            ours, theirs = _find(rows, key, workload.key), _find(rows, "uvicorn", workload.key)
            if ours is not None and theirs is not None:
                ratios.append((ours.figure("rate") / theirs.figure("rate"), workload.label, ours))
        if len(ratios) < 2:
            continue  # one workload says nothing more than the lines above
        lowest, label, ours = min(ratios)
        verdict = "met" if lowest >= 1.0 else "NOT met"
        out.append(
            f"- {ours.name} ≥ 1x Uvicorn (httptools+uvloop) on every workload "
            f"({len(ratios)} measured): lowest {lowest:.2f}x, {label} ({verdict})"
        )
    return out


def hello_ratios(rows: list[Row]) -> str:
    """The hello-world ratio row: Pounce with its batteries against Pounce alone,
    and both against Uvicorn (httptools+uvloop), one worker."""
    pounce = _find(rows, "pounce")
    batteries = _find(rows, "pounce-batteries")
    uvicorn = _find(rows, "uvicorn")
    pairs = [(batteries, pounce), (pounce, uvicorn), (batteries, uvicorn)]
    parts = [
        f"{ours.name} {ours.figure('rate') / other.figure('rate'):.2f}x {other.name}"
        for ours, other in pairs
        if ours is not None and other is not None
    ]
    return "Hello world, 1 worker: " + ("; ".join(parts) if parts else "no ratio measured")


def free_threaded_group(by_key: dict[str, Server]) -> list[Row]:
    """The rows measured on a free-threaded interpreter, beside the main table:
    Pounce with 1 and 2 thread workers and 2 process workers, and Uvicorn
    (httptools+uvloop) with 2 worker processes, its only way to use 2 CPUs."""
    hello = next(w for w in WORKLOADS if w.key == "hello")
    pounce, uvicorn = by_key["pounce"], by_key["uvicorn"]
    return [
        Row(hello, 1, pounce, "thread"),
        Row(hello, 2, pounce, "thread"),
        Row(hello, 2, pounce, "process"),
        Row(hello, 2, uvicorn, "process"),
    ]


def _measured(row: Row) -> bool:
    return not row.note and row.figure("rate") > 0


def free_threaded_targets(group: list[Row], rows: list[Row]) -> list[str]:
    """The free-threaded targets, judged on this run: Pounce against Uvicorn
    (httptools+uvloop) with one worker (the main table's hello rows), and 2
    Pounce thread workers against Uvicorn's 2 worker processes, in req/s and
    in peak RSS (the group). Thread against process scaling follows, as a
    figure to read rather than a target: wrk shares the CPUs."""
    one, threads, processes, uvicorn2 = group
    out = ["Free-threaded targets (hello world, this run):"]
    pounce, uvicorn = _find(rows, "pounce"), _find(rows, "uvicorn")
    if pounce is None or uvicorn is None:
        out.append("- Pounce (core only) vs uvicorn, 1 worker: not measured in this run")
    else:
        out.append(_judged(pounce, uvicorn, 1.15, counted=True))
    if not _measured(threads) or not _measured(uvicorn2):
        why = threads.note or uvicorn2.note or "no figure"
        out.append(f"- {_counted(threads)} vs {_counted(uvicorn2)}: not measured: {why}")
    else:
        out.append(_judged(threads, uvicorn2, 1.1, counted=True))
        rss_t, rss_u = threads.figure("rss_mb"), uvicorn2.figure("rss_mb")
        share = rss_t / rss_u if rss_u else float("nan")
        verdict = "met" if share < 0.5 else "NOT met"
        out.append(
            f"- {_counted(threads)} peak RSS < 0.5x {_counted(uvicorn2)}: {rss_t:.0f} MB vs "
            f"{rss_u:.0f} MB = {share:.2f}x ({verdict})"
        )
    if _measured(one) and _measured(threads) and _measured(processes):
        scaling = threads.figure("rate") / one.figure("rate")
        by_process = processes.figure("rate") / one.figure("rate")
        rss_t, rss_p = threads.figure("rss_mb"), processes.figure("rss_mb")
        share = rss_t / rss_p if rss_p else float("nan")
        out.append(
            f"- for reference: 2 thread workers {scaling:.2f}x 1 worker, 2 process workers "
            f"{by_process:.2f}x (wrk shares the CPUs: on 2 CPUs no clean measure of scaling); "
            f"2 thread workers' peak RSS {rss_t:.0f} MB vs 2 process workers' {rss_p:.0f} MB "
            f"= {share:.2f}x"
        )
    else:
        why = one.note or threads.note or processes.note or "no figure"
        out.append(f"- for reference, thread against process workers: not measured: {why}")
    return out


def chart(rows: list[Row], path: Path, title: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no chart"
    worker_counts = sorted({r.workers for r in rows})
    servers = [s for s in SERVERS if any(r.server is s for r in rows)]
    fig, axes = plt.subplots(len(worker_counts), 1, figsize=(12, 4.5 * len(worker_counts)))
    if len(worker_counts) == 1:
        axes = [axes]
    for axis, workers in zip(axes, worker_counts, strict=True):
        workloads = [
            w for w in WORKLOADS if any(r.workload is w and r.workers == workers for r in rows)
        ]
        width = 0.8 / max(len(servers), 1)
        for i, server in enumerate(servers):
            values = []
            for workload in workloads:
                row = next(
                    (
                        r
                        for r in rows
                        if r.server is server and r.workload is workload and r.workers == workers
                        and not r.mode
                    ),
                    None,
                )  # fmt: skip
                values.append(row.figure("rate") if row and not row.note else 0.0)
            positions = [x + i * width for x in range(len(workloads))]
            axis.bar(positions, values, width, label=server.label)
        axis.set_xticks([x + width * (len(servers) - 1) / 2 for x in range(len(workloads))])
        axis.set_xticklabels([w.label for w in workloads], rotation=15, fontsize=8)
        axis.set_ylabel("requests (messages) / s")
        axis.set_title(f"{title}: {workers} worker{'s' if workers > 1 else ''}", fontsize=10)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def _versions() -> dict[str, str]:
    found = {}
    for name in (
        "pounce-core",
        "pounce-extras",
        "uvicorn",
        "httptools",
        "zttp",
        "uvloop",
        "gunicorn",
        "gunicorn-h1c",
        "hypercorn",
        "granian",
        "fastapi",
        "websockets",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    for tool, flag in (("wrk", "--version"), ("h2load", "--version")):
        if shutil.which(tool):
            out = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
            found[tool] = (out.stdout or out.stderr).strip().splitlines()[0][:60]
    return found


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "gil": _gil_enabled(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "versions": _versions(),
    }


# ------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", help="server keys (default: all)")
    parser.add_argument("--workloads", help="workload keys (default: all)")
    parser.add_argument("--workers", help="worker counts, e.g. 1,2 (default: 1,2)")
    parser.add_argument("--rounds", type=int, help="default: 3")
    parser.add_argument("--duration", type=float, help="seconds of load per run (default: 5)")
    parser.add_argument("--warmup", type=float, help="seconds of load before each run (default: 1)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--ws-connections", type=int, default=8)
    parser.add_argument(
        "--ws-client",
        choices=("frames", "websockets"),
        default="frames",
        help="ws_client.py's client: frames (lean, the default) or the websockets library's",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the hello-world ratio row in under two minutes: Pounce alone, Pounce with "
        "pounce-extras and Uvicorn (httptools+uvloop), 1 worker, 3 rounds of 2 s "
        "(any option given explicitly wins)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only; write no results")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = QUICK if args.quick else FULL
    for name, value in chosen.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


FULL: dict[str, Any] = {
    "servers": ",".join(s.key for s in SERVERS),
    "workloads": ",".join(w.key for w in WORKLOADS),
    "workers": "1,2",
    "rounds": 3,
    "duration": 5.0,
    "warmup": 1.0,
}
# About 4 s per measurement (start, warm-up, load, stop): 3 x 3 of them.
QUICK: dict[str, Any] = {
    "servers": "pounce,pounce-batteries,uvicorn",
    "workloads": "hello",
    "workers": "1",
    "rounds": 3,
    "duration": 2.0,
    "warmup": 0.5,
}


def run_rounds(args: argparse.Namespace, group: list[Row], logs: Path) -> None:
    """Measure every row of ``group`` once per round, the rows taking turns."""
    for round_index in range(args.rounds):
        # Rotate the starting server each round: nobody always goes first.
        shift = round_index % len(group)
        for row in group[shift:] + group[:shift]:
            first = row.samples[0] if row.samples else None
            if first is not None and first.note.startswith("n/a"):
                row.samples.append(first)  # unsupported stays unsupported
                continue
            sample = measure(
                args,
                row.server,
                workload=row.workload,
                workers=row.workers,
                mode=row.mode,
                logs=logs,
            )
            row.samples.append(sample)
            shown = sample.note or f"{sample.rate:,.0f}/s p99 {sample.p99_us / 1000:.1f} ms"
            label = f"{row.workload.key:8} w{row.workers} {row.name:30}"
            print(f"  [{round_index + 1}] {label} {shown}", flush=True)


def save(args: argparse.Namespace, info: dict[str, Any], rows: list[Row], notes: list[str]) -> Path:
    """Write the run as JSON, markdown and a PNG chart; the common path stem."""
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = f"{info['implementation'].lower()}{info['python']}{'' if info['gil'] else 't'}"
    base = args.results / f"{stamp}-{tag}"

    def named(suffix: str) -> Path:
        # Not with_suffix: the version's dots (3.14.10) are not a suffix.
        return base.parent / f"{base.name}{suffix}"

    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    document = {"machine": info, "settings": settings, "rows": [r.as_dict() for r in rows]}
    named(".json").write_text(json.dumps(document, indent=2) + "\n")
    title = f"{info['implementation']} {info['python']}, {info['cpus']} CPUs"
    problem = chart(rows, named(".png"), title)
    gil = "enabled" if info["gil"] else "disabled"
    markdown = [
        f"# Benchmark run {stamp}",
        "",
        f"{title} ({info['cpu_model']}), GIL {gil}, load average at start "
        f"{info['load_average'][0]:.1f}. {args.rounds} round(s) of {args.duration:g} s per "
        "server and workload, servers interleaved; medians. The load generators share the "
        f"CPUs with the server. WebSocket client: ws_client.py --client {args.ws_client}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "",
        table(rows),
        "",
        hello_ratios(rows),
        "",
        "Targets (hello world, 1 worker):",
        "",
        *targets(rows),
        "",
        *notes,
        "",
        f"![chart]({named('.png').name})" if problem is None else problem,
        "",
    ]
    named(".md").write_text("\n".join(markdown))
    return base


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    by_key = {s.key: s for s in SERVERS}
    servers = [by_key[k] for k in args.servers.split(",") if k]
    workloads = [w for w in WORKLOADS if w.key in args.workloads.split(",")]
    worker_counts = [int(n) for n in args.workers.split(",") if n]
    info = machine()
    wanted = {w.tool for w in workloads} & {"wrk", "h2load"}
    missing = sorted(t for t in wanted if not shutil.which(t))
    if missing:
        print(f"missing load generators: {', '.join(missing)} (scripts/install-test-tools.sh)")
        return 2

    gil = "enabled" if info["gil"] else "disabled"
    print(
        f"{info['implementation']} {info['python']} (GIL {gil}), {info['cpus']} CPUs "
        f"({info['cpu_model'] or 'unknown'}), load {info['load_average'][0]:.1f}"
    )
    print(
        f"The load generator runs on the same {info['cpus']} CPUs as the server: with 2 CPUs, "
        "a 2-worker server competes with wrk for them, so 2-worker figures understate scaling."
    )
    print(
        f"{args.rounds} round(s) x {args.duration:g} s per server and workload; medians shown. "
        f"WebSocket client: ws_client.py --client {args.ws_client}.\n"
    )

    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pounce-bench-") as tmp:
        logs = Path(tmp)
        for workers in worker_counts:
            for workload in workloads:
                group = [Row(workload, workers, server) for server in servers]
                run_rounds(args, group, logs)
                rows.extend(group)
        wants_pounce = any(s.key == "pounce" for s in servers) and any(
            w.key == "hello" for w in workloads
        )
        # The free-threaded group is part of the full table; --quick stays the
        # one hello-world ratio row it promises.
        if not info["gil"] and wants_pounce and not args.quick:
            group = free_threaded_group(by_key)
            run_rounds(args, group, logs)
            notes.extend(free_threaded_targets(group, rows))
            rows.extend(group)
        elif info["gil"]:
            notes.append(
                "Thread vs process workers on free-threaded Python: n/a (this interpreter has "
                "the GIL; run ./benchmarks/run.sh --python /path/to/python3.14t where one exists)."
            )

    print("\n" + table(rows) + "\n")
    print(hello_ratios(rows) + "\n")
    print("Targets (hello world, 1 worker, this run):")
    print("\n".join(targets(rows)))
    print("\n".join(notes))
    if not args.no_save:
        base = save(args, info, rows, notes)
        print(f"\nSaved {base}.json, .md and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
