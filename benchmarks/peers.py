"""One server at a time for the scripts that measure a single hostile input.

``pipelined_backlog.py`` and ``tiny_chunks.py`` start the servers of ``run.py``
(same commands, same app, one worker) and, with ``--pounce-src DIR``, Pounce
from another checkout as well, so a change can be measured against the code
before it in the same run. Each server is started, polled until it answers,
measured, and stopped before the next one starts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import run

HERE = run.HERE
_PACKAGES = ("pounce-protocols", "pounce-core", "pounce-cli", "pounce-extras")


@dataclass(frozen=True)
class Contender:
    """A server to measure: its label and how to start it on a port."""

    label: str
    server: run.Server
    source: Path | None = None  # a checkout whose Pounce runs instead of the installed one

    def argv(self, port: int, protocol: str) -> list[str] | str:
        """The command, or why this server cannot serve ``protocol``."""
        if not self.server.available():
            return f"n/a: {self.server.module} not installed"
        launch = self.server.build(run.APP, port, 1, protocol, "")
        if launch.argv is None:
            return launch.unsupported or "n/a"
        if self.source is None:
            return launch.argv
        paths = [str(self.source / "packages" / name / "src") for name in _PACKAGES]
        return ["env", f"PYTHONPATH={os.pathsep.join([*paths, str(HERE)])}", *launch.argv]


def contenders(keys: str, sources: list[Path]) -> list[Contender]:
    """The servers named in ``keys`` (run.py's keys), then Pounce from each source."""
    by_key = {server.key: server for server in run.SERVERS}
    chosen = [Contender(by_key[key].label, by_key[key]) for key in keys.split(",") if key]
    for source in sources:
        label = f"Pounce ({source.resolve().name})"
        chosen.append(Contender(label, by_key["pounce"], source.resolve()))
    return chosen


@contextlib.contextmanager
def serving(contender: Contender, protocol: str, logs: Path) -> Iterator[run.Running | str]:
    """The running server (stopped afterwards), or why it could not start."""
    port = run._free_port()
    argv = contender.argv(port, protocol)
    if isinstance(argv, str):
        yield argv
        return
    logs.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in contender.label.lower())
    running = run.Running(argv, port, logs / f"{name}.log")
    try:
        problem = running.wait_ready(protocol)
        yield running if problem is None else f"error: {problem}"
    finally:
        running.stop()


def cpu_seconds(running: run.Running) -> float:
    """CPU time used so far by the server's process tree, to the nanosecond
    (each thread's /proc schedstat; /proc stat counts 10 ms ticks)."""
    total = 0
    for pid in run._tree(running.process.pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def rss_mb(running: run.Running) -> float:
    """Resident memory of the server's process tree now."""
    return run._rss_kb(run._tree(running.process.pid)) / 1024
