"""The lifespan protocol: startup before serving, shutdown after, state shared."""

from __future__ import annotations

import logging

import httpx
import pytest

from pounce import Receive, Scope, Send
from pounce.testing import live_server
from support.apps import respond
from support.servers import run_pounce
from support.waiting import log_records


def test_startup_runs_before_serving_and_shutdown_after(caplog):
    caplog.set_level(logging.INFO, logger="pounce")
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = {"connected": True}
                    scope["state"]["counter"] = 41
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        events.append("request")
        state = scope["state"]
        state["counter"] += 1  # a per-request copy: never seen by the next request
        await respond(send, f"{state['db']['connected']} {state['counter']}")

    with live_server(app) as server:
        assert events == ["lifespan.startup"]
        for _ in range(2):
            assert httpx.get(server.url, timeout=30).text == "True 42"
    assert events == ["lifespan.startup", "request", "request", "lifespan.shutdown"]
    assert any(
        r.getMessage() == "Application shutdown complete."
        for r in log_records(caplog, "pounce.error")
    )


def test_lifespan_off_never_calls_the_app_with_lifespan(serve):
    scopes: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope["type"])
        if scope["type"] == "http":
            assert scope["state"] == {}
            await respond(send, "ok")

    server = serve(app, lifespan="off")
    assert httpx.get(server.url, timeout=30).text == "ok"
    assert scopes == ["http"]


def test_app_without_lifespan_support_is_served_in_auto_mode(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http", "lifespan not supported here"
        await respond(send, "no lifespan")

    server = serve(app)
    assert httpx.get(server.url, timeout=30).text == "no lifespan"
    messages = [r.getMessage() for r in log_records(caplog, "pounce.error")]
    assert any("lifespan' protocol appears unsupported" in m for m in messages)
    assert not log_records(caplog, "pounce", level=logging.ERROR)


def test_startup_failure_stops_the_in_process_server(caplog):
    caplog.set_level(logging.INFO, logger="pounce")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(RuntimeError, match="exit status 3"), live_server(app):
        pass
    messages = [r.getMessage() for r in log_records(caplog, "pounce.error", level=logging.ERROR)]
    assert "Application startup failed: no database" in messages


@pytest.mark.parametrize(
    ("app", "options", "message"),
    [
        ("support.apps:lifespan_failing", [], "Application startup failed: database unreachable"),
        (
            "support.apps:lifespan_raising",
            ["--lifespan", "on"],
            "Application startup failed: RuntimeError: startup exploded",
        ),
    ],
)
def test_startup_failure_exits_with_status_3(app, options, message):
    code, _, err = run_pounce(app, "--port", "0", *options)
    assert code == 3
    assert message in err
    assert "serving on" not in err


def test_exception_in_startup_is_tolerated_in_auto_mode(pounce):
    server = pounce("support.apps:lifespan_raising")
    assert httpx.get(server.url, timeout=30).text == "served without lifespan"
    assert "appears unsupported (RuntimeError: startup exploded)" in server.output
