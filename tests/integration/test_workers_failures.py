"""When workers fail: a broken app stops start-up at once, a crashed worker
is replaced while the others serve, a crash loop ends the server, and a
worker whose event loop is stuck is found by its missing heartbeat.

Every test runs in both worker modes unless it is about one of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading

import httpx
import pytest

from conftest import PounceFactory
from support.raw import RawConnection, RawResponse
from support.servers import run_pounce
from support.waiting import wait_for

APP = "support.worker_apps:app"
MODES = ["thread", "process"]


def fresh_get(port: int, target: str) -> RawResponse:
    with RawConnection("127.0.0.1", port) as conn:
        conn.send_request("GET", target, headers=[("connection", "close")])
        return conn.read_response()


def worker_key(port: int, mode: str) -> object:
    who = json.loads(fresh_get(port, "/whoami").body)
    return who["thread"] if mode == "thread" else who["pid"]


def workers_seen(port: int, mode: str, expected: int) -> set[object]:
    """The workers answering new connections, once ``expected`` of them are seen."""

    def sample() -> set[object] | None:
        seen = {worker_key(port, mode) for _ in range(60)}
        return seen if len(seen) == expected else None

    found: set[object] = wait_for(sample, what=f"{expected} workers answering")
    return found


def kill_a_worker(url: str) -> None:
    """Make the app raise SystemExit in the worker serving the request.

    The server answers 500 before the error leaves the event loop, or the
    connection dies with the worker: either way the worker is gone.
    """
    try:
        response = httpx.get(url + "/kill-worker")
    except httpx.TransportError:
        return
    assert response.status_code == 500


# ------------------------------------------------------------- start-up


@pytest.mark.parametrize("mode", MODES)
def test_an_app_that_does_not_import_exits_1_at_once(mode: str) -> None:
    code, _, err = run_pounce(
        "support.worker_apps:missing", "--workers", "3", "--worker-mode", mode, "--port", "0"
    )
    assert code == 1
    reason = 'Attribute "missing" not found in module "support.worker_apps".'
    assert err.count(reason) == 1, err  # said once, not once per worker or per retry
    assert "serving on" not in err
    assert "restarting" not in err


@pytest.mark.parametrize("mode", MODES)
def test_a_module_that_raises_on_import_exits_1_with_the_error(tmp_path, mode: str) -> None:
    (tmp_path / "exploding.py").write_text("raise RuntimeError('boom at import')\n")
    code, _, err = run_pounce(
        "exploding:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "2",
        "--worker-mode",
        mode,
        "--port",
        "0",
    )
    assert code == 1
    assert 'Error importing module "exploding": RuntimeError: boom at import' in err


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_lifespan_startup_exits_3(mode: str) -> None:
    code, _, err = run_pounce(
        "support.apps:lifespan_failing", "--workers", "2", "--worker-mode", mode, "--port", "0"
    )
    assert code == 3
    assert err.count("Application startup failed: database unreachable") == 1, err
    assert "serving on" not in err


# --------------------------------------------------------------- crashes


def test_a_killed_worker_process_is_replaced_while_the_others_serve(
    pounce: PounceFactory,
) -> None:
    server = pounce(APP, "--workers", "3", "--worker-mode", "process", "--no-access-log")
    pids = workers_seen(server.port, "process", 3)
    victim = min(int(pid) for pid in pids)  # type: ignore[call-overload]
    os.kill(victim, signal.SIGKILL)
    # Every new connection is answered, including those the kernel hashes to
    # the dead worker's socket: they wait in its accept queue for the
    # replacement instead of being refused.
    for _ in range(60):
        assert fresh_get(server.port, "/").status == 200
    server.wait_for_output(rf"worker \d \(pid {victim}\) crashed: killed by SIGKILL; restarting")
    server.wait_for_output(r"Started worker 4 \(pid \d+\)")
    after = workers_seen(server.port, "process", 3)
    assert victim not in after
    assert len(after & pids) == 2  # the other two never stopped
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_worker_whose_loop_raises_is_restarted(pounce: PounceFactory, mode: str) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", mode, "--no-access-log")
    before = workers_seen(server.port, mode, 2)
    kill_a_worker(server.url)
    server.wait_for_output(r"worker \d \((?:thread|pid) \S+\) crashed: .*restarting it in 0\.1s")
    server.wait_for_output(r"Started worker 3 ")
    after = workers_seen(server.port, mode, 2)
    assert len(after - before) == 1  # one new worker, one that kept serving
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_crash_loop_ends_the_server_with_status_4(
    pounce: PounceFactory, tmp_path, mode: str
) -> None:
    flag = tmp_path / "fail-startup"
    server = pounce(
        APP,
        "--workers",
        "2",
        "--worker-mode",
        mode,
        env={"POUNCE_TEST_FAIL_STARTUP": str(flag)},
    )
    flag.touch()  # from now on, every new worker fails its lifespan startup
    kill_a_worker(server.url)
    assert server.wait(60) == 4
    output = server.output
    assert re.search(
        r"The worker of slot \d crashed 5 times in a row \(last: Application startup failed: "
        r"the flag is up\); giving up and shutting down\.",
        output,
    ), output
    delays = re.findall(r"could not start: .*; retrying in (\d\.\d)s", output)
    assert delays == ["0.2", "0.4", "0.8"]  # doubling, after the first 0.1 s
    assert "Finished server process" in output


# ------------------------------------------------------------ heartbeats


def test_a_stuck_worker_process_is_killed_and_replaced(pounce: PounceFactory) -> None:
    server = pounce(
        APP, "--workers", "2", "--worker-mode", "process", "--timeout-worker-healthcheck", "2"
    )

    def doomed_request() -> None:
        # The worker serving it is killed: this request cannot succeed.
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(server.url + "/block?seconds=60", timeout=90)

    blocked = threading.Thread(target=doomed_request)
    blocked.start()
    match = server.wait_for_output(r"worker-app: blocking the loop for 60.0s (\d+)")
    pid = match.group(1)
    server.wait_for_output(
        rf"worker \d \(pid {pid}\) has not checked in for \d+\.\ds: its event loop is stuck; "
        r"killed it\."
    )
    server.wait_for_output(rf"\(pid {pid}\) crashed: killed by SIGKILL; restarting")
    server.wait_for_output(r"Started worker 3 ")
    blocked.join(60)
    for _ in range(20):
        assert fresh_get(server.port, "/").status == 200
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_a_stuck_worker_thread_is_reported_until_it_recovers(pounce: PounceFactory) -> None:
    server = pounce(
        APP, "--workers", "2", "--worker-mode", "thread", "--timeout-worker-healthcheck", "1"
    )
    results: list[httpx.Response] = []
    blocked = threading.Thread(
        target=lambda: results.append(httpx.get(server.url + "/block?seconds=4", timeout=60))
    )
    blocked.start()
    match = server.wait_for_output(r"worker-app: blocking the loop for 4.0s \d+ (\S+)")
    thread = match.group(1)
    server.wait_for_output(
        rf"\(thread {thread}\) has not checked in for \d+\.\ds: its event loop is blocked"
    )
    blocked.join(60)
    assert results[0].status_code == 200  # a thread is never killed under its request
    server.wait_for_output(rf"\(thread {thread}\) is responsive again")
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
