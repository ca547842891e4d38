"""--limit-max-memory against a real server: workers recycled by memory, nothing dropped.

A process worker that grows past the limit is replaced, successor first. Thread
workers share the process: past the limit the whole generation is handed over
(a fresh import of the app frees what the old one held); when the memory is
not the generation's, the server says so once instead of reloading in a loop.
"""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

from conftest import PounceFactory
from support.load import Load
from support.waiting import wait_for

APP = "support.worker_apps:app"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists("/proc/self/smaps_rollup"), reason="memory is read from /proc"
    ),
]


def _rss_mib(pid: int) -> float:
    """Resident MiB, less what the process has freed lazily (MADV_FREE): the
    kernel takes those pages back at will; free-threaded CPython frees a
    large block that way when another thread than its allocator's frees it."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, value = line.partition(":")
            fields[name] = value
    kib = int(fields["Rss"].split()[0]) - int(fields.get("LazyFree", "0 kB").split()[0])
    return kib / 1024


def test_a_worker_process_past_the_limit_is_replaced_without_dropping_any(
    pounce: PounceFactory,
) -> None:
    server = pounce(
        APP, "--workers", "1", "--worker-mode", "process", "--limit-max-memory", "200",
        "--no-access-log",
    )  # fmt: skip
    with Load(server.url + "/") as load:
        load.wait_for(50)
        with httpx.Client(timeout=30) as client:
            assert client.get(server.url + "/hoard", params={"mib": "220"}).text == "hoarded"
        line = server.wait_for_output(
            r"worker 1 \(pid \d+\) uses (\d+) MiB \(--limit-max-memory 200\); replacing it",
            timeout=60,
        )
        assert int(line.group(1)) > 200
        server.wait_for_output(r"Started worker 2 ", timeout=60)
        server.wait_for_output(r"Stopped worker 1 ", timeout=60)
        load.wait_for(50)
    assert load.failures == []
    # Replaced once: the successor is small again.
    assert "worker 2 (pid" not in server.output.split("Started worker 2")[1].split("uses")[0]
    assert server.output.count("replacing it") == 1
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_thread_workers_hand_their_generation_over_when_the_process_passes_the_limit(
    pounce: PounceFactory,
) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", "thread", "--no-access-log")
    baseline = _rss_mib(server.proc.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0

    limit = int(baseline) + 150
    server = pounce(
        APP, "--workers", "2", "--worker-mode", "thread", "--limit-max-memory", str(limit),
        "--no-access-log",
    )  # fmt: skip
    with Load(server.url + "/") as load:
        load.wait_for(50)
        with httpx.Client(timeout=30) as client:
            client.get(server.url + "/hoard", params={"mib": "200"})
        server.wait_for_output(
            rf"The server process uses \d+ MiB \(--limit-max-memory {limit}\), shared by its "
            r"thread workers; handing over to a new generation",
            timeout=60,
        )
        server.wait_for_output(r"Reload complete: generation 1 serving", timeout=60)
        # The old generation's module, and what it held, goes with its drain.
        wait_for(lambda: _rss_mib(server.proc.pid) < limit, what="the memory to be freed")
        load.wait_for(50)
    assert load.failures == []
    assert "not held by the app's generation" not in server.output
    assert "generation 2" not in server.output  # one handover, not a loop
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_memory_the_generation_does_not_hold_is_reported_once_not_reloaded_in_a_loop(
    pounce: PounceFactory,
) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", "thread", "--no-access-log")
    limit = int(_rss_mib(server.proc.pid)) + 150
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0

    server = pounce(
        APP, "--workers", "2", "--worker-mode", "thread", "--limit-max-memory", str(limit),
        "--no-access-log",
    )  # fmt: skip
    with httpx.Client(timeout=30) as client:
        client.get(server.url + "/hoard", params={"mib": "200", "keep": "process"})
    server.wait_for_output(r"Reload complete: generation 1 serving", timeout=60)
    server.wait_for_output(r"still uses \d+ MiB .* not held by the app's generation", timeout=60)
    with httpx.Client(timeout=30) as client:
        for _ in range(20):
            assert client.get(server.url + "/").status_code == 200
    output = server.output
    assert len(re.findall("handing over to a new generation", output)) == 1
    assert output.count("not held by the app's generation") == 1
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
