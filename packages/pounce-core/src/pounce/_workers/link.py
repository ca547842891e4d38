"""How a supervisor and its workers talk, whatever a worker runs in.

A worker is a thread or a process; the supervisor does not care which. Both
edges (``threads``, ``processes``) implement the same
interface:

* :class:`WorkerEdge` loads a generation of the app and spawns workers;
* :class:`WorkerHandle` is the supervisor's grip on one worker: ask it to
  stop (gracefully, as a handoff, or forced), or kill it;
* :class:`WorkerEvents` is how a worker's news reaches the supervisor:
  ready, a heartbeat, "I have served my quota", and its exit. Edges deliver
  these on the supervisor's event loop only, so the supervisor's state is
  touched by one thread and needs no lock.

Inside a worker, :func:`run_supervised` runs the :class:`Worker` next to a
heartbeat that reports through a :class:`WorkerLink` once per
:func:`beat_interval`. The beat runs on the worker's own event loop, so a
loop blocked by the app stops beating; that silence is what the supervisor
watches for.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pounce._settings.config import ServerConfig
from pounce._workers.worker import Worker

__all__ = [
    "WorkerEdge",
    "WorkerEvents",
    "WorkerExit",
    "WorkerHandle",
    "WorkerLink",
    "beat_interval",
    "retire_after",
    "run_on_loop",
    "run_supervised",
]

ExitKind = Literal["stopped", "failed", "crashed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerExit:
    """How a worker ended.

    ``stopped``: it returned normally; ``failed``: it could not start (the
    app did not import, or its lifespan startup failed), ``exit_code`` says
    which; ``crashed``: anything else, ``reason`` says what.
    """

    kind: ExitKind
    exit_code: int = 0
    reason: str = ""


class WorkerHandle(Protocol):
    """The supervisor's side of one worker."""

    @property
    def worker_id(self) -> int: ...

    @property
    def pid(self) -> int: ...

    def describe(self) -> str:
        """``worker 3 (pid 1234)``: for log lines."""

    def stop(self, *, force: bool = False, handoff: bool = False) -> None:
        """Ask the worker to stop; see :meth:`Worker.stop`. Never blocks."""

    def kill(self) -> bool:
        """End the worker at once; False if impossible (a thread)."""


class WorkerEvents(Protocol):
    """What a worker reports; always called on the supervisor's loop."""

    def worker_ready(self, handle: WorkerHandle) -> None: ...

    def worker_beat(self, handle: WorkerHandle) -> None: ...

    def worker_retiring(self, handle: WorkerHandle, served: int) -> None: ...

    def worker_exited(self, handle: WorkerHandle, outcome: WorkerExit) -> None: ...


class WorkerEdge(Protocol):
    """Starts workers of one kind (threads or processes)."""

    @property
    def mode(self) -> str: ...

    async def load(self, generation: int) -> object:
        """Prepare generation ``generation`` of the app; ``AppLoadError`` if it
        does not load. The result is passed back to :meth:`spawn`."""

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
    ) -> WorkerHandle:
        """Start one worker serving ``sockets``; it reports through ``events``."""


class WorkerLink(Protocol):
    """A worker's side of the conversation (called on the worker's loop)."""

    def ready(self) -> None: ...

    def beat(self) -> None: ...

    def retiring(self, served: int) -> None: ...


def beat_interval(config: ServerConfig) -> float:
    """Seconds between heartbeats: often enough to beat several times within
    the stuck-worker threshold, and never more than once a second."""
    return min(1.0, config.timeout_worker_healthcheck / 4)


def retire_after(config: ServerConfig, rng: random.Random) -> int | None:
    """The request count after which a new worker retires (with its jitter)."""
    limit = config.limit_max_requests
    if limit is None:
        return None
    jitter = config.limit_max_requests_jitter
    return limit + (rng.randint(0, jitter) if jitter else 0)


def run_on_loop(
    loop: asyncio.AbstractEventLoop, worker: Worker, main: Coroutine[Any, Any, None]
) -> None:
    """Run ``main`` (which serves with ``worker``) to completion on ``loop``.

    If the loop dies under it (the app raised ``SystemExit`` in a request,
    which asyncio lets out of the loop), the worker is stopped, forced, and
    its shutdown path runs to its end before the error is re-raised: the
    connections are dropped rather than drained, but the app's lifespan
    still gets its shutdown instead of being cancelled mid-flight.
    """
    task = loop.create_task(main)
    try:
        loop.run_until_complete(task)
    except BaseException:
        if not task.done():
            worker.stop(force=True)
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        raise


async def run_supervised(
    worker: Worker, link: WorkerLink, *, interval: float, retire_after: int | None
) -> None:
    """Serve with ``worker`` on this loop, beating through ``link``."""
    beat = asyncio.get_running_loop().create_task(
        _beat(worker, link, interval, retire_after), name="pounce-heartbeat"
    )
    try:
        await worker.serve()
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def _beat(worker: Worker, link: WorkerLink, interval: float, limit: int | None) -> None:
    retiring = False
    while True:
        link.beat()
        ctx = worker.context
        # Checked with the beat rather than per request: retiring up to one
        # interval late costs nothing, and the request path stays untouched.
        if limit is not None and not retiring and ctx is not None and ctx.requests_served >= limit:
            retiring = True
            link.retiring(ctx.requests_served)
        await asyncio.sleep(interval)
