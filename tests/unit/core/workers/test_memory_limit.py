"""--limit-max-memory: reading RSS, and when a shared process hands its generation over."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys

import pytest

from pounce import ServerConfig
from pounce._workers.memory_limit import (
    MIB,
    ProcessMemoryGuard,
    _held_from_rollup,
    mib_up,
    rss_bytes,
)

LINUX = os.path.exists("/proc/self/statm")


@pytest.mark.skipif(not LINUX, reason="RSS is read from /proc")
def test_rss_of_this_process_and_of_another() -> None:
    own = rss_bytes()
    assert own is not None
    assert 5 * MIB < own < 10_000 * MIB
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"up\n"  # an interpreter, not a process being born
        theirs = rss_bytes(child.pid)
        assert theirs is not None
        assert theirs > MIB
    finally:
        child.kill()
        child.communicate()
    assert rss_bytes(child.pid) is None  # gone


@pytest.mark.skipif(not LINUX, reason="RSS is read from /proc")
def test_rss_grows_with_what_is_written() -> None:
    # Fresh pages from the kernel, written: a Python object of that size may
    # reuse pages the allocator kept resident from earlier tests (mimalloc,
    # on a free-threaded build, does), and would not grow the RSS.
    with mmap.mmap(-1, 64 * MIB) as hoard:
        before = rss_bytes()
        hoard.write(b"x" * (64 * MIB))
        after = rss_bytes()
    assert before is not None
    assert after is not None
    assert after - before > 48 * MIB


@pytest.mark.skipif(
    not os.path.exists("/proc/self/smaps_rollup") or not hasattr(mmap, "MADV_FREE"),
    reason="lazily freed pages are told apart on Linux 4.14+",
)
def test_memory_given_back_lazily_is_not_counted() -> None:
    # How free-threaded CPython gives back a large block freed by a thread
    # other than its allocator's: MADV_FREE, which leaves it in RSS.
    region = mmap.mmap(-1, 64 * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        region.write(b"x" * (64 * MIB))
        held = rss_bytes()
        region.madvise(mmap.MADV_FREE)
        after = rss_bytes()
        assert held is not None
        assert after is not None
        assert held - after > 48 * MIB
    finally:
        region.close()


def test_held_memory_is_rss_less_lazy_free() -> None:
    summary = (
        b"55d0c0a00000-7ffd7f5fe000 ---p 00000000 00:00 0    [rollup]\n"
        b"Rss:              217108 kB\n"
        b"Pss:              216017 kB\n"
        b"LazyFree:         204724 kB\n"
        b"Swap:                  0 kB\n"
    )
    assert _held_from_rollup(summary) == (217108 - 204724) * 1024
    assert _held_from_rollup(b"Rss: 100 kB\n") == 100 * 1024  # a kernel without LazyFree


def test_guard_hands_over_once_then_waits_for_the_handover() -> None:
    guard = ProcessMemoryGuard(100)
    assert guard.check(90, handover_running=False) == "none"
    assert guard.check(101, handover_running=False) == "hand over"
    # The reload and the old generation's drain are under way.
    assert guard.check(150, handover_running=True) == "none"
    assert guard.check(150, handover_running=True) == "none"
    # Done, and back under the limit: armed again.
    assert guard.check(60, handover_running=False) == "none"
    assert guard.check(120, handover_running=False) == "hand over"


def test_guard_warns_once_when_a_handover_did_not_help() -> None:
    guard = ProcessMemoryGuard(100)
    assert guard.check(150, handover_running=False) == "hand over"
    assert guard.check(150, handover_running=True) == "none"
    assert guard.check(140, handover_running=False) == "warn"
    for _ in range(5):
        assert guard.check(140, handover_running=False) == "none"
    assert guard.check(99, handover_running=False) == "none"
    assert guard.check(140, handover_running=False) == "hand over"


def test_a_handover_under_way_for_another_reason_is_waited_for() -> None:
    guard = ProcessMemoryGuard(100)
    assert guard.check(150, handover_running=True) == "none"
    assert guard.check(150, handover_running=False) == "hand over"


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit_max_memory must be positive"):
        ServerConfig(limit_max_memory=0)
    assert ServerConfig(limit_max_memory=512).limit_max_memory == 512


def test_a_size_past_the_limit_never_reads_as_the_limit() -> None:
    # The supervisor says "uses N MiB (--limit-max-memory 200)": a worker
    # 200.5 MiB large is past a 200 MiB limit and must not read as 200.
    assert mib_up(200 * MIB) == 200
    assert mib_up(200 * MIB + 1) == 201
    assert mib_up(200 * MIB + MIB // 2) == 201
    assert mib_up(0) == 0
