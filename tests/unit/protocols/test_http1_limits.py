"""Size limits of a request head (414, 431), at the limit and one byte over.

Limits hold while the head is still arriving: a head that can no longer fit is
refused at the byte that broke the limit, not when (if ever) it is complete.
"""

from __future__ import annotations

import pytest

from pounce_protocols import (
    HeadLimits,
    HTTP1Limits,
    HTTP1ServerConnection,
    RemoteProtocolError,
    RequestReceived,
)

from ._helpers import feed_until_refused, receive, rejection, request

LIMITS = HTTP1Limits(max_request_line=64, max_header_bytes=256, max_header_count=5)
STEPS = pytest.mark.parametrize("step", [None, 1, 10], ids=["whole", "byte-by-byte", "step=10"])


def request_line(length: int) -> bytes:
    """``GET /aaa... HTTP/1.1``, exactly ``length`` bytes long (CRLF not counted)."""
    return b"GET /" + b"a" * (length - 14) + b" HTTP/1.1"


def head_of(length: int) -> bytes:
    """A valid head exactly ``length`` bytes long, final CRLFCRLF included."""
    base = request(headers=[b"Host: h", b"X: "])
    return request(headers=[b"Host: h", b"X: " + b"v" * (length - len(base))])


# ------------------------------------------------------------ request line


@STEPS
def test_request_line_at_the_limit_is_accepted(step: int | None) -> None:
    line = request_line(64)
    assert len(line) == 64
    events = receive(line + b"\r\nHost: h\r\n\r\n", step=step, limits=LIMITS)
    assert isinstance(events[0], RequestReceived)


@STEPS
def test_request_line_one_over_the_limit_is_414(step: int | None) -> None:
    exc, events, _ = rejection(request_line(65) + b"\r\nHost: h\r\n\r\n", step=step, limits=LIMITS)
    assert exc.status_hint == 414
    assert events == []


def test_request_line_at_the_limit_with_its_cr_arriving_alone_is_accepted() -> None:
    conn = HTTP1ServerConnection(LIMITS)
    assert conn.receive_data(request_line(64)) == []
    assert conn.receive_data(b"\r") == []  # may be half of the CRLF
    assert conn.receive_data(b"\n") == []
    events = conn.receive_data(b"Host: h\r\n\r\n")
    assert isinstance(events[0], RequestReceived)


def test_dribbled_request_line_is_refused_as_soon_as_it_is_too_long() -> None:
    conn = HTTP1ServerConnection(LIMITS)
    conn.receive_data(request_line(64)[:-1])
    conn.receive_data(b"1")  # 64 bytes: still fine
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(b"x")  # 65 bytes and no end in sight
    assert info.value.status_hint == 414


def test_endless_request_line_with_default_limits_is_414() -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(b"GET /")
    fed, exc = feed_until_refused(conn, b"a" * 1000, 100)
    assert exc.status_hint == 414
    assert fed == 9  # the first piece past 8190 bytes


# ---------------------------------------------------------- header section


@STEPS
def test_head_at_the_byte_limit_is_accepted(step: int | None) -> None:
    head = head_of(256)
    assert len(head) == 256
    events = receive(head, step=step, limits=LIMITS)
    assert isinstance(events[0], RequestReceived)


@STEPS
def test_head_one_byte_over_the_limit_is_431(step: int | None) -> None:
    exc, events, _ = rejection(head_of(257), step=step, limits=LIMITS)
    assert exc.status_hint == 431
    assert events == []


def test_endless_header_section_is_431_before_it_ends() -> None:
    conn = HTTP1ServerConnection(LIMITS)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n")
    fed, exc = feed_until_refused(conn, b"X: 1234567890\r\n", 100)
    assert exc.status_hint == 431
    assert fed < 100


def fields(count: int) -> list[bytes]:
    return [b"Host: h"] + [b"X-%d: v" % i for i in range(count - 1)]


@STEPS
def test_header_count_at_the_limit_is_accepted(step: int | None) -> None:
    (req, _) = receive(request(headers=fields(5)), step=step, limits=LIMITS)
    assert isinstance(req, RequestReceived)
    assert len(req.headers) == 5


@STEPS
def test_header_count_one_over_the_limit_is_431(step: int | None) -> None:
    exc, events, _ = rejection(request(headers=fields(6)), step=step, limits=LIMITS)
    assert exc.status_hint == 431
    assert events == []


def test_default_limits_are_applied() -> None:
    exc, _, _ = rejection(request(b"/" + b"a" * 8190))
    assert exc.status_hint == 414
    exc, _, _ = rejection(request(headers=[b"Host: h", b"X: " + b"v" * 16384]))
    assert exc.status_hint == 431
    exc, _, _ = rejection(request(headers=fields(101)))
    assert exc.status_hint == 431
    (req, _) = receive(request(headers=fields(100)))
    assert isinstance(req, RequestReceived)


# ----------------------------------------------------------- the limits


def test_limit_defaults() -> None:
    limits = HTTP1Limits()
    assert (limits.max_request_line, limits.max_header_bytes, limits.max_header_count) == (
        8190,
        16384,
        100,
    )
    assert limits.max_chunk_line == 4096
    assert isinstance(limits, HeadLimits)


INVALID_LIMITS: list[tuple[dict[str, object], str]] = [
    ({"max_request_line": 0}, "max_request_line must be a positive int"),
    ({"max_header_bytes": -1}, "max_header_bytes must be a positive int"),
    ({"max_header_count": 0}, "max_header_count must be a positive int"),
    ({"max_header_count": True}, "max_header_count must be a positive int"),
    ({"max_request_line": 1.5}, "max_request_line must be a positive int"),
    ({"max_request_line": 200, "max_header_bytes": 100}, "cannot exceed max_header_bytes"),
    ({"max_chunk_line": 15}, "max_chunk_line must be an int of at least 16"),
    ({"max_chunk_line": "4096"}, "max_chunk_line must be an int of at least 16"),
]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(kwargs, message, id=",".join(f"{k}={v!r}" for k, v in kwargs.items()))
        for kwargs, message in INVALID_LIMITS
    ],
)
def test_invalid_limits_raise_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HTTP1Limits(**kwargs)  # type: ignore[arg-type]


def test_limits_are_frozen() -> None:
    limits = HTTP1Limits()
    with pytest.raises(AttributeError):
        limits.max_request_line = 1  # type: ignore[misc]
