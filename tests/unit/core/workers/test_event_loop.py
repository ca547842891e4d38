"""Event loop selection: asyncio, or uvloop where loading it keeps the GIL as it is."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from pounce._workers import event_loop
from pounce._workers.event_loop import loop_factory, resolve_loop, uvloop_refusal

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
GIL = getattr(sys, "_is_gil_enabled", lambda: True)()


def test_asyncio_is_always_available() -> None:
    assert resolve_loop("asyncio") == "asyncio"
    loop = loop_factory("asyncio")()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed for this interpreter")
def test_auto_picks_the_installed_uvloop_here() -> None:
    # The test environment installs uvloop>=0.23 on every interpreter, GIL or not.
    assert resolve_loop("auto") == "uvloop"
    assert resolve_loop("uvloop") == "uvloop"


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed for this interpreter")
def test_running_on_uvloop_leaves_the_gil_as_it_was() -> None:
    # A fresh interpreter: this one has imported uvloop (or not) already.
    code = (
        "import sys; from pounce._workers.event_loop import loop_factory; "
        "before = getattr(sys, '_is_gil_enabled', lambda: True)(); "
        "loop = loop_factory('auto')(); "
        "print(type(loop).__module__, before, getattr(sys, '_is_gil_enabled', lambda: True)())"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0].startswith("uvloop")
    assert out[1] == out[2] == str(GIL)


def test_auto_falls_back_to_asyncio_when_uvloop_would_switch_the_gil_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_loop, "gil_enabled", lambda: False)
    monkeypatch.setattr(event_loop, "_installed_uvloop", lambda: ("0.22.1", True))
    assert resolve_loop("auto") == "asyncio"
    with pytest.raises(ValueError, match=r"uvloop 0\.22\.1 does not support free-threaded"):
        resolve_loop("uvloop")


def test_auto_takes_uvloop_on_free_threaded_python_when_it_supports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_loop, "gil_enabled", lambda: False)
    monkeypatch.setattr(event_loop, "_installed_uvloop", lambda: ("0.23.0", True))
    assert resolve_loop("auto") == "uvloop"
    assert resolve_loop("uvloop") == "uvloop"


@pytest.mark.parametrize(
    ("gil", "version", "built", "refused"),
    [
        (True, None, False, "needs uvloop installed"),
        (False, None, False, "needs uvloop installed"),
        (True, "0.19.0", False, None),  # a GIL build takes any uvloop
        (True, "0.23.0", True, None),
        (False, "0.21.0", True, "does not support free-threaded"),
        (False, "0.22.99", True, "does not support free-threaded"),
        (False, "unknown", True, "does not support free-threaded"),
        (False, "0.23.0", False, "was not built for this free-threaded interpreter"),
        (False, "0.23.0", True, None),
        (False, "0.23.1rc1", True, None),
        (False, "1.0", True, None),
    ],
)
def test_uvloop_refusal(gil: bool, version: str | None, built: bool, refused: str | None) -> None:
    reason = uvloop_refusal(gil_enabled=gil, version=version, built_for_this_abi=built)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None
        assert refused in reason


def test_installed_uvloop_is_read_without_importing_it(tmp_path: Path) -> None:
    # A fake uvloop whose import would fail loudly: only its files are looked at.
    package = tmp_path / "uvloop"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (package / f"loop{sysconfig.get_config_var('EXT_SUFFIX')}").write_bytes(b"")
    dist = tmp_path / "uvloop-0.23.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: uvloop\nVersion: 0.23.0\n")
    code = (
        "import sys; from pounce._workers.event_loop import _installed_uvloop; "
        "print(_installed_uvloop(), 'uvloop' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(tmp_path)},
    ).stdout.strip()
    assert out == "('0.23.0', True) False"


@pytest.mark.skipif(HAS_UVLOOP, reason="checks the message when uvloop is absent")
def test_asking_for_missing_uvloop_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs uvloop installed"):
        resolve_loop("uvloop")


def test_unknown_loop_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown event loop"):
        resolve_loop("trio")
