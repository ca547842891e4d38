"""N workers serve together: every worker gets connections, each runs its own
lifespan on its own loop, and the health path is answered before the app.

Every test runs in both worker modes; thread mode runs on GIL builds too.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import signal
import threading

import httpx
import pytest

from conftest import PounceFactory, ServeFactory
from pounce import Server, ServerConfig
from support.apps import app as hello
from support.raw import RawConnection, RawResponse
from support.worker_apps import identity

APP = "support.worker_apps:app"
MODES = ["thread", "process"]


def fresh_get(port: int, target: str) -> RawResponse:
    """One request on a new connection: the kernel picks a worker per connection."""
    with RawConnection("127.0.0.1", port) as conn:
        conn.send_request("GET", target, headers=[("connection", "close")])
        return conn.read_response()


def _worker_of(response: RawResponse, mode: str) -> object:
    who = json.loads(response.body)
    return who["thread"] if mode == "thread" else who["pid"]


@pytest.mark.parametrize("mode", MODES)
def test_new_connections_reach_every_worker(pounce: PounceFactory, mode: str) -> None:
    server = pounce(APP, "--workers", "3", "--worker-mode", mode, "--no-access-log")
    seen: collections.Counter[object] = collections.Counter()
    for _ in range(150):
        response = fresh_get(server.port, "/whoami")
        assert response.status == 200
        seen[_worker_of(response, mode)] += 1
    assert len(seen) == 3, f"connections per worker: {dict(seen)}"
    if mode == "process":
        assert server.proc.pid not in seen  # the supervisor serves nothing itself
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


@pytest.mark.parametrize("mode", MODES)
def test_startup_line_names_the_workers_and_their_mode(pounce: PounceFactory, mode: str) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", mode)
    line = server.wait_for_output("serving on").string
    assert f"2 workers ({mode}, " in line
    started = re.findall(r"Started worker (\d+) \((?:pid|thread) ", server.output)
    assert sorted(started) == ["1", "2"]


@pytest.mark.parametrize("mode", MODES)
def test_lifespan_runs_once_per_worker_on_its_own_loop(pounce: PounceFactory, mode: str) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", mode)
    startups = set(re.findall(r"worker-app: startup (\d+) (\S+)", server.output))
    assert len(startups) == 2, server.output
    for _ in range(20):
        state = json.loads(fresh_get(server.port, "/state").body)
        # The state a request sees was made by its own worker's lifespan.
        assert state["same_loop"] is True
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    shutdowns = set(re.findall(r"worker-app: shutdown (\d+) (\S+)", server.output))
    assert shutdowns == startups


@pytest.mark.parametrize("mode", MODES)
def test_health_path_is_answered_by_the_server(pounce: PounceFactory, mode: str) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", mode, "--health-path", "/healthz")
    with httpx.Client() as client:
        response = client.get(server.url + "/healthz?probe=1")
        assert response.status_code == 200
        assert response.text == "ok\n"
        assert response.headers["cache-control"] == "no-store"
        head = client.head(server.url + "/healthz")
        assert head.status_code == 200
        assert head.content == b""
        # The app answers 404 for any other path, so a 200 proves it never ran.
        assert client.get(server.url + "/healthz/").status_code == 404
    # Still access-logged. The worker writes that line after the response has gone, so
    # wait for it rather than read the output at once.
    server.wait_for_output(re.escape('"GET /healthz?probe=1 HTTP/1.1" 200'))


def test_live_server_runs_several_thread_workers(serve: ServeFactory) -> None:
    running = serve(_identity_app, workers=3, worker_mode="thread")
    threads = set()
    for _ in range(150):
        threads.add(json.loads(fresh_get(running.port, "/").body)["thread"])
    assert len(threads) == 3, threads


async def _identity_app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(identity()).encode()})


def test_process_mode_needs_an_import_string(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pounce")
    server = Server(ServerConfig(port=0, workers=2, worker_mode="process"), hello)
    assert server.run() == 1
    assert "worker_mode='process' needs the app as an import string" in caplog.text


def test_auto_mode_uses_threads_for_an_app_object(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pounce")
    server = Server(ServerConfig(port=0, workers=2), hello)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert server.started.wait(30)
        port = server.sockets[0].getsockname()[1]
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        server.shutdown()
        thread.join(60)
    assert "2 workers (thread, " in caplog.text
    assert server.exit_code == 0


def test_a_shutdown_asked_for_before_start_up_is_applied() -> None:
    server = Server(ServerConfig(port=0, workers=2), hello)
    server.shutdown()
    thread = threading.Thread(target=server.run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert server.exit_code == 0
    assert not server.started.is_set()
