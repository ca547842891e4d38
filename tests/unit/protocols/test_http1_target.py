"""Request targets (RFC 9112 §3.2): origin, absolute, asterisk and authority form."""

from __future__ import annotations

import pytest

from pounce_protocols import RequestReceived

from ._helpers import receive, rejection, request


def parsed(target: bytes, method: bytes = b"GET") -> RequestReceived:
    req = receive(request(target, method=method))[0]
    assert isinstance(req, RequestReceived)
    return req


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        pytest.param(b"/", b"/", b"", id="root"),
        pytest.param(b"/a/b", b"/a/b", b"", id="path"),
        pytest.param(b"/a?x=1&y=2", b"/a", b"x=1&y=2", id="query"),
        pytest.param(b"/a?", b"/a", b"", id="empty-query"),
        pytest.param(b"/a?x=?", b"/a", b"x=?", id="question-mark-in-query"),
        pytest.param(b"/caf%C3%A9%2Fx", b"/caf%C3%A9%2Fx", b"", id="percent-encoded-kept-raw"),
        pytest.param(b"//double", b"//double", b"", id="double-slash"),
    ],
)
def test_origin_form(target: bytes, path: bytes, query: bytes) -> None:
    req = parsed(target)
    assert (req.path, req.query_string, req.scheme, req.authority) == (path, query, None, None)


@pytest.mark.parametrize(
    ("target", "scheme", "authority", "path", "query"),
    [
        pytest.param(
            b"http://example.com/p?q=1", b"http", b"example.com", b"/p", b"q=1", id="http"
        ),
        pytest.param(
            b"https://example.com:8443/a/b", b"https", b"example.com:8443", b"/a/b", b"", id="https"
        ),
        pytest.param(b"HTTP://Example.COM/", b"http", b"Example.COM", b"/", b"", id="scheme-case"),
        pytest.param(b"http://example.com", b"http", b"example.com", b"/", b"", id="no-path"),
        pytest.param(b"http://example.com?x", b"http", b"example.com", b"/", b"x", id="only-query"),
        pytest.param(b"http://[::1]:80/p", b"http", b"[::1]:80", b"/p", b"", id="ipv6"),
        pytest.param(
            b"http://user@example.com/p", b"http", b"user@example.com", b"/p", b"", id="userinfo"
        ),
    ],
)
def test_absolute_form_is_split(
    target: bytes, scheme: bytes, authority: bytes, path: bytes, query: bytes
) -> None:
    req = parsed(target)
    assert (req.scheme, req.authority, req.path, req.query_string) == (
        scheme,
        authority,
        path,
        query,
    )


def test_asterisk_form_with_options() -> None:
    req = parsed(b"*", method=b"OPTIONS")
    assert (req.method, req.path, req.query_string) == (b"OPTIONS", b"*", b"")


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        pytest.param(b"GET", b"*", 400, id="asterisk-with-get"),
        pytest.param(b"POST", b"*", 400, id="asterisk-with-post"),
        pytest.param(b"CONNECT", b"example.com:443", 501, id="connect-authority-form"),
        pytest.param(b"CONNECT", b"/", 501, id="connect-origin-form"),
        pytest.param(b"CONNECT", b"http://example.com/", 501, id="connect-absolute-form"),
        pytest.param(b"CONNECT", b"*", 501, id="connect-asterisk"),
        pytest.param(b"GET", b"example.com:443", 400, id="authority-form-without-connect"),
        pytest.param(b"GET", b"/a#frag", 400, id="fragment"),
        pytest.param(b"GET", b"/a?q#frag", 400, id="fragment-after-query"),
        pytest.param(b"GET", b"http://example.com/a#frag", 400, id="absolute-with-fragment"),
        pytest.param(b"GET", b"ftp://example.com/", 400, id="other-scheme"),
        pytest.param(b"GET", b"http:///p", 400, id="no-authority"),
        pytest.param(b"GET", b"http:/p", 400, id="one-slash"),
        pytest.param(b"GET", b"relative/path", 400, id="relative"),
        pytest.param(b"GET", b"?q=1", 400, id="only-query"),
    ],
)
@pytest.mark.parametrize("step", [None, 1], ids=["whole", "byte-by-byte"])
def test_invalid_targets(method: bytes, target: bytes, status: int, step: int | None) -> None:
    exc, events, _ = rejection(request(target, method=method), step=step)
    assert exc.status_hint == status, str(exc)
    assert events == []
