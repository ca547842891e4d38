"""A fuzzer for the Sans-IO HTTP/2 machine.

After a valid preface, the machine gets sequences of frames with random
types (the ten of RFC 9113 and unknown ones), flags, stream ids and payloads,
some of them well-formed HEADERS blocks so streams really open, cut at random
points. Playing the server, every request that arrives is answered. Whatever
comes in, the machine may only return events or raise ``RemoteProtocolError``
with an HTTP/2 error code (and a GOAWAY queued); nothing else escapes, its
output is always bytes, and after an error it accepts no more input. The
machine is both routes at once (the fast path and ``h2``, see
``tests/unit/protocols/_http2_helpers.py``), which must agree throughout.
"""

from __future__ import annotations

import itertools

import hpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pounce_protocols import (
    RemoteProtocolError,
    RequestReceived,
    ResponseEnd,
    ResponseHead,
)
from unit.protocols._http2_helpers import make_server

SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_ERROR_CODES = range(0x0, 0xE)


def frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


_ENCODER_HEADERS = [
    (b":method", b"GET"),
    (b":path", b"/"),
    (b":scheme", b"http"),
    (b":authority", b"x"),
]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    stream_id = draw(st.sampled_from([0, 1, 3, 5, 7, 2, 2**31 - 1]))
    if draw(st.integers(0, 3)) == 0:
        # A real header block, so streams open and the deeper states are reached.
        block = hpack.Encoder().encode(
            _ENCODER_HEADERS
            + draw(
                st.lists(
                    st.tuples(
                        st.sampled_from([b"x-a", b"content-length", b"te", b":path", b"Upper"]),
                        st.sampled_from([b"1", b"trailers", b"", b"a\x00b", b"/x"]),
                    ),
                    max_size=2,
                )
            )
        )
        flags = draw(st.sampled_from([0x4, 0x5, 0x0, 0x1, 0x24]))
        return frame(0x1, flags, stream_id | 1, block)
    kind = draw(st.integers(0, 12))
    flags = draw(st.integers(0, 255))
    payload = draw(st.binary(max_size=40))
    return frame(kind, flags, stream_id, payload)


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(data) - 1, 1)), max_size=10))))
    bounds = [0, *[c for c in cuts if 0 < c < len(data)], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@SETTINGS
@given(st.lists(frames(), max_size=12), st.data())
def test_random_frames_yield_events_or_a_connection_error(sequence, data):
    conn = make_server()
    conn.initiate()
    assert isinstance(conn.data_to_send(), bytes)
    wire = PREFACE + frame(0x4, 0, 0, b"") + b"".join(sequence)
    error: RemoteProtocolError | None = None
    for chunk in data.draw(splits(wire)):
        try:
            events = conn.receive_data(chunk)
        except RemoteProtocolError as exc:
            error = exc
            break
        for event in events:
            if isinstance(event, RequestReceived):
                conn.send(ResponseHead(stream_id=event.stream_id, status=200, headers=()))
                conn.send(ResponseEnd(stream_id=event.stream_id))
        assert isinstance(conn.data_to_send(), bytes)
    if error is not None:
        assert error.error_code in _ERROR_CODES
        assert conn.closed
        assert isinstance(conn.data_to_send(), bytes)  # the GOAWAY
        assert conn.receive_data(b"\x00" * 9) == []
