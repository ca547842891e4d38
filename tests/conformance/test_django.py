"""Django over ASGI served by Pounce: views, URL routing, uploads, streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from pounce.testing import LiveServer, live_server
from support.raw import RawConnection
from support.waiting import WAIT


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    from conformance.apps import django_app

    with live_server(django_app.application) as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=WAIT) as client:
        yield client


def test_sync_view(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello from Django"
    assert response.headers["content-type"] == "text/plain"


def test_async_view_with_path_and_query_parameters(client, server):
    response = client.get("/articles/2024/hello-world/", params={"q": "pounce"})
    assert response.json() == {
        "year": 2024,
        "slug": "hello-world",
        "q": "pounce",
        "path": "/articles/2024/hello-world/",
        "host": f"127.0.0.1:{server.port}",
        "method": "GET",
    }


def test_json_post(client):
    response = client.post("/echo", json={"x": [1, 2, 3]})
    assert response.json()["json"] == {"x": [1, 2, 3]}


def test_form_post(client):
    response = client.post("/echo", data={"a": "1"})
    assert response.json()["body"] == "a=1"
    assert response.json()["content_type"] == "application/x-www-form-urlencoded"


def test_multipart_upload(client):
    response = client.post(
        "/upload",
        data={"title": "doc"},
        files={"attachment": ("notes.txt", b"x" * 300_000, "text/plain")},
    )
    assert response.status_code == 200
    assert response.json() == {
        "fields": {"title": "doc"},
        "files": {"attachment": {"name": "notes.txt", "size": 300_000}},
    }


def test_streaming_response(server):
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/stream")
        response = conn.read_response()
    assert response.status == 200
    assert response.header("transfer-encoding") == "chunked"
    assert response.body == b"".join(b"django chunk %d\n" % n for n in range(3))


def test_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert "Not Found" in response.text


def test_405(client):
    response = client.get("/echo")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    response = client.delete("/item")
    assert response.status_code == 405


def test_class_based_view_put(client):
    assert client.put("/item", content=b"new").text == "updated:new"


def test_head(server):
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/item")
        get = conn.read_response()
        conn.send_request("HEAD", "/item")
        head = conn.read_response(method="HEAD")
        conn.send_request("GET", "/")
        assert conn.read_response().body == b"Hello from Django"
    assert head.status == 200
    assert get.body == b"item"
    assert head.header("content-length") == get.header("content-length")


def test_disallowed_host_is_400(server):
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/", headers=[("host", "evil.example")])
        response = conn.read_response()
    assert response.status == 400


def test_keep_alive_across_many_requests(client):
    for number in range(20):
        body = json.dumps({"n": number})
        assert client.post(
            "/echo", content=body, headers={"content-type": "application/json"}
        ).json()["json"] == {"n": number}
