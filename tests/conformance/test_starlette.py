"""Starlette served by Pounce: routing, request streaming, forms, responses."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from conformance.apps import starlette_app
from pounce.testing import LiveServer, live_server
from support.raw import RawConnection
from support.waiting import WAIT


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(starlette_app.app) as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=WAIT) as client:
        yield client


def test_plain_text(client):
    response = client.get("/")
    assert response.text == "Hello, world!"
    assert response.headers["x-framework"] == "starlette"
    assert response.headers["content-length"] == "13"


def test_path_and_query_parameters(client, server):
    response = client.get("/users/ada", params=[("page", "2"), ("tag", "x"), ("tag", "y")])
    assert response.json() == {
        "username": "ada",
        "page": "2",
        "tags": ["x", "y"],
        "url": f"{server.url}/users/ada?page=2&tag=x&tag=y",
        "client": "127.0.0.1",
    }


def test_percent_encoded_path(client):
    assert client.get("/users/j%C3%BCrgen").json()["username"] == "jürgen"


@pytest.mark.parametrize("chunked", [False, True])
def test_request_body_streaming(client, chunked):
    payload = bytes(range(256)) * 40_000  # ~10 MB
    content = iter([payload[i : i + 65536] for i in range(0, len(payload), 65536)])
    response = client.post("/digest", content=content if chunked else payload)
    result = response.json()
    assert result["size"] == len(payload)
    assert result["sha256"] == hashlib.sha256(payload).hexdigest()
    assert result["chunks"] > 1  # delivered as it arrived, not in one piece


def test_urlencoded_form(client):
    response = client.post("/form", data={"a": "1", "b": "two words"})
    assert response.json() == {"a": "1", "b": "two words"}


def test_multipart_form(client):
    response = client.post(
        "/form",
        data={"title": "report"},
        files={"upload": ("report.csv", b"a,b\n1,2\n" * 1000, "text/csv")},
    )
    assert response.json() == {
        "title": "report",
        "upload": {"filename": "report.csv", "size": 8000},
    }


def test_streaming_response(server):
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/stream")
        response = conn.read_response()
    assert response.header("transfer-encoding") == "chunked"
    assert response.body == b"streamed by starlette"
    assert len(response.chunks) == 5


def test_lifespan_state(client):
    assert client.get("/state").json() == {"started": True, "name": "starlette-conformance"}


def test_404_and_405(client):
    assert client.get("/missing").status_code == 404
    assert client.get("/missing").text == "Not Found"
    response = client.get("/only-post")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert client.post("/only-post").text == "posted"


def test_head_on_a_get_route(server):
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        get = conn.read_response()
        conn.send_request("HEAD", "/")
        head = conn.read_response(method="HEAD")
        conn.send_request("GET", "/users/x")  # the connection is still in step
        assert conn.read_response().status == 200
    assert head.status == 200
    assert head.header("content-length") == get.header("content-length") == "13"
    assert head.header("content-type") == get.header("content-type")


def test_204_and_304(server):
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/no-content")
        no_content = conn.read_response()
        conn.send_request("GET", "/not-modified")
        not_modified = conn.read_response()
        conn.send_request("GET", "/")
        assert conn.read_response().body == b"Hello, world!"
    assert no_content.status == 204
    assert no_content.header("content-length") is None
    assert not_modified.status == 304
    assert not_modified.header("etag") == '"abc"'
