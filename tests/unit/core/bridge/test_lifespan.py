"""The ASGI lifespan protocol, driven by small fake apps on a private event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from pounce import Receive, Scope, Send
from pounce._bridge.lifespan import Lifespan, LifespanFailure


class SpeakingApp:
    """A lifespan-aware app; records what it received and can be told to fail."""

    def __init__(self, *, startup: str = "complete", shutdown: str = "complete") -> None:
        self.startup = startup
        self.shutdown = shutdown
        self.received: list[str] = []
        self.scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        self.scope = scope
        message = await receive()
        self.received.append(message["type"])
        scope["state"]["db"] = "connected"
        if self.startup == "failed":
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        self.received.append(message["type"])
        if self.shutdown == "hang":
            await asyncio.Event().wait()
        await send({"type": f"lifespan.shutdown.{self.shutdown}", "message": "flush failed"})


async def http_only_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        raise ValueError("only http")


async def silent_app(scope: Scope, receive: Receive, send: Send) -> None:
    return None


def test_startup_and_shutdown_complete() -> None:
    app = SpeakingApp()

    async def main() -> Lifespan:
        lifespan = Lifespan(app, "on")
        await lifespan.startup()
        assert app.received == ["lifespan.startup"]
        await lifespan.shutdown()
        return lifespan

    lifespan = asyncio.run(main())
    assert app.received == ["lifespan.startup", "lifespan.shutdown"]
    assert lifespan.supported


def test_scope_and_shared_state() -> None:
    app = SpeakingApp()

    async def main() -> Lifespan:
        lifespan = Lifespan(app, "auto")
        await lifespan.startup()
        await lifespan.shutdown()
        return lifespan

    lifespan = asyncio.run(main())
    assert app.scope is not None
    assert app.scope["asgi"] == {"version": "3.0", "spec_version": "2.0"}
    assert lifespan.state == {"db": "connected"}
    assert app.scope["state"] is lifespan.state


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_startup_failed_raises(mode: str) -> None:
    async def main() -> None:
        await Lifespan(SpeakingApp(startup="failed"), mode).startup()

    with pytest.raises(LifespanFailure, match=r"^no database$"):
        asyncio.run(main())


def test_startup_failed_without_message() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed"})

    async def main() -> None:
        await Lifespan(app, "on").startup()

    with pytest.raises(LifespanFailure, match=r"^startup failed$"):
        asyncio.run(main())


@pytest.mark.parametrize("app", [http_only_app, silent_app], ids=["raises", "returns"])
def test_app_without_lifespan_in_auto_mode_is_tolerated(app: Any) -> None:
    async def main() -> Lifespan:
        lifespan = Lifespan(app, "auto")
        await lifespan.startup()
        await lifespan.shutdown()  # nothing to shut down
        return lifespan

    assert not asyncio.run(main()).supported


def test_app_without_lifespan_in_on_mode_fails(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        await Lifespan(http_only_app, "on").startup()

    with (
        caplog.at_level(logging.ERROR, "pounce.error"),
        pytest.raises(LifespanFailure, match=r"^ValueError: only http$"),
    ):
        asyncio.run(main())
    assert "Exception in 'lifespan' protocol" in caplog.text


def test_app_returning_before_startup_in_on_mode_fails() -> None:
    async def main() -> None:
        await Lifespan(silent_app, "on").startup()

    with pytest.raises(LifespanFailure, match="returned before completing startup"):
        asyncio.run(main())


def test_off_mode_never_calls_the_app() -> None:
    app = SpeakingApp()

    async def main() -> Lifespan:
        lifespan = Lifespan(app, "off")
        await lifespan.startup()
        await lifespan.shutdown()
        return lifespan

    lifespan = asyncio.run(main())
    assert app.received == []
    assert not lifespan.supported


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown lifespan mode 'yes'"):
        Lifespan(silent_app, "yes")


def test_shutdown_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    app = SpeakingApp(shutdown="failed")

    async def main() -> None:
        lifespan = Lifespan(app, "on")
        await lifespan.startup()
        await lifespan.shutdown()

    with caplog.at_level(logging.ERROR, "pounce.error"):
        asyncio.run(main())
    assert "Application shutdown failed: flush failed" in caplog.text


def test_shutdown_that_never_completes_is_cancelled_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = SpeakingApp(shutdown="hang")

    async def main() -> bool:
        lifespan = Lifespan(app, "on")
        await lifespan.startup()
        await lifespan.shutdown(timeout=0.01)
        task = lifespan._task
        assert task is not None
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled()

    with caplog.at_level(logging.ERROR, "pounce.error"):
        assert asyncio.run(main())
    assert "did not complete" in caplog.text


def test_app_returning_after_shutdown_request_without_reply_is_tolerated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()  # shutdown: leave without a word

    async def main() -> None:
        lifespan = Lifespan(app, "on")
        await lifespan.startup()
        await lifespan.shutdown()

    with caplog.at_level(logging.INFO, "pounce.error"):
        asyncio.run(main())
    assert "Application shutdown complete." in caplog.text


@pytest.mark.parametrize(
    "message",
    [
        {"type": "lifespan.shutdown.complete"},
        {"type": "http.response.start"},
        {"type": "lifespan.startup.completed"},
    ],
    ids=["shutdown-before-startup", "http-message", "typo"],
)
def test_unexpected_message_raises_in_the_app(message: dict[str, Any]) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await send(message)
        except RuntimeError as exc:
            errors.append(exc)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def main() -> None:
        lifespan = Lifespan(app, "on")
        await lifespan.startup()
        await lifespan.shutdown()

    asyncio.run(main())
    assert [str(e) for e in errors] == [f"Unexpected ASGI lifespan message {message['type']!r}"]


class ReportingThenRaising:
    """Fails startup as Starlette does: reports the failure (``message``), then raises it."""

    def __init__(self, message: str) -> None:
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": self.message})
        raise RuntimeError("db down")


def _startup_failure(app: Any, mode: str) -> str:
    async def main() -> str:
        lifespan = Lifespan(app, mode)
        with pytest.raises(LifespanFailure) as info:
            await lifespan.startup()
        await asyncio.sleep(0)  # the app's task ends (raises) after reporting
        await asyncio.sleep(0)
        return str(info.value)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_a_reported_failure_that_the_app_then_raises_is_logged_once(
    caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    report = 'Traceback (most recent call last):\n  File "app.py", line 6\nRuntimeError: db down'
    with caplog.at_level(logging.INFO, logger="pounce"):
        failure = _startup_failure(ReportingThenRaising(report), mode)
    assert failure == report  # the app's own report is the one told
    assert not [r for r in caplog.records if r.exc_info], "the traceback was logged again"


def test_a_failure_reported_without_words_keeps_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="pounce"):
        _startup_failure(ReportingThenRaising(""), "on")
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1
    assert logged[0].getMessage() == "Exception in 'lifespan' protocol"


@pytest.mark.parametrize(
    ("app", "mode", "lines"),
    [
        (
            SpeakingApp(),
            "on",
            ["Waiting for application startup.", "Application startup complete."],
        ),
        (
            http_only_app,
            "auto",
            [
                "Waiting for application startup.",
                "ASGI 'lifespan' protocol appears unsupported (ValueError: only http).",
                "Application startup complete.",
            ],
        ),
        (SpeakingApp(startup="failed"), "on", ["Waiting for application startup."]),
        (SpeakingApp(), "off", []),
    ],
    ids=["on", "auto-unsupported", "failed", "off"],
)
def test_startup_is_logged_as_uvicorn_logs_it(
    caplog: pytest.LogCaptureFixture, app: Any, mode: str, lines: list[str]
) -> None:
    async def main() -> None:
        lifespan = Lifespan(app, mode)
        try:
            await lifespan.startup()
        except LifespanFailure:
            return
        await lifespan.shutdown()

    with caplog.at_level(logging.INFO, logger="pounce"):
        asyncio.run(main())
    logged = [r.getMessage() for r in caplog.records]
    assert [m for m in logged if "shutdown" not in m] == lines
