"""How the HTTP/1.1 machine decides where a request body ends (RFC 9112 §6).

Content-Length and Transfer-Encoding are where request smuggling lives: every
request whose length two parsers could read differently must be refused, and
the request hidden behind it must never surface as an event.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    HTTP1ServerConnection,
    LocalProtocolError,
    RequestReceived,
)

from ._helpers import body_of, chunked, ended, rejection, request, requests_of, respond

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n"


def assert_never_surfaces(conn: HTTP1ServerConnection, events: Sequence[object]) -> None:
    """After a rejection, nothing of what followed may become a request."""
    assert not [e for e in events if isinstance(e, RequestReceived) and e.path == b"/smuggled"]
    assert conn.receive_data(SMUGGLED) == []
    assert not conn.keep_alive
    with pytest.raises(LocalProtocolError):
        conn.start_next_cycle()


# --------------------------------------------------- Content-Length + TE


CL_AND_TE = [
    pytest.param(
        [b"Content-Length: 5", b"Transfer-Encoding: chunked"], b"0\r\n\r\n", id="cl-then-te"
    ),
    pytest.param(
        [b"Transfer-Encoding: chunked", b"Content-Length: 5"], b"0\r\n\r\n", id="te-then-cl"
    ),
    pytest.param([b"Content-Length: 0", b"Transfer-Encoding: chunked"], b"0\r\n\r\n", id="cl-zero"),
    pytest.param(
        [b"Transfer-Encoding: chunked", b"Content-Length: 44"],
        b"0\r\n\r\n" + SMUGGLED[:39],
        id="cl-covers-smuggled",
    ),
]


@pytest.mark.parametrize(("framing", "body"), CL_AND_TE)
@pytest.mark.parametrize("step", [None, 1, 2, 3, 7, 16], ids=lambda s: f"step={s}")
def test_content_length_with_transfer_encoding_is_400(
    framing: list[bytes], body: bytes, step: int | None
) -> None:
    data = request(method=b"POST", headers=[b"Host: example.com", *framing], body=body)
    exc, events, conn = rejection(data + SMUGGLED, step=step)
    assert exc.status_hint == 400
    assert events == []  # refused at the head: not even the first request surfaces
    assert_never_surfaces(conn, events)


# --------------------------------------------------- Transfer-Encoding


UNKNOWN_CODINGS = [
    pytest.param(b"gzip", 501, id="gzip"),
    # RFC 9112 §6.3: chunked present but not final (or twice) MUST get 400.
    pytest.param(b"chunked, gzip", 400, id="chunked-then-gzip"),
    pytest.param(b"gzip, chunked", 501, id="gzip-then-chunked"),
    pytest.param(b"xchunked", 501, id="xchunked"),
    pytest.param(b"chunkedx", 501, id="chunkedx"),
    pytest.param(b"chunked,", 501, id="trailing-comma"),
    pytest.param(b",chunked", 501, id="leading-comma"),
    pytest.param(b"chunked, chunked", 400, id="chunked-twice-in-list"),
    pytest.param(b"identity", 501, id="identity"),
    pytest.param(b"", 501, id="empty"),
    pytest.param(b'"chunked"', 501, id="quoted"),
    pytest.param(b"\x0bchunked", 400, id="vertical-tab-before"),
    pytest.param(b"chunked\x0c", 400, id="form-feed-after"),
    pytest.param(b"chunked\x00", 400, id="nul-after"),
    pytest.param(b"ch\x00unked", 400, id="nul-inside"),
]


@pytest.mark.parametrize(("coding", "status"), UNKNOWN_CODINGS)
@pytest.mark.parametrize("step", [None, 1], ids=["whole", "byte-by-byte"])
def test_unknown_or_obfuscated_transfer_coding(
    coding: bytes, status: int, step: int | None
) -> None:
    data = request(
        method=b"POST",
        headers=[b"Host: example.com", b"Transfer-Encoding: " + coding],
        body=b"0\r\n\r\n" + SMUGGLED,
    )
    exc, events, conn = rejection(data, step=step)
    assert exc.status_hint == status
    assert_never_surfaces(conn, events)


OBFUSCATED_FIELDS = [
    pytest.param([b"Transfer-Encoding : chunked"], id="space-before-colon"),
    pytest.param([b"Transfer-Encoding\t: chunked"], id="tab-before-colon"),
    pytest.param([b"X: y", b" Transfer-Encoding: chunked"], id="obs-fold-line"),
    pytest.param([b"Transfer-Encoding:", b" chunked"], id="value-on-folded-line"),
    pytest.param([b"X: y\nTransfer-Encoding: chunked"], id="bare-lf-before"),
    pytest.param([b"X: y\rTransfer-Encoding: chunked"], id="bare-cr-before"),
    pytest.param([b"Transfer-Encoding\x00: chunked"], id="nul-in-name"),
]


@pytest.mark.parametrize("fields", OBFUSCATED_FIELDS)
@pytest.mark.parametrize("step", [None, 1], ids=["whole", "byte-by-byte"])
def test_obfuscated_transfer_encoding_field_is_400(fields: list[bytes], step: int | None) -> None:
    data = request(method=b"POST", headers=[b"Host: example.com", *fields], body=b"0\r\n\r\n")
    exc, events, conn = rejection(data + SMUGGLED, step=step)
    assert exc.status_hint == 400
    assert_never_surfaces(conn, events)


@pytest.mark.parametrize(
    "second", [b"chunked", b"gzip", b"identity"], ids=["same", "gzip", "identity"]
)
def test_duplicate_transfer_encoding_fields_are_refused(second: bytes) -> None:
    data = request(
        method=b"POST",
        headers=[
            b"Host: example.com",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: " + second,
        ],
        body=b"0\r\n\r\n",
    )
    exc, events, conn = rejection(data + SMUGGLED)
    # Read as one list, chunked is then either twice or not the final coding.
    assert exc.status_hint == 400
    assert_never_surfaces(conn, events)


@pytest.mark.parametrize(
    ("coding", "status"),
    [(b"chunked", 400), (b"gzip", 501)],
    ids=["chunked", "gzip"],
)
def test_transfer_encoding_in_http10_is_refused(coding: bytes, status: int) -> None:
    # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    data = request(
        method=b"POST",
        version=b"HTTP/1.0",
        headers=[b"Transfer-Encoding: " + coding],
        body=b"5\r\nhello\r\n0\r\n\r\n",
    )
    exc, events, conn = rejection(data + SMUGGLED)
    assert exc.status_hint == status
    assert_never_surfaces(conn, events)


@pytest.mark.parametrize(
    "value",
    [b"chunked ", b"chunked\t", b"\tchunked", b"  chunked  ", b"Chunked", b"CHUNKED"],
    ids=["trailing-space", "trailing-tab", "leading-tab", "padded", "capitalized", "upper"],
)
def test_chunked_with_optional_whitespace_or_any_case_is_chunked(value: bytes) -> None:
    # SP and HTAB around a field value are OWS, not part of it (RFC 9110 §5.5),
    # and coding names are case-insensitive (§10.1.4): every conforming parser
    # reads these as "chunked", so they frame the body the same way everywhere.
    data = request(
        method=b"POST",
        headers=[b"Host: example.com", b"Transfer-Encoding: " + value],
        body=chunked(b"hello") + SMUGGLED,
    )
    conn = HTTP1ServerConnection()
    events = conn.receive_data(data)
    assert [type(e) for e in events] == [RequestReceived, BodyReceived, BodyEnded]
    assert body_of(events) == b"hello"
    assert conn.buffered_bytes == len(SMUGGLED)  # the next request waits its turn


# ------------------------------------------------------- Content-Length


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param([b"Content-Length: 5", b"Content-Length: 5"], id="same-twice"),
        pytest.param([b"Content-Length: 5", b"Content-Length: 6"], id="different"),
        pytest.param([b"Content-Length: 5", b"content-LENGTH: 5"], id="case-variant"),
        pytest.param([b"Content-Length: 5, 5"], id="list-same"),
        pytest.param([b"Content-Length: 5,5"], id="list-no-space"),
        pytest.param([b"Content-Length: 5, 6"], id="list-different"),
        pytest.param([b"Content-Length: 5,"], id="list-trailing-comma"),
    ],
)
@pytest.mark.parametrize("step", [None, 1], ids=["whole", "byte-by-byte"])
def test_repeated_content_length_is_400(fields: list[bytes], step: int | None) -> None:
    data = request(method=b"POST", headers=[b"Host: example.com", *fields], body=b"hello!")
    exc, events, conn = rejection(data + SMUGGLED, step=step)
    assert exc.status_hint == 400
    assert_never_surfaces(conn, events)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"+5", id="plus"),
        pytest.param(b"-5", id="minus"),
        pytest.param(b"0x5", id="hex"),
        pytest.param(b"1e3", id="exponent"),
        pytest.param(b"5.0", id="decimal"),
        pytest.param(b"5 5", id="two-numbers"),
        pytest.param(b"0_5", id="underscore"),
        pytest.param(b"", id="empty"),
        pytest.param(b"five", id="word"),
        pytest.param("\u0665".encode(), id="arabic-indic-digit"),
        pytest.param(b"9" * 40, id="huge"),
        pytest.param(b"18446744073709551616", id="two-to-the-64"),
        pytest.param(b"9223372036854775808", id="int64-max-plus-one"),
    ],
)
def test_malformed_content_length_is_400(value: bytes) -> None:
    data = request(
        method=b"POST", headers=[b"Host: example.com", b"Content-Length: " + value], body=b"hello"
    )
    exc, events, conn = rejection(data + SMUGGLED)
    assert exc.status_hint == 400
    assert_never_surfaces(conn, events)


@pytest.mark.parametrize(
    "value", [b"5", b"005", b" 5 ", b"\t5"], ids=["plain", "leading-zeros", "spaces", "tab"]
)
def test_valid_content_length_frames_the_body(value: bytes) -> None:
    data = request(
        method=b"POST", headers=[b"Host: example.com", b"Content-Length:" + value], body=b"hello"
    )
    conn = HTTP1ServerConnection()
    events = conn.receive_data(data + SMUGGLED)
    assert body_of(events) == b"hello"
    assert len(ended(events)) == 1
    assert conn.buffered_bytes == len(SMUGGLED)


def test_content_length_up_to_int64_max_is_accepted() -> None:
    data = request(
        method=b"POST", headers=[b"Host: example.com", b"Content-Length: 9223372036854775807"]
    )
    events = HTTP1ServerConnection().receive_data(data + b"abc")
    assert [type(e) for e in events] == [RequestReceived, BodyReceived]
    assert body_of(events) == b"abc"


def test_body_bytes_that_look_like_a_request_are_body() -> None:
    data = request(
        method=b"POST",
        headers=[b"Host: example.com", b"Content-Length: %d" % len(SMUGGLED)],
        body=SMUGGLED,
    )
    conn = HTTP1ServerConnection()
    events = conn.receive_data(data)
    assert len(requests_of(events)) == 1
    assert body_of(events) == SMUGGLED
    respond(conn)
    assert conn.start_next_cycle() == []


def test_a_get_body_declared_by_content_length_is_read_as_body() -> None:
    # CL.0 desync: a server that ignores Content-Length on GET would read the
    # body as the next request.
    data = request(headers=[b"Host: example.com", b"Content-Length: %d" % len(SMUGGLED)])
    conn = HTTP1ServerConnection()
    events = conn.receive_data(data + SMUGGLED)
    assert body_of(events) == SMUGGLED
    assert len(requests_of(events)) == 1
    assert conn.buffered_bytes == 0


@pytest.mark.parametrize(
    "host",
    [b"a b", b"user@example.com", b"example.com/path", b"example.com:80x", b"a\xe9", b"[::1"],
)
def test_invalid_host_value_is_refused(host: bytes) -> None:
    # RFC 9112 §3.2: a Host field with an invalid value MUST get 400.
    exc, events, conn = rejection(request(headers=[b"Host: " + host]))
    assert exc.status_hint == 400
    assert_never_surfaces(conn, events)


@pytest.mark.parametrize(
    "host", [b"", b"example.com", b"example.com:8080", b"[::1]:80", b"127.0.0.1", b"a%41,b"]
)
def test_valid_host_values_are_accepted(host: bytes) -> None:
    conn = HTTP1ServerConnection()
    (event,) = conn.receive_data(request(headers=[b"Host: " + host]))[:1]
    assert isinstance(event, RequestReceived)
