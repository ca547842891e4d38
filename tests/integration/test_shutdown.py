"""Shutdown: in-flight requests finish, idle connections close, a second
signal forces the issue, and lifespan shutdown runs last."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time

import httpx
import pytest

from pounce import Receive, Scope, Send
from support.apps import respond
from support.raw import RawConnection
from support.waiting import WAIT, await_thread_event


def refused_soon(port: int, within: float = 5.0) -> bool:
    """Whether connecting to ``port`` is refused within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except ConnectionRefusedError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


APP = "support.apps:app"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_lets_the_in_flight_request_finish(pounce, tmp_path, signum):
    server = pounce(APP)
    flag = tmp_path / "release"
    with (
        RawConnection("127.0.0.1", server.port) as busy,
        RawConnection("127.0.0.1", server.port) as idle,
    ):
        idle.send_request("GET", "/")
        assert idle.read_response().status == 200
        busy.send_request("GET", f"/wait?file={flag}")
        server.wait_for_output("app: waiting for release")

        server.send_signal(signum)
        server.wait_for_output(f"Received {signal.Signals(signum).name}: shutting down gracefully")
        idle.assert_closed()  # idle keep-alive connections are closed at once
        # ... and no new ones are accepted, once the worker has taken what was
        # already queued on its listener (see Worker._take_queued).
        assert refused_soon(server.port)
        assert server.proc.poll() is None, "exited with a request in flight"

        flag.touch()  # the app may finish now
        response = busy.read_response()
        assert response.status == 200
        assert response.body == b"waited"
        assert response.header("connection") == "close"
        busy.assert_closed()
    assert server.wait() == 0
    output = server.output
    assert "Waiting for 1 connection(s) to finish their requests." in output
    assert output.index("app: lifespan shutdown") > output.index("Received")
    assert "Finished server process" in output
    assert "ERROR" not in output


def test_second_sigint_forces_shutdown(pounce, tmp_path):
    server = pounce(APP, "--timeout-graceful-shutdown", "600")
    with RawConnection("127.0.0.1", server.port) as stuck:
        stuck.send_request("GET", f"/wait?file={tmp_path / 'never'}")
        server.wait_for_output("app: waiting for never")
        server.send_signal(signal.SIGINT)
        server.wait_for_output("shutting down gracefully")
        server.signal_again(signal.SIGINT)
        server.wait_for_output("Received SIGINT again: shutting down now")
        code = server.wait()  # well before the 600 s grace period
        assert stuck.read_until_close() == b""  # dropped without a response
    assert code == 0
    assert "app: lifespan shutdown" in server.output


def test_grace_period_cancels_what_is_left(pounce, tmp_path):
    server = pounce(APP, "--timeout-graceful-shutdown", "0.5")
    with RawConnection("127.0.0.1", server.port) as stuck:
        stuck.send_request("GET", f"/wait?file={tmp_path / 'never'}")
        server.wait_for_output("app: waiting for never")
        server.send_signal(signal.SIGTERM)
        assert stuck.read_until_close() == b""
    assert server.wait() == 0
    assert "still busy after the shutdown grace period" in server.output


def test_in_process_stop_waits_for_a_streaming_response(serve):
    release = threading.Event()
    started = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/quick":
            await respond(send, "quick")
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part1,", "more_body": True})
        started.set()
        await await_thread_event(release)
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"part2"})

    server = serve(app)
    with httpx.Client(base_url=server.url, timeout=WAIT) as client:
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(client.get("/slow").content))
        reader.start()
        assert started.wait(WAIT)
        server.stop()
        release.set()
        reader.join(WAIT)
    assert result == [b"part1,part2"]


def test_second_signal_stops_a_startup_that_never_completes(pounce):
    server = pounce("support.apps:lifespan_hanging_startup", ready=False)
    server.wait_for_output("app: startup hangs")
    server.send_signal(signal.SIGINT)
    server.wait_for_output("shutting down gracefully")
    assert server.proc.poll() is None  # a graceful stop waits for startup...
    server.signal_again(signal.SIGINT)
    assert server.wait() == 0  # ...a forced one does not
    assert "Application startup cancelled." in server.output
    assert "serving on" not in server.output
    assert "Traceback" not in server.output


def test_second_signal_stops_a_lifespan_shutdown_that_hangs(pounce):
    server = pounce("support.apps:lifespan_hanging_shutdown", "--timeout-graceful-shutdown", "600")
    server.send_signal(signal.SIGTERM)
    server.wait_for_output("app: shutdown hangs")
    server.signal_again(signal.SIGTERM)
    assert server.wait() == 0
    assert "Application shutdown cancelled." in server.output
    assert "Traceback" not in server.output


def test_lifespan_shutdown_that_hangs_is_cut_at_the_grace_period(pounce):
    server = pounce("support.apps:lifespan_hanging_shutdown", "--timeout-graceful-shutdown", "0.5")
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    assert "Lifespan shutdown did not complete in 0.5s; cancelling it." in server.output
    assert "Traceback" not in server.output
