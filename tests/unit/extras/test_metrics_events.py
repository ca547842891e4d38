"""The metrics plugin fed lifecycle events directly (no server needed)."""

from __future__ import annotations

import threading

from prometheus_client.parser import text_string_to_metric_families

from pounce import (
    ConnectionClosed,
    ConnectionOpened,
    RequestCompleted,
    ServerConfig,
    WorkerCrashed,
    WorkerStarted,
)
from pounce_extras._metrics import MetricsPlugin


def started(worker_id: int, slot: int) -> WorkerStarted:
    return WorkerStarted(worker_id=worker_id, slot=slot, generation=0, mode="thread", pid=1)


def samples(plugin: MetricsPlugin) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(plugin.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def completed(method: str, status: int, size: int = 10) -> RequestCompleted:
    return RequestCompleted(
        worker_id=0,
        method=method,
        path="/",
        http_version="1.1",
        status=status,
        bytes_sent=size,
        duration=0.02,
        client=None,
    )


def test_worker_restarts_are_counted_from_worker_events() -> None:
    plugin = MetricsPlugin(ServerConfig(metrics=True))
    for slot in (0, 1):
        plugin.on_event(started(slot, slot))  # first starts: not restarts
    crash = WorkerCrashed(worker_id=1, slot=1, generation=0, reason="boom", restart_in=0.1)
    plugin.on_event(crash)
    plugin.on_event(started(2, 1))  # its replacement, in the same slot
    found = samples(plugin)
    assert found[("pounce_worker_restarts_total", ())] == 1
    assert found[("pounce_worker_crashes_total", ())] == 1


def test_requests_connections_and_bytes() -> None:
    plugin = MetricsPlugin(ServerConfig(metrics=True))
    plugin.on_event(ConnectionOpened(worker_id=0, client=None))
    plugin.on_event(ConnectionOpened(worker_id=0, client=None))
    plugin.on_event(ConnectionClosed(worker_id=0, client=None))
    plugin.on_event(completed("GET", 200))
    plugin.on_event(completed("GET", 200))
    plugin.on_event(completed("BREW", 418, 5))  # an unknown method is OTHER
    found = samples(plugin)
    assert found[("pounce_connections_open", ())] == 1
    assert found[("pounce_connections_total", ())] == 2
    assert found[("pounce_requests_total", (("method", "GET"), ("status", "200")))] == 2
    assert found[("pounce_requests_total", (("method", "OTHER"), ("status", "418")))] == 1
    assert found[("pounce_response_body_bytes_total", ())] == 25
    assert found[("pounce_request_duration_seconds_count", (("method", "GET"),))] == 2


def test_events_from_many_threads_are_all_counted() -> None:
    plugin = MetricsPlugin(ServerConfig(metrics=True))
    barrier = threading.Barrier(6)

    def feed() -> None:
        barrier.wait()
        for _ in range(500):
            plugin.on_event(completed("GET", 200))
            plugin.on_event(started(7, 3))

    threads = [threading.Thread(target=feed) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    found = samples(plugin)
    assert found[("pounce_requests_total", (("method", "GET"), ("status", "200")))] == 3000
    assert found[("pounce_worker_restarts_total", ())] == 2999  # all but the first start
