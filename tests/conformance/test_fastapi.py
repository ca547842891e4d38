"""FastAPI served by Pounce: routing, validation, bodies, streaming, lifespan."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from conformance.apps import fastapi_app
from pounce.testing import live_server
from support.apps import track
from support.raw import RawConnection
from support.waiting import WAIT, log_records, wait_for


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    fastapi_app.events.clear()
    with (
        live_server(fastapi_app.app) as server,
        httpx.Client(base_url=server.url, timeout=WAIT) as client,
    ):
        assert fastapi_app.events == ["startup"]
        yield client
    assert fastapi_app.events[-1] == "shutdown"


def test_path_and_query_parameters(client):
    response = client.get("/items/42", params={"q": "search words", "limit": "3"})
    assert response.status_code == 200
    assert response.json() == {"item_id": 42, "q": "search words", "limit": 3}


def test_validation_error_is_422(client):
    response = client.get("/items/not-a-number")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_json_body(client):
    item = {"name": "Widget", "price": 9.5, "tags": ["a", "b"]}
    response = client.post("/items", json=item)
    assert response.status_code == 201
    assert response.json() == item
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))


def test_sync_route_runs(client):
    assert client.get("/sync").json() == {"ran": "in a thread"}


def test_form_fields(client):
    response = client.post("/form", data={"name": "Ada", "age": "36"})
    assert response.json() == {"name": "Ada", "age": 36}


def test_multipart_upload(client):
    payload = bytes(range(256)) * 4096  # 1 MiB
    response = client.post(
        "/upload",
        files={"file": ("data.bin", payload, "application/octet-stream")},
        data={"note": "binary"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "data.bin",
        "content_type": "application/octet-stream",
        "size": len(payload),
        "head": payload[:10].decode("latin-1"),
        "note": "binary",
    }


def test_streaming_response(client):
    with client.stream("GET", "/stream", params={"count": 4}) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        text = "".join(response.iter_text())
    assert text == "".join(f"chunk {n}\n" for n in range(4))


def test_lifespan_state_reaches_requests(client):
    first = client.get("/state").json()
    second = client.get("/state").json()
    assert first["greeting"] == "hello from lifespan"
    # The state dict is copied shallowly per request: the list inside is shared.
    assert second["hits"] == first["hits"] + 1


def test_http_exception(client):
    response = client.get("/teapot")
    assert response.status_code == 418
    assert response.json() == {"detail": "short and stout"}


def test_404_and_405(client):
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    wrong_method = client.delete("/items/1")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"


def test_head_request(client):
    get = client.get("/text")
    head = client.head("/text")
    assert get.text == "plain"
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "5"
    # FastAPI answers HEAD only where a route declares it.
    assert client.head("/sync").status_code == 405


def test_unhandled_exception_is_500_and_logged(client, caplog):
    caplog.set_level(logging.ERROR, logger="pounce")
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    record = wait_for(lambda: log_records(caplog, "pounce.error", level=logging.ERROR))[0]
    assert record.getMessage() == "Exception in ASGI application"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "fastapi route crashed"


def test_client_leaving_a_stream_is_not_an_error(caplog):
    """Starlette turns the server's OSError into ClientDisconnect; that is the
    client's doing, not an application error worth a traceback."""
    caplog.set_level(logging.INFO, logger="pounce")
    app, finished = track(fastapi_app.app)
    with live_server(app) as server:
        with RawConnection(server.host, server.port) as conn:
            conn.send_request("GET", "/forever")
            assert conn.read_head().status == 200
            assert conn.read_chunk() == b"tick\n"
        assert finished.wait(WAIT)
    assert not log_records(caplog, "pounce", level=logging.WARNING)
