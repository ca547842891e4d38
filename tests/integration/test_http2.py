"""HTTP/2 against a real server: httpx, curl, h2load, and h2 as a raw client.

Cleartext HTTP/2 is reached by prior knowledge (the client starts with the
connection preface) and by ``Upgrade: h2c``; HTTP/2 over TLS is in
test_tls.py. The raw client (support.h2client) is what shows multiplexing:
several streams on one connection, responses in the order the apps finish,
one stream's reset or slow reader leaving the others alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.h2client import H2Client
from support.raw import RawConnection, request_bytes
from support.waiting import WAIT, await_thread_event, wait_for

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Probe:
    """What the test app tells the test thread, and what the test lets it do."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: dict[str, threading.Event] = defaultdict(threading.Event)
        self.seen: dict[str, list[str]] = defaultdict(list)
        self.cancelled = threading.Event()
        self.running = 0
        self.lock = threading.Lock()

    def record(self, path: str, what: str) -> None:
        with self.lock:
            self.seen[path].append(what)


def make_app(probe: Probe) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/echo":
            body = await read_body(receive)
            summary = {
                "http_version": scope["http_version"],
                "scheme": scope["scheme"],
                "method": scope["method"],
                "path": scope["path"],
                "query_string": scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
                "body": len(body),
                "tls": "tls" in scope["extensions"],
            }
            await respond(send, json.dumps(summary), content_type=b"application/json")
        elif path.startswith("/hold/"):
            probe.started[path].set()
            await await_thread_event(probe.release)
            await respond(send, path)
        elif path.startswith("/watch/"):
            probe.started[path].set()
            while True:
                message = await receive()
                probe.record(path, message["type"])
                if message["type"] == "http.disconnect":
                    return
        elif path == "/stubborn":
            probe.started[path].set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                probe.cancelled.set()
                raise
        elif path == "/trailers":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                    "trailers": True,
                }
            )
            await send({"type": "http.response.body", "body": b"with trailers"})
            await send(
                {
                    "type": "http.response.trailers",
                    "headers": [(b"x-checksum", b"42"), (b"x-status", b"ok")],
                }
            )
        elif path == "/big":
            size = int(scope["query_string"].decode().partition("=")[2] or 200_000)
            chunk = bytes(range(256)) * 256
            await send({"type": "http.response.start", "status": 200, "headers": []})
            sent = 0
            while sent < size:
                piece = chunk[: min(len(chunk), size - sent)]
                sent += len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/slow-reader":
            probe.started[path].set()
            await await_thread_event(probe.release)
            body = await read_body(receive)
            await respond(send, str(len(body)))
        elif path == "/crash":
            raise ValueError("the app crashed on purpose")
        else:
            await respond(send, "not found", status=404)

    return app


@pytest.fixture
def probe() -> Probe:
    return Probe()


def h2(server: Any, **options: Any) -> H2Client:
    return H2Client(server.host, server.port, **options)


# ------------------------------------------------------------ real clients


def test_httpx_prior_knowledge(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with httpx.Client(http1=False, http2=True, timeout=WAIT) as client:
        responses = [client.post(server.url + "/echo?n=1", content=b"x" * 100) for _ in range(3)]
    for response in responses:
        assert response.http_version == "HTTP/2"
        summary = response.json()
        assert summary["http_version"] == "2"
        assert summary["scheme"] == "http"
        assert summary["query_string"] == "n=1"
        assert summary["body"] == 100
        assert summary["tls"] is False
        assert summary["headers"][0] == ["host", f"{server.host}:{server.port}"]


def test_curl_prior_knowledge(serve: Any, probe: Probe, require_tool: Any) -> None:
    curl = require_tool("curl")
    server = serve(make_app(probe))
    result = subprocess.run(
        [curl, "-sS", "--http2-prior-knowledge", "-d", "hello", server.url + "/echo"],
        capture_output=True,
        timeout=WAIT,
        check=True,
    )
    summary = json.loads(result.stdout)
    assert (summary["http_version"], summary["method"], summary["body"]) == ("2", "POST", 5)


def test_curl_upgrade_h2c(serve: Any, probe: Probe, require_tool: Any) -> None:
    curl = require_tool("curl")
    server = serve(make_app(probe))
    result = subprocess.run(
        [curl, "-sSv", "--http2", server.url + "/echo?via=upgrade"],
        capture_output=True,
        timeout=WAIT,
        check=True,
    )
    log = result.stderr.decode()
    assert "< HTTP/1.1 101 Switching Protocols" in log
    assert "< HTTP/2 200" in log
    summary = json.loads(result.stdout)
    assert summary["http_version"] == "2"
    assert summary["query_string"] == "via=upgrade"
    names = [name for name, _ in summary["headers"]]
    assert "http2-settings" not in names
    assert "upgrade" not in names


def test_h2c_upgrade_then_more_streams_on_the_same_connection(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server, upgrade="/echo?first") as client:
        assert client.upgrade_status == b"HTTP/1.1 101 Switching Protocols"
        first = json.loads(client.response(1).body)
        assert (first["http_version"], first["query_string"]) == ("2", "first")
        second = client.request("/echo?second")
        assert json.loads(client.response(second).body)["query_string"] == "second"


def test_h2load_many_streams_no_errors(serve: Any, probe: Probe, require_tool: Any) -> None:
    h2load = require_tool("h2load")
    server = serve(make_app(probe), access_log=False)
    result = subprocess.run(
        [h2load, "-n", "300", "-c", "3", "-m", "10", server.url + "/echo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(
        r"requests: 300 total, 300 started, 300 done, 300 succeeded, 0 failed, 0 errored",
        result.stdout,
    ), result.stdout
    assert "status codes: 300 2xx" in result.stdout


# -------------------------------------------------------------- multiplexing


def test_a_first_flight_over_the_stream_limit_refuses_only_the_extra_stream(
    serve: Any, probe: Probe
) -> None:
    # A client may send requests before it has seen our SETTINGS (RFC 9113
    # §6.5.2): 101 in one write against a limit of 100.
    server = serve(make_app(probe), http2_max_concurrent_streams=100)
    with h2(server) as client:
        streams = []
        for _ in range(101):
            stream_id = client.conn.get_next_available_stream_id()
            client.conn.send_headers(
                stream_id,
                [
                    (b":method", b"GET"),
                    (b":path", b"/echo"),
                    (b":scheme", b"http"),
                    (b":authority", b"localhost"),
                ],
                end_stream=True,
            )
            streams.append(stream_id)
        client.flush()
        client.read_until(
            lambda: all(client.responses[s].done for s in streams), what="every stream's fate"
        )
        refused = [s for s in streams if client.responses[s].reset is not None]
        assert refused == [streams[-1]]
        assert client.responses[streams[-1]].reset == 0x7  # REFUSED_STREAM: retry it
        assert all(client.responses[s].status == 200 for s in streams[:-1])
        assert client.goaway is None
        # The refused request, retried, is served on the same connection.
        assert client.response(client.request("/echo")).status == 200


def test_a_slow_stream_does_not_hold_up_another(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        held = client.request("/hold/one")
        assert probe.started["/hold/one"].wait(WAIT)
        quick = client.request("/echo")
        response = client.response(quick)
        assert response.status == 200
        assert not client.responses[held].done
        probe.release.set()
        assert client.response(held).body == b"/hold/one"
        ends = [e.stream_id for e in client.events if type(e).__name__ == "StreamEnded"]
        assert ends == [quick, held]


def test_concurrent_responses_interleave(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        first = client.request("/big?size=300000")
        second = client.request("/big?size=300000")
        client.response(first)
        client.response(second)
        expected = (bytes(range(256)) * 256 * 5)[:300_000]
        assert client.responses[first].body == expected
        assert client.responses[second].body == expected
        order = [e.stream_id for e in client.events if type(e).__name__ == "DataReceived"]
        # Both streams were sending at once: the second started before the first ended.
        assert order.index(second) < len(order) - 1 - order[::-1].index(first)


def test_a_slow_reader_stalls_only_its_own_upload(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        slow = client.request("/slow-reader", "POST", end=False)
        assert probe.started["/slow-reader"].wait(WAIT)
        window = client.conn.local_flow_control_window(slow)
        client.send_body(slow, b"s" * window, end=False)  # fills the stream window
        fast = client.request("/echo", "POST", body=b"f" * 300_000)
        assert json.loads(client.response(fast).body)["body"] == 300_000
        assert not client.responses[slow].done
        probe.release.set()
        client.send_body(slow, b"s" * 100_000, end=True)
        assert client.response(slow).body == str(window + 100_000).encode()


def test_many_streams_on_one_connection(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        streams = [client.request(f"/echo?i={i}") for i in range(50)]
        for i, stream_id in enumerate(streams):
            assert json.loads(client.response(stream_id).body)["query_string"] == f"i={i}"


# ------------------------------------------------------------------ resets


def test_client_reset_is_http_disconnect_for_that_stream_only(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        watched = client.request("/watch/a")
        other = client.request("/hold/b")
        assert probe.started["/watch/a"].wait(WAIT)
        assert probe.started["/hold/b"].wait(WAIT)
        client.reset(watched)
        wait_for(lambda: "http.disconnect" in probe.seen["/watch/a"], what="http.disconnect")
        assert probe.seen["/watch/a"] == ["http.request", "http.disconnect"]
        probe.release.set()
        assert client.response(other).status == 200


def test_the_app_of_a_reset_stream_is_cancelled_if_it_does_not_stop(
    serve: Any, probe: Probe
) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        stream_id = client.request("/stubborn")
        assert probe.started["/stubborn"].wait(WAIT)
        client.reset(stream_id)
        assert probe.cancelled.wait(WAIT)
        # The connection is still good.
        assert client.response(client.request("/echo")).status == 200


# ---------------------------------------------------------------- features


def test_response_trailers(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        response = client.response(client.request("/trailers"))
    assert response.body == b"with trailers"
    assert response.trailers == [(b"x-checksum", b"42"), (b"x-status", b"ok")]


def test_request_trailers_are_accepted(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        stream_id = client.request("/echo", "POST", end=False)
        client.conn.send_data(stream_id, b"12345")
        client.conn.send_headers(stream_id, [(b"x-sum", b"15")], end_stream=True)
        client.flush()
        assert json.loads(client.response(stream_id).body)["body"] == 5


def test_expect_100_continue(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        stream_id = client.request("/echo", "POST", headers=[("expect", "100-continue")], end=False)
        client.read_until(lambda: client.responses[stream_id].informational, what="100")
        assert client.responses[stream_id].informational == [[(b":status", b"100")]]
        client.send_body(stream_id, b"after continue")
        assert json.loads(client.response(stream_id).body)["body"] == 14


def test_an_app_error_is_a_500_on_its_stream_only(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        crash = client.request("/crash")
        fine = client.request("/echo")
        assert client.response(crash).status == 500
        assert client.response(fine).status == 200


def test_head_gets_the_length_without_the_body(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        response = client.response(client.request("/nothing-here", "HEAD"))
    assert response.status == 404
    assert response.header(b"content-length") == b"9"
    assert response.body == b""


def test_a_declared_body_over_the_limit_is_413(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), limit_request_body=1000)
    with h2(server) as client:
        big = client.request("/echo", "POST", headers=[("content-length", "5000")], end=False)
        assert client.response(big).status == 413
        # Only that stream: the connection serves on.
        assert client.response(client.request("/echo")).status == 200


def test_a_streamed_body_over_the_limit_is_413(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), limit_request_body=1000)
    with h2(server) as client:
        big = client.request("/echo", "POST", body=b"x" * 5000)
        assert client.response(big).status == 413
        assert client.response(client.request("/echo")).status == 200


def test_too_many_header_fields_is_431_on_that_stream(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), limit_request_headers=10)
    with h2(server) as client:
        many = client.request("/echo", headers=[(f"x-h{i}", "v") for i in range(20)])
        assert client.response(many).status == 431
        assert client.response(client.request("/echo")).status == 200


def test_access_log_says_http_2(serve: Any, probe: Probe, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(make_app(probe))
    with h2(server) as client:
        client.response(client.request("/echo?x=1"))
    wait_for(
        lambda: any('"GET /echo?x=1 HTTP/2" 200' in r.getMessage() for r in caplog.records),
        what="the access log line",
    )


# ------------------------------------------------------- ending connections


def test_graceful_shutdown_sends_goaway_and_completes_the_stream_in_flight(
    serve: Any, probe: Probe
) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        held = client.request("/hold/x")
        assert probe.started["/hold/x"].wait(WAIT)
        server.stop()
        client.read_until(lambda: client.goaway is not None, what="GOAWAY")
        assert client.goaway == (held, 0)
        probe.release.set()
        response = client.response(held)
        assert (response.status, response.body) == (200, b"/hold/x")
        client.read_until_closed()


def test_sigterm_sends_goaway_and_the_stream_in_flight_completes(
    pounce: Any, tmp_path: Path
) -> None:
    process = pounce("support.apps:app", "--log-level", "info")
    flag = tmp_path / "go"
    with H2Client("127.0.0.1", process.port) as client:
        stream_id = client.request(f"/wait?file={flag}")
        process.wait_for_output("app: waiting for go")
        process.send_signal(signal.SIGTERM)
        client.read_until(lambda: client.goaway is not None, what="GOAWAY")
        assert client.goaway == (stream_id, 0)
        flag.touch()
        response = client.response(stream_id)
        assert (response.status, response.body) == (200, b"waited")
        client.read_until_closed()
    assert process.wait() == 0


def test_an_idle_connection_gets_goaway_and_is_closed(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), timeout_keep_alive=0.5)
    with h2(server) as client:
        assert client.response(client.request("/echo")).status == 200
        client.read_until_closed()
        assert client.goaway == (1, 0)


def test_a_client_that_never_sends_the_preface_is_closed(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), timeout_request_header=0.5)
    with RawConnection(server.host, server.port) as raw:
        raw.send(PREFACE[:10])  # looks like HTTP/2, never finishes saying so
        assert raw.read_some() == b""


def test_a_server_push_promise_from_a_client_is_a_protocol_error(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with h2(server) as client:
        client.response(client.request("/echo"))
        from support.h2client import frame

        client.send_raw(frame(0x5, 0x4, 1, (2).to_bytes(4, "big")))  # PUSH_PROMISE
        client.read_until_closed()
        assert client.goaway is not None
        assert client.goaway[1] == 0x1  # PROTOCOL_ERROR


# ---------------------------------------------------------------- switches


def test_with_h2c_off_a_preface_is_answered_in_http_1_1(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), h2c=False)
    with RawConnection(server.host, server.port) as raw:
        raw.send(PREFACE)
        assert raw.read_some().startswith(b"HTTP/1.1 ")


def test_with_h2c_off_an_upgrade_request_is_served_in_http_1_1(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), h2c=False)
    with RawConnection(server.host, server.port) as raw:
        raw.send(
            request_bytes(
                "GET",
                "/echo",
                headers=[
                    ("connection", "Upgrade, HTTP2-Settings"),
                    ("upgrade", "h2c"),
                    ("http2-settings", "AAMAAABk"),
                ],
            )
        )
        assert raw.read_some().startswith(b"HTTP/1.1 200 ")


def test_an_upgrade_request_with_a_body_is_served_in_http_1_1(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe))
    with RawConnection(server.host, server.port) as raw:
        raw.send(
            request_bytes(
                "POST",
                "/echo",
                headers=[
                    ("connection", "Upgrade, HTTP2-Settings"),
                    ("upgrade", "h2c"),
                    ("http2-settings", "AAMAAABk"),
                    ("content-length", "3"),
                ],
                body=b"abc",
            )
        )
        response = raw.read_response()
        assert response.status == 200
        assert json.loads(response.body)["http_version"] == "1.1"


def test_with_http2_off_cleartext_is_http_1_1_only(serve: Any, probe: Probe) -> None:
    server = serve(make_app(probe), http2=False)
    with RawConnection(server.host, server.port) as raw:
        raw.send(PREFACE)
        assert raw.read_some().startswith(b"HTTP/1.1 ")
