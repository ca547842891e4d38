"""The metrics plugin fed lifecycle events directly (no server needed).

Worker events come from the supervisor of multi-worker servers; they are
matched by name, so these tests declare events of those names.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from pounce import (
    ConnectionClosed,
    ConnectionOpened,
    LifecycleEvent,
    RequestCompleted,
    ServerConfig,
)
from pounce_extras._metrics import MetricsPlugin


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStarted(LifecycleEvent):
    worker_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerCrashed(LifecycleEvent):
    worker_id: int


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
    for worker in (0, 1):
        plugin.on_event(WorkerStarted(worker_id=worker))  # first starts: not restarts
    plugin.on_event(WorkerCrashed(worker_id=1))
    plugin.on_event(WorkerStarted(worker_id=1))  # replaced
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
            plugin.on_event(WorkerStarted(worker_id=7))

    threads = [threading.Thread(target=feed) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    found = samples(plugin)
    assert found[("pounce_requests_total", (("method", "GET"), ("status", "200")))] == 3000
    assert found[("pounce_worker_restarts_total", ())] == 2999  # all but the first start
