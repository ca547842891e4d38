"""Event loop selection."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from pounce._workers.event_loop import loop_factory, resolve_loop

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
GIL = getattr(sys, "_is_gil_enabled", lambda: True)()


def test_asyncio_is_always_available() -> None:
    assert resolve_loop("asyncio") == "asyncio"
    loop = loop_factory("asyncio")()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()


def test_auto_picks_uvloop_only_when_installed_and_the_gil_is_on() -> None:
    expected = "uvloop" if HAS_UVLOOP and GIL else "asyncio"
    assert resolve_loop("auto") == expected


@pytest.mark.skipif(HAS_UVLOOP, reason="checks the message when uvloop is absent")
def test_asking_for_missing_uvloop_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs uvloop installed"):
        resolve_loop("uvloop")


def test_unknown_loop_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown event loop"):
        resolve_loop("trio")
