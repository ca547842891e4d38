"""``--limit-max-memory``: workers recycled when they grow past a memory bound.

What the bound applies to depends on what a worker is:

* **Process workers** each have their own memory. One whose resident set
  (RSS) passes the limit is replaced the way ``--limit-max-requests``
  replaces one: its successor starts on the same sockets first, then it
  drains. Nothing is dropped.
* **Thread and interpreter workers** share one process, so no worker's own
  size can be told apart; the limit is the *process's* RSS. When the process
  passes it, the whole generation is handed over, as on SIGHUP: a fresh
  import of the app, new workers first, the old ones drained. What the old
  generation held (module-level caches, objects leaked by the app) is freed
  once it has drained. If the process is still above the limit afterwards,
  the memory is not the generation's (the interpreter's own arenas, a C
  extension's global state): another handover would not help, so the server
  says so once and acts again only after the process has been back under the
  limit (:class:`ProcessMemoryGuard`).

RSS is read from ``/proc`` (Linux), never by loading a dependency, so the
option is refused at start-up where ``/proc`` does not exist. Pages the
process has already given back with ``MADV_FREE`` are not counted: the
kernel takes them back whenever it needs them, but leaves them in RSS until
then. Free-threaded CPython's allocator (mimalloc) gives back that way a
large block freed by another thread than the one that allocated it, which
is how a drained generation's memory goes (its worker threads have exited),
so a plain RSS would never fall under the limit there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

__all__ = ["MIB", "ProcessMemoryGuard", "mib_up", "rss_bytes"]

MIB = 1024 * 1024

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def mib_up(nbytes: int) -> int:
    """``nbytes`` in MiB, rounded up: a size past a limit of whole MiB never
    reads as the limit itself in a message about it."""
    return -(-nbytes // MIB)


def rss_bytes(pid: int | None = None) -> int | None:
    """The memory ``pid`` (this process when None) holds, or None if it is gone.

    Its resident set size less what it has freed lazily (``LazyFree`` in
    ``smaps_rollup``, Linux 4.14+; plain RSS from ``statm`` where that file
    is missing). About 0.3 ms a read: once per supervisor tick.
    """
    proc = f"/proc/{'self' if pid is None else pid}"
    try:
        with open(f"{proc}/smaps_rollup", "rb") as rollup:
            summary = rollup.read()
    except FileNotFoundError:
        summary = b""
    except OSError:
        return None
    if summary:
        return _held_from_rollup(summary)
    try:
        with open(f"{proc}/statm", "rb") as statm:
            fields = statm.read().split()
    except OSError:
        return None
    return int(fields[1]) * _PAGE_SIZE


def _held_from_rollup(summary: bytes) -> int:
    """``Rss`` less ``LazyFree``, in bytes, from the text of ``smaps_rollup``."""
    kib = {b"Rss:": 0, b"LazyFree:": 0}
    for line in summary.splitlines():
        name, _, rest = line.partition(b" ")
        if name in kib:
            kib[name] = int(rest.split()[0])
    return max(kib[b"Rss:"] - kib[b"LazyFree:"], 0) * 1024


GuardAction = Literal["none", "hand over", "warn"]


@dataclass(slots=True)
class ProcessMemoryGuard:
    """When a process shared by all workers should hand its generation over.

    :meth:`check` is called with the process's RSS at each supervisor tick,
    and whether a handover (a reload, or a generation still draining) is
    under way. It answers ``"hand over"`` once when the RSS passes the limit;
    it then stays quiet until the handover is complete, answers ``"warn"``
    once if the RSS is still above the limit, and acts again only after the
    RSS has been under the limit.
    """

    limit: int
    armed: bool = True
    warned: bool = False

    def check(self, rss: int, *, handover_running: bool) -> GuardAction:
        if rss <= self.limit:
            self.armed = True
            self.warned = False
            return "none"
        if handover_running:
            return "none"
        if self.armed:
            self.armed = False
            return "hand over"
        if not self.warned:
            self.warned = True
            return "warn"
        return "none"
