"""Chunked request bodies (RFC 9112 §7.1): decoding and every framing error.

A chunked body is valid or invalid no matter how the network split it, so
each hostile case runs whole and byte by byte.
"""

from __future__ import annotations

import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    HTTP1Limits,
    HTTP1ServerConnection,
    RequestReceived,
)

from ._helpers import (
    body_of,
    chunked,
    ended,
    feed_until_refused,
    merge_body,
    receive,
    rejection,
    request,
    respond,
)

HEAD = request(method=b"POST", headers=[b"Host: example.com", b"Transfer-Encoding: chunked"])
NEXT = b"GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n"
WHOLE_OR_BYTES = pytest.mark.parametrize("step", [None, 1], ids=["whole", "byte-by-byte"])


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("body", "data"),
    [
        pytest.param(b"5\r\nhello\r\n0\r\n\r\n", b"hello", id="one-chunk"),
        pytest.param(b"0\r\n\r\n", b"", id="empty"),
        pytest.param(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde", id="two-chunks"),
        pytest.param(b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", id="upper-hex"),
        pytest.param(b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", id="lower-hex"),
        pytest.param(b"0005\r\nhello\r\n0\r\n\r\n", b"hello", id="leading-zeros"),
        pytest.param(b"5;name\r\nhello\r\n0\r\n\r\n", b"hello", id="ext-name"),
        pytest.param(b"5;a=b;c=d\r\nhello\r\n0;x\r\n\r\n", b"hello", id="ext-tokens"),
        pytest.param(b'5;a="b; c\\"d"\r\nhello\r\n0\r\n\r\n', b"hello", id="ext-quoted"),
        pytest.param(b"5; a = b\r\nhello\r\n0\r\n\r\n", b"hello", id="ext-whitespace"),
        pytest.param(b"5\r\nhe\r\nl\r\n0\r\n\r\n", b"he\r\nl", id="crlf-inside-data"),
    ],
)
@WHOLE_OR_BYTES
def test_chunked_body_is_decoded(body: bytes, data: bytes, step: int | None) -> None:
    events = merge_body(receive(HEAD + body, step=step))
    assert isinstance(events[0], RequestReceived)
    assert body_of(events) == data
    assert events[-1] == BodyEnded(stream_id=1, trailers=())


@WHOLE_OR_BYTES
def test_trailers_are_reported_with_the_end_of_the_body(step: int | None) -> None:
    body = chunked(b"hello", trailers=[b"X-Checksum: abc", b"Server-Timing: db;dur=53"])
    events = receive(HEAD + body, step=step)
    assert ended(events) == [
        BodyEnded(stream_id=1, trailers=((b"x-checksum", b"abc"), (b"server-timing", b"db;dur=53")))
    ]


def test_decoded_body_is_immutable_bytes() -> None:
    events = receive(HEAD + chunked(b"hello"))
    assert all(type(e.data) is bytes for e in events if isinstance(e, BodyReceived))


def test_bytes_after_the_last_chunk_wait_for_the_next_cycle() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(HEAD + chunked(b"hello") + NEXT)
    assert [type(e) for e in events] == [RequestReceived, BodyReceived, BodyEnded]
    assert conn.buffered_bytes == len(NEXT)
    respond(conn)
    (following, _) = conn.start_next_cycle()
    assert isinstance(following, RequestReceived)
    assert following.path == b"/next"


def test_request_smuggled_inside_chunk_data_stays_data() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(HEAD + chunked(NEXT))
    assert body_of(events) == NEXT
    assert [e.path for e in events if isinstance(e, RequestReceived)] == [b"/"]
    respond(conn)
    assert conn.start_next_cycle() == []


# ------------------------------------------------------- framing errors


INVALID_FRAMING = [
    # chunk-size line
    pytest.param(b"g\r\nhello\r\n0\r\n\r\n", id="size-not-hex"),
    pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="size-negative"),
    pytest.param(b"+5\r\nhello\r\n0\r\n\r\n", id="size-plus"),
    pytest.param(b"0x5\r\nhello\r\n0\r\n\r\n", id="size-0x-prefix"),
    pytest.param(b"\r\nhello\r\n0\r\n\r\n", id="size-missing"),
    pytest.param(b"1" * 17 + b"\r\nhello\r\n0\r\n\r\n", id="size-17-digits"),
    pytest.param(b"0" * 16 + b"05\r\nhello\r\n0\r\n\r\n", id="size-18-digits-leading-zeros"),
    pytest.param(b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n", id="size-overlong"),
    pytest.param(b"5 \r\nhello\r\n0\r\n\r\n", id="size-trailing-space"),
    pytest.param(b" 5\r\nhello\r\n0\r\n\r\n", id="size-leading-space"),
    pytest.param(b"5 ;a=b\r\nhello\r\n0\r\n\r\n", id="space-before-ext"),
    pytest.param(b"5;\r\nhello\r\n0\r\n\r\n", id="ext-without-name"),
    pytest.param(b"5;a=\r\nhello\r\n0\r\n\r\n", id="ext-without-value"),
    pytest.param(b'5;a="b\r\nhello\r\n0\r\n\r\n', id="ext-unterminated-quote"),
    pytest.param(b"5;a\x00\r\nhello\r\n0\r\n\r\n", id="ext-nul"),
    pytest.param(b"5;a\x7f\r\nhello\r\n0\r\n\r\n", id="ext-del"),
    pytest.param(b"5;a\nb\r\nhello\r\n0\r\n\r\n", id="ext-bare-lf"),
    pytest.param(b"5\nhello\r\n0\r\n\r\n", id="size-bare-lf"),
    pytest.param(b"5\rhello\r\n0\r\n\r\n", id="size-bare-cr"),
    pytest.param(b"5\r\r\nhello\r\n0\r\n\r\n", id="size-cr-cr-lf"),
    # the CRLF after chunk data
    pytest.param(b"5\r\nhelloXX0\r\n\r\n", id="footer-not-crlf"),
    pytest.param(b"5\r\nhello\n0\r\n\r\n", id="footer-bare-lf"),
    pytest.param(b"5\r\nhello\r0\r\n\r\n", id="footer-bare-cr"),
    pytest.param(b"5\r\nhello0\r\n\r\n", id="footer-missing"),
    pytest.param(b"3\r\nhello\r\n0\r\n\r\n", id="data-longer-than-size"),
    # last chunk and trailer section
    pytest.param(b"0\n\r\n", id="last-chunk-bare-lf"),
    pytest.param(b"0\r\n\n", id="final-line-bare-lf"),
    pytest.param(b"0\r\nX: a\nY: b\r\n\r\n", id="trailer-bare-lf"),
    pytest.param(b"0\r\nX: a\rY: b\r\n\r\n", id="trailer-bare-cr"),
    pytest.param(b"0\r\nX: a\r\n b\r\n\r\n", id="trailer-obs-fold"),
    pytest.param(b"0\r\nX : a\r\n\r\n", id="trailer-space-before-colon"),
    pytest.param(b"0\r\nX a\r\n\r\n", id="trailer-no-colon"),
    pytest.param(b"0\r\n: a\r\n\r\n", id="trailer-empty-name"),
    pytest.param(b"0\r\nX: a\x00\r\n\r\n", id="trailer-nul"),
    pytest.param(b"0\r\nX: a\x7f\r\n\r\n", id="trailer-del"),
    pytest.param(b"0\r\nX: a\x01\r\n\r\n", id="trailer-control"),
]


@pytest.mark.parametrize("body", INVALID_FRAMING)
@WHOLE_OR_BYTES
def test_invalid_chunked_framing_is_400(body: bytes, step: int | None) -> None:
    exc, events, conn = rejection(HEAD + body + NEXT, step=step)
    assert exc.status_hint == 400
    assert not [e for e in events if isinstance(e, BodyEnded)]
    assert conn.receive_data(NEXT) == []
    assert not conn.keep_alive


def test_incomplete_chunked_body_then_eof_is_connection_lost_not_an_end() -> None:
    conn = HTTP1ServerConnection()
    events = conn.receive_data(HEAD + b"5\r\nhel")
    assert body_of(events) == b"hel"
    assert not conn.request_complete
    assert conn.receive_data(b"") == [ConnectionLost()]
    assert not conn.request_complete


# ----------------------------------------------------------------- limits

LIMIT = 64
LIMITS = HTTP1Limits(max_chunk_line=LIMIT)


def size_line(length: int) -> bytes:
    """A chunk-size line for 5 bytes, padded with an extension to ``length``
    bytes, CRLF included."""
    return b"5;" + b"a" * (length - 4) + b"\r\n"


def trailer_section(length: int) -> bytes:
    """One trailer field and the closing CRLF, ``length`` bytes in all."""
    return b"X: " + b"a" * (length - 7) + b"\r\n\r\n"


@pytest.mark.parametrize("step", [None, 1, 7, LIMIT - 1, LIMIT, LIMIT + 1], ids=str)
@pytest.mark.parametrize("prefix", [b"", b"3\r\nabc\r\n"], ids=["first", "after-a-chunk"])
def test_chunk_size_line_at_the_limit_is_accepted(prefix: bytes, step: int | None) -> None:
    line = size_line(LIMIT)
    assert len(line) == LIMIT
    body = prefix + line + b"hello\r\n0\r\n\r\n"
    events = receive(HEAD + body, step=step, limits=LIMITS)
    assert body_of(events) == (b"abc" if prefix else b"") + b"hello"
    assert len(ended(events)) == 1


@pytest.mark.parametrize("step", [None, 1, 7, LIMIT - 1, LIMIT, LIMIT + 1], ids=str)
@pytest.mark.parametrize("prefix", [b"", b"3\r\nabc\r\n"], ids=["first", "after-a-chunk"])
def test_chunk_size_line_one_over_the_limit_is_400(prefix: bytes, step: int | None) -> None:
    body = prefix + size_line(LIMIT + 1) + b"hello\r\n0\r\n\r\n"
    exc, events, _ = rejection(HEAD + body, step=step, limits=LIMITS)
    assert exc.status_hint == 400
    assert not ended(events)


@pytest.mark.parametrize("step", [None, 1, 7, LIMIT, LIMIT + 1], ids=str)
def test_trailer_section_at_the_limit_is_accepted(step: int | None) -> None:
    section = trailer_section(LIMIT)
    assert len(section) == LIMIT
    events = receive(HEAD + b"0\r\n" + section, step=step, limits=LIMITS)
    assert len(ended(events)) == 1


@pytest.mark.parametrize("step", [None, 1, 7, LIMIT, LIMIT + 1], ids=str)
def test_trailer_section_one_over_the_limit_is_400(step: int | None) -> None:
    exc, events, _ = rejection(
        HEAD + b"0\r\n" + trailer_section(LIMIT + 1), step=step, limits=LIMITS
    )
    assert exc.status_hint == 400
    assert not ended(events)


def test_many_small_trailers_count_towards_one_limit() -> None:
    section = b"X: a\r\n" * (LIMIT // 6 + 1) + b"\r\n"
    exc, _, _ = rejection(HEAD + b"0\r\n" + section, limits=LIMITS)
    assert exc.status_hint == 400


@pytest.mark.parametrize("extension", [4200, 5000, 8000, 100_000], ids=str)
@pytest.mark.parametrize("step", [None, 1000], ids=["whole", "step=1000"])
def test_oversized_chunk_extension_with_default_limits_is_400(
    extension: int, step: int | None
) -> None:
    # Lines between one and two limits long once slipped through when
    # delivered whole; every length over the limit must be refused.
    body = b"5;" + b"a" * extension + b"\r\nhello\r\n0\r\n\r\n"
    exc, _, _ = rejection(HEAD + body, step=step)
    assert exc.status_hint == 400


def test_oversized_chunk_extension_dribbled_is_refused_before_the_line_ends() -> None:
    conn = HTTP1ServerConnection(LIMITS)
    conn.receive_data(HEAD + b"5;")
    fed, exc = feed_until_refused(conn, b"a", 10 * LIMIT)
    assert exc.status_hint == 400
    # Refused as soon as "5;" and the extension passed LIMIT bytes, not at its end.
    assert fed == LIMIT - 1


def test_large_chunk_data_is_not_limited_by_the_line_limit() -> None:
    data = bytes(range(256)) * 64
    events = receive(HEAD + chunked(data), limits=LIMITS)
    assert body_of(events) == data
    assert len(ended(events)) == 1
