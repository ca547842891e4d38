"""The supervisor's policy, driven through a fake edge: no threads, no
processes, no sockets. Each fake worker does what its test scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from pounce import ServerConfig
from pounce._edges.listeners import Listeners
from pounce._runtime.exit_codes import EXIT_BAD_CONFIG, EXIT_CRASH_LOOP, EXIT_STARTUP_FAILED
from pounce._runtime.importer import AppLoadError
from pounce._runtime.lifecycle import (
    LifecycleEmitter,
    LifecycleEvent,
    ReloadCompleted,
    ReloadFailed,
    WorkerCrashed,
    WorkerUnresponsive,
)
from pounce._workers.link import WorkerEvents, WorkerExit
from pounce._workers.restart_policy import RestartPolicy
from pounce._workers.supervisor import Supervisor

READY = "ready"
FAILED = WorkerExit(kind="failed", exit_code=EXIT_STARTUP_FAILED, reason="db down")


class FakeSocket:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeWorker:
    """A worker that exits when stopped (unless told to hang)."""

    def __init__(self, edge: FakeEdge, worker_id: int, generation: int, payload: object) -> None:
        self.edge = edge
        self.worker_id = worker_id
        self.pid = 1000 + worker_id
        self.generation = generation
        self.payload = payload
        self.retire_after: int | None = None
        self.stops: list[tuple[bool, bool]] = []
        self.killed = False
        self.exited = False
        self.hangs = False

    def describe(self) -> str:
        return f"worker {self.worker_id}"

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        self.stops.append((force, handoff))
        if not self.hangs or force:
            self.edge.later(self.exit, WorkerExit(kind="stopped"))

    def kill(self) -> bool:
        self.killed = True
        self.edge.later(self.exit, WorkerExit(kind="crashed", reason="killed by SIGKILL"))
        return self.edge.killable

    # scripted from the tests
    def ready(self) -> None:
        self.edge.events.worker_ready(self)

    def beat(self) -> None:
        self.edge.events.worker_beat(self)

    def exit(self, outcome: WorkerExit) -> None:
        if not self.exited:
            self.exited = True
            self.edge.events.worker_exited(self, outcome)


class FakeEdge:
    mode = "fake"

    def __init__(self, start: Callable[[FakeWorker], object] = lambda w: READY) -> None:
        self.start = start  # READY, a WorkerExit, or None (the test decides later)
        self.workers: list[FakeWorker] = []
        self.broken_generations: set[int] = set()
        self.killable = True
        self.events: WorkerEvents

    def later(self, callback: Callable[..., None], *args: Any) -> None:
        asyncio.get_running_loop().call_soon(callback, *args)

    async def load(self, generation: int) -> object:
        if generation in self.broken_generations:
            raise AppLoadError(f"generation {generation} does not import")
        return f"app-{generation}"

    def spawn(self, payload, *, worker_id, slot, generation, sockets, retire_after, events):  # type: ignore[no-untyped-def]
        self.events = events
        worker = FakeWorker(self, worker_id, generation, payload)
        worker.retire_after = retire_after
        self.workers.append(worker)
        plan = self.start(worker)
        if plan == READY:
            self.later(worker.ready)
        elif isinstance(plan, WorkerExit):
            self.later(worker.exit, plan)
        return worker

    def alive(self) -> list[FakeWorker]:
        return [w for w in self.workers if not w.exited]


class Harness:
    def __init__(self, edge: FakeEdge, *, workers: int = 2, **config: Any) -> None:
        self.edge = edge
        self.events: list[LifecycleEvent] = []
        self.ready_calls = 0
        self.sockets = [[FakeSocket()] for _ in range(workers)]
        self.supervisor = Supervisor(
            config=ServerConfig(**config),
            edge=edge,  # type: ignore[arg-type]
            listeners=Listeners(self.sockets, shared=False),  # type: ignore[arg-type]
            emitter=LifecycleEmitter([self.events.append]),
            on_ready=self._on_ready,
            policy=RestartPolicy(first_delay=0.001, max_delay=0.01),
        )

    def _on_ready(self) -> None:
        self.ready_calls += 1

    def of(self, kind: type[LifecycleEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


async def until(predicate: Callable[[], object]) -> None:
    # The fakes report through the loop's callbacks: polling it is the point.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.001)


def test_starts_every_slot_then_stops_them_all() -> None:
    async def scenario() -> None:
        h = Harness(FakeEdge(), workers=3)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        assert [w.payload for w in h.edge.workers] == ["app-0"] * 3
        h.supervisor.stop()
        assert await task == 0
        assert all(w.stops == [(False, False)] for w in h.edge.workers)
        assert all(s[0].closed for s in h.sockets)  # new connections refused

    run(scenario)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (WorkerExit(kind="failed", exit_code=EXIT_BAD_CONFIG, reason="no module"), 1),
        (FAILED, 3),
        (WorkerExit(kind="crashed", reason="killed by SIGSEGV"), 1),
    ],
)
def test_a_worker_failing_at_start_up_stops_the_server(outcome: WorkerExit, code: int) -> None:
    async def scenario() -> None:
        edge = FakeEdge(lambda w: outcome if w.worker_id == 2 else READY)
        h = Harness(edge, workers=3)
        assert await h.supervisor.run("app-0") == code
        assert h.ready_calls == 0
        assert len(edge.workers) == 3  # no retry
        assert all(w.exited for w in edge.workers)

    run(scenario)


def test_a_crashed_worker_is_replaced_in_its_slot() -> None:
    async def scenario() -> None:
        h = Harness(FakeEdge())
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        victim = h.edge.workers[0]
        victim.exit(WorkerExit(kind="crashed", reason="killed by SIGKILL"))
        await until(lambda: len(h.edge.workers) == 3 and h.edge.workers[2].stops == [])
        replacement = h.edge.workers[2]
        assert replacement.generation == 0
        (crash,) = h.of(WorkerCrashed)
        assert (crash.worker_id, crash.slot, crash.restart_in) == (1, 0, 0.001)
        assert h.edge.workers[1].stops == []  # the other slot is left alone
        h.supervisor.stop()
        assert await task == 0

    run(scenario)


def test_a_crash_loop_gives_up_with_status_4() -> None:
    async def scenario() -> None:
        edge = FakeEdge(lambda w: READY if w.worker_id <= 2 else FAILED)
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        edge.workers[0].exit(WorkerExit(kind="crashed", reason="boom"))
        assert await task == EXIT_CRASH_LOOP
        # The crash, then four replacements that could not start.
        assert len(edge.workers) == 2 + 4
        assert edge.workers[1].stops == [(False, False)]  # the healthy one, stopped

    run(scenario)


def test_a_reload_hands_over_only_once_the_new_generation_is_ready() -> None:
    async def scenario() -> None:
        edge = FakeEdge(lambda w: READY if w.generation == 0 else None)
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        old = list(edge.workers)
        h.supervisor.reload()
        await until(lambda: len(edge.workers) == 4)
        new = edge.workers[2:]
        assert [w.payload for w in new] == ["app-1", "app-1"]
        new[0].ready()
        await asyncio.sleep(0.01)
        assert all(w.stops == [] for w in old)  # one new worker is not enough
        new[1].ready()
        await until(lambda: h.of(ReloadCompleted))
        assert all(w.stops == [(False, True)] for w in old)  # handed over
        assert all(w.stops == [] for w in new)
        assert h.supervisor.generation == 1
        h.supervisor.stop()
        assert await task == 0

    run(scenario)


def test_a_reload_that_does_not_import_changes_nothing() -> None:
    async def scenario() -> None:
        edge = FakeEdge()
        edge.broken_generations.add(1)
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        h.supervisor.reload()
        await until(lambda: h.of(ReloadFailed))
        (failed,) = h.of(ReloadFailed)
        assert failed.reason == "generation 1 does not import"
        assert len(edge.workers) == 2
        assert all(w.stops == [] for w in edge.workers)
        h.supervisor.stop()
        assert await task == 0

    run(scenario)


def test_a_reload_whose_worker_fails_keeps_the_old_generation() -> None:
    async def scenario() -> None:
        def start(w: FakeWorker) -> object:
            if w.generation == 0:
                return READY
            return FAILED if w.worker_id == 4 else READY

        edge = FakeEdge(start)
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        h.supervisor.reload()
        await until(lambda: h.of(ReloadFailed))
        old, new = edge.workers[:2], edge.workers[2:]
        assert all(w.stops == [] for w in old)
        assert new[0].stops == [(False, True)]  # the one that started is handed back
        assert h.supervisor.generation == 0
        assert "Application startup failed: db down" in h.of(ReloadFailed)[0].reason
        # The next reload takes a new generation number.
        edge.start = lambda w: READY
        h.supervisor.reload()
        await until(lambda: h.of(ReloadCompleted))
        assert h.supervisor.generation == 2
        h.supervisor.stop()
        assert await task == 0

    run(scenario)


def test_a_retiring_worker_is_replaced_before_it_stops() -> None:
    async def scenario() -> None:
        edge = FakeEdge(lambda w: READY if w.worker_id <= 2 else None)
        h = Harness(edge, limit_max_requests=10, limit_max_requests_jitter=5)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        assert all(10 <= (w.retire_after or 0) <= 15 for w in edge.workers)
        retiring = edge.workers[0]
        edge.events.worker_retiring(retiring, 12)
        edge.events.worker_retiring(retiring, 13)  # reported twice: one successor
        await until(lambda: len(edge.workers) == 3)
        assert retiring.stops == []  # still serving while its successor starts
        edge.workers[2].ready()
        await until(lambda: retiring.stops)
        assert retiring.stops == [(False, True)]
        assert len(edge.workers) == 3
        h.supervisor.stop()
        assert await task == 0

    run(scenario)


class SteppedClock:
    """A monotonic clock that moves only when the test says so.

    The watchdog judges silence by the clock, so a test that depends on one
    worker beating "often enough" in real time fails whenever a loaded machine
    stalls the test's own loop. With this clock the chatty worker is never
    further than one step behind, however late the scheduler runs it.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize("killable", [True, False])
def test_a_silent_worker_is_killed_or_reported(
    killable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SteppedClock()
    monkeypatch.setattr("pounce._workers.supervisor.time", clock)

    async def scenario() -> None:
        edge = FakeEdge()
        edge.killable = killable
        h = Harness(edge, timeout_worker_healthcheck=0.05)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        quiet, chatty = edge.workers

        async def beat() -> None:
            # Beat, then step the clock by less than the threshold: the chatty
            # worker is at most one step silent, the quiet one ever more so.
            while True:
                chatty.beat()
                clock.now += 0.02
                await asyncio.sleep(0.005)

        beating = asyncio.create_task(beat())
        await until(lambda: h.of(WorkerUnresponsive))
        (report,) = h.of(WorkerUnresponsive)
        assert (report.worker_id, report.killed) == (quiet.worker_id, killable)
        assert quiet.killed
        assert not chatty.killed
        beating.cancel()
        h.supervisor.stop()
        assert await task == 0

    run(scenario)


def test_a_forced_stop_does_not_wait_forever_for_a_stuck_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pounce._workers.supervisor._FORCED_STOP_WAIT", 0.05)

    async def scenario() -> None:
        edge = FakeEdge()
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: h.ready_calls)
        for worker in edge.workers:
            worker.hangs = True
        edge.workers[0].stop = lambda **kw: None  # type: ignore[method-assign]
        h.supervisor.stop()
        await asyncio.sleep(0.01)
        assert not task.done()  # a graceful stop waits as long as it takes
        h.supervisor.stop(force=True)
        assert await task == 0
        assert not edge.workers[0].exited

    run(scenario)


def test_a_stop_during_start_up_does_not_announce_the_server() -> None:
    async def scenario() -> None:
        edge = FakeEdge(lambda w: None)  # never ready
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: len(edge.workers) == 2)
        h.supervisor.stop()
        assert await task == 0
        assert h.ready_calls == 0

    run(scenario)


def test_a_reload_before_the_server_is_ready_is_ignored() -> None:
    async def scenario() -> None:
        edge = FakeEdge(lambda w: None)
        h = Harness(edge)
        task = asyncio.create_task(h.supervisor.run("app-0"))
        await until(lambda: len(edge.workers) == 2)
        h.supervisor.reload()
        await asyncio.sleep(0.01)
        assert len(edge.workers) == 2
        for worker in edge.workers:
            worker.ready()
        await until(lambda: h.ready_calls)
        h.supervisor.reload()  # now it counts
        await until(lambda: len(edge.workers) == 4)
        h.supervisor.stop()
        assert await task == 0

    run(scenario)
