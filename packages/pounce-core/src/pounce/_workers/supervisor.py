"""The supervisor: starts the workers, watches them, replaces them.

The supervisor runs on its own event loop (the main thread's, when there is
one) and owns the listening sockets for its whole life. It has N *slots*;
each slot has at most one *current* worker, which serves the slot's sockets.
Workers come from an edge (threads or processes, see ``link``); the
policy here is the same for both.

Start-up
    Generation 0 is started in every slot. When all are ready the server
    announces itself. If one fails first (the app does not import, its
    lifespan startup fails) the others are stopped and the server exits with
    that failure's status: a broken app is not restarted in a loop.

Crashes
    A current worker that ends without being asked to is a crash. Its slot
    gets a new worker after a delay from :class:`RestartPolicy` (doubling
    from 0.1 s); after five crashes in a row, each within ten seconds of its
    start, the server gives up with a message and exit status 4. Because the
    slot's sockets stay open, connections arriving meanwhile wait in the
    accept queue for the replacement instead of being refused.

Heartbeats
    Every worker reports once per beat interval from its own event loop. One
    that stays silent past ``--timeout-worker-healthcheck`` has a blocked
    loop: a process is killed (then replaced as a crash); a thread, which
    cannot be killed, is reported, and reported again when it recovers.

Handover (rolling reload, retirement)
    The successor is started first, on the *same* sockets. Only once it is
    ready is the old worker told to stop with ``handoff``: it stops
    accepting and finishes its connections while the successor accepts.
    A connection is never without a worker to accept it, so none is
    dropped. A reload (SIGHUP) does this for every slot at once with a new
    generation of the app; if that generation fails to start, its workers
    are stopped and the old generation simply goes on serving. A worker that
    has served ``--limit-max-requests`` asks to retire and is handed over
    the same way, one slot at a time; so is a process worker whose memory
    passes ``--limit-max-memory``. Thread workers share one process, so for
    them that limit is the process's, and passing it hands the whole
    generation over as a reload does (see ``memory_limit``).

Shutdown
    Every worker is told to stop (drain, then lifespan shutdown); the
    sockets are closed so new connections are refused; the supervisor waits
    for all of them. ``stop(force=True)`` cuts the drains short.

All state here is touched only from the supervisor's loop: edges deliver
worker events to it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pounce._edges.listeners import Listeners
from pounce._runtime.exit_codes import (
    EXIT_BAD_CONFIG,
    EXIT_CRASH_LOOP,
    EXIT_OK,
    EXIT_STARTUP_FAILED,
)
from pounce._runtime.importer import AppLoadError
from pounce._runtime.lifecycle import (
    LifecycleEmitter,
    ReloadCompleted,
    ReloadFailed,
    ReloadStarted,
    WorkerCrashed,
    WorkerStarted,
    WorkerStopped,
    WorkerUnresponsive,
)
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig
from pounce._workers.link import WorkerEdge, WorkerExit, WorkerHandle, beat_interval, retire_after
from pounce._workers.memory_limit import MIB, ProcessMemoryGuard, mib_up, rss_bytes
from pounce._workers.restart_policy import RestartPolicy

__all__ = ["Supervisor"]

_logger = logging.getLogger(ERROR_LOGGER)

# How long after an older generation's last thread worker stopped its memory
# is collected: long enough for the threads to have returned.
_COLLECT_DELAY = 0.5

# After a forced stop, how long to wait for workers that still do not end
# (a thread stuck in the app) before the server exits without them.
_FORCED_STOP_WAIT = 5.0

RecordState = Literal["starting", "serving", "draining"]


class _Slot:
    __slots__ = ("current", "index", "replacing")

    def __init__(self, index: int) -> None:
        self.index = index
        self.current: _Record | None = None
        self.replacing: asyncio.Task[None] | None = None


class _Record:
    """What the supervisor knows about one worker."""

    __slots__ = (
        "exited",
        "generation",
        "handle",
        "last_beat",
        "ready",
        "ready_at",
        "slot",
        "state",
        "unresponsive",
    )

    def __init__(
        self,
        handle: WorkerHandle,
        slot: _Slot,
        generation: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.handle = handle
        self.slot = slot
        self.generation = generation
        self.state: RecordState = "starting"
        self.ready: asyncio.Future[bool] = loop.create_future()  # False: ended first
        self.exited: asyncio.Future[WorkerExit] = loop.create_future()
        self.ready_at = 0.0
        self.last_beat = 0.0
        self.unresponsive = False


class _Unstarted:
    """A worker the edge could not even start (e.g. out of file descriptors)."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id
        self.pid = 0

    def describe(self) -> str:
        return f"worker {self.worker_id}"

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        pass

    def kill(self) -> bool:
        return False


def describe_failure(outcome: WorkerExit) -> str:
    """One line saying why a worker could not start."""
    if outcome.kind == "failed" and outcome.exit_code == EXIT_STARTUP_FAILED:
        return f"Application startup failed: {outcome.reason}"
    if outcome.kind == "failed":
        return outcome.reason
    return f"a worker ended during start-up ({outcome.reason or outcome.kind})"


class Supervisor:
    """Runs ``workers`` workers from ``edge`` on ``listeners`` until stopped."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        edge: WorkerEdge,
        listeners: Listeners,
        emitter: LifecycleEmitter,
        on_ready: Callable[[], None] = lambda: None,
        policy: RestartPolicy | None = None,
    ) -> None:
        self._config = config
        self._edge = edge
        self._listeners = listeners
        self._emitter = emitter
        self._on_ready = on_ready
        self._policy = policy if policy is not None else RestartPolicy()
        self._slots = [_Slot(i) for i in range(listeners.count)]
        self._records: dict[int, _Record] = {}
        self._rng = random.Random()  # noqa: S311 - jitter for --limit-max-requests
        self._next_worker_id = 1
        self._generation = 0
        self._next_generation = 1
        self._payload: object = None
        self._stopping = False
        self._forced_at: float | None = None
        self._stop_event = asyncio.Event()
        self._exit_code = EXIT_OK
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serving = False  # the first generation is ready
        self._collecting: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ public

    @property
    def generation(self) -> int:
        """The generation of the app the current workers serve."""
        return self._generation

    async def run(self, payload: object) -> int:
        """Start generation 0 (``payload`` from the edge's ``load``), serve
        until stopped, and return the exit status."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._payload = payload
        # This frame lives as long as the server: holding the first generation's
        # app (or its workers' records) here would keep it alive after a reload.
        del payload
        watchdog = loop.create_task(self._watchdog(), name="pounce-watchdog")
        try:
            if await self._start_first_generation():
                self._serving = True
                self._on_ready()
                await self._stop_event.wait()
            await self._wait_for_workers()
        finally:
            for task in (watchdog, self._collecting):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return self._exit_code

    async def _start_first_generation(self) -> bool:
        """Start generation 0 in every slot; False (and stopping) if it cannot serve."""
        records = [self._launch(slot, self._payload, 0) for slot in self._slots]
        if await self._all_ready(records):
            for slot, record in zip(self._slots, records, strict=True):
                slot.current = record
            return True
        if not self._stopping:
            failed = next(r for r in records if r.exited.done())
            _logger.error("%s", describe_failure(failed.exited.result()))
            outcome = failed.exited.result()
            self._exit_code = (
                outcome.exit_code
                if outcome.kind == "failed" and outcome.exit_code
                else EXIT_BAD_CONFIG
            )
            self.stop()
        return False

    def stop(self, *, force: bool = False) -> None:
        """Stop every worker: gracefully, or cutting the drains short."""
        if not self._stopping:
            self._stopping = True
            for slot in self._slots:
                if slot.replacing is not None:
                    slot.replacing.cancel()
            if self._reload_task is not None:
                self._reload_task.cancel()
            for record in list(self._records.values()):
                record.state = "draining"
                record.handle.stop(force=force)
            # Refuse new connections: the workers close their own copies as
            # they stop accepting; these are the last ones.
            self._listeners.close()
            self._stop_event.set()
            if not force:
                return
        elif not force:
            return
        if self._forced_at is None:
            self._forced_at = time.monotonic()
        for record in list(self._records.values()):
            record.handle.stop(force=True)

    def reload(self) -> None:
        """Start a rolling reload (a new generation of every worker)."""
        if self._stopping or self._loop is None:
            return
        if not self._serving:
            _logger.warning("Reload ignored: the server is still starting.")
            return
        if self._reload_task is not None:
            self._reload_again = True
            _logger.info("A reload is in progress; another will follow it.")
            return
        self._reload_task = self._loop.create_task(self._reload(), name="pounce-reload")

    # ------------------------------------------------ events from workers

    def worker_ready(self, handle: WorkerHandle) -> None:
        record = self._records.get(handle.worker_id)
        if record is None:
            return
        record.ready_at = record.last_beat = time.monotonic()
        if record.state == "starting":
            record.state = "serving"
        _logger.info("Started %s, generation %d.", handle.describe(), record.generation)
        self._emitter.emit(
            WorkerStarted(
                worker_id=handle.worker_id,
                slot=record.slot.index,
                generation=record.generation,
                mode=self._edge.mode,
                pid=handle.pid,
            )
        )
        if not record.ready.done():
            record.ready.set_result(True)

    def worker_beat(self, handle: WorkerHandle) -> None:
        record = self._records.get(handle.worker_id)
        if record is None:
            return
        record.last_beat = time.monotonic()
        if record.unresponsive:
            record.unresponsive = False
            _logger.warning("%s is responsive again.", handle.describe())

    def worker_retiring(self, handle: WorkerHandle, served: int) -> None:
        record = self._records.get(handle.worker_id)
        if record is not None and self._replaceable(record):
            _logger.info("%s has served %d requests; replacing it.", handle.describe(), served)
            self._replace_soon(record.slot)

    def worker_exited(self, handle: WorkerHandle, outcome: WorkerExit) -> None:
        record = self._records.pop(handle.worker_id, None)
        if record is None:
            return
        if not record.exited.done():
            record.exited.set_result(outcome)
        if not record.ready.done():
            record.ready.set_result(False)  # whoever awaits its start reports it
        if record.state == "starting":
            return
        slot = record.slot
        if record.state == "draining":
            if outcome.kind == "crashed":
                _logger.warning("%s ended while stopping: %s", handle.describe(), outcome.reason)
            else:
                _logger.info("Stopped %s.", handle.describe())
            self._emitter.emit(
                WorkerStopped(
                    worker_id=handle.worker_id, slot=slot.index, generation=record.generation
                )
            )
            self._release_generation(record.generation)
            return
        # A serving worker ended on its own.
        if slot.current is not record:
            # A new generation's worker, before its reload installed it; the
            # reload sees it has ended.
            _logger.error("%s ended before taking over: %s", handle.describe(), outcome.reason)
            return
        slot.current = None
        self._crashed(record, outcome)

    # ---------------------------------------------------------- internals

    def _release_generation(self, generation: int) -> None:
        """Free an older generation of in-process workers once its last one stopped.

        Its app, workers and loops reference each other in cycles, which only
        the cyclic collector frees, and it runs when allocations trigger it,
        not when a generation ends: without a collection here, a reload could
        keep the old generation's memory (and an app's module-level caches)
        for a long time. The collection waits a moment, for the workers'
        threads to finish returning. Process workers take their memory with
        them.
        """
        if self._edge.mode == "process" or generation == self._generation:
            return
        if any(r.generation == generation for r in self._records.values()):
            return
        if self._loop is not None and self._collecting is None:
            self._collecting = self._loop.create_task(self._collect_soon())

    async def _collect_soon(self) -> None:
        try:
            await asyncio.sleep(_COLLECT_DELAY)
            gc.collect()
        finally:
            self._collecting = None

    def _launch(self, slot: _Slot, payload: object, generation: int) -> _Record:
        assert self._loop is not None
        worker_id = self._next_worker_id
        self._next_worker_id += 1
        handle: WorkerHandle
        try:
            handle = self._edge.spawn(
                payload,
                worker_id=worker_id,
                slot=slot.index,
                generation=generation,
                sockets=self._listeners.for_slot(slot.index),
                retire_after=retire_after(self._config, self._rng),
                events=self,
            )
        except Exception as exc:
            _logger.exception("Could not start worker %d.", worker_id)
            record = _Record(_Unstarted(worker_id), slot, generation, self._loop)
            record.exited.set_result(
                WorkerExit(kind="crashed", reason=f"{type(exc).__name__}: {exc}")
            )
            record.ready.set_result(False)
            return record
        record = _Record(handle, slot, generation, self._loop)
        self._records[worker_id] = record
        return record

    async def _all_ready(self, records: Sequence[_Record]) -> bool:
        """True once all are ready; False as soon as one ends first, or on stop."""
        assert self._loop is not None
        pending: set[asyncio.Future[bool]] = {r.ready for r in records}
        stopping = self._loop.create_task(self._stop_event.wait())
        try:
            while pending:
                waiting: list[asyncio.Future[Any]] = [*pending, stopping]
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    return False
                for future in [f for f in pending if f.done()]:
                    pending.discard(future)
                    if not future.result():
                        return False
            return True
        finally:
            stopping.cancel()

    def _replaceable(self, record: _Record) -> bool:
        """Whether ``record`` is its slot's serving worker, with no successor on the way."""
        slot = record.slot
        return (
            not self._stopping
            and record.state == "serving"
            and slot.current is record
            and slot.replacing is None
            and self._loop is not None
        )

    def _replace_soon(self, slot: _Slot) -> None:
        assert self._loop is not None
        slot.replacing = self._loop.create_task(self._replace(slot, 0.0))

    def _check_memory(self, guard: ProcessMemoryGuard) -> None:
        """``--limit-max-memory``: replace a process worker past the limit, or hand
        over the generation of in-process workers when the process is."""
        if not self._serving or self._stopping:
            return
        limit = guard.limit
        if self._edge.mode == "process":
            for record in list(self._records.values()):
                rss = rss_bytes(record.handle.pid)
                if rss is not None and rss > limit and self._replaceable(record):
                    _logger.info(
                        "%s uses %d MiB (--limit-max-memory %d); replacing it.",
                        record.handle.describe(),
                        mib_up(rss),
                        limit // MIB,
                    )
                    self._replace_soon(record.slot)
            return
        rss = rss_bytes()
        if rss is None:
            return
        running = (
            self._reload_task is not None
            or self._collecting is not None
            or any(r.state == "draining" for r in self._records.values())
        )
        action = guard.check(rss, handover_running=running)
        if action == "hand over":
            _logger.info(
                "The server process uses %d MiB (--limit-max-memory %d), shared by its "
                "%s workers; handing over to a new generation.",
                mib_up(rss),
                limit // MIB,
                self._edge.mode,
            )
            self.reload()
        elif action == "warn":
            _logger.warning(
                "The server process still uses %d MiB (--limit-max-memory %d) after a new "
                "generation took over: the memory is not held by the app's generation, so "
                "another handover would not free it. Process workers (--worker-mode "
                "process) can be replaced one by one instead.",
                mib_up(rss),
                limit // MIB,
            )

    def _retire(self, record: _Record) -> None:
        """Hand ``record``'s connections over: it drains while others accept."""
        if record.state != "draining":
            record.state = "draining"
            record.handle.stop(handoff=True)

    def _install(self, slot: _Slot, record: _Record) -> None:
        old, slot.current = slot.current, record
        if old is not None and old is not record:
            self._retire(old)

    def _crashed(self, record: _Record, outcome: WorkerExit) -> None:
        slot = record.slot
        handle = record.handle
        if outcome.kind == "stopped":
            reason = "it exited without being asked to"
        else:
            reason = describe_failure(outcome) if outcome.kind == "failed" else outcome.reason
        served_for = time.monotonic() - record.ready_at
        delay = self._policy.crashed(slot.index, served_for)
        self._emitter.emit(
            WorkerCrashed(
                worker_id=handle.worker_id,
                slot=slot.index,
                generation=record.generation,
                reason=reason,
                restart_in=delay,
            )
        )
        if delay is None:
            self._give_up(slot, reason)
            return
        _logger.error("%s crashed: %s; restarting it in %.1fs.", handle.describe(), reason, delay)
        if slot.replacing is None and self._loop is not None:
            slot.replacing = self._loop.create_task(self._replace(slot, delay))

    def _give_up(self, slot: _Slot, reason: str) -> None:
        _logger.error(
            "The worker of slot %d crashed %d times in a row (last: %s); "
            "giving up and shutting down.",
            slot.index,
            self._policy.consecutive(slot.index),
            reason,
        )
        self._exit_code = EXIT_CRASH_LOOP
        self.stop()

    async def _replace(self, slot: _Slot, delay: float) -> None:
        """Start a worker for ``slot`` (after ``delay``) and hand over to it,
        retrying with backoff while its start fails."""
        record: _Record | None = None
        try:
            while not self._stopping:
                if delay:
                    await asyncio.sleep(delay)
                record = self._launch(slot, self._payload, self._generation)
                if await record.ready:
                    self._install(slot, record)
                    record = None
                    return
                outcome = await record.exited
                record = None
                next_delay = self._policy.crashed(slot.index, None)
                reason = describe_failure(outcome)
                if next_delay is None:
                    self._give_up(slot, reason)
                    return
                _logger.error(
                    "A new worker for slot %d could not start: %s; retrying in %.1fs.",
                    slot.index,
                    reason,
                    next_delay,
                )
                delay = next_delay
        except asyncio.CancelledError:
            if record is not None and not record.exited.done():
                self._retire(record)
            raise
        finally:
            if slot.replacing is asyncio.current_task():
                slot.replacing = None

    async def _reload(self) -> None:
        try:
            while True:
                self._reload_again = False
                await self._reload_once()
                if not self._reload_again or self._stopping:
                    return
        finally:
            self._reload_task = None

    async def _reload_once(self) -> None:
        assert self._loop is not None
        number = self._next_generation
        self._next_generation += 1
        _logger.info("Reloading: starting generation %d.", number)
        self._emitter.emit(ReloadStarted(generation=number))
        try:
            payload = await self._edge.load(number)
        except AppLoadError as exc:
            self._reload_failed(number, str(exc))
            return
        if self._stopping:
            return
        records = [self._launch(slot, payload, number) for slot in self._slots]
        try:
            started = await self._all_ready(records)
        except asyncio.CancelledError:
            for record in records:
                self._retire(record)
            raise
        if self._stopping:
            return  # stop() has told every worker, these included
        if not started:
            failed = next(r for r in records if r.exited.done())
            for record in records:
                if not record.exited.done():
                    self._retire(record)
            self._reload_failed(number, describe_failure(failed.exited.result()))
            return
        old_generation = self._generation
        self._generation = number
        self._payload = payload
        for slot, record in zip(self._slots, records, strict=True):
            if slot.replacing is not None:
                # An old-generation replacement under way is moot now.
                slot.replacing.cancel()
                slot.replacing = None
            self._policy.reset(slot.index)
            if record.exited.done():
                # Ended between its start and now: the old worker keeps the
                # slot until a new one of this generation takes it.
                slot.replacing = self._loop.create_task(self._replace(slot, 0.0))
            else:
                self._install(slot, record)
        _logger.info(
            "Reload complete: generation %d serving; generation %d draining.",
            number,
            old_generation,
        )
        self._emitter.emit(ReloadCompleted(generation=number))

    def _reload_failed(self, number: int, reason: str) -> None:
        # A reason may go on with the traceback of the app's own code (an
        # AppLoadError): the sentence first, then that.
        summary, _, details = reason.partition("\n")
        _logger.error(
            "Reload failed: %s; generation %d keeps serving.%s",
            summary,
            self._generation,
            "\n" + details if details else "",
        )
        self._emitter.emit(ReloadFailed(generation=number, reason=reason))

    async def _watchdog(self) -> None:
        """Once per beat interval: the heartbeats, and ``--limit-max-memory`` when set.

        Each check is a method of its own so that nothing of a tick (a worker's
        record) stays referenced by this long-lived frame until the next one:
        that would keep a stopped generation of thread workers alive.
        """
        interval = beat_interval(self._config)
        limit = self._config.limit_max_memory
        guard = ProcessMemoryGuard(limit * MIB) if limit is not None else None
        while True:
            await asyncio.sleep(interval)
            self._check_heartbeats()
            if guard is not None:
                self._check_memory(guard)

    def _check_heartbeats(self) -> None:
        threshold = self._config.timeout_worker_healthcheck
        now = time.monotonic()
        for record in list(self._records.values()):
            if not record.ready_at or record.unresponsive:
                continue  # not serving yet: its start-up is not judged
            silent = now - record.last_beat
            if silent < threshold:
                continue
            record.unresponsive = True
            handle = record.handle
            killed = handle.kill()
            if killed:
                _logger.error(
                    "%s has not checked in for %.1fs: its event loop is stuck; killed it.",
                    handle.describe(),
                    silent,
                )
            else:
                _logger.error(
                    "%s has not checked in for %.1fs: its event loop is blocked "
                    "(by the app?). A thread cannot be killed; it is only reported.",
                    handle.describe(),
                    silent,
                )
            self._emitter.emit(
                WorkerUnresponsive(
                    worker_id=handle.worker_id,
                    slot=record.slot.index,
                    silent_for=silent,
                    killed=killed,
                )
            )

    async def _wait_for_workers(self) -> None:
        while self._records:
            exits: list[asyncio.Future[WorkerExit]] = [
                record.exited for record in self._records.values()
            ]
            await asyncio.wait(exits, timeout=0.5)
            forced_at = self._forced_at
            if forced_at is not None and time.monotonic() - forced_at > _FORCED_STOP_WAIT:
                left = ", ".join(r.handle.describe() for r in self._records.values())
                _logger.error("Exiting without %s: still running after a forced stop.", left)
                return
