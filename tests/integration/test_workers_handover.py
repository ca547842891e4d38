"""Handing workers over without dropping a request: rolling reload (SIGHUP)
and retirement after --limit-max-requests, under steady load, in both modes.

The load (support.load) counts every request that fails, on keep-alive
connections and on new ones; the tests require that count to be zero.
"""

from __future__ import annotations

import re
import signal
import sys
import time

import pytest

from conftest import PounceFactory
from support.load import Load
from support.raw import RawConnection
from support.waiting import wait_for
from support.worker_apps import write_reloadable

MODES = [
    "thread",
    "process",
    pytest.param(
        "interpreter",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 14), reason="subinterpreter workers need CPython 3.14+"
        ),
    ),
]


def _start_reloadable(pounce: PounceFactory, tmp_path, mode: str, *extra: str):  # type: ignore[no-untyped-def]
    write_reloadable(tmp_path, "v1", helper="h1")
    return pounce(
        "reloadable:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "2",
        "--worker-mode",
        mode,
        "--no-access-log",
        *extra,
    )


def _reload(server, generation: int) -> None:  # type: ignore[no-untyped-def]
    server.send_signal(signal.SIGHUP)
    server.wait_for_output(
        rf"Reload (complete: generation {generation} serving|failed: .*)", timeout=60
    )


@pytest.mark.parametrize("mode", MODES)
def test_sighup_under_load_drops_no_request(pounce: PounceFactory, tmp_path, mode: str) -> None:
    server = _start_reloadable(pounce, tmp_path, mode)
    with Load(server.url + "/") as load:
        load.wait_for(100)
        for generation, version in enumerate(["v2", "v3", "v4"], start=1):
            # The helper module changes too: the whole app is imported afresh.
            write_reloadable(tmp_path, version, helper=f"h{generation + 1}")
            _reload(server, generation)
            wait_for(lambda v=version: any(b.startswith(v.encode()) for b in load.bodies))
            load.wait_for(100)
    output = server.output
    for generation in (1, 2, 3):
        assert f"Reload complete: generation {generation} serving" in output
    assert load.failures == []
    assert {b"v1 h1", b"v2 h2", b"v3 h3", b"v4 h4"} <= load.bodies
    sys.stderr.write(f"SIGHUP under load ({mode}): {load.succeeded} requests, 0 failed\n")
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_reload_that_fails_to_import_keeps_the_old_generation(
    pounce: PounceFactory, tmp_path, mode: str
) -> None:
    server = _start_reloadable(pounce, tmp_path, mode)
    (tmp_path / "reloadable.py").write_text("def broken(:\n")
    with Load(server.url + "/", keep_alive_clients=1, new_connection_clients=1) as load:
        load.wait_for(20)
        server.send_signal(signal.SIGHUP)
        match = server.wait_for_output(r"Reload failed: (.*); generation 0 keeps serving\.")
        assert 'Error importing module "reloadable": SyntaxError' in match.group(1)
        # ...and where, after that line.
        server.wait_for_output(r'reloadable\.py", line 1$')
        load.wait_for(50)
        write_reloadable(tmp_path, "v2", helper="h2")
        _reload(server, 2)
        wait_for(lambda: b"v2 h2" in load.bodies)
        load.wait_for(20)
    assert load.failures == []
    assert server.proc.poll() is None


@pytest.mark.parametrize("mode", MODES)
def test_an_idle_keep_alive_connection_survives_a_reload(
    pounce: PounceFactory, tmp_path, mode: str
) -> None:
    # A client may be writing its next request on an idle connection at the
    # very moment its worker is replaced: the old worker must not close it
    # under the client, but answer that request and only then close.
    server = _start_reloadable(pounce, tmp_path, mode, "--timeout-keep-alive", "60")
    with RawConnection("127.0.0.1", server.port) as conn:
        conn.send_request()
        first = conn.read_response()
        assert first.body == b"v1 h1"
        assert first.header("connection") is None
        write_reloadable(tmp_path, "v2", helper="h2")
        _reload(server, 1)
        # The old worker begins its handover a moment after the reload is
        # logged. Until then it answers as usual; from then on it answers
        # (once) with connection: close. The connection is idle between
        # requests, which is when closing it would lose the next one.
        for _ in range(500):
            conn.send_request()
            last = conn.read_response()
            assert last.status == 200
            assert last.body == b"v1 h1"  # the old generation, on its old connection
            if last.header("connection") == "close":
                break
            time.sleep(0.02)
        assert last.header("connection") == "close"
        conn.assert_closed()
    # A new connection that reached the old worker's listening socket before
    # that socket closed is still served by it (handover drops nothing); the
    # new generation takes every connection soon after.
    bodies = []
    for _ in range(100):
        with RawConnection("127.0.0.1", server.port) as conn:
            conn.send_request()
            response = conn.read_response()
        assert response.status == 200
        bodies.append(response.body)
        if response.body == b"v2 h2":
            break
        time.sleep(0.05)
    assert bodies[-1] == b"v2 h2", bodies


@pytest.mark.parametrize("mode", MODES)
def test_workers_retire_after_max_requests_without_dropping_any(
    pounce: PounceFactory, mode: str
) -> None:
    server = pounce(
        "support.worker_apps:app",
        "--workers",
        "2",
        "--worker-mode",
        mode,
        "--no-access-log",
        "--limit-max-requests",
        "100",
        "--limit-max-requests-jitter",
        "20",
    )
    with Load(server.url + "/") as load:
        server.wait_for_output(r"Started worker 5 ", timeout=120)  # at least 3 retirements
        load.wait_for(50)
    assert load.failures == []
    served = [int(n) for n in re.findall(r"has served (\d+) requests; replacing it", server.output)]
    assert len(served) >= 3
    assert all(n >= 100 for n in served)
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
