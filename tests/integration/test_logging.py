"""What the server says: the startup line, access lines, app tracebacks."""

from __future__ import annotations

import json
import logging
import platform
import re
import sys

import httpx
import pytest

from pounce import Receive, Scope, Send
from pounce._workers.event_loop import resolve_loop
from support.apps import respond
from support.raw import RawConnection
from support.servers import run_pounce, unix_socket_answers
from support.waiting import log_records, wait_for

ACCESS = re.compile(
    r'(?P<client>[\d.]+:\d+) - "(?P<method>[A-Z]+) (?P<target>\S+) HTTP/(?P<version>[\d.]+)" '
    r"(?P<status>\d{3}) (?P<bytes>\d+) (?P<ms>\d+\.\d)ms"
)


def test_startup_line_names_address_worker_model_and_runtime(pounce):
    server = pounce("support.apps:app")
    line = server.wait_for_output("serving on").string
    version = platform.python_version()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    assert f"serving on http://127.0.0.1:{server.port};" in line
    assert f"1 worker (thread, {resolve_loop('auto')})" in line  # uvloop where installed
    assert f"{platform.python_implementation()} {version}" in line
    assert ("GIL enabled" if gil else "GIL disabled") in line
    assert re.search(r"pid \d+", line)


def test_access_log_line_in_process(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await respond(send, "12345", status=201)

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/items?x=1", headers=[("content-length", "0")])
        assert conn.read_response().status == 201
        client_port = conn.local_port
    record = wait_for(lambda: log_records(caplog, "pounce.access"), what="an access line")[0]
    match = ACCESS.fullmatch(record.getMessage())
    assert match, record.getMessage()
    assert match["client"] == f"127.0.0.1:{client_port}"
    assert match["method"] == "POST"
    assert match["target"] == "/items?x=1"
    assert match["version"] == "1.1"
    assert match["status"] == "201"
    assert match["bytes"] == "5"


def test_access_log_covers_server_generated_responses(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise RuntimeError("crash")

    server = serve(app)
    assert httpx.get(server.url + "/boom", timeout=30).status_code == 500
    record = wait_for(lambda: log_records(caplog, "pounce.access"), what="an access line")[0]
    match = ACCESS.fullmatch(record.getMessage())
    assert match
    assert (match["target"], match["status"]) == ("/boom", "500")


def test_access_log_and_traceback_from_the_cli(pounce):
    server = pounce("support.apps:app")
    assert httpx.get(server.url + "/", timeout=30).text == "hello"
    assert httpx.get(server.url + "/crash", timeout=30).status_code == 500
    server.wait_for_output(r'"GET /crash HTTP/1.1" 500')
    line = server.wait_for_output(r'"GET / HTTP/1.1" 200').string
    assert ACCESS.search(line)
    output = server.output
    assert "ERROR    Exception in ASGI application" in output
    assert "Traceback (most recent call last):" in output
    assert "ValueError: the app crashed on purpose" in output


def test_no_access_log_option(pounce):
    server = pounce("support.apps:app", "--no-access-log")
    assert httpx.get(server.url + "/", timeout=30).text == "hello"
    assert httpx.get(server.url + "/crash", timeout=30).status_code == 500
    server.wait_for_output("Exception in ASGI application")
    assert '"GET / HTTP/1.1"' not in server.output


def test_log_level_warning_hides_info_lines(pounce, tmp_path):
    # The startup line is INFO and will not show, so listen where we know.
    path = str(tmp_path / "s.sock")
    server = pounce(
        "support.apps:app", "--uds", path, "--log-level", "warning", bind=False, ready=False
    )
    wait_for(lambda: unix_socket_answers(path), what="the server to listen")
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, base_url="http://localhost", timeout=30) as client:
        assert client.get("/").status_code == 200
        assert client.get("/crash").status_code == 500
    server.wait_for_output("Exception in ASGI application")
    assert "INFO" not in server.output


def test_log_level_debug_is_accepted(pounce):
    server = pounce("support.apps:app", "--log-level", "debug")
    assert httpx.get(server.url + "/", timeout=30).text == "hello"


def test_access_log_records_requests_refused_for_their_size(serve, caplog):
    caplog.set_level(logging.INFO, logger="pounce")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            while (await receive()).get("more_body"):
                pass
            await respond(send, "read it all")

    server = serve(app, limit_request_body=10)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("POST", "/declared", headers=[("content-length", "11")])
        assert conn.read_response().status == 413
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "POST",
            "/chunked",
            headers=[("transfer-encoding", "chunked")],
            body=b"b\r\n" + b"x" * 11,
        )
        assert conn.read_response().status == 413

    def lines() -> list[str]:
        return [r.getMessage() for r in log_records(caplog, "pounce.access")]

    wait_for(lambda: len(lines()) == 2, what="two access lines")
    targets = sorted((m["target"], m["status"]) for m in map(ACCESS.fullmatch, lines()) if m)
    assert targets == [("/chunked", "413"), ("/declared", "413")]


def test_log_config_file(pounce, tmp_path):
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tagged": {"format": "[custom] %(name)s %(message)s"}},
        "handlers": {
            "err": {
                "class": "logging.StreamHandler",
                "formatter": "tagged",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"pounce": {"handlers": ["err"], "propagate": False}},
    }
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(config))
    server = pounce("support.apps:app", "--log-config", str(path))
    assert "[custom] pounce.error Pounce" in server.output
    assert httpx.get(server.url, timeout=30).text == "hello"
    server.wait_for_output(r'\[custom\] pounce.access .*"GET / HTTP/1.1" 200')


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("absent.json", None, "does not exist"),
        ("broken.json", "{not json", "JSONDecodeError"),
        ("broken.ini", "[loggers]\nkeys=root\n", "invalid log config file"),
    ],
)
def test_bad_log_config_is_one_line(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    code, _, err = run_pounce("support.apps:app", "--log-config", str(path))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
