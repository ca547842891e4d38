"""Workers as threads of this process: one event loop per thread.

All thread workers share the one imported app and the one frozen
``ServerConfig``; everything else a worker uses (its event loop, its
connections, its lifespan state) belongs to its own thread. On a
free-threaded interpreter they run Python in parallel; with the GIL they
still overlap on I/O but take turns running Python.

What crosses threads, and how:

* the supervisor's requests to a worker (stop, force) go to the worker's
  loop through ``call_soon_threadsafe``; the loop reference they need is
  published by the worker thread under :attr:`ThreadWorker._lock`, with the
  requests that arrived before the loop existed;
* a worker's reports (ready, heartbeat, retiring, exited) go to the
  supervisor's loop through ``call_soon_threadsafe``, carrying only
  immutable values;
* each worker accepts on its own ``dup`` of its slot's listening sockets, so
  when its asyncio server closes them on stop, the supervisor's sockets (and
  their accept queues) stay open for the worker that takes over.

A thread cannot be killed: a worker whose loop is stuck is reported by the
supervisor and replaced only if it ever ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pounce._bridge.app_stack import build_app
from pounce._bridge.lifespan import Lifespan, LifespanFailure
from pounce._bridge.plugins import ServerPlugin
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.error_responses import ErrorRenderer, plain_text_error
from pounce._runtime.exit_codes import EXIT_STARTUP_FAILED
from pounce._runtime.importer import load_app
from pounce._runtime.lifecycle import LifecycleEmitter
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig
from pounce._workers.app_reload import reimport_app
from pounce._workers.event_loop import loop_factory
from pounce._workers.hooks import WorkerHooks, WorkerInfo
from pounce._workers.link import (
    WorkerEvents,
    WorkerExit,
    beat_interval,
    run_on_loop,
    run_supervised,
)
from pounce._workers.worker import Worker

__all__ = ["ThreadWorker", "ThreadWorkers"]

_logger = logging.getLogger(ERROR_LOGGER)


class ThreadWorkers:
    """The thread edge: loads the app in this process, starts worker threads."""

    mode = "thread"

    def __init__(
        self,
        *,
        config: ServerConfig,
        app: str | ASGIApp,
        emitter: LifecycleEmitter,
        loop: asyncio.AbstractEventLoop,
        plugins: Sequence[ServerPlugin] = (),
        error_renderer: ErrorRenderer = plain_text_error,
    ) -> None:
        self._config = config
        self._target = app
        self._emitter = emitter
        self._loop = loop
        self._plugins = tuple(plugins)
        self._error_renderer = error_renderer

    async def load(self, generation: int) -> ASGIApp:
        config = self._config
        target = self._target
        if generation == 0:
            app = load_app(target, factory=config.factory, app_dir=config.app_dir)
        elif isinstance(target, str):
            # Off the supervisor's loop: importing a big app takes a while,
            # and the supervisor keeps watching the serving workers meanwhile.
            app = await asyncio.to_thread(
                reimport_app, target, factory=config.factory, app_dir=config.app_dir
            )
        else:
            _logger.info(
                "The app was given as an object, not an import string: "
                "restarting the workers without re-importing it."
            )
            app = load_app(target, factory=config.factory)
        return build_app(app, config, self._plugins)

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
    ) -> ThreadWorker:
        assert callable(payload)
        worker = ThreadWorker(
            config=self._config,
            app=payload,
            worker_id=worker_id,
            slot=slot,
            generation=generation,
            sockets=list(sockets),
            retire_after=retire_after,
            emitter=self._emitter,
            events=events,
            supervisor_loop=self._loop,
            error_renderer=self._error_renderer,
        )
        worker.start()
        return worker


class ThreadWorker:
    """One worker thread; the supervisor's handle on it."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        app: ASGIApp,
        worker_id: int,
        slot: int = 0,
        generation: int = 0,
        sockets: list[socket.socket],
        retire_after: int | None,
        emitter: LifecycleEmitter,
        events: WorkerEvents,
        supervisor_loop: asyncio.AbstractEventLoop,
        error_renderer: ErrorRenderer = plain_text_error,
    ) -> None:
        self._config = config
        self._error_renderer = error_renderer
        self._app = app
        self._worker_id = worker_id
        self._slot = slot
        self._generation = generation
        # Our own descriptors, made now, while the supervisor's sockets are
        # certainly open: asyncio closes these when this worker stops
        # accepting, and the supervisor's stay open.
        self._sockets = [sock.dup() for sock in sockets]
        self._retire_after = retire_after
        self._emitter = emitter
        self._events = events
        self._supervisor_loop = supervisor_loop
        # Guards _loop and _requests: written by the supervisor's thread
        # (stop) and by this worker's thread (start, exit).
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requests: list[tuple[bool, bool]] = []  # (force, handoff), oldest first
        self._worker: Worker | None = None  # only touched by the worker thread
        self._thread = threading.Thread(
            target=self._run, name=f"pounce-worker-{worker_id}", daemon=True
        )

    # ------------------------------------------------- supervisor's side

    @property
    def worker_id(self) -> int:
        return self._worker_id

    @property
    def pid(self) -> int:
        return os.getpid()

    def describe(self) -> str:
        return f"worker {self._worker_id} (thread {self._thread.name})"

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        with self._lock:
            self._requests.append((force, handoff))
            loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._deliver)

    def kill(self) -> bool:
        return False  # Python cannot kill a thread

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # ---------------------------------------------------- worker's side

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the supervisor's loop is gone
            self._supervisor_loop.call_soon_threadsafe(callback, *args)

    def ready(self) -> None:
        self._post(self._events.worker_ready, self)

    def beat(self) -> None:
        self._post(self._events.worker_beat, self)

    def retiring(self, served: int) -> None:
        self._post(self._events.worker_retiring, self, served)

    def _deliver(self) -> None:
        """Apply the supervisor's pending requests (on this worker's loop)."""
        with self._lock:
            requests, self._requests = self._requests, []
        worker = self._worker
        if worker is not None:
            for force, handoff in requests:
                worker.stop(force=force, handoff=handoff)

    async def _main(self, worker: Worker) -> None:
        with self._lock:
            self._loop = asyncio.get_running_loop()
        self._deliver()  # requests made before the loop existed
        await run_supervised(
            worker,
            self,
            interval=beat_interval(self._config),
            retire_after=self._retire_after,
        )

    def _run(self) -> None:
        config = self._config
        outcome = WorkerExit(kind="stopped")
        try:
            worker = Worker(
                config=config,
                app=self._app,
                sockets=self._sockets,
                lifespan=Lifespan(self._app, config.lifespan),
                error_renderer=self._error_renderer,
                on_ready=self.ready,
                emitter=self._emitter,
                worker_id=self._worker_id,
                hooks=WorkerHooks.from_config(config),
                info=WorkerInfo(
                    worker_id=self._worker_id,
                    slot=self._slot,
                    generation=self._generation,
                    mode="thread",
                    pid=os.getpid(),
                ),
            )
            self._worker = worker
            with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
                run_on_loop(runner.get_loop(), worker, self._main(worker))
        except LifespanFailure as exc:
            outcome = WorkerExit(kind="failed", exit_code=EXIT_STARTUP_FAILED, reason=str(exc))
        except BaseException as exc:
            _logger.error("%s crashed.", self.describe(), exc_info=exc)
            outcome = WorkerExit(kind="crashed", reason=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._loop = None
            for sock in self._sockets:
                sock.close()
            # Always, whatever happened above: the supervisor waits for it.
            self._post(self._events.worker_exited, self, outcome)
