"""Error pages: server-generated responses as HTML, JSON or text, by Accept."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from conftest import PounceFactory, ServeFactory
from support.extras_apps import app as routes
from support.raw import RawConnection, RawResponse
from support.waiting import log_records, wait_for


def raw(server: Any, target: str, *, headers: list[tuple[str, str]]) -> RawResponse:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", target, headers=headers)
        return conn.read_response()


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_413_from_the_core_is_rendered_for_a_browser(serve: ServeFactory) -> None:
    server = serve(routes, limit_request_body=10)
    response = raw(server, "/", headers=[("accept", BROWSER), ("content-length", "100")])
    assert response.status == 413
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert b"<title>413 " in response.body  # the phrase depends on the Python version


def test_500_for_an_api_client_is_problem_json(serve: ServeFactory) -> None:
    server = serve(routes)
    response = httpx.get(server.url + "/fail", headers={"accept": "application/problem+json"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
    }


def test_wildcard_accept_gets_plain_text(serve: ServeFactory) -> None:
    response = httpx.get(serve(routes).url + "/fail", headers={"accept": "*/*"})
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "500 Internal Server Error\n"


def test_no_error_pages_keeps_plain_text(serve: ServeFactory) -> None:
    server = serve(routes, error_pages=False)
    response = httpx.get(server.url + "/fail", headers={"accept": "text/html"})
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_protocol_error_has_no_headers_to_negotiate_with(serve: ServeFactory) -> None:
    server = serve(routes)
    with RawConnection(server.host, server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n")
        response = conn.read_response()
    assert response.status == 400
    assert response.header("content-type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("accept", "marker"),
    [("text/html", b"<pre>"), ("application/json", b'"traceback"'), ("*/*", b"Traceback")],
)
def test_debug_shows_the_traceback(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture, accept: str, marker: bytes
) -> None:
    caplog.set_level(logging.INFO, logger="pounce")
    server = serve(routes, debug=True)
    response = httpx.get(server.url + "/fail", headers={"accept": accept})
    assert response.status_code == 500
    assert marker in response.content
    assert b"the app failed on purpose" in response.content
    assert b"RuntimeError" in response.content
    # The server still logs the exception as it would without --debug.
    errors = wait_for(lambda: log_records(caplog, "pounce.error", level=logging.ERROR))
    assert any(r.exc_info and "on purpose" in str(r.exc_info[1]) for r in errors)


def test_without_debug_no_traceback_leaks(serve: ServeFactory) -> None:
    server = serve(routes)
    for accept in ("text/html", "application/json", "*/*"):
        body = httpx.get(server.url + "/fail", headers={"accept": accept}).content
        assert b"on purpose" not in body
        assert b"Traceback" not in body


def test_debug_page_in_json_lists_the_lines(serve: ServeFactory) -> None:
    server = serve(routes, debug=True)
    problem = httpx.get(server.url + "/fail", headers={"accept": "application/json"}).json()
    assert problem["status"] == 500
    assert problem["traceback"][0] == "Traceback (most recent call last):"
    assert problem["traceback"][-1] == "RuntimeError: the app failed on purpose"


def test_debug_from_the_command_line(pounce: PounceFactory) -> None:
    process = pounce("support.extras_apps:app", "--debug")
    response = httpx.get(process.url + "/fail", headers={"accept": "text/html"})
    assert b"RuntimeError: the app failed on purpose" in response.content
    process.wait_for_output("Exception in ASGI application")
