"""Middleware on a real server: the user's chain by import path, and the built-ins."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import PounceFactory, ServeFactory
from support.extras_apps import app as scope_app
from support.extras_apps import outer_tag
from support.raw import RawConnection, RawResponse
from support.servers import run_pounce


def raw(server: Any, target: str, *, method: str = "GET", headers: Any = ()) -> RawResponse:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(method, target, headers=list(headers))
        return conn.read_response(method=method)


# ------------------------------------------------------------ --middleware


def test_middleware_chain_from_the_command_line_in_order(pounce: PounceFactory) -> None:
    process = pounce(
        "support.extras_apps:app",
        "--middleware",
        "support.extras_apps:outer_tag",
        "--middleware",
        "support.extras_apps:inner_tag",
    )
    response = httpx.get(process.url + "/")
    # The inner one (closest to the app) sees the response first.
    assert response.headers["x-tags"] == "inner,outer"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module:Factory", "cannot import 'no_such_module'"),
        ("support.extras_apps:Nope", "has no 'Nope'"),
        ("support.extras_apps:__all__", "not callable"),
    ],
)
def test_a_bad_middleware_stops_start_up_with_one_line(path: str, message: str) -> None:
    code, _, err = run_pounce("support.extras_apps:app", "--middleware", path, "--port", "0")
    assert code == 1
    assert message in err
    assert "Traceback" not in err


def test_middleware_in_process(serve: ServeFactory) -> None:
    server = serve(scope_app, middleware=["support.extras_apps:outer_tag"])
    assert httpx.get(server.url + "/").headers["x-tags"] == "outer"
    assert outer_tag.tag == b"outer"


# ------------------------------------------------------------------- CORS


ORIGIN = "https://app.example"


def test_cors_preflight_is_answered_by_the_server(serve: ServeFactory) -> None:
    server = serve(
        scope_app,
        cors_allow_origins=[ORIGIN],
        cors_allow_headers=["X-Token"],
        cors_max_age=120,
    )
    response = raw(
        server,
        "/anything",
        method="OPTIONS",
        headers=[
            ("origin", ORIGIN),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "x-token, content-type"),
        ],
    )
    assert response.status == 204
    assert response.header("access-control-allow-origin") == ORIGIN
    assert "PUT" in (response.header("access-control-allow-methods") or "")
    assert response.header("access-control-allow-headers") == "x-token, content-type"
    assert response.header("access-control-max-age") == "120"
    assert "Origin" in (response.header("vary") or "")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([("origin", "https://evil.example"), ("access-control-request-method", "GET")], "origin"),
        ([("origin", ORIGIN), ("access-control-request-method", "TRACE")], "method"),
        (
            [
                ("origin", ORIGIN),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-secret"),
            ],
            "headers",
        ),
    ],
)
def test_cors_preflight_refused(
    serve: ServeFactory, headers: list[tuple[str, str]], reason: str
) -> None:
    server = serve(scope_app, cors_allow_origins=[ORIGIN])
    response = raw(server, "/", method="OPTIONS", headers=headers)
    assert response.status == 400, reason
    assert response.header("access-control-allow-origin") is None


def test_cors_actual_request_from_an_allowed_origin(serve: ServeFactory) -> None:
    server = serve(
        scope_app,
        cors_allow_origins=[ORIGIN],
        cors_allow_credentials=True,
        cors_expose_headers=["X-Total"],
    )
    response = httpx.get(server.url + "/", headers={"origin": ORIGIN})
    assert response.text == "hello\n"  # the app answered
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "X-Total"
    assert "Origin" in response.headers["vary"].split(", ")


def test_cors_disallowed_origin_gets_no_cors_headers(serve: ServeFactory) -> None:
    server = serve(scope_app, cors_allow_origins=[ORIGIN])
    response = httpx.get(server.url + "/", headers={"origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_cors_any_origin(serve: ServeFactory) -> None:
    server = serve(scope_app, cors_allow_origins=["*"])
    response = httpx.get(server.url + "/", headers={"origin": "https://x.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Origin" not in response.headers.get("vary", "")
    with_credentials = serve(scope_app, cors_allow_origins=["*"], cors_allow_credentials=True)
    echoed = httpx.get(with_credentials.url + "/", headers={"origin": "https://x.example"})
    assert echoed.headers["access-control-allow-origin"] == "https://x.example"


def test_cors_from_the_command_line(pounce: PounceFactory) -> None:
    process = pounce(
        "support.extras_apps:app", "--cors-allow-origins", f"{ORIGIN},https://other.example"
    )
    response = httpx.get(process.url + "/", headers={"origin": "https://other.example"})
    assert response.headers["access-control-allow-origin"] == "https://other.example"


# -------------------------------------------------------- security headers


def test_security_headers_on_http_without_hsts(serve: ServeFactory) -> None:
    server = serve(scope_app, security_headers=True, content_security_policy="default-src 'self'")
    headers = httpx.get(server.url + "/").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["content-security-policy"] == "default-src 'self'"
    assert "strict-transport-security" not in headers


def test_hsts_on_https_as_told_by_a_trusted_proxy(serve: ServeFactory) -> None:
    server = serve(scope_app, security_headers=True, hsts_max_age=600)
    response = httpx.get(server.url + "/", headers={"x-forwarded-proto": "https"})
    assert response.headers["strict-transport-security"] == "max-age=600; includeSubDomains"


def test_app_set_security_headers_win(serve: ServeFactory) -> None:
    from support.extras_apps import respond_with

    server = serve(
        respond_with(b"x", headers=[(b"x-frame-options", b"DENY")]), security_headers=True
    )
    assert httpx.get(server.url + "/").headers["x-frame-options"] == "DENY"


# --------------------------------------------------------------- request ID


def test_request_id_is_generated_and_echoed(serve: ServeFactory) -> None:
    server = serve(scope_app, request_id=True)
    response = httpx.get(server.url + "/scope")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    seen = response.json()
    assert seen["request_id"] == request_id
    assert seen["headers"]["x-request-id"] == request_id
    assert httpx.get(server.url + "/").headers["x-request-id"] != request_id


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123.def:9", True), ("x" * 129, False), ("bad id", False), ("a\x7fb", False)],
)
def test_a_valid_incoming_request_id_is_kept(serve: ServeFactory, given: str, kept: bool) -> None:
    server = serve(scope_app, request_id=True, request_id_header="X-Correlation-ID")
    with RawConnection(server.host, server.port) as conn:
        conn.send(
            f"GET /scope HTTP/1.1\r\nhost: x\r\nx-correlation-id: {given}\r\n\r\n".encode("latin-1")
        )
        response = conn.read_response()
    if response.status == 400:
        assert not kept  # the server refused the header bytes outright
        return
    echoed = response.header("x-correlation-id")
    assert (echoed == given) is kept
    assert json.loads(response.body)["request_id"] == echoed


# ---------------------------------------------------------- proxy headers


def test_rfc_7239_forwarded_from_a_trusted_peer(serve: ServeFactory) -> None:
    server = serve(scope_app)  # 127.0.0.1 is trusted by default
    response = raw(
        server,
        "/scope",
        headers=[("forwarded", 'for="203.0.113.7:4711";proto=https;host=shop.example')],
    )
    seen = json.loads(response.body)
    assert seen["client"] == ["203.0.113.7", 4711]
    assert seen["scheme"] == "https"
    assert seen["headers"]["host"] == "shop.example"


def test_x_forwarded_host(serve: ServeFactory) -> None:
    server = serve(scope_app)
    response = raw(server, "/scope", headers=[("x-forwarded-host", "public.example:8443")])
    assert json.loads(response.body)["headers"]["host"] == "public.example:8443"


def test_forwarding_headers_from_an_untrusted_peer_are_ignored(serve: ServeFactory) -> None:
    server = serve(scope_app, forwarded_allow_ips=["10.0.0.0/8"])
    response = raw(
        server,
        "/scope",
        headers=[("forwarded", "for=203.0.113.7;proto=https"), ("x-forwarded-host", "evil")],
    )
    seen = json.loads(response.body)
    assert seen["client"][0] == "127.0.0.1"
    assert seen["scheme"] == "http"
    assert seen["headers"]["host"] == "testserver"
