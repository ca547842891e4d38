"""Load shedding on a real server (and the core's health path, never shed)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import PounceFactory, ServeFactory
from pounce import ASGIApp, Receive, Scope, Send
from support.waiting import WAIT, wait_for


class Gate:
    """An app whose /hold requests wait until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Semaphore(0)

    def app(self) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            if scope["path"] == "/hold":
                self.entered.release()
                await asyncio.get_running_loop().run_in_executor(None, self.opened.wait, WAIT)
            headers = [(b"content-type", b"text/plain")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"done"})

        return app


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def fetch(pool: ThreadPoolExecutor, url: str) -> Future[httpx.Response]:
    return pool.submit(httpx.get, url, timeout=WAIT)


def in_flight(url: str) -> float:
    text = httpx.get(url + "/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "pounce_requests_in_flight":
            return family.samples[0].value
    raise AssertionError("no in-flight gauge")


def test_over_the_limit_and_the_queue_gets_503_at_once(
    serve: ServeFactory, pool: ThreadPoolExecutor
) -> None:
    gate = Gate()
    server = serve(gate.app(), limit_concurrency=1, limit_queue=1, metrics=True)
    first = fetch(pool, server.url + "/hold")
    assert gate.entered.acquire(timeout=WAIT)
    queued = fetch(pool, server.url + "/")
    wait_for(lambda: in_flight(server.url) == 2, what="the second request to queue")
    shed = httpx.get(server.url + "/", timeout=WAIT)
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert not queued.done()  # still waiting its turn
    gate.opened.set()
    assert first.result(WAIT).text == "done"
    assert queued.result(WAIT).text == "done"


def test_a_request_waiting_too_long_gets_503(serve: ServeFactory, pool: ThreadPoolExecutor) -> None:
    gate = Gate()
    server = serve(gate.app(), limit_concurrency=1, limit_queue=5, limit_queue_timeout=0.2)
    first = fetch(pool, server.url + "/hold")
    assert gate.entered.acquire(timeout=WAIT)
    late = httpx.get(server.url + "/", timeout=WAIT, headers={"accept": "application/json"})
    assert late.status_code == 503
    assert late.json()["status"] == 503
    gate.opened.set()
    assert first.result(WAIT).status_code == 200
    assert httpx.get(server.url + "/", timeout=WAIT).status_code == 200  # the slot came back


def test_limit_counts_requests_across_connections(
    serve: ServeFactory, pool: ThreadPoolExecutor
) -> None:
    gate = Gate()
    server = serve(gate.app(), limit_concurrency=3, limit_queue=0)
    held = [fetch(pool, server.url + "/hold") for _ in range(3)]
    for _ in held:
        assert gate.entered.acquire(timeout=WAIT)
    assert httpx.get(server.url + "/", timeout=WAIT).status_code == 503
    gate.opened.set()
    assert [f.result(WAIT).status_code for f in held] == [200, 200, 200]


def test_health_path_is_never_shed(serve: ServeFactory, pool: ThreadPoolExecutor) -> None:
    gate = Gate()
    server = serve(gate.app(), limit_concurrency=1, limit_queue=0, health_path="/healthz")
    held = fetch(pool, server.url + "/hold")
    assert gate.entered.acquire(timeout=WAIT)
    health = httpx.get(server.url + "/healthz", timeout=WAIT)
    assert health.status_code == 200
    assert health.text == "ok\n"
    assert health.headers["cache-control"] == "no-store"
    gate.opened.set()
    assert held.result(WAIT).status_code == 200


def test_load_shedding_from_the_command_line(pounce: PounceFactory, pool: Any) -> None:
    process = pounce("support.extras_apps:app", "--limit-concurrency", "1", "--limit-queue", "0")
    slow = fetch(pool, process.url + "/slow?s=3")
    shed = wait_for(
        lambda: (r := httpx.get(process.url + "/")).status_code == 503 and r,
        what="a request to be shed while /slow holds the only slot",
    )
    assert shed.headers["retry-after"] == "1"
    assert slow.result(WAIT).text == "slept\n"
