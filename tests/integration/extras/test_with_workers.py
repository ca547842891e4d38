"""The batteries with several workers: threads share them, processes have their own."""

from __future__ import annotations

import signal

import httpx

from conftest import PounceFactory
from support.metrics import request_counts


def test_one_rate_limit_across_thread_workers(pounce: PounceFactory) -> None:
    process = pounce(
        "support.extras_apps:app",
        "--workers", "3",
        "--worker-mode", "thread",
        "--rate-limit", "0.001",
        "--rate-limit-burst", "5",
    )  # fmt: skip
    statuses = []
    for _ in range(12):
        # A new connection each time: the kernel spreads them over the workers.
        with httpx.Client() as client:
            statuses.append(client.get(process.url + "/").status_code)
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7


def test_thread_workers_share_one_metrics_registry(pounce: PounceFactory) -> None:
    process = pounce(
        "support.extras_apps:app", "--workers", "2", "--worker-mode", "thread", "--metrics"
    )
    for _ in range(6):
        with httpx.Client() as client:
            client.get(process.url + "/")
    with httpx.Client() as client:
        text = client.get(process.url + "/metrics").text
    assert request_counts(text)[(("method", "GET"), ("status", "200"))] == 6


def test_worker_processes_load_their_own_batteries(pounce: PounceFactory) -> None:
    process = pounce(
        "support.extras_apps:app",
        "--workers", "2",
        "--worker-mode", "process",
        "--metrics",
        "--request-id",
        "--log-format", "json",
    )  # fmt: skip
    with httpx.Client() as client:
        response = client.get(process.url + "/fail", headers={"accept": "application/json"})
        assert response.status_code == 500
        assert response.json()["status"] == 500  # error pages, in the worker process
        assert len(client.get(process.url + "/").headers["x-request-id"]) == 32
        assert "pounce_requests_in_flight" in client.get(process.url + "/metrics").text
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    assert '"event": "WorkerStarted"' in process.output  # the supervisor's events, as JSON
