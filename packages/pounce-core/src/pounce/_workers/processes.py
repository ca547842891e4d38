"""Workers as processes: one fresh interpreter per worker.

Each worker process imports the app itself (from its import string), so a
crash, a memory leak or a stuck event loop stays inside one process, and a
new generation imports new code. The supervisor's side of a worker is a
:class:`ProcessWorker`; the worker's side is :func:`child_main`. They speak
over the control channel of :mod:`pounce._workers.child_process`:

======================  =========================================
worker → supervisor      supervisor → worker
======================  =========================================
``ready``               ``stop`` (``force``, ``handoff``)
``beat``
``retiring`` (served)
``failed`` (code, why)
======================  =========================================

A worker ignores SIGINT and SIGHUP: a terminal's Ctrl-C reaches the whole
process group, and only the supervisor decides what it means (it forwards a
first and a second SIGINT as ``stop`` and ``stop force``). SIGTERM sent to a
worker stops that worker gracefully; the supervisor then replaces it. A
worker whose supervisor dies sees the channel close and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence

from pounce._bridge.app_stack import build_app
from pounce._bridge.lifespan import Lifespan, LifespanFailure
from pounce._bridge.plugins import (
    ServerPlugin,
    error_renderer,
    event_hooks,
    load_plugins,
    start_plugins,
    stop_plugins,
)
from pounce._runtime.error_responses import plain_text_error
from pounce._runtime.exit_codes import EXIT_BAD_CONFIG, EXIT_STARTUP_FAILED
from pounce._runtime.importer import AppLoadError, check_import_string, load_app
from pounce._runtime.lifecycle import LifecycleEmitter, load_hooks
from pounce._runtime.logs import ERROR_LOGGER, configure_logging_for
from pounce._settings.config import ServerConfig
from pounce._workers.child_process import Channel, ChildSpec, receive_spec, start_child
from pounce._workers.event_loop import loop_factory, loop_for_worker
from pounce._workers.hooks import WorkerHooks, WorkerInfo, WorkerKind
from pounce._workers.link import (
    WorkerEvents,
    WorkerExit,
    beat_interval,
    run_on_loop,
    run_supervised,
)
from pounce._workers.worker import Worker

__all__ = ["ProcessWorker", "ProcessWorkers", "child_main", "run_worker"]

_logger = logging.getLogger(ERROR_LOGGER)

_CHILD_CODE = "from pounce._workers.processes import child_main; child_main()"

# How often the supervisor looks whether a worker process has exited, beside
# the end of its control channel (see ProcessWorker._check_alive), and how
# many reads it gives the channel of one that has.
_EXIT_CHECK_INTERVAL = 1.0
_DRAIN_READS = 64
EXIT_WORKER_CRASHED = 70  # the worker's event loop died with an exception


class ProcessWorkers:
    """The process edge: starts one interpreter per worker."""

    mode = "process"

    def __init__(self, *, config: ServerConfig, app: str, loop: asyncio.AbstractEventLoop) -> None:
        self._config = config
        self._target = app
        self._loop = loop

    async def load(self, generation: int) -> None:
        # Each worker process imports the app; the supervisor never does, so
        # it stays small and a reload can never be served stale code. Only
        # the shape of the import string is checked here.
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
    ) -> ProcessWorker:
        listening = list(sockets)
        spec = ChildSpec(
            config=self._config,
            app=self._target,
            listen_fds=tuple(s.fileno() for s in listening),
            sys_path=tuple(sys.path),
            worker_id=worker_id,
            slot=slot,
            generation=generation,
            retire_after=retire_after,
        )
        process, control = start_child(_CHILD_CODE, spec, listening)
        return ProcessWorker(
            worker_id=worker_id,
            process=process,
            control=control,
            events=events,
            loop=self._loop,
        )


class ProcessWorker:
    """The supervisor's handle on one worker process (used on its loop only)."""

    def __init__(
        self,
        *,
        worker_id: int,
        process: subprocess.Popen[bytes],
        control: socket.socket,
        events: WorkerEvents,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._worker_id = worker_id
        self._process = process
        self._channel = Channel(control)
        self._events = events
        self._loop = loop
        self._failure: WorkerExit | None = None
        self._reaper: asyncio.Task[None] | None = None
        loop.add_reader(control.fileno(), self._on_readable)
        self._check_alive_later()

    @property
    def worker_id(self) -> int:
        return self._worker_id

    @property
    def pid(self) -> int:
        return self._process.pid

    def describe(self) -> str:
        return f"worker {self._worker_id} (pid {self._process.pid})"

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        self._channel.send({"type": "stop", "force": force, "handoff": handoff})

    def kill(self) -> bool:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        return True

    def _check_alive_later(self) -> None:
        self._loop.call_later(_EXIT_CHECK_INTERVAL, self._check_alive)

    def _check_alive(self) -> None:
        """Notice an exit even if the control channel's end went unreported.

        The channel's end of file is how an exit is normally seen. Under
        uvloop it was, rarely, never reported for a worker that failed at
        start-up, leaving the supervisor waiting for an exited (zombie)
        worker for ever; a periodic look at the process itself bounds that.
        """
        if self._reaper is not None:
            return
        if self._process.poll() is None:
            self._check_alive_later()
            return
        # Read what the worker said before it went (a "failed" reason, say).
        for _ in range(_DRAIN_READS):
            if self._reaper is not None:
                return
            self._on_readable()
        if self._reaper is None:
            self._on_end()

    def _on_readable(self) -> None:
        if self._reaper is not None:
            return
        messages = self._channel.receive()
        if messages is None:
            self._on_end()
            return
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

    def _on_end(self) -> None:
        # The worker closed its end: it has exited (or is about to).
        self._loop.remove_reader(self._channel.sock.fileno())
        self._reaper = self._loop.create_task(self._reap())

    async def _reap(self) -> None:
        code = await asyncio.to_thread(self._process.wait)
        self._channel.close()
        if self._failure is not None:
            outcome = self._failure
        elif code == 0:
            outcome = WorkerExit(kind="stopped")
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            outcome = WorkerExit(kind="crashed", exit_code=code, reason=f"killed by {name}")
        else:
            outcome = WorkerExit(
                kind="crashed", exit_code=code, reason=f"exited with status {code}"
            )
        self._events.worker_exited(self, outcome)


# --------------------------------------------------------------- the child


class _ChildLink:
    """The worker's side of the channel (used on the worker's loop)."""

    __slots__ = ("_channel",)

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def ready(self) -> None:
        self._channel.send({"type": "ready"})

    def beat(self) -> None:
        self._channel.send({"type": "beat"})

    def retiring(self, served: int) -> None:
        self._channel.send({"type": "retiring", "served": served})


def child_main() -> None:
    """Entry point of a worker process (``python -c`` with the control fd)."""
    control = socket.socket(fileno=int(sys.argv[1]))
    spec = receive_spec(control)
    channel = Channel(control)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.path[:] = spec.sys_path
    code = run_worker(spec, channel, mode="process")
    if code:
        sys.exit(code)


def run_worker(spec: ChildSpec, channel: Channel, *, mode: WorkerKind) -> int:
    """Load the app and serve as the worker ``spec`` describes; the exit status.

    Shared by worker processes and subinterpreter workers: it owns the
    listening descriptors of ``spec`` (closed when it returns) and reports
    over ``channel``. Only a process worker handles SIGTERM itself (signal
    handlers belong to the main interpreter's main thread).
    """
    config = spec.config
    sockets = [socket.socket(fileno=fd) for fd in spec.listen_fds]
    started: list[ServerPlugin] = []
    try:
        configure_logging_for(config)
        try:
            # This worker's own plugins: their state (metrics, limits) is per
            # process (or interpreter), and they start here, with the sockets
            # already bound.
            plugins = load_plugins(config)
            emitter = LifecycleEmitter([*load_hooks(config.lifecycle_hooks), *event_hooks(plugins)])
            app = load_app(spec.app, factory=config.factory, app_dir=config.app_dir)
            app = build_app(app, config, plugins)
            started = start_plugins(plugins)
        except (AppLoadError, ValueError) as exc:
            reason = str(exc)
            if mode == "interpreter" and "subinterpreter" in reason:
                reason += (
                    " (an extension module the app imports does not support "
                    "subinterpreters; use --worker-mode process or thread)"
                )
            # Not logged here: the supervisor reports it, once for all workers.
            channel.send({"type": "failed", "exit_code": EXIT_BAD_CONFIG, "reason": reason})
            return EXIT_BAD_CONFIG
        link = _ChildLink(channel)
        loop_choice = loop_for_worker(config.loop, mode)
        try:
            worker = Worker(
                config=config,
                app=app,
                sockets=sockets,
                lifespan=Lifespan(app, config.lifespan),
                error_renderer=error_renderer(plugins) or plain_text_error,
                on_ready=link.ready,
                emitter=emitter,
                worker_id=spec.worker_id,
                hooks=WorkerHooks.from_config(config),
                info=WorkerInfo(
                    worker_id=spec.worker_id,
                    slot=spec.slot,
                    generation=spec.generation,
                    mode=mode,
                    pid=os.getpid(),
                ),
            )
            with asyncio.Runner(loop_factory=loop_factory(loop_choice)) as runner:
                main = _serve(worker, channel, link, spec, sigterm=mode == "process")
                run_on_loop(runner.get_loop(), worker, main)
        except LifespanFailure as exc:
            channel.send({"type": "failed", "exit_code": EXIT_STARTUP_FAILED, "reason": str(exc)})
            return EXIT_STARTUP_FAILED
        except BaseException:
            _logger.exception("Worker %d (pid %d) crashed.", spec.worker_id, os.getpid())
            return EXIT_WORKER_CRASHED
        return 0
    finally:
        stop_plugins(started)
        for sock in sockets:
            sock.close()


async def _serve(
    worker: Worker, channel: Channel, link: _ChildLink, spec: ChildSpec, *, sigterm: bool
) -> None:
    loop = asyncio.get_running_loop()
    fd = channel.sock.fileno()

    def on_control() -> None:
        messages = channel.receive()
        if messages is None:
            # The supervisor is gone; nobody will ever ask us to stop.
            loop.remove_reader(fd)
            _logger.warning("Worker %d lost its supervisor; stopping.", spec.worker_id)
            worker.stop()
            return
        for message in messages:
            if message.get("type") == "stop":
                worker.stop(force=bool(message.get("force")), handoff=bool(message.get("handoff")))

    loop.add_reader(fd, on_control)
    if sigterm:
        loop.add_signal_handler(signal.SIGTERM, worker.stop)
    try:
        await run_supervised(
            worker, link, interval=beat_interval(spec.config), retire_after=spec.retire_after
        )
    finally:
        loop.remove_reader(fd)
        if sigterm:
            loop.remove_signal_handler(signal.SIGTERM)
