"""Lifecycle events: what the server is doing, as typed events.

Operators subscribe with ``--lifecycle-hook pkg.module:callable`` (repeatable)
or ``pounce.run(..., lifecycle_hooks=[...])``; each callable receives every
:class:`LifecycleEvent`. Hooks are called synchronously, on whichever thread
or process produced the event (a worker thread for ``RequestCompleted``), so
they must be quick and thread-safe; an exception in a hook is logged and never
reaches the server.

The emitter holds an immutable tuple of callables, so every worker thread can
share one without a lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pounce._runtime.importer import resolve_attribute
from pounce._runtime.logs import ERROR_LOGGER

__all__ = [
    "ConnectionClosed",
    "ConnectionOpened",
    "LifecycleEmitter",
    "LifecycleEvent",
    "LifecycleHook",
    "ReloadCompleted",
    "ReloadFailed",
    "ReloadStarted",
    "RequestCompleted",
    "ServerDraining",
    "ServerStarted",
    "ServerStopped",
    "WorkerCrashed",
    "WorkerStarted",
    "WorkerStopped",
    "WorkerUnresponsive",
    "load_hooks",
]

_logger = logging.getLogger(ERROR_LOGGER)


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleEvent:
    """Base of every lifecycle event; ``timestamp`` is seconds since the epoch."""

    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStarted(LifecycleEvent):
    """The server accepts connections on ``addresses``."""

    addresses: tuple[str, ...]
    workers: int
    worker_mode: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerDraining(LifecycleEvent):
    """The server stopped accepting and lets in-flight requests finish."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStopped(LifecycleEvent):
    """The server has stopped; ``exit_code`` is the process exit status."""

    exit_code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCompleted(LifecycleEvent):
    """A request's response is complete (or was abandoned: ``status`` is 0)."""

    worker_id: int
    method: str
    path: str
    http_version: str
    status: int
    bytes_sent: int
    duration: float
    client: tuple[str, int] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOpened(LifecycleEvent):
    """A worker accepted a client connection (``client`` is ``None`` on a UNIX socket)."""

    worker_id: int
    client: tuple[str, int] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(LifecycleEvent):
    """A client connection is gone, whichever side closed it."""

    worker_id: int
    client: tuple[str, int] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStarted(LifecycleEvent):
    """A worker is accepting connections.

    ``worker_id`` is unique for the life of the server; ``slot`` is the worker's
    place (0..workers-1), kept by its replacements; ``generation`` counts
    rolling reloads. ``pid`` is the worker's process (the server's own in
    thread mode).
    """

    worker_id: int
    slot: int
    generation: int
    mode: str
    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStopped(LifecycleEvent):
    """A worker the server asked to stop (shutdown, reload, retirement) has stopped."""

    worker_id: int
    slot: int
    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerCrashed(LifecycleEvent):
    """A worker ended without being asked to; ``restart_in`` is None when the
    server gives up on it (a crash loop)."""

    worker_id: int
    slot: int
    generation: int
    reason: str
    restart_in: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerUnresponsive(LifecycleEvent):
    """A worker's event loop has not checked in for ``silent_for`` seconds.

    ``killed`` is True when the server killed it (process mode); a thread
    cannot be killed and is only reported.
    """

    worker_id: int
    slot: int
    silent_for: float
    killed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadStarted(LifecycleEvent):
    """A rolling reload began: generation ``generation`` is being started."""

    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadCompleted(LifecycleEvent):
    """Generation ``generation`` serves; the previous one is draining."""

    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadFailed(LifecycleEvent):
    """Generation ``generation`` could not start; the previous one keeps serving."""

    generation: int
    reason: str


LifecycleHook = Callable[[LifecycleEvent], object]


class LifecycleEmitter:
    """Delivers events to the subscribed hooks."""

    __slots__ = ("_hooks",)

    def __init__(self, hooks: Iterable[LifecycleHook] = ()) -> None:
        self._hooks = tuple(hooks)

    @property
    def active(self) -> bool:
        """False when nobody listens, so hot paths can skip building events."""
        return bool(self._hooks)

    def emit(self, event: LifecycleEvent) -> None:
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                _logger.exception("Lifecycle hook %r failed on %s", hook, type(event).__name__)


def load_hooks(paths: Iterable[str]) -> list[LifecycleHook]:
    """Import each ``module:attribute`` hook; ``ValueError`` names a bad one."""
    hooks: list[LifecycleHook] = []
    for path in paths:
        module_name, sep, attribute = path.partition(":")
        if not sep:
            raise ValueError(f"lifecycle hook {path!r} must look like 'module:callable'")
        try:
            value = resolve_attribute(module_name, attribute)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load lifecycle hook {path!r}: {exc}") from exc
        if not callable(value):
            raise ValueError(f"lifecycle hook {path!r} is not callable")
        hooks.append(value)
    return hooks
