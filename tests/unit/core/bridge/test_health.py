"""--health-path: answered by the connection before the app, 200 while
serving (and while handing over to a successor), 503 once shutting down.

A shutting-down worker closes its idle connections and accepts no new ones,
so over HTTP/1.1 the 503 is only seen by a request already arriving when the
drain begins; these tests drive the connection directly to pin it down.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pounce import ServerConfig
from pounce._bridge.context import WorkerContext
from pounce._bridge.health import HealthEndpoint
from pounce._edges.http1.connection import HTTP1Connection
from support.transports import RecordingTransport


async def app_that_must_not_run(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the app saw a health check")


async def _ask(ctx: WorkerContext, target: bytes) -> bytes:
    conn = HTTP1Connection(ctx)
    transport = RecordingTransport()
    conn.connection_made(transport)
    conn.data_received(b"GET " + target + b" HTTP/1.1\r\nhost: x\r\n\r\n")
    for _ in range(10):  # let the (possibly non-eager) request task finish
        await asyncio.sleep(0)
    conn.connection_lost(None)
    return transport.written


def _context(**state: bool) -> WorkerContext:
    ctx = WorkerContext(
        config=ServerConfig(health_path="/healthz"),
        app=app_that_must_not_run,
        loop=asyncio.get_running_loop(),
        lifespan_state={},
    )
    for name, value in state.items():
        setattr(ctx, name, value)
    return ctx


@pytest.mark.parametrize(
    ("state", "status", "body"),
    [
        ({}, b"200 OK", b"ok\n"),
        ({"draining": True, "handoff": True}, b"200 OK", b"ok\n"),
        ({"draining": True}, b"503 Service Unavailable", b"shutting down\n"),
    ],
    ids=["serving", "handing-over", "shutting-down"],
)
def test_the_connection_answers_the_health_path(
    state: dict[str, bool], status: bytes, body: bytes
) -> None:
    async def scenario() -> bytes:
        return await _ask(_context(**state), b"/healthz?from=lb")

    response = asyncio.run(scenario())
    assert response.startswith(b"HTTP/1.1 " + status + b"\r\n")
    assert response.endswith(b"\r\n\r\n" + body)
    assert b"cache-control: no-store" in response
    if state.get("draining"):
        assert b"connection: close" in response


def test_other_paths_go_to_the_app() -> None:
    async def scenario() -> bytes:
        return await _ask(_context(), b"/healthz/deep")

    assert asyncio.run(scenario()).startswith(b"HTTP/1.1 500 ")  # the app ran (and objected)


def test_matches_the_exact_path_only() -> None:
    endpoint = HealthEndpoint("/healthz", lambda: False)
    assert endpoint.matches(b"/healthz")
    assert not endpoint.matches(b"/healthz/")
    assert not endpoint.matches(b"/HEALTHZ")


class _FieldLayer:
    """A layer that only adds a field to the start, and says so: the worker
    runs its hook for HTTP requests (see app_stack.split_hook_layers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        raise AssertionError("the worker calls the hook, not the layer, for HTTP")

    def http_start_hook(self, scope: Any, status: int, fields: list[Any]) -> None:
        fields.append((b"x-layer", b"1"))


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def test_a_health_check_skips_the_hooks_of_the_layers_too() -> None:
    async def scenario(target: bytes) -> bytes:
        ctx = WorkerContext(
            config=ServerConfig(health_path="/healthz"),
            app=_FieldLayer(_hello),
            loop=asyncio.get_running_loop(),
            lifespan_state={},
        )
        return await _ask(ctx, target)

    health = asyncio.run(scenario(b"/healthz"))
    assert health.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"x-layer" not in health
    other = asyncio.run(scenario(b"/other"))
    assert other.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"x-layer: 1\r\n" in other
