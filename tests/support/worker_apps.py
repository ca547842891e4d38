"""Apps for the worker and supervisor tests, importable as ``support.worker_apps:NAME``.

``app`` says which worker answered (process id and thread name), can be slow,
can block its event loop, and can kill the worker serving it. Its lifespan
prints one line per worker and fails when the file named by the
``POUNCE_TEST_FAIL_STARTUP`` environment variable exists, so a test can let
the first workers start and make every later one fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

from pounce import Receive, Scope, Send
from support.apps import respond

__all__ = ["RELOADABLE_MODULE", "WorkerKilled", "app", "identity", "write_reloadable"]


class WorkerKilled(SystemExit):
    """Raised by ``/kill-worker``: asyncio lets a ``SystemExit`` out of the task
    and the event loop, so it ends the worker serving the request."""


_HOARD: list[bytes] = []


def identity() -> dict[str, object]:
    """Which worker runs this code."""
    return {"pid": os.getpid(), "thread": threading.current_thread().name}


def _say(text: str) -> None:
    # One write per line: print() writes the newline separately, and lines
    # from several worker threads would interleave.
    line = f"worker-app: {text} {os.getpid()} {threading.current_thread().name}\n"
    sys.stderr.write(line)
    sys.stderr.flush()


async def _lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            flag = os.environ.get("POUNCE_TEST_FAIL_STARTUP")
            if flag and os.path.exists(flag):  # noqa: ASYNC240 - once per startup
                await send({"type": "lifespan.startup.failed", "message": "the flag is up"})
                return
            scope["state"]["loop"] = id(asyncio.get_running_loop())
            scope["state"]["thread"] = threading.current_thread().name
            _say("startup")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            _say("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Routes: ``/`` hello, ``/whoami`` the worker as JSON, ``/state`` whether
    the lifespan state belongs to this worker's loop, ``/slow?seconds=S``,
    ``/block?seconds=S`` (blocks the loop), ``/hoard?mib=N`` (keeps N MiB),
    ``/kill-worker``."""
    if scope["type"] == "lifespan":
        await _lifespan(scope, receive, send)
        return
    path = scope["path"]
    query = parse_qs(scope["query_string"].decode("latin-1"))
    if path == "/":
        await respond(send, "hello")
    elif path == "/whoami":
        await respond(send, json.dumps(identity()), content_type=b"application/json")
    elif path == "/state":
        state = scope["state"]
        same_loop = state.get("loop") == id(asyncio.get_running_loop())
        await respond(send, json.dumps({"same_loop": same_loop, "thread": state.get("thread")}))
    elif path == "/slow":
        seconds = float(query["seconds"][0])
        _say(f"slow request for {seconds}s")
        await asyncio.sleep(seconds)
        await respond(send, "slow done")
    elif path == "/block":
        seconds = float(query["seconds"][0])
        _say(f"blocking the loop for {seconds}s")
        time.sleep(seconds)  # noqa: ASYNC251 - the point: a loop the app blocks
        await respond(send, "unblocked")
    elif path == "/hoard":
        # Holds N MiB until the module is dropped (a new generation imports it
        # afresh); with keep=process, on the sys module, which no generation owns.
        mib = int(query["mib"][0])
        chunk = b"x" * (mib * 1024 * 1024)  # written, so resident
        if query.get("keep") == ["process"]:
            sys.__dict__.setdefault("_pounce_test_hoard", []).append(chunk)
        else:
            _HOARD.append(chunk)
        _say(f"hoarding {mib} MiB")
        await respond(send, "hoarded")
    elif path == "/kill-worker":
        _say("killing its worker")
        raise WorkerKilled
    else:
        await respond(send, "not found", status=404)


RELOADABLE_MODULE = '''
"""Written by the tests: serves its VERSION, imports a helper module of its own."""
import reloadable_helper

VERSION = {version!r}

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            else:
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    body = (VERSION + " " + reloadable_helper.HELPER).encode()
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": body}})
'''


def write_reloadable(directory: Path, version: str, *, helper: str = "h1") -> None:
    """Write ``reloadable.py`` (and its helper) serving ``version``."""
    (directory / "reloadable_helper.py").write_text(f"HELPER = {helper!r}\n")
    (directory / "reloadable.py").write_text(RELOADABLE_MODULE.format(version=version))
    # A bytecode cache is keyed on the source's mtime in whole seconds and its
    # size: a rewrite within the same second could be served stale.
    shutil.rmtree(directory / "__pycache__", ignore_errors=True)
