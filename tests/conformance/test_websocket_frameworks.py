"""FastAPI and Starlette WebSocket endpoints served by Pounce, driven by ``websockets``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from conformance.apps import websocket_frameworks
from pounce.testing import LiveServer, live_server
from support.waiting import WAIT, wait_for


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(websocket_frameworks.app) as running:
        yield running


def open_ws(server: LiveServer, path: str, **options: object) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{server.port}{path}", open_timeout=WAIT, close_timeout=WAIT, **options
    )


def test_fastapi_path_query_subprotocol_and_json(server):
    websocket_frameworks.disconnects.clear()
    with open_ws(server, "/chat/lobby?name=ada", subprotocols=["chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v1"
        assert ws.recv(timeout=WAIT) == "welcome ada to lobby"
        ws.send('{"n": 1}')
        assert ws.recv(timeout=WAIT) == '{"room":"lobby","name":"ada","echo":{"n":1}}'
        ws.close(4002)
    wait_for(lambda: websocket_frameworks.disconnects == [4002], what="the disconnect code")


def test_fastapi_bytes(server):
    with open_ws(server, "/bytes") as ws:
        ws.send(b"\x01\x02\x03")
        assert ws.recv(timeout=WAIT) == b"\x03\x02\x01"


def test_starlette_denial_response(server):
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/private")
    assert caught.value.response.status_code == 401
    assert caught.value.response.body == b"token required"


def test_starlette_close_with_code_and_reason(server):
    with open_ws(server, "/private?token=secret") as ws:
        assert ws.recv(timeout=WAIT) == "in"
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
    assert caught.value.rcvd is not None
    assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4000, "done")


def test_close_before_accept_is_403(server):
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/reject")
    assert caught.value.response.status_code == 403


def test_unknown_websocket_route_is_403(server):
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/nowhere")
    assert caught.value.response.status_code == 403


def test_starlette_endpoint_class(server):
    websocket_frameworks.disconnects.clear()
    with open_ws(server, "/counter") as ws:
        for word in ("a", "b", "c"):
            ws.send(word)
        assert [ws.recv(timeout=WAIT) for _ in range(3)] == ["1: a", "2: b", "3: c"]
    wait_for(lambda: websocket_frameworks.disconnects == [1000], what="the disconnect code")
