"""Drain that long-lived responses follow: SSE ends within seconds of SIGTERM or SIGHUP.

A server-sent-event stream never ends by itself; before, it held a draining
worker for the whole grace period (30 s) and was then cancelled mid-stream.
Now, when a worker drains, a response of a ``--drain-content-type``
(``text/event-stream``) is asked to end: its app hears ``http.disconnect``
(frameworks listen for it) and the response is ended cleanly, so the client
reconnects, to the new generation on a reload. An app that does not listen
is ended by the server two seconds later. An ordinary download still gets the
whole grace, and an app can watch the ``pounce.drain`` extension itself.

Shutdown times are measured from the signal to the process's exit.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

import httpx
import pytest

from conftest import PounceFactory
from support.sse_client import SSEClients
from support.waiting import WAIT, wait_for

APP = "support.drain_apps:app"
FASTAPI = "support.drain_apps:fastapi_app"

pytestmark = pytest.mark.slow


def _stop_and_time(server: Any, signum: int = signal.SIGTERM) -> float:
    began = time.monotonic()
    server.send_signal(signum)
    assert server.wait(60) == 0
    return time.monotonic() - began


@pytest.mark.parametrize(
    ("app", "path"),
    [(APP, "/sse"), (APP, "/deaf-sse"), (FASTAPI, "/stream"), (FASTAPI, "/sse")],
    ids=["asgi", "asgi-not-listening", "fastapi-streaming-response", "sse-starlette"],
)
def test_event_streams_end_soon_after_sigterm(pounce: PounceFactory, app: str, path: str) -> None:
    server = pounce(app, "--no-access-log")
    with SSEClients(server.url + path, 3, reconnect=False) as clients:
        clients.wait_for_events(15)
        took = _stop_and_time(server)
        wait_for(lambda: clients.clean_ends == 3, what="every stream to end")
    assert clients.errors == []
    # The grace period is 30 s; an app that does not listen gets 2 of them.
    assert took < 5, f"shutdown took {took:.1f} s"
    assert "still busy after the shutdown grace period" not in server.output
    sys.stderr.write(f"SSE shutdown ({app} {path}): {took:.2f} s after SIGTERM\n")


def test_event_streams_over_http2_end_soon_after_sigterm(pounce: PounceFactory) -> None:
    server = pounce(FASTAPI, "--no-access-log")
    with SSEClients(server.url + "/sse", 3, http2=True, reconnect=False) as clients:
        clients.wait_for_events(15)
        took = _stop_and_time(server)
        wait_for(lambda: clients.clean_ends == 3, what="every stream to end")
    assert clients.errors == []
    assert took < 5, f"shutdown took {took:.1f} s"


def test_an_ordinary_download_still_gets_the_whole_grace(pounce: PounceFactory) -> None:
    server = pounce(APP, "--no-access-log")
    result: dict[str, Any] = {}

    def download() -> None:
        result["body"] = httpx.get(server.url + "/download", timeout=WAIT).content

    client = threading.Thread(target=download)
    client.start()
    time.sleep(0.5)
    took = _stop_and_time(server)
    client.join(WAIT)
    assert len(result["body"]) == 300_000  # whole, though the drain began mid-way
    assert took > 2  # it waited for the download (about 3 s in all)


def test_a_long_poll_can_watch_the_drain_itself(pounce: PounceFactory) -> None:
    server = pounce(APP, "--no-access-log")
    result: dict[str, Any] = {}

    def poll() -> None:
        result["body"] = httpx.get(server.url + "/long-poll", timeout=WAIT).text

    client = threading.Thread(target=poll)
    client.start()
    wait_for(lambda: "GET /long-poll" not in server.output, what="the server to start")
    time.sleep(0.5)
    took = _stop_and_time(server)
    client.join(WAIT)
    assert result["body"] == "drained"
    assert took < 3


@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("path", ["/stream", "/sse"])
def test_streams_follow_a_reload_to_the_new_generation(
    pounce: PounceFactory, mode: str, path: str
) -> None:
    server = pounce(FASTAPI, "--workers", "2", "--worker-mode", mode, "--no-access-log")
    with SSEClients(server.url + path, 4) as clients:
        clients.wait_for_events(20)
        began = time.monotonic()
        server.send_signal(signal.SIGHUP)
        server.wait_for_output(r"Reload complete: generation 1 serving", timeout=60)
        # Each client's stream was ended and it reconnected, to the new generation.
        wait_for(
            lambda: all(len(seen) >= 2 for seen in clients.generations),
            what="every client to reach the new generation",
        )
        server.wait_for_output(r"Stopped worker 2 ", timeout=60)
        drained = time.monotonic() - began
        clients.wait_for_events(20)
    assert clients.errors == []
    # The old generation drained in seconds, not the 30 s of the grace period.
    assert drained < 10, f"the old generation took {drained:.1f} s to drain"
    took = _stop_and_time(server)
    assert took < 5
    sys.stderr.write(
        f"SSE reload ({mode} {path}): old generation gone {drained:.2f} s after SIGHUP, "
        f"{clients.events} events, shutdown {took:.2f} s\n"
    )
