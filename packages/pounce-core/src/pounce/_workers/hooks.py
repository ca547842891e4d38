"""Per-worker hooks: ``--on-worker-start``, ``--on-worker-draining``, ``--on-worker-stop``.

Each hook is a callable named by an import path, called with a
:class:`WorkerInfo`; it may be a plain function or a coroutine function. Hooks
run *inside* the worker, on its event loop, in every worker mode (a thread, a
process, a subinterpreter), so a hook can set up per-worker things that need
that loop or that interpreter: a tracing exporter, a connection pool, a
thread-local. The order in one worker's life is fixed:

1. ``on_worker_start`` hooks, in the order given, *before* the app's lifespan
   startup (so what they set up is there when the lifespan runs). If one
   raises, the worker fails to start exactly as a failing lifespan startup
   does: at server start-up the server exits with status 3; later, the slot
   is retried with backoff; in a reload, the old generation keeps serving.
2. lifespan startup; serving.
3. ``on_worker_draining`` hooks, when the worker is asked to stop (shutdown,
   rolling reload, retirement, or the watchdog), *before* it stops accepting.
4. drain; lifespan shutdown.
5. ``on_worker_stop`` hooks, after the lifespan shutdown, as the worker ends.

A draining or stop hook that raises is logged and the next one still runs:
the worker is on its way out either way. A sync hook runs on the worker's
loop and blocks it while it runs; keep it short or make it async.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pounce._bridge.lifespan import LifespanFailure
from pounce._runtime.importer import resolve_attribute
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig

__all__ = ["WorkerHookError", "WorkerHooks", "WorkerInfo", "WorkerKind"]

_logger = logging.getLogger(ERROR_LOGGER)

WorkerKind = Literal["thread", "process", "interpreter"]
WorkerHook = Callable[["WorkerInfo"], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """Which worker a hook runs in.

    ``worker_id`` is unique for the server's life (a replacement gets a new
    one); ``slot`` is the worker's place (0..workers-1), kept by its
    replacements; ``generation`` counts rolling reloads (0 at start-up);
    ``mode`` is how workers run; ``pid`` is the process the worker runs in.
    """

    worker_id: int
    slot: int
    generation: int
    mode: WorkerKind
    pid: int


class WorkerHookError(LifespanFailure):
    """An ``on_worker_start`` hook failed (or could not be loaded)."""


def _load(path: str, kind: str) -> WorkerHook:
    module_name, sep, attribute = path.partition(":")
    if not (module_name and sep and attribute):
        raise WorkerHookError(f"{kind} hook {path!r} must look like 'module:callable'")
    try:
        value = resolve_attribute(module_name, attribute)
    except Exception as exc:
        raise WorkerHookError(
            f"cannot load {kind} hook {path!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(value):
        raise WorkerHookError(f"{kind} hook {path!r} is not callable")
    return value


@dataclass(frozen=True, slots=True)
class _Named:
    path: str
    hook: WorkerHook


class WorkerHooks:
    """The three hook lists of one worker, loaded from its config."""

    __slots__ = ("_draining", "_start", "_stop")

    def __init__(self, config: ServerConfig) -> None:
        """Import every hook; :class:`WorkerHookError` names one that fails."""
        self._start = self._load_all(config.on_worker_start, "on_worker_start")
        self._draining = self._load_all(config.on_worker_draining, "on_worker_draining")
        self._stop = self._load_all(config.on_worker_stop, "on_worker_stop")

    @classmethod
    def from_config(cls, config: ServerConfig) -> WorkerHooks | None:
        """The worker's hooks, or None when none are configured."""
        if config.on_worker_start or config.on_worker_draining or config.on_worker_stop:
            return cls(config)
        return None

    @staticmethod
    def _load_all(paths: Iterable[str], kind: str) -> tuple[_Named, ...]:
        return tuple(_Named(path, _load(path, kind)) for path in paths)

    async def started(self, info: WorkerInfo) -> None:
        """Run the start hooks; the first failure raises :class:`WorkerHookError`."""
        for named in self._start:
            try:
                await _call(named.hook, info)
            except Exception as exc:
                raise WorkerHookError(
                    f"on_worker_start hook {named.path!r} raised {type(exc).__name__}: {exc}"
                ) from exc

    async def draining(self, info: WorkerInfo) -> None:
        await self._run_logged(self._draining, "on_worker_draining", info)

    async def stopped(self, info: WorkerInfo) -> None:
        await self._run_logged(self._stop, "on_worker_stop", info)

    @staticmethod
    async def _run_logged(hooks: tuple[_Named, ...], kind: str, info: WorkerInfo) -> None:
        for named in hooks:
            try:
                await _call(named.hook, info)
            except Exception:
                _logger.exception(
                    "%s hook %r failed in worker %d.", kind, named.path, info.worker_id
                )


async def _call(hook: WorkerHook, info: WorkerInfo) -> None:
    result = hook(info)
    if inspect.isawaitable(result):
        await result
