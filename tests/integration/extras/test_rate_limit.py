"""Rate limiting on a real server: memory store, and Redis shared by processes."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import PounceFactory, ServeFactory
from pounce_extras._rate_limit_redis import RedisStore, redact
from support.extras_apps import app as routes
from support.waiting import WAIT, log_records, wait_for

from .conftest import free_port

STATE = re.compile(r'^"default";r=(\d+);t=(\d+)$')


def remaining(response: httpx.Response) -> int:
    match = STATE.match(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return int(match.group(1))


def test_burst_then_429_with_retry_after_and_ratelimit_fields(serve: ServeFactory) -> None:
    server = serve(routes, rate_limit=0.01, rate_limit_burst=3)
    with httpx.Client() as client:
        allowed = [client.get(server.url + "/") for _ in range(3)]
        refused = client.get(server.url + "/", headers={"accept": "application/json"})
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [remaining(r) for r in allowed] == [2, 1, 0]
    assert allowed[0].headers["ratelimit-policy"] == '"default";q=3;w=300'
    assert refused.status_code == 429
    assert refused.json()["status"] == 429
    assert 90 <= int(refused.headers["retry-after"]) <= 100  # one token at 0.01/s
    assert remaining(refused) == 0


def test_tokens_come_back_with_time(serve: ServeFactory) -> None:
    # One token every 4 s: the second request comes well within that, and
    # the token is back well within the wait.
    server = serve(routes, rate_limit=0.25, rate_limit_burst=1)
    with httpx.Client() as client:
        assert client.get(server.url + "/").status_code == 200
        refused = client.get(server.url + "/")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] in ("3", "4")  # rounded up
        wait_for(lambda: client.get(server.url + "/").status_code == 200, what="a token")


def test_each_client_has_its_own_bucket_after_proxy_resolution(serve: ServeFactory) -> None:
    server = serve(routes, rate_limit=0.01, rate_limit_burst=1)
    for client in ("203.0.113.1", "203.0.113.2"):
        headers = {"x-forwarded-for": client}  # 127.0.0.1, the peer, is a trusted proxy
        assert httpx.get(server.url + "/", headers=headers).status_code == 200
        assert httpx.get(server.url + "/", headers=headers).status_code == 429


def test_clients_keyed_by_a_header(serve: ServeFactory) -> None:
    server = serve(routes, rate_limit=0.01, rate_limit_burst=1, rate_limit_key_header="X-API-Key")
    for key in ("alpha", "beta"):
        assert httpx.get(server.url + "/", headers={"x-api-key": key}).status_code == 200
        assert httpx.get(server.url + "/", headers={"x-api-key": key}).status_code == 429
    # Without the header, the address is the key.
    assert httpx.get(server.url + "/").status_code == 200


def test_one_limit_for_concurrent_requests(serve: ServeFactory) -> None:
    burst = 20
    server = serve(routes, rate_limit=0.001, rate_limit_burst=burst)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: httpx.get(server.url + "/").status_code, range(60)))
    assert statuses.count(200) == burst
    assert statuses.count(429) == 60 - burst


def test_memory_stays_bounded(serve: ServeFactory) -> None:
    server = serve(routes, rate_limit=0.01, rate_limit_burst=1, rate_limit_max_keys=2)
    with httpx.Client() as client:
        for client_address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
            client.get(server.url + "/", headers={"x-forwarded-for": client_address})
        # 10.0.0.1 was forgotten to make room for 10.0.0.3: a fresh bucket again.
        again = client.get(server.url + "/", headers={"x-forwarded-for": "10.0.0.1"})
    assert again.status_code == 200


# ---------------------------------------------------------------- Redis


def test_redis_bucket_arithmetic(redis_url: str) -> None:
    store = RedisStore(redis_url, rate=0.001, burst=3)
    try:
        decisions = [store.take_now("a") for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert 999 <= decisions[-1].retry_after <= 1000
        assert store.take_now("b").allowed  # another key, another bucket
    finally:
        store.close()


def test_redis_bucket_refills(redis_url: str) -> None:
    store = RedisStore(redis_url, rate=0.5, burst=1)
    try:
        assert store.take_now("k").allowed
        refused = store.take_now("k")
        assert not refused.allowed
        assert 0 < refused.retry_after <= 2
        wait_for(lambda: store.take_now("k").allowed, what="a refilled token in Redis")
    finally:
        store.close()


def test_one_limit_across_processes_through_redis(pounce: PounceFactory, redis_url: str) -> None:
    options = ["--rate-limit", "0.01", "--rate-limit-burst", "4", "--rate-limit-store", redis_url]
    first = pounce("support.extras_apps:app", *options)
    second = pounce("support.extras_apps:app", *options)
    statuses = []
    with httpx.Client() as client:
        for n in range(8):
            server = first if n % 2 == 0 else second
            statuses.append(client.get(server.url + "/").status_code)
    # Four tokens in all, whichever process answered.
    assert statuses == [200, 200, 200, 200, 429, 429, 429, 429]


def test_unreachable_redis_lets_requests_through_and_warns(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pounce")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    server = serve(routes, rate_limit=0.01, rate_limit_burst=1, rate_limit_store=url)
    statuses = [httpx.get(server.url + "/", timeout=WAIT).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    warnings = log_records(caplog, "pounce.error", level=logging.WARNING)
    assert any("unreachable" in r.getMessage() for r in warnings)


def test_redis_password_is_kept_out_of_logs() -> None:
    assert redact("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert redact("redis://user:s3cret@db/1") == "redis://user:***@db/1"
    assert redact("redis://db:6379/0") == "redis://db:6379/0"
