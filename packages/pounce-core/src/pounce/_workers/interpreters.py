"""Workers as subinterpreters: one interpreter per worker, in one process.

``--worker-mode interpreter`` (CPython 3.14+, :mod:`concurrent.interpreters`,
PEP 734) runs each worker in an interpreter of its own, on a thread of its
own. Every interpreter has its own GIL on a GIL build, its own
``sys.modules`` and its own copy of the app, so the workers run Python in
parallel in one process, isolated from one another almost as processes are.

The worker's side is the same code a worker process runs
(:func:`pounce._workers.processes.run_worker`), and the supervisor's side
speaks the same control channel (a UNIX socket pair; descriptors belong to
the process, so an integer crosses the interpreter boundary):

* the supervisor duplicates the slot's listening sockets (``os.dup``) and one
  end of a socket pair, and sends the worker's :class:`ChildSpec` on it;
* the worker's thread calls :func:`interpreter_main` in the new interpreter,
  which takes over those descriptors, imports the app by its import string
  (an app *object* cannot cross into another interpreter) and serves;
* when that call returns, the thread closes the interpreter and reports the
  exit status to the supervisor's loop.

Differences from processes: an interpreter cannot be killed (a stuck one is
reported, like a stuck thread); signals reach only the supervisor; an app
whose C extensions do not support subinterpreters fails at start-up with a
message that says so; uvloop is never picked by ``--loop auto``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

from pounce._runtime.exit_codes import EXIT_BAD_CONFIG, EXIT_STARTUP_FAILED
from pounce._runtime.importer import check_import_string
from pounce._settings.config import ServerConfig
from pounce._workers.child_process import Channel, ChildSpec, receive_spec, send_spec
from pounce._workers.link import WorkerEvents, WorkerExit

__all__ = ["InterpreterWorker", "InterpreterWorkers", "interpreter_main"]


def _interpreters() -> Any:
    # Imported on use: the module exists on 3.14+ only, and config
    # validation has refused this mode everywhere else.
    return importlib.import_module("concurrent.interpreters")


class InterpreterWorkers:
    """The subinterpreter edge: one interpreter and one thread per worker."""

    mode = "interpreter"

    def __init__(self, *, config: ServerConfig, app: str, loop: asyncio.AbstractEventLoop) -> None:
        self._config = config
        self._target = app
        self._loop = loop

    async def load(self, generation: int) -> None:
        # Each interpreter imports the app itself, fresh (its own
        # sys.modules), so a reload always serves the code on disk.
        check_import_string(self._target)

    def spawn(
        self,
        payload: object,
        *,
        worker_id: int,
        slot: int,
        generation: int,
        sockets: Sequence[socket.socket],
        retire_after: int | None,
        events: WorkerEvents,
    ) -> InterpreterWorker:
        listen_fds: list[int] = []
        ours, theirs = socket.socketpair()
        try:
            # The worker's own descriptors: it closes them when it stops
            # accepting, and the supervisor's sockets stay open.
            listen_fds = [os.dup(sock.fileno()) for sock in sockets]
            spec = ChildSpec(
                config=self._config,
                app=self._target,
                listen_fds=tuple(listen_fds),
                sys_path=tuple(sys.path),
                worker_id=worker_id,
                slot=slot,
                generation=generation,
                retire_after=retire_after,
            )
            send_spec(ours, spec)
            interpreter = _interpreters().create()
        except BaseException:
            for fd in listen_fds:
                os.close(fd)
            ours.close()
            theirs.close()
            raise
        # From here on the worker's interpreter owns these descriptors.
        control_fd = theirs.detach()
        return InterpreterWorker(
            worker_id=worker_id,
            interpreter=interpreter,
            control=ours,
            control_fd=control_fd,
            sys_path=spec.sys_path,
            events=events,
            loop=self._loop,
        )


class InterpreterWorker:
    """The supervisor's handle on one interpreter worker (used on its loop)."""

    def __init__(
        self,
        *,
        worker_id: int,
        interpreter: Any,
        control: socket.socket,
        control_fd: int,
        sys_path: tuple[str, ...],
        events: WorkerEvents,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._worker_id = worker_id
        self._interpreter = interpreter
        self._channel = Channel(control)
        self._events = events
        self._loop = loop
        self._failure: WorkerExit | None = None
        self._reading = True
        loop.add_reader(control.fileno(), self._on_readable)
        self._thread = threading.Thread(
            target=self._run,
            args=(control_fd, sys_path),
            name=f"pounce-interpreter-{worker_id}",
            daemon=True,
        )
        self._thread.start()

    @property
    def worker_id(self) -> int:
        return self._worker_id

    @property
    def pid(self) -> int:
        return os.getpid()

    def describe(self) -> str:
        return f"worker {self._worker_id} (interpreter {self._interpreter.id})"

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        self._channel.send({"type": "stop", "force": force, "handoff": handoff})

    def kill(self) -> bool:
        return False  # an interpreter running code cannot be stopped from outside

    # ------------------------------------------------ the worker's thread

    def _run(self, control_fd: int, sys_path: tuple[str, ...]) -> None:
        code = -1
        reason = ""
        try:
            # sys.path first, so the interpreter imports what this one would.
            self._interpreter.exec(f"import sys; sys.path[:] = {list(sys_path)!r}")
            code = int(self._interpreter.call(interpreter_main, control_fd))
        except Exception as exc:  # noqa: BLE001 - whatever it was, the worker has crashed
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(Exception):
                self._interpreter.close()
        with contextlib.suppress(RuntimeError):  # the supervisor's loop is gone
            self._loop.call_soon_threadsafe(self._ended, code, reason)

    # ------------------------------------------------ the supervisor's loop

    def _dispatch(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            kind = message.get("type")
            if kind == "ready":
                self._events.worker_ready(self)
            elif kind == "beat":
                self._events.worker_beat(self)
            elif kind == "retiring":
                self._events.worker_retiring(self, int(message.get("served", 0)))
            elif kind == "failed":
                self._failure = WorkerExit(
                    kind="failed",
                    exit_code=int(message.get("exit_code", EXIT_BAD_CONFIG)),
                    reason=str(message.get("reason", "")),
                )

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._channel.sock.fileno())

    def _on_readable(self) -> None:
        messages = self._channel.receive()
        if messages is None:
            self._stop_reading()
            return
        self._dispatch(messages)

    def _ended(self, code: int, reason: str) -> None:
        # The worker has returned, so all it ever sent is in the socket now.
        while True:
            messages = self._channel.receive()
            if not messages:
                break
            self._dispatch(messages)
        self._stop_reading()
        self._channel.sock.close()
        if self._failure is not None and code in (EXIT_BAD_CONFIG, EXIT_STARTUP_FAILED):
            outcome = self._failure
        elif code == 0:
            outcome = WorkerExit(kind="stopped")
        elif reason:
            outcome = WorkerExit(kind="crashed", reason=reason)
        else:
            outcome = WorkerExit(
                kind="crashed", exit_code=code, reason=f"its event loop died (status {code})"
            )
        self._events.worker_exited(self, outcome)


def interpreter_main(control_fd: int) -> int:
    """Entry point of a worker inside its interpreter; returns the exit status."""
    # Imported here, inside the worker's interpreter.
    from pounce._workers.processes import run_worker  # noqa: PLC0415

    control = socket.socket(fileno=control_fd)
    try:
        spec = receive_spec(control)
    except (EOFError, OSError):
        control.close()
        return EXIT_BAD_CONFIG
    channel = Channel(control)
    try:
        return run_worker(spec, channel, mode="interpreter")
    finally:
        control.close()
