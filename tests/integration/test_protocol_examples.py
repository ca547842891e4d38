"""The servers of examples/ built on pounce-protocols alone, run as their README says.

Each example runs as a subprocess (``python examples/.../server.py --port 0``,
its output read by :class:`~support.servers.PounceProcess`) and is driven by
real clients: httpx over HTTP/1.1 and HTTP/2, h2load and curl, websockets,
and raw sockets where a client would hide what is checked (pipelining, a
broken request, a frame sent behind the handshake). Whatever happens, a
traceback in an example's output fails the test that caused it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.sync.client import connect

from support.h2client import H2Client, frame
from support.raw import RawConnection, request_bytes
from support.servers import TESTS_DIR, PounceProcess
from support.ws import TEXT, RawWebSocket, client_frame, handshake_request

EXAMPLES = TESTS_DIR.parent / "examples"
MAX_BODY = 1024 * 1024  # both examples' own request-body limit


def _start(example: str) -> PounceProcess:
    script = EXAMPLES / example / "server.py"
    server = PounceProcess(
        ["--host", "127.0.0.1", "--port", "0"],
        cwd=EXAMPLES.parent,
        program=[sys.executable, str(script)],
    )
    try:
        return server.wait_ready()
    except BaseException:
        server.kill()
        raise


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[PounceProcess]:
    server = _start("protocols-threaded")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def anyio_server() -> Iterator[PounceProcess]:
    server = _start("protocols-anyio")
    try:
        yield server
    finally:
        server.kill()


def _no_traceback(server: PounceProcess) -> Iterator[PounceProcess]:
    seen = len(server.output)
    yield server
    assert "Traceback" not in server.output[seen:], server.output[seen:]


@pytest.fixture
def threaded(threaded_server: PounceProcess) -> Iterator[PounceProcess]:
    yield from _no_traceback(threaded_server)


@pytest.fixture
def anyio_example(anyio_server: PounceProcess) -> Iterator[PounceProcess]:
    yield from _no_traceback(anyio_server)


# ------------------------------------------------ protocols-threaded: HTTP/1.1


def test_http1_keep_alive_numbers_the_requests_of_one_connection(threaded: PounceProcess) -> None:
    with httpx.Client(base_url=threaded.url, timeout=30) as client:
        answers = [client.get("/") for _ in range(3)]
        echoed = client.post("/echo", content=b"ping" * 1000)
        missing = client.get("/missing")
    assert [r.http_version for r in answers] == ["HTTP/1.1"] * 3
    # One connection: its cycles are streams 1, 2, 3.
    assert [r.text for r in answers] == [f"Hello over HTTP/1.1, stream {n}\n" for n in (1, 2, 3)]
    assert echoed.content == b"ping" * 1000
    assert missing.status_code == 404


def test_http1_pipelined_requests_are_answered_in_order(threaded: PounceProcess) -> None:
    requests = (
        request_bytes("GET", "/")
        + request_bytes("POST", "/echo", headers=[("content-length", "5")], body=b"hello")
        + request_bytes("GET", "/missing")
        + request_bytes("GET", "/", headers=[("connection", "close")])
    )
    with RawConnection(port=threaded.port) as conn:
        conn.send(requests)  # all in one write
        responses = [conn.read_response() for _ in range(4)]
        conn.assert_closed()
    assert [r.status for r in responses] == [200, 200, 404, 200]
    assert responses[0].body == b"Hello over HTTP/1.1, stream 1\n"
    assert responses[1].body == b"hello"
    assert responses[3].body == b"Hello over HTTP/1.1, stream 4\n"


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a client program to completion; its exit status must be 0."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _h2load(h2load: str, url: str, *options: str) -> str:
    """300 requests over 3 connections, 10 at a time on each; all must succeed."""
    output = _tool(h2load, *options, "-n", "300", "-c", "3", "-m", "10", url).stdout
    assert "300 succeeded, 0 failed, 0 errored" in output, output
    assert "status codes: 300 2xx" in output, output
    return output


def test_http1_pipelining_under_h2load(
    threaded: PounceProcess, require_tool: Callable[[str], str]
) -> None:
    output = _h2load(require_tool("h2load"), f"{threaded.url}/", "--h1")  # -m 10: pipelined
    assert "Application protocol: http/1.1" in output, output


def test_http1_expect_continue_with_curl(
    threaded: PounceProcess, require_tool: Callable[[str], str]
) -> None:
    curl = require_tool("curl")
    expect = ("-H", "Expect: 100-continue")
    result = _tool(curl, "-sS", "-v", "--http1.1", *expect, "-d", "x=1", f"{threaded.url}/echo")
    assert "< HTTP/1.1 100 Continue" in result.stderr
    assert result.stdout == "x=1"


def test_http1_head_has_a_length_and_no_body(threaded: PounceProcess) -> None:
    with RawConnection(port=threaded.port) as conn:
        conn.send_request("HEAD", "/", headers=[("connection", "close")])
        response = conn.read_response(method="HEAD")
        conn.assert_closed()
    assert response.status == 200
    assert response.header("content-length") == str(len("Hello over HTTP/1.1, stream 1\n"))
    assert response.body == b""


def test_http1_broken_request_gets_the_status_its_error_carries(threaded: PounceProcess) -> None:
    with RawConnection(port=threaded.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n")  # a bare LF
        response = conn.read_response()
        conn.assert_closed()
    assert response.status == 400
    assert b"bare LF" in response.body


def test_http1_body_over_the_limit_is_413(threaded: PounceProcess) -> None:
    body = b"x" * (MAX_BODY + 1)
    with RawConnection(port=threaded.port) as conn:
        conn.send_request(
            "POST", "/echo", headers=[("content-length", str(2 * MAX_BODY))], body=body
        )
        response = conn.read_response()
    assert response.status == 413
    assert response.header("connection") == "close"


# -------------------------------------------------- protocols-threaded: HTTP/2


def test_http2_prior_knowledge_with_httpx(threaded: PounceProcess) -> None:
    upload = bytes(range(256)) * 1200  # 300 KiB: more than one stream window
    with httpx.Client(base_url=threaded.url, http1=False, http2=True, timeout=30) as client:
        answers = [client.get("/") for _ in range(3)]
        echoed = client.post("/echo", content=upload)
        head = client.head("/")
    assert [r.http_version for r in answers] == ["HTTP/2"] * 3
    assert [r.text for r in answers] == [f"Hello over HTTP/2, stream {n}\n" for n in (1, 3, 5)]
    assert echoed.content == upload
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len("Hello over HTTP/2, stream 9\n"))
    assert head.content == b""


def test_http2_many_streams_under_h2load(
    threaded: PounceProcess, require_tool: Callable[[str], str]
) -> None:
    output = _h2load(require_tool("h2load"), f"{threaded.url}/")  # h2c by prior knowledge
    assert "Application protocol: h2c" in output, output


def test_http2_prior_knowledge_with_curl(
    threaded: PounceProcess, require_tool: Callable[[str], str]
) -> None:
    curl = require_tool("curl")
    data = ("--data-binary", "over h2")
    result = _tool(curl, "-sS", "--http2-prior-knowledge", *data, f"{threaded.url}/echo")
    assert result.stdout == "over h2"


def test_http2_rejected_and_oversized_requests_leave_the_connection_open(
    threaded: PounceProcess,
) -> None:
    with H2Client("127.0.0.1", threaded.port) as client:
        # A header section over the machine's limit: RequestRejected, 431 on its stream.
        big = client.request("/", headers=[("x-big", "a" * 20_000)])
        assert client.response(big).status == 431
        # A body over the example's limit: answered early, the upload cut short.
        upload = client.request("/echo", "POST", end=False)
        client.send_body(upload, b"x" * (MAX_BODY + 1), end=False)
        assert client.response(upload).status == 413
        # The connection goes on.
        after = client.request("/")
        assert client.response(after).body == f"Hello over HTTP/2, stream {after}\n".encode()


def test_http2_protocol_error_ends_with_goaway(threaded: PounceProcess) -> None:
    with H2Client("127.0.0.1", threaded.port) as client:
        client.send_raw(frame(0x0, 0x1, 0, b"data on stream 0"))  # DATA must name a stream
        client.read_until_closed()
    assert client.goaway is not None
    assert client.goaway[1] == 0x1  # PROTOCOL_ERROR


# --------------------------------------------------- protocols-anyio: HTTP/1.1


def test_anyio_http_page_and_keep_alive(anyio_example: PounceProcess) -> None:
    with httpx.Client(base_url=anyio_example.url, timeout=30) as client:
        page = client.get("/")
        missing = client.get("/missing")
        head = client.head("/")
    assert page.status_code == 200
    assert "new WebSocket" in page.text
    assert missing.status_code == 404
    assert head.headers["content-length"] == str(len(page.content))
    assert head.content == b""


@pytest.mark.parametrize(
    ("extra", "status", "answer"),
    [
        ([("sec-websocket-version", "13")], 400, "Sec-WebSocket-Key is missing"),
        (
            [("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "8")],
            426,
            "unsupported Sec-WebSocket-Version",
        ),
    ],
    ids=["no-key", "old-version"],
)
def test_anyio_bad_handshake_gets_the_response_its_error_names(
    anyio_example: PounceProcess, extra: list[tuple[str, str]], status: int, answer: str
) -> None:
    headers = [("upgrade", "websocket"), ("connection", "Upgrade"), *extra]
    with RawConnection(port=anyio_example.port) as conn:
        conn.send_request("GET", "/ws", headers=headers)
        response = conn.read_response()
        conn.assert_closed()
    assert response.status == status
    assert answer.encode() in response.body
    if status == 426:
        assert response.header("sec-websocket-version") == "13"


# -------------------------------------------------- protocols-anyio: WebSocket


@pytest.mark.parametrize("compression", ["deflate", None], ids=["deflate", "plain"])
def test_anyio_websocket_echo(anyio_example: PounceProcess, compression: str | None) -> None:
    url = f"ws://127.0.0.1:{anyio_example.port}/ws"
    with connect(url, compression=compression, subprotocols=["echo"]) as ws:
        assert ws.subprotocol == "echo"
        extensions = ws.response.headers.get("sec-websocket-extensions")
        assert (extensions == "permessage-deflate") == (compression == "deflate")
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send("é" * 40_000)  # a length past 65535 bytes: the 64-bit form
        assert ws.recv() == "é" * 40_000
        payload = bytes(range(256)) * 100
        ws.send(payload)
        assert ws.recv() == payload
        ws.send(["frag", "mented"])  # a message in three frames
        assert ws.recv() == "fragmented"
        assert ws.ping(b"are you there").wait(30)  # the machine answers pings itself


def test_anyio_websocket_server_closes_on_bye(anyio_example: PounceProcess) -> None:
    with connect(f"ws://127.0.0.1:{anyio_example.port}/ws") as ws:
        ws.send("bye")
        with pytest.raises(ConnectionClosedOK):
            ws.recv()
    assert ws.close_code == 1000
    assert ws.close_reason == "bye"


def test_anyio_websocket_message_over_the_limit_fails_with_1009(
    anyio_example: PounceProcess,
) -> None:
    with connect(f"ws://127.0.0.1:{anyio_example.port}/ws", max_size=None) as ws:
        ws.send(b"x" * (MAX_BODY + 1))
        with pytest.raises(ConnectionClosedError):
            ws.recv()
    assert ws.close_code == 1009


def test_anyio_websocket_frame_behind_the_handshake_and_bad_utf8(
    anyio_example: PounceProcess,
) -> None:
    # A frame written right behind the request: it reaches the WebSocket
    # machine through take_upgraded_data().
    early = client_frame(TEXT, b"early")
    with RawWebSocket(anyio_example.port, "/ws", early=early) as ws:
        assert ws.read_frame().payload == b"early"
        ws.send_frame(TEXT, b"\xff\xfe")  # not UTF-8
        closing = ws.read_frame()
        assert closing.close_code == 1007
        ws.assert_closed()


def test_anyio_websocket_needs_the_ws_path(anyio_example: PounceProcess) -> None:
    with RawConnection(port=anyio_example.port) as conn:
        conn.send(handshake_request("/elsewhere"))  # served as the plain request it also is
        assert conn.read_response().status == 404


def _imported_packages(script: Path) -> set[str]:
    tree = ast.parse(script.read_text(), filename=str(script))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names


@pytest.mark.parametrize("example", ["protocols-threaded", "protocols-anyio"])
def test_examples_are_short_and_use_only_pounce_protocols(example: str) -> None:
    script = EXAMPLES / example / "server.py"
    assert len(script.read_text().splitlines()) < 230, "no longer a short tutorial"
    third_party = _imported_packages(script) - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party <= {"pounce_protocols", "anyio"}, third_party
    assert "pounce_protocols" in third_party


def test_examples_readme_runs_each_example_with_one_command() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for example in ("protocols-threaded", "protocols-anyio"):
        assert f"uv run python examples/{example}/server.py" in readme
