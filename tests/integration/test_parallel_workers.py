"""Thread workers under parallel load: many clients at once, each answer its own.

Four thread workers share one interpreter, one app and one config; on a
free-threaded build they run Python in parallel. Clients over HTTP/1.1,
HTTP/2 and WebSocket send requests that each carry a unique token and a body
whose digest must come back exactly (``support.parallel``), on asyncio and on
uvloop. The batteries the workers share must stay exact under that load: a
rate limit admits exactly its budget, the request counters equal the requests
sent. And a reload (SIGHUP) or a worker's retirement under that load loses
nothing.

These run on every interpreter (thread workers exist on GIL builds too); on
3.14t they are the proof that the workers do not step on each other.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import PounceFactory
from support.metrics import request_counts
from support.parallel import ParallelLoad

APP = "support.parallel_apps:app"
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
]

pytestmark = pytest.mark.slow


def _threads(pounce: PounceFactory, *args: str) -> object:
    return pounce(APP, "--workers", "4", "--worker-mode", "thread", "--no-access-log", *args)


def _stop(server: object) -> None:
    server.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
    assert server.wait() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("loop", LOOPS)
def test_every_client_gets_its_own_answers(pounce: PounceFactory, loop: str) -> None:
    server = _threads(pounce, "--loop", loop)
    line = server.wait_for_output("serving on").string
    assert "4 workers (thread" in line
    with ParallelLoad("127.0.0.1", server.port) as load:
        load.wait_for(1500, timeout=120)
    assert load.failures == []
    assert min(load.answered.values()) >= 50, load.answered
    # The kernel spreads the clients' connections over the workers.
    assert len(load.workers) >= 2, load.workers
    if FREE_THREADED:
        # Still free-threaded after serving on this loop (CPython warns when an
        # extension module switches the GIL on).
        assert "GIL disabled" in line
        assert "has been enabled" not in server.output
    _stop(server)


def test_one_rate_limit_admits_exactly_its_budget_under_parallel_load(
    pounce: PounceFactory,
) -> None:
    server = _threads(pounce, "--rate-limit", "0.001", "--rate-limit-burst", "60")
    limits = httpx.Limits(max_keepalive_connections=0)

    def one(_: int) -> int:
        # A new connection each time: the kernel spreads them over the workers.
        with httpx.Client(limits=limits, timeout=30) as client:
            return client.get(server.url + "/").status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(one, range(240)))
    assert statuses.count(200) == 60
    assert statuses.count(429) == 180
    _stop(server)


def test_request_counters_equal_the_requests_sent_under_parallel_load(
    pounce: PounceFactory,
) -> None:
    server = _threads(pounce, "--metrics")
    with ParallelLoad("127.0.0.1", server.port, websocket_clients=0) as load:
        load.wait_for(1200, timeout=120)
    assert load.failures == []
    sent = load.answered["1.1"] + load.answered["2"]
    with httpx.Client() as client:
        text = client.get(server.url + "/metrics").text
    assert request_counts(text)[(("method", "POST"), ("status", "200"))] == sent
    _stop(server)


def test_reloads_under_parallel_load_lose_nothing(pounce: PounceFactory) -> None:
    server = _threads(pounce)
    with ParallelLoad("127.0.0.1", server.port) as load:
        load.wait_for(300, timeout=120)
        for generation in (1, 2):
            server.send_signal(signal.SIGHUP)
            server.wait_for_output(
                rf"Reload complete: generation {generation} serving", timeout=120
            )
            load.wait_for(300, timeout=120)
    assert load.failures == []
    assert min(load.answered.values()) >= 50, load.answered
    _stop(server)


def test_retirement_under_parallel_load_loses_nothing(pounce: PounceFactory) -> None:
    server = _threads(pounce, "--limit-max-requests", "300", "--limit-max-requests-jitter", "50")
    with ParallelLoad("127.0.0.1", server.port) as load:
        # Four workers at first: a fifth has started once one has retired.
        server.wait_for_output(r"Started worker 6 ", timeout=180)
        load.wait_for(200, timeout=120)
    assert load.failures == []
    assert "replacing it" in server.output
    _stop(server)
