"""How many workers to run, and whether as threads or as processes.

``--worker-mode auto`` runs threads when they can run Python in parallel (a
free-threaded interpreter with the GIL off) and processes otherwise. Two
cases pick threads even with the GIL on: a single worker (there is no
parallelism to gain, and a thread starts in milliseconds), and an app given
as a Python object rather than an import string (a worker process has to
import the app itself, so it cannot be handed an object). ``auto`` never
picks subinterpreters (``--worker-mode interpreter``): many C extensions do
not support them yet, so they are asked for explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pounce._runtime.interpreter import gil_enabled
from pounce._settings.config import ServerConfig

__all__ = ["WorkerPlan", "plan_workers"]

ResolvedMode = Literal["thread", "process", "interpreter"]


def _cpu_count() -> int:
    # process_cpu_count (3.13+) honours CPU affinity, as a container sees it.
    counter = getattr(os, "process_cpu_count", None) or os.cpu_count
    return max(1, counter() or 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPlan:
    """The resolved worker settings, with the reason for the mode (for the log)."""

    count: int
    mode: ResolvedMode
    note: str


def plan_workers(config: ServerConfig, *, app_is_import_string: bool) -> WorkerPlan:
    """Resolve ``--workers`` and ``--worker-mode``; ``ValueError`` when impossible."""
    count = config.workers or _cpu_count()
    parallel_threads = not gil_enabled()
    if config.worker_mode in ("process", "interpreter"):
        if not app_is_import_string:
            what = "process" if config.worker_mode == "process" else "interpreter"
            raise ValueError(
                f"worker_mode={config.worker_mode!r} needs the app as an import string such "
                f"as 'package.module:app': each worker {what} imports the app itself"
            )
        return WorkerPlan(count=count, mode=config.worker_mode, note="")
    if config.worker_mode == "thread":
        note = ""
        if count > 1 and not parallel_threads:
            note = (
                "the GIL is enabled, so worker threads will not run Python code in "
                "parallel; --worker-mode process would"
            )
        return WorkerPlan(count=count, mode="thread", note=note)
    if parallel_threads or count == 1:
        return WorkerPlan(count=count, mode="thread", note="")
    if not app_is_import_string:
        return WorkerPlan(
            count=count,
            mode="thread",
            note=(
                "the app was given as an object, so workers run as threads (without "
                "parallel Python under the GIL); pass an import string for processes"
            ),
        )
    return WorkerPlan(count=count, mode="process", note="")
