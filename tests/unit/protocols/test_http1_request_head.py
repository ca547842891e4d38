"""The syntax of a request head: Host, field lines, line endings, versions.

Everything here is refused at the head, so no event may come out before the
error, however the bytes were split.
"""

from __future__ import annotations

import pytest

from pounce_protocols import (
    BodyEnded,
    HTTP1ServerConnection,
    RequestReceived,
)

from ._helpers import receive, rejection, request

WHOLE_OR_BYTES = pytest.mark.parametrize("step", [None, 1], ids=["whole", "byte-by-byte"])


def assert_refused(data: bytes, status: int, step: int | None) -> None:
    exc, events, conn = rejection(data, step=step)
    assert exc.status_hint == status, str(exc)
    assert events == []
    assert conn.receive_data(request()) == []
    assert not conn.keep_alive


# -------------------------------------------------------------------- Host


@WHOLE_OR_BYTES
def test_http11_without_host_is_400(step: int | None) -> None:
    assert_refused(request(headers=[]), 400, step)


@pytest.mark.parametrize(
    "hosts",
    [[b"Host: a", b"Host: a"], [b"Host: a", b"Host: b"], [b"Host: a", b"host: a"]],
    ids=["same", "different", "case-variant"],
)
@WHOLE_OR_BYTES
def test_duplicate_host_is_400(hosts: list[bytes], step: int | None) -> None:
    assert_refused(request(headers=hosts), 400, step)


def test_http10_without_host_is_fine() -> None:
    events = receive(request(version=b"HTTP/1.0", headers=[]))
    assert events == [
        RequestReceived(
            stream_id=1,
            method=b"GET",
            path=b"/",
            query_string=b"",
            http_version="1.0",
            headers=(),
        ),
        BodyEnded(stream_id=1),
    ]


# ------------------------------------------------------------- field lines


INVALID_FIELDS = [
    pytest.param(b"X: a\r\n b", id="obs-fold-space"),
    pytest.param(b"X: a\r\n\tb", id="obs-fold-tab"),
    pytest.param(b"X : a", id="space-before-colon"),
    pytest.param(b"X\t: a", id="tab-before-colon"),
    pytest.param(b"X\x00: a", id="name-nul"),
    pytest.param(b"X\x7f: a", id="name-del"),
    pytest.param(b"X\x01: a", id="name-control"),
    pytest.param(b"X(: a", id="name-separator"),
    pytest.param(b"X\xff: a", id="name-high-byte"),
    pytest.param(b": a", id="name-empty"),
    pytest.param(b"X a", id="no-colon"),
    pytest.param(b"X: a\x00b", id="value-nul"),
    pytest.param(b"X: a\rb", id="value-cr"),
    pytest.param(b"X: a\nb", id="value-lf"),
    pytest.param(b"X: a\x7fb", id="value-del"),
    pytest.param(b"X: a\x01b", id="value-soh"),
    pytest.param(b"X: a\x1bb", id="value-escape"),
    pytest.param(b"X: a\x0bb", id="value-vertical-tab"),
    pytest.param(b"X: a\x0cb", id="value-form-feed"),
    pytest.param(b"X: \x7f", id="value-only-del"),
]


@pytest.mark.parametrize("field", INVALID_FIELDS)
@WHOLE_OR_BYTES
def test_invalid_field_line_is_400(field: bytes, step: int | None) -> None:
    assert_refused(request(headers=[b"Host: example.com", field]), 400, step)


@pytest.mark.parametrize(
    ("field", "header"),
    [
        pytest.param(b"X: a\tb", (b"x", b"a\tb"), id="tab-inside-value"),
        pytest.param(b"X: caf\xc3\xa9", (b"x", b"caf\xc3\xa9"), id="obs-text"),
        pytest.param(b"X:  a  ", (b"x", b"a"), id="optional-whitespace"),
        pytest.param(b"X:", (b"x", b""), id="empty-value"),
        pytest.param(b"X-Y.Z~!#$%&'*+^_`|: 1", (b"x-y.z~!#$%&'*+^_`|", b"1"), id="token-chars"),
    ],
)
def test_valid_field_lines(field: bytes, header: tuple[bytes, bytes]) -> None:
    (req, _) = receive(request(headers=[b"Host: example.com", field]))
    assert isinstance(req, RequestReceived)
    assert req.headers == ((b"host", b"example.com"), header)


def test_header_names_are_lowercased_and_order_is_kept() -> None:
    (req, _) = receive(request(headers=[b"Host: h", b"X-B: 2", b"x-a: 1", b"X-B: 3"]))
    assert isinstance(req, RequestReceived)
    assert req.headers == ((b"host", b"h"), (b"x-b", b"2"), (b"x-a", b"1"), (b"x-b", b"3"))


# ------------------------------------------------------------ request line


INVALID_REQUEST_LINES = [
    pytest.param(b"GET /a\x00b HTTP/1.1", id="target-nul"),
    pytest.param(b"GET /a\rb HTTP/1.1", id="target-cr"),
    pytest.param(b"GET /a b HTTP/1.1", id="target-space"),
    pytest.param(b"GET /a\tb HTTP/1.1", id="target-tab"),
    pytest.param(b"GET /a\x7fb HTTP/1.1", id="target-del"),
    pytest.param(b"GET /a\xffb HTTP/1.1", id="target-high-byte"),
    pytest.param(b"GET  / HTTP/1.1", id="double-space"),
    pytest.param(b"GET / HTTP/1.1 ", id="trailing-space"),
    pytest.param(b" GET / HTTP/1.1", id="leading-space"),
    pytest.param(b"GET /", id="no-version"),
    pytest.param(b"GET / http/1.1", id="lowercase-version"),
    pytest.param(b"GET / HTTP/1", id="version-without-minor"),
    pytest.param(b"GET / HTTP/10.0", id="two-digit-major"),
    pytest.param(b"G(T / HTTP/1.1", id="method-not-token"),
    pytest.param(b"/ HTTP/1.1", id="no-method"),
]


@pytest.mark.parametrize("line", INVALID_REQUEST_LINES)
@WHOLE_OR_BYTES
def test_invalid_request_line_is_400(line: bytes, step: int | None) -> None:
    assert_refused(line + b"\r\nHost: example.com\r\n\r\n", 400, step)


# ------------------------------------------------------------ line endings


BARE_LINE_ENDINGS = [
    pytest.param(b"GET / HTTP/1.1\nHost: a\r\n\r\n", id="lf-after-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", id="lf-after-field"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\n", id="lf-blank-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\n\r\n", id="lf-then-crlf"),
    pytest.param(b"GET / HTTP/1.1\nHost: a\n\n", id="lf-everywhere"),
    pytest.param(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", id="leading-lf"),
    pytest.param(b"GET / HTTP/1.1\rHost: a\r\n\r\n", id="cr-after-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", id="cr-cr-lf"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", id="cr-in-blank-line"),
]


@pytest.mark.parametrize("data", BARE_LINE_ENDINGS)
@WHOLE_OR_BYTES
def test_bare_cr_or_lf_in_head_is_400(data: bytes, step: int | None) -> None:
    assert_refused(data, 400, step)


@WHOLE_OR_BYTES
def test_empty_lines_before_the_request_line_are_ignored(step: int | None) -> None:
    # RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF)
    # received before the request-line.
    events = receive(b"\r\n\r\n" + request(b"/x"), step=step)
    assert [e.path for e in events if isinstance(e, RequestReceived)] == [b"/x"]


@pytest.mark.parametrize("step", [1, 2, 3, 5, 16], ids=str)
def test_head_split_anywhere_parses_like_a_whole_head(step: int) -> None:
    data = request(b"/p?q=1", headers=[b"Host: example.com", b"Accept: */*", b"X-Empty:"])
    assert receive(data, step=step) == receive(data)


def test_incomplete_head_produces_no_event() -> None:
    conn = HTTP1ServerConnection()
    assert conn.receive_data(b"GET / HTTP/1.1\r\nHost: example.com\r\n") == []
    assert conn.awaiting_request
    assert conn.has_partial_request
    assert conn.stream_id == 0


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize(
    "version",
    [b"HTTP/2.0", b"HTTP/9.9", b"HTTP/3.0", b"HTTP/0.9", b"HTTP/2.1"],
    ids=["2.0", "9.9", "3.0", "0.9", "2.1"],
)
@WHOLE_OR_BYTES
def test_unsupported_version_is_505(version: bytes, step: int | None) -> None:
    assert_refused(request(version=version), 505, step)


def test_http2_preface_is_505() -> None:
    assert_refused(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, None)


@pytest.mark.parametrize(
    ("version", "expected"),
    [(b"HTTP/1.0", "1.0"), (b"HTTP/1.1", "1.1"), (b"HTTP/1.2", "1.1"), (b"HTTP/1.9", "1.1")],
    ids=["1.0", "1.1", "1.2", "1.9"],
)
def test_http1_minor_versions(version: bytes, expected: str) -> None:
    # RFC 9110 §6.2: a higher minor version is treated as the highest we speak.
    (req, _) = receive(request(version=version))
    assert isinstance(req, RequestReceived)
    assert req.http_version == expected


def test_method_is_case_sensitive_and_kept_as_sent() -> None:
    (req, _) = receive(request(method=b"get"))
    assert isinstance(req, RequestReceived)
    assert req.method == b"get"
