"""What a Uvicorn user types and scripts works, and says what Uvicorn says.

Uvicorn's values for our options, its flags, ``WEB_CONCURRENCY``, the lines
harnesses wait for ("Application startup complete.", "Press CTRL+C to
quit"), and one Ctrl-C being one request even when the whole process group
gets it. docs/migrating-from-uvicorn.md is the user's side of this.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import textwrap

import httpx
import pytest

from support.servers import TESTS_DIR, run_pounce

APP = "support.apps:app"


def _shown(*args: str) -> dict[str, object]:
    code, out, err = run_pounce("config", "show", APP, *args, "--json")
    assert code == 0, err
    return {name: entry["value"] for name, entry in json.loads(out).items()}


def test_uvicorns_values_and_flags_are_accepted() -> None:
    shown = _shown(
        "--ws", "wsproto",
        "--loop", "none",
        "--http", "httptools",
        "--use-colors",
        "--ws-max-queue", "8",
        "--h11-max-incomplete-event-size", "4096",
        "--forwarded-allow-ips", "*",
    )  # fmt: skip
    assert shown["ws"] == "on"
    assert shown["loop"] == "asyncio"
    assert shown["http"] == "auto"
    assert shown["use_colors"] is True
    assert shown["ws_max_queue"] == 8
    assert shown["limit_request_header_size"] == 4096
    assert shown["limit_request_line"] == 4096  # lowered to fit the head
    assert _shown("--ws", "none")["ws"] == "off"
    assert _shown("--no-use-colors")["use_colors"] is False


@pytest.mark.parametrize(("value", "stored"), [("0", "none"), ("1", "optional"), ("2", "required")])
def test_ssl_cert_reqs_as_uvicorns_numbers(value: str, stored: str) -> None:
    shown = _shown("--ssl-certfile", "c.pem", "--ssl-ca-certs", "ca.pem", "--ssl-cert-reqs", value)
    assert shown["ssl_cert_reqs"] == stored


def test_a_server_started_the_uvicorn_way_serves(pounce) -> None:
    server = pounce(
        APP,
        "--ws", "websockets",
        "--loop", "none",
        "--http", "h11",
        "--h11-max-incomplete-event-size", "2048",
        "--no-use-colors",
    )  # fmt: skip
    assert httpx.get(server.url, timeout=30).text == "hello"
    assert "1 worker (thread, asyncio)" in server.output
    too_big = httpx.get(server.url, headers={"x-big": "a" * 3000}, timeout=30)
    assert too_big.status_code == 431


def test_web_concurrency_sets_the_workers(pounce) -> None:
    server = pounce(APP, env={"WEB_CONCURRENCY": "2"})
    assert "serving on" in server.wait_for_output("2 workers").string
    server = pounce(APP, "--workers", "1", env={"WEB_CONCURRENCY": "2"})
    assert "; 1 worker (" in server.output


def _lines_in_order(output: str, *texts: str) -> list[int]:
    lines = output.splitlines()
    found = []
    for text in texts:
        matching = [i for i, line in enumerate(lines) if text in line]
        assert matching, f"{text!r} not in output:\n{output}"
        found.append(matching[0])
    assert found == sorted(found), output
    return found


def test_the_lines_harnesses_wait_for_come_where_uvicorn_puts_them(pounce) -> None:
    server = pounce(APP)
    _lines_in_order(
        server.output,
        "Started server process [",
        "Waiting for application startup.",
        "Application startup complete.",
        "serving on",
    )
    ready = server.wait_for_output("serving on").string
    assert ready.endswith(" (Press CTRL+C to quit)")
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    _lines_in_order(server.output, "Application shutdown complete.", "Finished server process [")


def test_each_worker_process_says_its_startup_completed(pounce) -> None:
    server = pounce(APP, "--workers", "2", "--worker-mode", "process")
    assert server.output.count("Application startup complete.") == 2
    assert server.output.rindex("Application startup complete.") < server.output.index("serving on")


def test_without_lifespan_there_is_no_startup_to_report(pounce) -> None:
    server = pounce(APP, "--lifespan", "off")
    assert "Application startup" not in server.output
    assert server.wait_for_output("serving on").string.endswith("(Press CTRL+C to quit)")


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param([], id="thread"),
        pytest.param(["--workers", "2", "--worker-mode", "process"], id="processes"),
        pytest.param(["--reload"], id="reload"),
    ],
)
def test_stop_signals_delivered_together_are_one_request(pounce, tmp_path, mode) -> None:
    # One Ctrl-C reaches every process of a terminal's foreground group, and a
    # wrapper (uv run, a shell script) passes on its own copy: the server gets
    # several at once. Made exact here: while the server is stopped, two stop
    # signals wait for it (two kinds, as the kernel merges a repeated one), and
    # it gets both the moment it resumes.
    # --reload watches the working directory: an empty one here.
    server = pounce(APP, *mode, cwd=tmp_path if mode == ["--reload"] else TESTS_DIR)
    pid = server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert server.wait() == 0
    output = server.output
    assert output.count("shutting down gracefully") == 1, output
    assert "again" not in output, output
    assert "Killing" not in output, output


def test_invalid_requests_are_logged_readably(pounce) -> None:
    server = pounce(APP)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(b"GARBAGE\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 400 ")
    line = server.wait_for_output("Invalid HTTP request").string
    assert line.endswith('illegal request line: "GARBAGE" (400)')


def test_a_failing_fastapi_lifespan_is_told_once(pounce, tmp_path) -> None:
    (tmp_path / "failing.py").write_text(
        textwrap.dedent(
            """
            from contextlib import asynccontextmanager
            from fastapi import FastAPI

            @asynccontextmanager
            async def lifespan(app):
                raise RuntimeError("database unreachable")
                yield

            app = FastAPI(lifespan=lifespan)
            """
        )
    )
    server = pounce("failing:app", "--app-dir", str(tmp_path), ready=False)
    assert server.wait() == 3
    assert server.output.count("Traceback (most recent call last)") == 1, server.output
    assert 'failing.py", line 7, in lifespan' in server.output
    assert "Application startup failed: " in server.output
