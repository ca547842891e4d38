"""Lifecycle hooks receive the server's events from a real server."""

from __future__ import annotations

import signal
import threading

import httpx

from conftest import PounceFactory
from pounce import Server, ServerConfig
from pounce._runtime.lifecycle import (
    LifecycleEvent,
    RequestCompleted,
    ServerStarted,
    ServerStopped,
    WorkerStarted,
    WorkerStopped,
)
from support.apps import app as hello


def test_hooks_see_start_each_request_and_stop() -> None:
    events: list[LifecycleEvent] = []
    lock = threading.Lock()

    def record(event: LifecycleEvent) -> None:
        with lock:
            events.append(event)

    server = Server(ServerConfig(port=0), hello, lifecycle_hooks=[record])
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert server.started.wait(30)
        port = server.sockets[0].getsockname()[1]
        with httpx.Client() as client:
            for _ in range(3):
                assert client.get(f"http://127.0.0.1:{port}/x?q=1").status_code == 404
    finally:
        server.shutdown()
        thread.join(60)
    kinds = [type(event) for event in events]
    # The worker starts (and stops) inside the server's life.
    assert kinds[:2] == [WorkerStarted, ServerStarted]
    assert kinds[-2:] == [WorkerStopped, ServerStopped]
    completed = [event for event in events if isinstance(event, RequestCompleted)]
    assert len(completed) == 3
    assert all(event.status == 404 and event.path == "/x" for event in completed)
    assert all(event.duration >= 0 and event.bytes_sent > 0 for event in completed)


def test_hook_given_on_the_command_line(pounce: PounceFactory) -> None:
    process = pounce("support.apps:app", "--lifecycle-hook", "support.apps:print_lifecycle_event")
    process.wait_for_output("LIFECYCLE ServerStarted")
    assert httpx.get(process.url + "/").status_code == 200
    process.wait_for_output("LIFECYCLE RequestCompleted")
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    process.wait_for_output("LIFECYCLE ServerStopped")
