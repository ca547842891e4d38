"""Request smuggling and malformed HTTP/1.1 over a raw socket (RFC 9110/9112).

Each case is a request a client, a proxy in front of us, or an attacker could
send, taken from the smuggling literature (CL.TE, TE.CL, TE.TE obfuscations)
and from the MUST-reject rules of RFC 9112. Most carry a second request,
``GET /smuggled``, placed where a server that read the framing differently
from us would find it. For every case the test asserts:

* the exact response: status, ``connection: close`` on an error, the error
  body; or, for the shapes RFC 9112 lets us accept, the app's answer with the
  body we framed;
* that ``/smuggled`` never reached the app;
* that a fresh connection is served normally afterwards.
"""

from __future__ import annotations

import contextlib
import threading

import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.raw import RawConnection

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n"
BODY_LIMIT = 1024


class RecordingApp:
    """Answers ``ok <path> <body>`` and remembers every path it was given."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        with self._lock:
            self.paths.append(scope["path"])
        body = await read_body(receive)
        await respond(send, b"ok " + scope["path"].encode() + b" " + body)


def _post(*fields: bytes, body: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    head = b"POST / " + version + b"\r\nhost: x\r\n" + b"".join(f + b"\r\n" for f in fields)
    return head + b"\r\n" + body


def _get(*fields: bytes, target: bytes = b"/", version: bytes = b"HTTP/1.1") -> bytes:
    return (
        b"GET "
        + target
        + b" "
        + version
        + b"\r\n"
        + b"".join(f + b"\r\n" for f in fields)
        + b"\r\n"
    )


CHUNKED = b"transfer-encoding: chunked"

# name -> (bytes sent, expected status). Every one of these closes the connection.
REJECTED: dict[str, tuple[bytes, int]] = {
    # --- CL.TE / TE.CL: both framings present (RFC 9112 §6.3 ¶3) ----------
    "cl-te": (_post(b"content-length: 6", CHUNKED, body=b"0\r\n\r\n" + SMUGGLED), 400),
    "te-cl": (
        _post(CHUNKED, b"content-length: 4", body=b"5c\r\n" + SMUGGLED + b"\r\n0\r\n\r\n"),
        400,
    ),
    "cl-te-zero-length": (_post(b"content-length: 0", CHUNKED, body=b"0\r\n\r\n" + SMUGGLED), 400),
    # --- TE.TE: obfuscated Transfer-Encoding ------------------------------
    "te-xchunked": (_post(b"transfer-encoding: xchunked", body=b"0\r\n\r\n" + SMUGGLED), 501),
    "te-chunked-suffix": (_post(b"transfer-encoding: chunkedx", body=b"0\r\n\r\n"), 501),
    "te-quoted": (_post(b'transfer-encoding: "chunked"', body=b"0\r\n\r\n"), 501),
    "te-identity": (_post(b"transfer-encoding: identity", body=SMUGGLED), 501),
    "te-chunked-then-gzip": (_post(b"transfer-encoding: chunked, gzip", body=b"0\r\n\r\n"), 400),
    "te-two-fields-last-unknown": (
        _post(CHUNKED, b"transfer-encoding: x", body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "te-gzip-then-chunked": (_post(b"transfer-encoding: gzip, chunked", body=b"0\r\n\r\n"), 501),
    # RFC 9110 §5.6.1 asks recipients to skip empty list elements; h11 does
    # not, so the coding is "unknown": refused and closed, never misframed.
    "te-empty-list-element": (_post(b"transfer-encoding: , chunked", body=b"0\r\n\r\n"), 501),
    "te-chunked-twice": (_post(b"transfer-encoding: chunked, chunked", body=b"0\r\n\r\n"), 400),
    "te-two-chunked-fields": (_post(CHUNKED, CHUNKED, body=b"0\r\n\r\n"), 400),
    "te-space-before-colon": (_post(b"transfer-encoding : chunked", body=b"0\r\n\r\n"), 400),
    "te-tab-before-colon": (_post(b"transfer-encoding\t: chunked", body=b"0\r\n\r\n"), 400),
    "te-vertical-tab": (_post(b"transfer-encoding:\x0bchunked", body=b"0\r\n\r\n"), 400),
    "te-form-feed": (_post(b"transfer-encoding: \x0cchunked", body=b"0\r\n\r\n"), 400),
    "te-nul": (_post(b"transfer-encoding: chunked\x00", body=b"0\r\n\r\n"), 400),
    "te-obs-fold": (_post(b"x-a: 1", b" transfer-encoding: chunked", body=b"0\r\n\r\n"), 400),
    "te-folded-value": (_post(b"transfer-encoding:", b" chunked", body=b"0\r\n\r\n"), 400),
    "te-leading-space-line": (_post(b" transfer-encoding: chunked", body=b"0\r\n\r\n"), 400),
    # A Kelvin sign lowercases to "k" in Unicode-aware code: still not "chunked".
    "te-non-ascii-k": (
        _post("transfer-encoding: chun\u212aed".encode(), body=b"0\r\n\r\n"),
        501,
    ),
    "te-in-http-1-0": (
        _post(CHUNKED, body=b"0\r\n\r\n" + SMUGGLED, version=b"HTTP/1.0"),
        400,
    ),
    # --- Content-Length: duplicates, signs, lists (RFC 9110 §8.6) ----------
    "cl-two-different": (_post(b"content-length: 1", b"content-length: 2", body=b"ab"), 400),
    "cl-list-different": (_post(b"content-length: 1, 2", body=b"ab"), 400),
    "cl-plus": (_post(b"content-length: +3", body=b"abc"), 400),
    "cl-minus": (_post(b"content-length: -3", body=b"abc"), 400),
    "cl-hex": (_post(b"content-length: 0x3", body=b"abc"), 400),
    "cl-exponent": (_post(b"content-length: 3e0", body=b"abc"), 400),
    "cl-decimal": (_post(b"content-length: 3.0", body=b"abc"), 400),
    "cl-inner-space": (_post(b"content-length: 1 2", body=b"abc"), 400),
    "cl-empty": (_post(b"content-length:", body=b""), 400),
    "cl-non-ascii-digit": (_post("content-length: \u0663".encode(), body=b"abc"), 400),
    "cl-space-before-colon": (_post(b"content-length : 3", body=b"abc"), 400),
    "cl-obs-fold": (_post(b"content-length:", b" 3", body=b"abc"), 400),
    # --- chunked framing (RFC 9112 §7.1) -----------------------------------
    "chunk-size-negative": (_post(CHUNKED, body=b"-1\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-0x": (_post(CHUNKED, body=b"0x2\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-plus": (_post(CHUNKED, body=b"+2\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-leading-space": (_post(CHUNKED, body=b" 2\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-empty": (_post(CHUNKED, body=b"\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-overflow": (
        _post(CHUNKED, body=b"1" + b"0" * 40 + b"\r\nab\r\n0\r\n\r\n"),
        400,
    ),
    "chunk-data-longer-than-size": (
        _post(CHUNKED, body=b"2\r\nabc\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "chunk-data-shorter-than-size": (
        _post(CHUNKED, body=b"5\r\nab\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "chunk-bare-lf-size-line": (_post(CHUNKED, body=b"2\nab\r\n0\r\n\r\n"), 400),
    "chunk-bare-lf-after-data": (_post(CHUNKED, body=b"2\r\nab\n0\r\n\r\n" + SMUGGLED), 400),
    "chunk-bare-cr-after-data": (_post(CHUNKED, body=b"2\r\nab\r0\r\n\r\n" + SMUGGLED), 400),
    "chunk-last-bare-lf": (_post(CHUNKED, body=b"0\n\n" + SMUGGLED), 400),
    "chunk-ext-bare-lf": (_post(CHUNKED, body=b"2;a\nb\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-ext-bare-cr": (_post(CHUNKED, body=b"2;a\rb\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-ext-nul": (_post(CHUNKED, body=b"2;a=\x00\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-ext-no-name": (_post(CHUNKED, body=b"2;\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-ext-bad-name": (_post(CHUNKED, body=b"2;a(b\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-ext-unterminated-quote": (_post(CHUNKED, body=b'2;a="b\r\nab\r\n0\r\n\r\n'), 400),
    # RFC 9112 §7.1.1 allows BWS before ";"; we refuse it (h11 and several
    # proxies do too): a 400 is safe, two readings of one size line are not.
    "chunk-ext-bws-before-semicolon": (_post(CHUNKED, body=b"2 ;a\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-trailing-space": (_post(CHUNKED, body=b"2 \r\nab\r\n0\r\n\r\n"), 400),
    "chunk-ext-too-long": (
        _post(CHUNKED, body=b"2;a=" + b"b" * 8000 + b"\r\nab\r\n0\r\n\r\n"),
        400,
    ),
    "trailer-obs-fold": (_post(CHUNKED, body=b"0\r\nx-t: 1\r\n folded\r\n\r\n"), 400),
    "trailer-bad-name": (_post(CHUNKED, body=b"0\r\nx t: 1\r\n\r\n"), 400),
    "trailer-bare-lf": (_post(CHUNKED, body=b"0\r\nx-t: 1\n\r\n" + SMUGGLED), 400),
    # --- bare LF / CR framing in the head (RFC 9112 §2.2) ------------------
    "head-bare-lf-everywhere": (b"GET / HTTP/1.1\nhost: x\n\n", 400),
    "head-bare-lf-end": (b"GET / HTTP/1.1\r\nhost: x\r\n\n", 400),
    "head-bare-lf-request-line": (b"GET / HTTP/1.1\nhost: x\r\n\r\n", 400),
    "head-bare-cr": (b"GET / HTTP/1.1\r\nhost: x\rx-a: 1\r\n\r\n", 400),
    "head-lf-cr": (b"GET / HTTP/1.1\n\rhost: x\r\n\r\n", 400),
    "space-after-request-line": (b"GET / HTTP/1.1\r\n host: x\r\n\r\n", 400),
    # --- field names and values (RFC 9110 §5.1, §5.5) ----------------------
    "name-empty": (_get(b"host: x", b": v"), 400),
    "name-space": (_get(b"host: x", b"x y: v"), 400),
    "name-separator": (_get(b"host: x", b"x(y): v"), 400),
    "name-slash": (_get(b"host: x", b"x/y: v"), 400),
    "name-nul": (_get(b"host: x", b"x\x00y: v"), 400),
    "name-non-ascii": (_get(b"host: x", "x\u00e9: v".encode()), 400),
    "name-no-colon": (_get(b"host: x", b"x-no-colon"), 400),
    "value-nul": (_get(b"host: x", b"x-a: a\x00b"), 400),
    "value-ctl": (_get(b"host: x", b"x-a: a\x01b"), 400),
    "value-del": (_get(b"host: x", b"x-a: a\x7fb"), 400),
    "value-escape": (_get(b"host: x", b"x-a: \x1b[31m"), 400),
    # --- Host (RFC 9112 §3.2) ------------------------------------------------
    "host-missing": (_get(), 400),
    "host-twice": (_get(b"host: a", b"host: b"), 400),
    "host-twice-same": (_get(b"host: a", b"host: a"), 400),
    "host-list": (_get(b"host: a, b"), 400),
    "host-space": (_get(b"host: a b"), 400),
    "host-userinfo": (_get(b"host: user@a"), 400),
    "host-path": (_get(b"host: a/b"), 400),
    "host-bad-port": (_get(b"host: a:80x"), 400),
    # --- request line and version (RFC 9112 §2.3, §3) ----------------------
    "version-missing": (b"GET /\r\nhost: x\r\n\r\n", 400),
    "version-lowercase": (_get(b"host: x", version=b"http/1.1"), 400),
    "version-one-digit": (_get(b"host: x", version=b"HTTP/1"), 400),
    "version-leading-zero": (_get(b"host: x", version=b"HTTP/01.1"), 400),
    "version-two-digit-minor": (_get(b"host: x", version=b"HTTP/1.10"), 400),
    "version-trailing-space": (_get(b"host: x", version=b"HTTP/1.1 "), 400),
    "version-2": (_get(b"host: x", version=b"HTTP/2.0"), 505),
    "version-0-9": (_get(b"host: x", version=b"HTTP/0.9"), 505),
    "version-9-9": (_get(b"host: x", version=b"HTTP/9.9"), 505),
    "request-line-double-space": (b"GET  / HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "request-line-tab": (b"GET\t/\tHTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "request-line-leading-space": (b" GET / HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "method-separator": (b"G(T / HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "method-empty": (b" / HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "target-space": (b"GET /a b HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "target-ctl": (b"GET /a\x01b HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "target-non-ascii": ("GET /\u00e9 HTTP/1.1\r\nhost: x\r\n\r\n".encode(), 400),
    "target-fragment": (b"GET /a#b HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "target-asterisk-get": (b"GET * HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "target-authority-get": (b"GET x:80 HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "target-relative": (b"GET a/b HTTP/1.1\r\nhost: x\r\n\r\n", 400),
    "connect": (b"CONNECT x:443 HTTP/1.1\r\nhost: x:443\r\n\r\n", 501),
    # --- size limits -----------------------------------------------------------
    "limit-request-line": (_get(b"host: x", target=b"/" + b"a" * 9000), 414),
    "limit-field-size": (_get(b"host: x", b"x-big: " + b"b" * 20000), 431),
    "limit-field-count": (_get(b"host: x", *(b"x-h%d: v" % i for i in range(101))), 431),
    "limit-body-content-length": (
        _post(b"content-length: %d" % (BODY_LIMIT + 1), body=b"a" * (BODY_LIMIT + 1)),
        413,
    ),
    "limit-body-large-content-length": (_post(b"content-length: 1000000000000"), 413),
    # Past 2**63-1 parsers wrap or saturate differently: framing error, not size.
    "cl-past-int64": (_post(b"content-length: " + b"9" * 30), 400),
    "limit-body-chunked": (
        _post(
            CHUNKED, body=b"%x\r\n" % (BODY_LIMIT + 1) + b"a" * (BODY_LIMIT + 1) + b"\r\n0\r\n\r\n"
        ),
        413,
    ),
    "limit-body-chunked-in-pieces": (
        _post(
            CHUNKED,
            body=b"".join(b"100\r\n" + b"a" * 256 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n",
        ),
        413,
    ),
    "limit-trailer-section": (
        _post(
            CHUNKED,
            body=b"0\r\n"
            + b"".join(b"x-t%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
            + b"\r\n",
        ),
        400,  # the trailer section is bounded like a chunk-size line (4 KiB)
    ),
}

# name -> (bytes sent, expected body). Shapes RFC 9112 lets a server accept.
ACCEPTED: dict[str, tuple[bytes, bytes]] = {
    "te-uppercase": (
        _post(b"Transfer-Encoding: CHUNKED", body=b"2\r\nab\r\n0\r\n\r\n"),
        b"ok / ab",
    ),
    "te-ows": (_post(b"transfer-encoding: \tchunked\t", body=b"2\r\nab\r\n0\r\n\r\n"), b"ok / ab"),
    "te-underscore-is-not-te": (
        _post(b"transfer_encoding: chunked", b"content-length: 0"),
        b"ok / ",
    ),
    "cl-leading-zeros": (_post(b"content-length: 002", body=b"ab"), b"ok / ab"),
    "cl-ows": (_post(b"content-length: \t2 ", body=b"ab"), b"ok / ab"),
    "chunk-size-leading-zeros": (_post(CHUNKED, body=b"002\r\nab\r\n000\r\n\r\n"), b"ok / ab"),
    "chunk-size-uppercase-hex": (
        _post(CHUNKED, body=b"A\r\n0123456789\r\n0\r\n\r\n"),
        b"ok / 0123456789",
    ),
    "chunk-ext-token": (_post(CHUNKED, body=b"2;a=b;c\r\nab\r\n0;d\r\n\r\n"), b"ok / ab"),
    "chunk-ext-quoted": (_post(CHUNKED, body=b'2;a="b;c\\"d"\r\nab\r\n0\r\n\r\n'), b"ok / ab"),
    "chunk-ext-bws": (_post(CHUNKED, body=b"2; a = b\r\nab\r\n0\r\n\r\n"), b"ok / ab"),
    "trailer-fields": (_post(CHUNKED, body=b"2\r\nab\r\n0\r\nx-t: 1\r\n\r\n"), b"ok / ab"),
    "leading-empty-line": (b"\r\n" + _get(b"host: x"), b"ok / "),
    "value-obs-text": (_get(b"host: x", b"x-a: caf\xe9"), b"ok / "),
    "value-inner-tab": (_get(b"host: x", b"x-a: a\tb"), b"ok / "),
    "http-1-0-without-host": (_get(version=b"HTTP/1.0"), b"ok / "),
    "host-ipv6": (_get(b"host: [::1]:8000"), b"ok / "),
    "host-empty": (_get(b"host:"), b"ok / "),
    "host-sub-delims-and-pct": (_get(b"host: a,b%41.example:"), b"ok / "),
    "host-absolute-form-wins": (
        _get(b"host: other", target=b"http://x/abs"),
        b"ok /abs ",
    ),
    "version-1-minor-unknown": (_get(b"host: x", version=b"HTTP/1.9"), b"ok / "),
    "options-asterisk": (b"OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n", b"ok * "),
    "body-exactly-at-limit": (
        _post(b"content-length: %d" % BODY_LIMIT, body=b"a" * BODY_LIMIT),
        b"ok / " + b"a" * BODY_LIMIT,
    ),
}


@pytest.fixture
def server(serve):
    app = RecordingApp()
    return _Served(serve(app, limit_request_body=BODY_LIMIT), app.paths)


class _Served:
    def __init__(self, live, paths: list[str]) -> None:
        self.host, self.port, self.app_paths = live.host, live.port, paths


def _assert_fresh_connection_served(server) -> None:
    with RawConnection(server.host, server.port) as conn:
        conn.send(_post(b"content-length: 2", body=b"hi"))
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b"ok / hi"


@pytest.mark.parametrize(("data", "status"), REJECTED.values(), ids=REJECTED.keys())
def test_rejected(server, data, status):
    with RawConnection(server.host, server.port) as conn:
        # The server may answer and close before it has read everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(data)
        response = conn.read_response()
        assert (response.status, response.header("connection")) == (status, "close")
        assert response.body.startswith(str(status).encode())
        conn.read_until_close()
    assert "/smuggled" not in server.app_paths
    _assert_fresh_connection_served(server)
    assert "/smuggled" not in server.app_paths


@pytest.mark.parametrize(("data", "body"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(server, data, body):
    with RawConnection(server.host, server.port) as conn:
        conn.send(data)
        response = conn.read_response()
        assert response.status == 200, response
        assert response.body == body
    assert "/smuggled" not in server.app_paths
    _assert_fresh_connection_served(server)
