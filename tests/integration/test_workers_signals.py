"""SIGTERM and SIGINT with several workers: in-flight requests finish, a second
SIGINT forces the issue. Both worker modes."""

from __future__ import annotations

import signal
import sys
import threading

import httpx
import pytest

from conftest import PounceFactory
from support.waiting import wait_for

APP = "support.worker_apps:app"
MODES = [
    "thread",
    "process",
    pytest.param(
        "interpreter",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 14), reason="subinterpreter workers need CPython 3.14+"
        ),
    ),
]


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_lets_slow_in_flight_requests_complete(pounce: PounceFactory, mode: str) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", mode)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def slow_request() -> None:
        # Long enough that the drain reaches every worker before the responses
        # are written, even on a loaded machine.
        response = httpx.get(server.url + "/slow?seconds=5", timeout=60)
        with lock:
            responses.append(response)

    clients = [threading.Thread(target=slow_request) for _ in range(6)]
    for client in clients:
        client.start()
    wait_for(lambda: server.output.count("worker-app: slow request") == 6)
    server.send_signal(signal.SIGTERM)
    for client in clients:
        client.join(60)
    assert [r.status_code for r in responses] == [200] * 6
    assert all(r.text == "slow done" for r in responses)
    assert all(r.headers["connection"] == "close" for r in responses)
    assert server.wait() == 0
    output = server.output
    assert "Waiting for" in output
    assert output.count("worker-app: shutdown") == 2
    assert "ERROR" not in output


@pytest.mark.parametrize("mode", MODES)
def test_second_sigint_forces_every_worker(pounce: PounceFactory, mode: str) -> None:
    server = pounce(
        APP, "--workers", "2", "--worker-mode", mode, "--timeout-graceful-shutdown", "600"
    )
    failures: list[BaseException] = []

    def stuck_request() -> None:
        try:
            httpx.get(server.url + "/slow?seconds=600", timeout=120)
        except httpx.HTTPError as exc:
            failures.append(exc)

    client = threading.Thread(target=stuck_request)
    client.start()
    server.wait_for_output("worker-app: slow request for 600.0s")
    server.send_signal(signal.SIGINT)
    server.wait_for_output("Received SIGINT: shutting down gracefully")
    server.wait_for_output("Waiting for 1 connection")
    assert server.proc.poll() is None
    server.signal_again(signal.SIGINT)
    server.wait_for_output("Received SIGINT again: shutting down now")
    assert server.wait() == 0
    client.join(60)
    assert len(failures) == 1  # the request was cut off, not answered
    assert server.output.count("worker-app: shutdown") == 2  # lifespan still shut down
