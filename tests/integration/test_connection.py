"""Connection management: keep-alive, pipelining, idle timeout, HTTP/1.0."""

from __future__ import annotations

import asyncio
import threading

import httpx

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.raw import RawConnection, request_bytes


async def path_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request's method, path and body length."""
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    await respond(send, f"{scope['method']} {scope['path']} {len(body)}")


def test_keep_alive_reuses_the_connection(serve):
    server = serve(path_app)
    with RawConnection(server.host, server.port) as conn:
        for number in range(5):
            conn.send_request("GET", f"/n{number}")
            response = conn.read_response()
            assert response.status == 200
            assert response.body == f"GET /n{number} 0".encode()
            assert response.keeps_alive
        # Still the same socket: the server never closed it between requests.
        conn.send_request("POST", "/last", headers=[("content-length", "3")], body=b"abc")
        assert conn.read_response().body == b"POST /last 3"


def test_httpx_client_reuses_one_connection(serve):
    server = serve(path_app)
    ports = set()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for number in range(5):
            response = client.get(f"/n{number}")
            assert response.text == f"GET /n{number} 0"
            stream = response.extensions["network_stream"]
            ports.add(stream.get_extra_info("socket").getsockname()[1])
    assert len(ports) == 1


def test_pipelined_requests_are_answered_in_order(serve):
    server = serve(path_app)
    requests = b"".join(
        [
            request_bytes("GET", "/first"),
            request_bytes("POST", "/second", headers=[("content-length", "5")], body=b"hello"),
            request_bytes(
                "PUT",
                "/third",
                headers=[("transfer-encoding", "chunked")],
                body=b"3\r\nabc\r\n0\r\n\r\n",
            ),
            request_bytes("GET", "/fourth"),
        ]
    )
    with RawConnection(server.host, server.port) as conn:
        conn.send(requests)  # one write: the server sees them all at once
        bodies = [conn.read_response().body for _ in range(4)]
    assert bodies == [b"GET /first 0", b"POST /second 5", b"PUT /third 3", b"GET /fourth 0"]


def test_many_pipelined_requests_in_one_write(serve):
    server = serve(path_app)
    count = 200  # more than fits the server's pipelining buffer: reading must pause and resume
    with RawConnection(server.host, server.port) as conn:
        conn.send(b"".join(request_bytes("GET", f"/r{i}") for i in range(count)))
        for i in range(count):
            assert conn.read_response().body == f"GET /r{i} 0".encode()


def test_connection_close_from_client_is_honoured(serve):
    server = serve(path_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/", headers=[("connection", "close")])
        response = conn.read_response()
        assert response.status == 200
        assert response.header("connection") == "close"
        conn.assert_closed()


def test_http_1_0_request_is_answered_and_closed(serve):
    server = serve(path_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/old", version="HTTP/1.0")
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b"GET /old 0"
        assert response.header("content-length") == "10"
        conn.assert_closed()


def test_idle_keep_alive_connection_is_closed_after_timeout(serve):
    server = serve(path_app, timeout_keep_alive=0.3)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().status == 200
        # Nothing more is sent: the server closes the idle connection by itself.
        conn.assert_closed(timeout=30)


def test_keep_alive_timeout_does_not_cut_a_slow_request(serve):
    """The idle timer is for idle connections; an app taking its time is not idle."""

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(0.5)
        await respond(send, "slow but fine")

    server = serve(slow, timeout_keep_alive=0.1)
    with RawConnection(server.host, server.port) as conn:
        for _ in range(2):
            conn.send_request("GET", "/")
            assert conn.read_response().body == b"slow but fine"


def test_absolute_form_target_sets_path_and_host(serve):
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope)
        await respond(send, "ok")

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "GET", "http://example.org:8080/a/b?x=1", headers=[("host", "ignored.test")]
        )
        assert conn.read_response().status == 200
    (scope,) = seen
    assert scope["path"] == "/a/b"
    assert scope["raw_path"] == b"/a/b"
    assert scope["query_string"] == b"x=1"
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    assert hosts == [b"example.org:8080"]


def test_app_asking_to_close_is_honoured(serve):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await respond(send, "bye", headers=[(b"connection", b"close")])

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        # A pipelined second request is not answered: the app ended the connection.
        conn.send(request_bytes("GET", "/1") + request_bytes("GET", "/2"))
        response = conn.read_response()
        assert response.body == b"bye"
        assert response.header("connection") == "close"
        conn.assert_closed()


def test_concurrent_clients(serve):
    server = serve(path_app)
    errors: list[BaseException] = []

    def client(number: int) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as session:
                for request in range(20):
                    body = f"{number}-{request}".encode()
                    response = session.post(f"/c{number}", content=body)
                    assert response.text == f"POST /c{number} {len(body)}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []


def test_http_scope(serve):
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope)
        await respond(send, "ok")

    server = serve(app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            "GET",
            "/caf%C3%A9/a%2Fb?q=%20x&y=1",
            headers=[("X-Custom", "Value"), ("x-multi", "1"), ("x-multi", "2")],
        )
        assert conn.read_response().status == 200
        client_port = conn.local_port
    (scope,) = seen
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/a/b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%2Fb"
    assert scope["query_string"] == b"q=%20x&y=1"
    assert scope["root_path"] == ""
    assert scope["client"] == ("127.0.0.1", client_port)
    assert scope["server"] == ("127.0.0.1", server.port)
    assert (b"x-custom", b"Value") in scope["headers"]  # names lowercased, values kept
    assert [v for k, v in scope["headers"] if k == b"x-multi"] == [b"1", b"2"]
    assert "http.response.trailers" in scope["extensions"]


def test_unknown_method_reaches_the_app(serve):
    server = serve(path_app)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("PROPFIND", "/dav", headers=[("content-length", "2")], body=b"<>")
        assert conn.read_response().body == b"PROPFIND /dav 2"
