"""``--worker-mode interpreter``: one subinterpreter per worker (CPython 3.14+)."""

from __future__ import annotations

import contextlib
import signal
import sys

import httpx
import pytest

from pounce import ServerConfig
from pounce.testing import live_server
from support.apps import app as app_object
from support.servers import run_pounce

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 14), reason="subinterpreter workers need CPython 3.14+"
)

APP = "support.interpreter_apps:app"


def _who(url: str) -> tuple[int, int]:
    # A new connection per request: SO_REUSEPORT spreads connections, not requests.
    with httpx.Client(timeout=30) as client:
        data = client.get(url).json()
    return data["interpreter"], data["pid"]


def _interpreters_seen(url: str, want: int, attempts: int = 300) -> set[int]:
    seen: set[int] = set()
    for _ in range(attempts):
        seen.add(_who(url)[0])
        if len(seen) >= want:
            break
    return seen


def test_each_worker_is_its_own_interpreter_in_one_process(pounce):
    server = pounce(APP, "--workers", "2", "--worker-mode", "interpreter")
    assert "2 workers (interpreter, asyncio)" in server.output
    seen = _interpreters_seen(server.url, 2)
    assert len(seen) == 2
    assert 0 not in seen  # never the main interpreter
    assert _who(server.url)[1] == server.proc.pid
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_reload_starts_new_interpreters(pounce):
    server = pounce(APP, "--workers", "2", "--worker-mode", "interpreter")
    before = _interpreters_seen(server.url, 2)
    server.send_signal(signal.SIGHUP)
    server.wait_for_output("Reload complete", timeout=60)
    server.wait_for_output(r"Stopped worker 2 \(interpreter", timeout=60)
    after = _interpreters_seen(server.url, 2)
    assert after.isdisjoint(before)
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_a_crashed_interpreter_worker_is_replaced(pounce):
    server = pounce(APP, "--worker-mode", "interpreter")
    first = _who(server.url)[0]
    # A 500 goes out before the error leaves the loop, or the connection dies.
    with contextlib.suppress(httpx.TransportError):
        assert httpx.get(server.url + "/exit", timeout=30).status_code == 500
    server.wait_for_output("restarting it in", timeout=60)
    server.wait_for_output(r"Started worker 2 \(interpreter", timeout=60)
    assert _who(server.url)[0] != first
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_an_extension_without_subinterpreter_support_fails_clearly():
    code, _, err = run_pounce(
        "support.single_phase_app:app", "--worker-mode", "interpreter", "--port", "0"
    )
    assert code == 1
    assert "does not support loading in subinterpreters" in err
    assert "use --worker-mode process or thread" in err


def test_an_app_object_cannot_be_served_by_interpreters():
    with pytest.raises(RuntimeError, match="did not start"):  # noqa: SIM117
        with live_server(app_object, worker_mode="interpreter"):
            pass


def test_uvloop_is_refused():
    with pytest.raises(ValueError, match="uvloop does not support subinterpreters"):
        ServerConfig(worker_mode="interpreter", loop="uvloop")
