"""Differential test of the chunked-framing gate against h11's decoder.

The gate (``pounce_protocols._http1_chunked``) decides where a chunked body
ends; h11 then decodes exactly those bytes. The two must never disagree: for
every body the gate accepts, h11 must accept it too, end it at the same byte
and yield the same data. The gate may refuse more than h11 does, never less.
"""

from __future__ import annotations

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import RemoteProtocolError
from pounce_protocols._http1_chunked import ChunkedFraming

from ._helpers import INTERESTING, PROPERTY_SETTINGS

MAX_LINE = 64
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
NEXT = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

hex_sizes = st.integers(1, 40).flatmap(
    lambda n: st.sampled_from(["%x", "%X", "%04x"]).map(lambda f: (n, (f % n).encode()))
)
tokens = st.text("abcXYZ019!#$%&'*+-.^_`|~", min_size=1, max_size=6).map(str.encode)
quoted = st.text("ab ;=,\t", max_size=5).map(lambda t: b'"' + t.encode() + b'"')
extensions = st.lists(
    st.tuples(tokens, st.one_of(st.none(), tokens, quoted)).map(
        lambda nv: b";" + nv[0] + (b"" if nv[1] is None else b"=" + nv[1])
    ),
    max_size=2,
).map(b"".join)
trailer_lines = st.lists(
    st.tuples(tokens, st.text("abc 123,;=", max_size=8)).map(
        lambda nv: nv[0] + b": " + nv[1].strip().encode() + b"\r\n"
    ),
    max_size=2,
).map(b"".join)


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    out = b""
    for size, digits in draw(st.lists(hex_sizes, max_size=3)):
        out += digits + draw(extensions) + b"\r\n" + draw(st.binary(min_size=size, max_size=size))
        out += b"\r\n"
    return out + b"0" + draw(extensions) + b"\r\n" + draw(trailer_lines) + b"\r\n"


@st.composite
def mutations_of(draw: st.DrawFn, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(buf)))
        choice = draw(st.integers(0, 2))
        if choice == 0 and at < len(buf):
            buf[at] = draw(st.integers(0, 255))
        elif choice == 1:
            del buf[at : at + 1]
        else:
            buf[at:at] = draw(st.sampled_from(INTERESTING))
    return bytes(buf)


def gate(data: bytes, step: int | None = None) -> tuple[str, int]:
    """The gate's verdict on ``data`` fed whole or ``step`` bytes at a time:
    ("ended", offset of the first byte after the body), ("open", 0) while the
    body is incomplete, or ("refused", status_hint)."""
    framing = ChunkedFraming(MAX_LINE)
    chunks = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    offset = 0
    try:
        for chunk in chunks:
            offset += framing.feed(chunk)
            if framing.done:
                return "ended", offset
    except RemoteProtocolError as exc:
        return "refused", exc.status_hint
    return "open", 0


def h11_decode(data: bytes) -> tuple[bytes, int] | None:
    """(body, end offset) as h11 reads ``data``; None if h11 needs more."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(HEAD + data)
    assert type(conn.next_event()) is h11.Request
    body = b""
    while True:
        event = conn.next_event()
        if type(event) is h11.Data:
            body += event.data
        elif type(event) is h11.EndOfMessage:
            return body, len(data) - len(conn.trailing_data[0])
        else:
            return None


def reference_body(data: bytes) -> bytes:
    decoded = h11_decode(data)
    assert decoded is not None
    return decoded[0]


@PROPERTY_SETTINGS
@given(chunked_bodies(), st.integers(1, 17))
def test_gate_accepts_valid_bodies_and_ends_them_where_h11_does(body: bytes, step: int) -> None:
    assert gate(body + NEXT) == ("ended", len(body))
    assert gate(body + NEXT, step=step) == ("ended", len(body))
    decoded = h11_decode(body + NEXT)
    assert decoded is not None
    assert decoded[1] == len(body)


@PROPERTY_SETTINGS
@given(st.data(), chunked_bodies())
def test_whatever_the_gate_accepts_h11_frames_the_same_way(
    data: st.DataObject, body: bytes
) -> None:
    candidate = data.draw(mutations_of(body)) + NEXT
    verdict, value = gate(candidate)
    if verdict == "refused":
        assert value == 400
        return
    try:
        decoded = h11_decode(candidate)
    except h11.RemoteProtocolError as exc:
        pytest.fail(f"the gate accepted {candidate!r} but h11 refused it: {exc}")
    if verdict == "open":
        assert decoded is None, f"h11 ended {candidate!r}, the gate did not"
    else:
        assert decoded is not None, f"the gate ended {candidate!r} at {value}, h11 never did"
        assert decoded[1] == value


def test_gate_is_stricter_than_h11_on_known_lenient_shapes() -> None:
    # Each of these is decoded by h11; the gate refuses them all.
    for body in [
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"5;\x00\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\n",
        b"5\r\nhello\r\n0\r\nX: a\nY: b\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: a\x7f\r\n\r\n",
        b"0" * 17 + b"5\r\nhello\r\n0\r\n\r\n",
    ]:
        assert reference_body(body) == b"hello"
        assert gate(body) == ("refused", 400)
