"""Waiting for facts another thread or process makes true.

A server thread writes its access log line after the response bytes have left,
and a subprocess logs when it gets to it; asserting right away would race.
These helpers poll with a generous deadline instead of sleeping a guess.
Nothing here measures speed: a deadline only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

__all__ = ["WAIT", "await_thread_event", "log_records", "wait_for"]

T = TypeVar("T")

# Long enough for a loaded 2-core CI machine; only ever reached when a test fails.
WAIT = 30.0


def wait_for(
    predicate: Callable[[], T], *, timeout: float = WAIT, interval: float = 0.01, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate!r}")
        time.sleep(interval)


def log_records(
    caplog: pytest.LogCaptureFixture, logger: str, *, level: int = logging.NOTSET
) -> list[logging.LogRecord]:
    """Records captured from ``logger`` (or its children) at ``level`` or above."""
    return [
        record
        for record in caplog.records
        if (record.name == logger or record.name.startswith(logger + "."))
        and record.levelno >= level
    ]


async def await_thread_event(event: threading.Event, within: float = WAIT) -> None:
    """From an app on the server's loop: wait for the test thread to set ``event``."""
    if not await asyncio.to_thread(event.wait, within):
        raise TimeoutError("the test never released the app")
