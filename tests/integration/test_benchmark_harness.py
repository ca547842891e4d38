"""The benchmark harness runs: one short round of two workloads, Pounce only.

The harness is not part of the test suite (its figures are speed, and speed is
never asserted here), but it must not rot: this runs it end to end with the
test interpreter, against real Pounce processes (alone, and with the
pounce-extras batteries this environment has) loaded by wrk, and checks that it
measured something and that a missing feature becomes an "n/a" row.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from support.servers import TESTS_DIR

HARNESS = TESTS_DIR.parent / "benchmarks" / "run.py"


CORE = "Pounce (core only)"
BATTERIES = "Pounce + pounce-extras[all]"


def _row(output: str, workload: str, workers: int, server: str = CORE) -> list[str]:
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[:3] == [workload, str(workers), server]:
            return cells
    raise AssertionError(f"no {server} row for {workload!r} with {workers} worker(s):\n{output}")


def _rows(output: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith("| ") and not line.startswith("| workload")
    ]


def _harness(*options: str, timeout: float) -> str:
    """What ``run.py`` printed with ``options``, one short round, nothing saved."""
    short = ("--workers", "1", "--rounds", "1", "--duration", "1", "--warmup", "0", "--no-save")
    result = subprocess.run(
        [sys.executable, str(HARNESS), *options, *short],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_one_short_round_against_pounce(require_tool):
    require_tool("wrk")
    output = _harness(
        "--servers", "pounce,pounce-batteries", "--workloads", "hello,json", timeout=110
    )
    for workload in ("plain-text hello", "1 KB JSON POST echoed"):
        for server in (CORE, BATTERIES):
            cells = _row(output, workload, 1, server)
            rate = float(cells[3].replace(",", ""))
            assert rate > 0, cells
            assert cells[6] == "0", cells  # no errors: every response was a 200
            assert re.fullmatch(r"\d+", cells[7]), cells  # a peak RSS was sampled
    assert re.search(
        rf"Hello world, 1 worker: {re.escape(BATTERIES)} \d+\.\d\dx {re.escape(CORE)}", output
    )
    assert "Targets" in output


def test_quick_mode_measures_the_hello_world_row(require_tool):
    require_tool("wrk")
    output = _harness("--quick", "--servers", "pounce,pounce-batteries", timeout=60)
    assert [cells[:3] for cells in _rows(output)] == [
        ["plain-text hello", "1", CORE],
        ["plain-text hello", "1", BATTERIES],
    ]
    assert f"{BATTERIES} " in output.split("Hello world, 1 worker:")[1].splitlines()[0]


def test_the_websocket_row_counts_checked_echoes():
    # Both clients against a real Pounce: the frames client (the row's) and
    # the websockets library's; an echo that did not match would be an error.
    for client in ("frames", "websockets"):
        output = _harness(
            "--servers", "pounce", "--workloads", "ws", "--ws-client", client, timeout=60
        )
        cells = _row(output, "WebSocket echo (messages/s)", 1)
        assert float(cells[3].replace(",", "")) > 0, cells
        assert cells[6] == "0", cells
        assert f"ws_client.py --client {client}." in output


def test_a_server_that_is_not_installed_is_an_na_row(require_tool):
    # Nothing is started: the peers are not part of the test environment, and
    # a server missing from it becomes an "n/a" row rather than a failure.
    require_tool("wrk")
    output = _harness("--servers", "granian", "--workloads", "hello", timeout=60)
    assert "| plain-text hello | 1 | Granian (ceiling) | n/a: granian not installed |" in output


def test_the_thread_scaling_benchmark_serves_in_every_thread():
    script = TESTS_DIR.parent / "benchmarks" / "thread_scaling.py"
    result = subprocess.run(
        [sys.executable, str(script), "--threads", "1,2", "-n", "200", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert [row["threads"] for row in rows] == [1, 2]
    assert all(row["requests_per_second"] > 0 for row in rows)
    assert re.fullmatch(r"against 1 thread\(s\): 2 threads \d+\.\d\dx", lines[-1])
