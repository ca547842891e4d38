"""Worker hooks and an app that record, in order, what happens in each worker.

Every line goes to the file named by ``POUNCE_TEST_HOOK_LOG``, keyed by the
process and thread the worker runs on (the same for a worker's hooks and its
lifespan in every worker mode), so a test can read each worker's story.
"""

from __future__ import annotations

import asyncio
import os
import threading

from pounce import Receive, Scope, Send, WorkerInfo
from support.apps import respond

__all__ = ["app", "draining", "failing_start", "start", "stop"]


def _record(event: str, detail: str = "") -> None:
    line = f"{os.getpid()}-{threading.get_ident()} {event} {detail}".rstrip()
    with open(os.environ["POUNCE_TEST_HOOK_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _describe(info: WorkerInfo) -> str:
    return f"id={info.worker_id} slot={info.slot} gen={info.generation} mode={info.mode}"


def start(info: WorkerInfo) -> None:
    _record("start", _describe(info))


async def draining(info: WorkerInfo) -> None:
    await asyncio.sleep(0)  # an async hook is awaited on the worker's loop
    _record("draining", _describe(info))


def stop(info: WorkerInfo) -> None:
    _record("stop", _describe(info))


def failing_start(info: WorkerInfo) -> None:
    raise RuntimeError("the database is unreachable")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _record("lifespan-startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _record("lifespan-shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    await respond(send, "hello")
