"""Lifecycle events: hook loading and delivery."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest

from pounce._runtime.lifecycle import LifecycleEmitter, LifecycleEvent, ServerStopped, load_hooks


def test_emitter_without_hooks_is_inactive() -> None:
    assert not LifecycleEmitter().active
    assert LifecycleEmitter([print]).active


def test_every_hook_receives_every_event() -> None:
    first: list[LifecycleEvent] = []
    second: list[LifecycleEvent] = []
    emitter = LifecycleEmitter([first.append, second.append])
    event = ServerStopped(exit_code=0)
    emitter.emit(event)
    assert first == [event]
    assert second == [event]


def test_a_failing_hook_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[LifecycleEvent] = []

    def broken(event: LifecycleEvent) -> None:
        raise RuntimeError("hook bug")

    emitter = LifecycleEmitter([broken, received.append])
    with caplog.at_level(logging.ERROR, logger="pounce.error"):
        emitter.emit(ServerStopped(exit_code=0))
    assert len(received) == 1
    assert "hook bug" in caplog.text


def test_events_are_frozen_and_timestamped() -> None:
    event = ServerStopped(exit_code=3)
    assert event.timestamp > 0
    with pytest.raises(AttributeError):
        event.exit_code = 0  # type: ignore[misc]


def test_load_hooks_imports_callables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_hooks.py").write_text(
        textwrap.dedent(
            """
            seen = []
            def record(event):
                seen.append(event)
            class Box:
                method = staticmethod(record)
            not_callable = 5
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_hooks", raising=False)
    hooks = load_hooks(["my_hooks:record", "my_hooks:Box.method"])
    assert len(hooks) == 2
    for bad, reason in [
        ("my_hooks", "module:callable"),
        ("my_hooks:missing", "cannot load"),
        ("no_such_module_xyz:f", "cannot load"),
        ("my_hooks:not_callable", "not callable"),
    ]:
        with pytest.raises(ValueError, match=reason):
            load_hooks([bad])
