"""The start-up decision on --http3, with the interpreter's facts injected."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from pounce._edges.http3.support import check_http3_support, http3_refusal


def test_free_threaded_build_is_refused_before_aioquic_is_considered() -> None:
    for installed in (True, False):
        reason = http3_refusal(gil_enabled=False, aioquic_installed=installed)
        assert reason is not None
        assert "free-threaded" in reason
        assert "re-enable the GIL" in reason


def test_missing_aioquic_is_refused() -> None:
    reason = http3_refusal(gil_enabled=True, aioquic_installed=False)
    assert reason is not None
    assert "pounce-core[http3]" in reason


def test_gil_build_with_aioquic_is_fine() -> None:
    assert http3_refusal(gil_enabled=True, aioquic_installed=True) is None


def test_check_raises_only_when_http3_is_asked_for() -> None:
    check_http3_support(False, gil=False, aioquic_installed=False)
    check_http3_support(True, gil=True, aioquic_installed=True)
    with pytest.raises(ValueError, match="free-threaded"):
        check_http3_support(True, gil=False, aioquic_installed=True)
    with pytest.raises(ValueError, match="needs aioquic"):
        check_http3_support(True, gil=True, aioquic_installed=False)


def test_refusal_does_not_import_aioquic(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check runs before anything could load aioquic's abi3 extension.
    for name in [m for m in sys.modules if m == "aioquic" or m.startswith("aioquic.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ValueError, match="free-threaded"):
        check_http3_support(True, gil=False)
    assert "aioquic" not in sys.modules


def test_this_interpreter_gets_the_answer_its_facts_give() -> None:
    # The test environment has aioquic on every GIL build and none on 3.14t.
    free_threaded = not getattr(sys, "_is_gil_enabled", lambda: True)()
    if free_threaded:
        assert importlib.util.find_spec("aioquic") is None
        with pytest.raises(ValueError, match="free-threaded"):
            check_http3_support(True)
    else:
        check_http3_support(True)
