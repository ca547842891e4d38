"""The ASGI lifespan protocol: run the app's startup and shutdown.

The app's lifespan coroutine runs as one task for the whole life of the server.
``startup()`` returns once the app reports ``lifespan.startup.complete`` and
raises :class:`LifespanFailure` when it reports failure (or, in ``on`` mode,
when it does not speak the protocol at all). The namespace the app fills in
``scope["state"]`` is copied into every request scope.

The log says what Uvicorn's says, at the same points (scripts and test
harnesses wait for these lines): "Waiting for application startup." and
"Application startup complete." (also when ``auto`` finds the app does not
speak lifespan), "Application shutdown complete.". A failure is reported
once: when the app reports it (``lifespan.startup.failed``, whose message
frameworks fill with the traceback) and then raises, the exception is the
same failure and is not logged again unless the app's report was empty.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pounce._runtime.asgi_types import ASGIApp, Message
from pounce._runtime.logs import ERROR_LOGGER

__all__ = ["Lifespan", "LifespanFailure"]

_logger = logging.getLogger(ERROR_LOGGER)


class LifespanFailure(Exception):
    """The application's lifespan startup failed; the message says why."""


class Lifespan:
    """Drives one application's lifespan protocol on the current event loop."""

    def __init__(self, app: ASGIApp, mode: str) -> None:
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"unknown lifespan mode {mode!r}")
        self._app = app
        self._mode = mode
        self.state: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Message] | None = None
        self._startup_result: asyncio.Future[str | None] | None = None
        self._shutdown_result: asyncio.Future[str | None] | None = None
        self._supported = mode != "off"
        self._aborted = False
        # The app reported a failure with a message of its own (see _on_app_exit).
        self._failure_reported = False

    @property
    def supported(self) -> bool:
        """False when the app does not use lifespan (or it is turned off)."""
        return self._supported

    async def startup(self) -> None:
        if self._mode == "off":
            return
        _logger.info("Waiting for application startup.")
        loop = asyncio.get_running_loop()
        self._inbox = asyncio.Queue()
        self._startup_result = loop.create_future()
        self._shutdown_result = loop.create_future()
        self._inbox.put_nowait({"type": "lifespan.startup"})
        self._task = loop.create_task(self._main(), name="pounce-lifespan")
        try:
            failure = await self._startup_result
        except asyncio.CancelledError:
            await self._abort()  # a forced stop while the app was starting
            raise
        if failure is not None:
            raise LifespanFailure(failure)
        _logger.info("Application startup complete.")

    async def shutdown(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if self._task is None or not self._supported or self._inbox is None:
            return
        assert self._shutdown_result is not None
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        try:
            failure = await asyncio.wait_for(asyncio.shield(self._shutdown_result), timeout)
        except TimeoutError:
            _logger.error("Lifespan shutdown did not complete in %ss; cancelling it.", timeout)
            await self._abort()
            return
        except asyncio.CancelledError:
            await self._abort()
            raise
        if failure is not None:
            _logger.error("Application shutdown failed: %s", failure)
        else:
            _logger.info("Application shutdown complete.")
        await asyncio.gather(self._task, return_exceptions=True)

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self._app(scope, self._receive, self._send)
        except BaseException as exc:
            if self._aborted:
                raise  # we cancelled it; nobody is waiting for the outcome
            self._on_app_exit(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self._on_app_exit(None)

    async def _abort(self) -> None:
        """End the app's lifespan coroutine wherever it is (a timeout or forced stop)."""
        task = self._task
        if task is not None and not task.done():
            self._aborted = True
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _on_app_exit(self, exc: BaseException | None) -> None:
        startup = self._startup_result
        shutdown = self._shutdown_result
        assert startup is not None
        assert shutdown is not None
        if not startup.done():
            # The app left before finishing startup: it does not speak lifespan.
            if self._mode == "auto":
                self._supported = False
                if exc is not None:
                    _logger.info(
                        "ASGI 'lifespan' protocol appears unsupported (%s: %s).",
                        type(exc).__name__,
                        exc,
                    )
                startup.set_result(None)
            elif exc is not None:
                _logger.error("Exception in 'lifespan' protocol", exc_info=exc)
                startup.set_result(f"{type(exc).__name__}: {exc}")
            else:
                startup.set_result("the application returned before completing startup")
        elif not shutdown.done():
            if exc is not None and self._failure_reported:
                # The app said why it failed (Starlette sends the traceback)
                # and then raised that failure: reported once is enough.
                shutdown.set_result(f"{type(exc).__name__}: {exc}")
            elif exc is not None:
                _logger.error("Exception in 'lifespan' protocol", exc_info=exc)
                shutdown.set_result(f"{type(exc).__name__}: {exc}")
            elif self._inbox is not None and self._inbox.empty():
                # Returned after shutdown was requested without saying so:
                # tolerated, as the shutdown did happen.
                shutdown.set_result(None)
            else:
                shutdown.set_result("the application returned before shutdown")

    async def _receive(self) -> Message:
        assert self._inbox is not None
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        startup = self._startup_result
        shutdown = self._shutdown_result
        assert startup is not None
        assert shutdown is not None
        kind = message.get("type")
        if kind == "lifespan.startup.complete" and not startup.done():
            startup.set_result(None)
        elif kind == "lifespan.startup.failed" and not startup.done():
            reason = str(message.get("message", ""))
            self._failure_reported = bool(reason.strip())
            startup.set_result(reason or "startup failed")
        elif kind == "lifespan.shutdown.complete" and startup.done() and not shutdown.done():
            shutdown.set_result(None)
        elif kind == "lifespan.shutdown.failed" and startup.done() and not shutdown.done():
            reason = str(message.get("message", ""))
            self._failure_reported = bool(reason.strip())
            shutdown.set_result(reason or "shutdown failed")
        else:
            raise RuntimeError(f"Unexpected ASGI lifespan message {kind!r}")
