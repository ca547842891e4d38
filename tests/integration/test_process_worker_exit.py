"""The supervisor's handle on a worker process notices its exit.

Normally through the end of the control channel; these tests hold the
channel open (so no end is ever reported) and check the periodic look at the
process itself, and that what the worker said before it went is still read.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from typing import Any, cast

import pytest

from pounce._workers import processes as _process_workers
from pounce._workers.link import WorkerExit, WorkerHandle
from pounce._workers.processes import ProcessWorker


class Recorder:
    def __init__(self) -> None:
        self.exits: list[WorkerExit] = []
        self.exited = asyncio.Event()

    def worker_ready(self, handle: WorkerHandle) -> None:
        pass

    def worker_beat(self, handle: WorkerHandle) -> None:
        pass

    def worker_retiring(self, handle: WorkerHandle, served: int) -> None:
        pass

    def worker_exited(self, handle: WorkerHandle, outcome: WorkerExit) -> None:
        self.exits.append(outcome)
        self.exited.set()


class ExitedProcess:
    """A worker process that has exited, as ``subprocess.Popen`` shows it."""

    pid = 4242

    def __init__(self, code: int) -> None:
        self.code = code
        self.polls = 0

    def poll(self) -> int | None:
        self.polls += 1
        return None if self.polls < 3 else self.code  # alive at the first looks

    def wait(self) -> int:
        return self.code


async def watch(exit_code: int, said: list[dict[str, Any]]) -> list[WorkerExit]:
    ours, theirs = socket.socketpair()
    # The peer end stays open here: the channel never reports an end.
    for message in said:
        theirs.sendall(json.dumps(message).encode() + b"\n")
    process = ExitedProcess(exit_code)
    recorder = Recorder()
    ProcessWorker(
        worker_id=1,
        process=cast("subprocess.Popen[bytes]", process),
        control=ours,
        events=recorder,
        loop=asyncio.get_running_loop(),
    )
    try:
        await asyncio.wait_for(recorder.exited.wait(), timeout=10)
    finally:
        theirs.close()
    return recorder.exits


@pytest.fixture(autouse=True)
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_process_workers, "_EXIT_CHECK_INTERVAL", 0.05)


def test_an_exit_the_channel_never_reports_is_noticed() -> None:
    exits = asyncio.run(watch(3, []))
    assert exits == [WorkerExit(kind="crashed", exit_code=3, reason="exited with status 3")]


def test_what_the_worker_said_before_it_went_is_read() -> None:
    failed = {"type": "failed", "exit_code": 1, "reason": "boom at import"}
    exits = asyncio.run(watch(1, [failed]))
    assert exits == [WorkerExit(kind="failed", exit_code=1, reason="boom at import")]
