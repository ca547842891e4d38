"""The fast path against the ``h2`` route, frame by frame, in every stream state.

A conversation ends at its first connection error, so a fuzzer rarely gets to
try one rule after another. This table does: each *case* (a frame, or a few,
that some rule of RFC 9113 or of ``h2`` is about) is sent after each *setup*
(a stream open, half-closed, closed by both ends, reset by us or by the
client, forgotten, or no stream yet), whole and cut into pieces, to a
:class:`~._http2_helpers.Twin`, which compares the two routes' events, output
and state after every read. The cases come from reading what ``h2`` does with
each frame type; a case the fast path answers differently fails here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from pounce_protocols import (
    HTTP2ErrorCode,
    HTTP2Limits,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)
from pounce_protocols._http2_fast import FastCore
from pounce_protocols._http2_h2 import H2Core
from pounce_protocols._http2_wire import WireError

from ._http2_helpers import (
    CONTINUATION,
    DATA,
    GOAWAY,
    HEADERS,
    PING,
    PREFACE,
    PRIORITY,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    Pair,
    frame,
    hpack_literal,
    make_server,
    parse_frames,
)

END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20
ALTSVC = 0xA


def literal_block(fields: list[tuple[bytes, bytes]]) -> bytes:
    """Literal fields (short ones), which change no HPACK table."""
    out = b""
    for name, value in fields:
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out


GET = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a.b")]


def headers(stream_id: int, fields: list[tuple[bytes, bytes]], flags: int = 0x5) -> bytes:
    return frame(HEADERS, flags, stream_id, literal_block(fields))


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


# ------------------------------------------------------------------- setups


def open_post(pair: Pair, stream_id: int = 1) -> None:
    pair.server.receive_data(headers(stream_id, [*GET[:0], *post()], END_HEADERS))


def post() -> list[tuple[bytes, bytes]]:
    return [(b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")]


def answer(pair: Pair, stream_id: int = 1, body: bytes = b"") -> None:
    pair.server.send(ResponseHead(stream_id=stream_id, status=200))
    if body:
        pair.server.send(ResponseBody(stream_id=stream_id, data=body))
    pair.server.send(ResponseEnd(stream_id=stream_id))
    pair.server.data_to_send()


def setup_idle(pair: Pair) -> None:
    """No stream yet: h2's connection is still "idle"."""


def setup_open(pair: Pair) -> None:
    open_post(pair)


def setup_half_closed_remote(pair: Pair) -> None:
    pair.server.receive_data(headers(1, GET))


def setup_half_closed_local(pair: Pair) -> None:
    # A WebSocket stream (extended CONNECT) keeps going after our END_STREAM.
    pair.server.receive_data(
        headers(
            1,
            [
                (b":method", b"CONNECT"),
                (b":protocol", b"websocket"),
                (b":scheme", b"https"),
                (b":path", b"/ws"),
                (b":authority", b"a"),
            ],
            END_HEADERS,
        )
    )
    answer(pair)


def setup_ended(pair: Pair) -> None:
    pair.server.receive_data(headers(1, GET))
    answer(pair)


def setup_reset_by_us(pair: Pair) -> None:
    open_post(pair)
    answer(pair)  # before the body: RST_STREAM(NO_ERROR)


def setup_reset_by_client(pair: Pair) -> None:
    open_post(pair)
    pair.server.receive_data(frame(RST_STREAM, 0, 1, u32(8)))


def setup_forgotten_after_end(pair: Pair) -> None:
    setup_ended(pair)
    pair.server.receive_data(headers(3, GET))  # h2 moves closed stream 1 out of its table


def setup_forgotten_after_reset(pair: Pair) -> None:
    setup_reset_by_us(pair)
    pair.server.receive_data(headers(3, GET))


def setup_big_window(pair: Pair) -> None:
    open_post(pair)
    pair.server.receive_data(frame(WINDOW_UPDATE, 0, 1, u32(2**31 - 1 - 65_535)))


SETUPS: dict[str, Callable[[Pair], None]] = {
    "idle": setup_idle,
    "open": setup_open,
    "half-closed-remote": setup_half_closed_remote,
    "half-closed-local": setup_half_closed_local,
    "ended": setup_ended,
    "reset-by-us": setup_reset_by_us,
    "reset-by-client": setup_reset_by_client,
    "forgotten-after-end": setup_forgotten_after_end,
    "forgotten-after-reset": setup_forgotten_after_reset,
    "big-window": setup_big_window,
}

# -------------------------------------------------------------------- cases

BAD_REQUESTS = {
    "uppercase-name": [*GET, (b"X-A", b"1")],
    "space-in-name": [*GET, (b"x a", b"1")],
    "colon-in-name": [*GET, (b"x:a", b"1")],
    "empty-name": [*GET, (b"", b"1")],
    "nul-in-value": [*GET, (b"x", b"a\x00b")],
    "leading-space": [*GET, (b"x", b" a")],
    "trailing-tab": [*GET, (b"x", b"a\t")],
    "te-gzip": [*GET, (b"te", b"gzip")],
    "te-trailers": [*GET, (b"te", b"Trailers")],
    "connection": [*GET, (b"keep-alive", b"1")],
    "repeated-pseudo": [*GET, (b":path", b"/again")],
    "pseudo-after-regular": [*GET[:3], (b"x", b"1"), GET[3]],
    "unknown-pseudo": [*GET, (b":x", b"1")],
    "status-in-request": [*GET, (b":status", b"200")],
    "informational": [(b":status", b"103"), *GET],
    "no-method": GET[1:],
    "no-path": [GET[0], GET[1], GET[3]],
    "empty-path": [GET[0], GET[1], (b":path", b""), GET[3]],
    "connect": [(b":method", b"CONNECT"), (b":authority", b"a:443")],
    "connect-with-path": [(b":method", b"CONNECT"), (b":authority", b"a:443"), (b":path", b"/")],
    "protocol-without-connect": [*GET, (b":protocol", b"websocket")],
    "no-authority-no-host": GET[:3],
    "host-only": [*GET[:3], (b"host", b"a.b")],
    "two-hosts": [*GET[:3], (b"host", b"a"), (b"host", b"a")],
    "authority-host-differ": [*GET, (b"host", b"c.d")],
    "bad-content-length": [*GET, (b"content-length", b"1x")],
    "conflicting-content-length": [*GET, (b"content-length", b"1"), (b"content-length", b"2")],
    "repeated-content-length": [*GET, (b"content-length", b"0"), (b"content-length", b"0")],
    "cookies": [*GET, (b"cookie", b"a=1"), (b"x", b"y"), (b"cookie", b"b=2")],
    "empty-last-cookie": [*GET, (b"cookie", b"a=1"), (b"cookie", b"")],
    "quote-in-name": [*GET, (b'x"y', b"1")],
}

CASES: dict[str, bytes] = {
    # DATA
    "data": frame(DATA, 0, 1, b"body"),
    "data-end": frame(DATA, END_STREAM, 1, b"body"),
    "data-empty-end": frame(DATA, END_STREAM, 1),
    "data-padded": frame(DATA, PADDED, 1, b"\x03body\x00\x00\x00"),
    "data-pad-all": frame(DATA, PADDED, 1, b"\x03\x00\x00\x00"),
    "data-pad-too-long": frame(DATA, PADDED, 1, b"\x05abc"),
    "data-pad-as-long-as-the-frame": frame(DATA, PADDED, 1, b"\x04abc"),
    "data-pad-one-short": frame(DATA, PADDED, 1, b"\x03abc"),
    "data-no-pad-length": frame(DATA, PADDED, 1),
    "data-stream-0": frame(DATA, 0, 0, b"x"),
    "data-idle-stream": frame(DATA, 0, 5, b"x"),
    "data-even-stream": frame(DATA, 0, 2, b"x"),
    "data-over-window": frame(DATA, 0, 1, b"x" * 16_384) * 5,
    "data-content-length": headers(5, [*post(), (b"content-length", b"3")], END_HEADERS)
    + frame(DATA, END_STREAM, 5, b"four"),
    "data-content-length-short": headers(5, [*post(), (b"content-length", b"3")], END_HEADERS)
    + frame(DATA, END_STREAM, 5, b"tw"),
    # More than content-length, before the end: an error at once.
    "data-content-length-over-midway": headers(5, [*post(), (b"content-length", b"3")], END_HEADERS)
    + frame(DATA, 0, 5, b"four"),
    "data-content-length-exact-midway": headers(
        5, [*post(), (b"content-length", b"3")], END_HEADERS
    )
    + frame(DATA, 0, 5, b"thr"),
    # HEADERS
    "trailers": headers(1, [(b"x-sum", b"1")]),
    "trailers-no-end": headers(1, [(b"x-sum", b"1")], END_HEADERS),
    "trailers-pseudo": headers(1, [(b":path", b"/")]),
    "trailers-informational": headers(1, [(b":status", b"100")], END_HEADERS),
    "trailers-informational-end": headers(1, [(b":status", b"100")]),
    "trailers-content-length": headers(1, [(b"content-length", b"x")]),
    # Padding as long as what follows the pad length: h2 refuses it (an
    # empty trailer block would be fine, so only the padding rule can say no).
    "trailers-pad-as-long-as-the-rest": frame(HEADERS, 0x5 | PADDED, 1, b"\x03\x00\x00\x00"),
    "trailers-pad-one-short": frame(HEADERS, 0x5 | PADDED, 1, b"\x02\x00\x00\x00"),
    # Trailers end the stream: what follows them on it is a stream error.
    "trailers-then-data": headers(1, [(b"x-sum", b"1")]) + frame(DATA, 0, 1, b"x"),
    "trailers-then-trailers": headers(1, [(b"x-sum", b"1")]) * 2,
    "trailers-priority-pad": frame(
        HEADERS, 0x5 | PADDED | PRIORITY_FLAG, 1, b"\x05" + u32(0) + b"\x0f"
    ),
    "request-stream-1-again": headers(1, GET),
    "request-even": headers(2, GET),
    "request-lower": headers(3, GET) + headers(1, GET),
    "request-padded": frame(HEADERS, 0x5 | PADDED, 5, b"\x02" + literal_block(GET) + b"\x00\x00"),
    "request-pad-too-long": frame(HEADERS, 0x5 | PADDED, 5, b"\xff" + literal_block(GET)),
    "request-no-pad-length": frame(HEADERS, 0x5 | PADDED, 5),
    "request-priority": frame(
        HEADERS, 0x5 | PRIORITY_FLAG, 5, u32(1) + b"\x0f" + literal_block(GET)
    ),
    "request-priority-self": frame(
        HEADERS, 0x5 | PRIORITY_FLAG, 5, u32(5) + b"\x0f" + literal_block(GET)
    ),
    "request-priority-short": frame(HEADERS, 0x5 | PRIORITY_FLAG, 5, b"\x00\x00"),
    "request-padded-priority": frame(
        HEADERS,
        0x5 | PADDED | PRIORITY_FLAG,
        5,
        b"\x01" + u32(0) + b"\x0f" + literal_block(GET) + b"\x00",
    ),
    "request-in-continuation": frame(HEADERS, END_STREAM, 5, literal_block(GET)[:7])
    + frame(CONTINUATION, 0, 5, literal_block(GET)[7:12])
    + frame(CONTINUATION, END_HEADERS, 5, literal_block(GET)[12:]),
    "request-bad-hpack": frame(HEADERS, 0x5, 5, b"\x80"),
    "request-bad-huffman": frame(HEADERS, 0x5, 5, b"\x00\x81\xff\x01y"),
    "request-table-size-over": frame(HEADERS, 0x5, 5, b"\x3f\xe2\x1f" + literal_block(GET)),
    "request-stream-0": frame(HEADERS, 0x5, 0, literal_block(GET)),
    # CONTINUATION alone
    "continuation-stream-1": frame(CONTINUATION, END_HEADERS, 1, b""),
    "continuation-idle": frame(CONTINUATION, END_HEADERS, 7, b""),
    "continuation-stream-0": frame(CONTINUATION, END_HEADERS, 0, b""),
    # PUSH_PROMISE
    "push-promise": frame(PUSH_PROMISE, END_HEADERS, 1, u32(2) + literal_block(GET)),
    "push-promise-odd": frame(PUSH_PROMISE, END_HEADERS, 1, u32(3)),
    "push-promise-short": frame(PUSH_PROMISE, END_HEADERS, 1, b"\x00\x02"),
    "push-promise-padded": frame(PUSH_PROMISE, END_HEADERS | PADDED, 1, b"\x09" + u32(2)),
    "push-promise-pad-as-long": frame(PUSH_PROMISE, END_HEADERS | PADDED, 1, b"\x05" + u32(2)),
    "push-promise-block": frame(PUSH_PROMISE, 0, 1, u32(2))
    + frame(CONTINUATION, 0, 1)
    + frame(CONTINUATION, END_HEADERS, 1),
    "push-promise-block-interrupted": frame(PUSH_PROMISE, 0, 1, u32(2))
    + frame(PING, 0, 0, bytes(8)),
    "push-promise-block-bad-ping": frame(PUSH_PROMISE, 0, 1, u32(2)) + frame(PING, 0, 0, bytes(7)),
    "push-promise-block-long": frame(PUSH_PROMISE, 0, 1, u32(2)) + frame(CONTINUATION, 0, 1) * 70,
    # h2 takes a block in 64 frames, not 65.
    "push-promise-block-64-frames": frame(PUSH_PROMISE, 0, 1, u32(2))
    + frame(CONTINUATION, 0, 1) * 63,
    "push-promise-block-65-frames": frame(PUSH_PROMISE, 0, 1, u32(2))
    + frame(CONTINUATION, 0, 1) * 64,
    # The gate stops a HEADERS block continued on another stream; a
    # PUSH_PROMISE block is the core's to refuse.
    "push-promise-block-other-stream": frame(PUSH_PROMISE, 0, 1, u32(2))
    + frame(CONTINUATION, 0, 3),
    # WINDOW_UPDATE
    "window-connection": frame(WINDOW_UPDATE, 0, 0, u32(1000)),
    "window-stream": frame(WINDOW_UPDATE, 0, 1, u32(1000)),
    "window-zero": frame(WINDOW_UPDATE, 0, 1, u32(0)),
    "window-reserved-bit": frame(WINDOW_UPDATE, 0, 0, u32(2**31 + 1)),
    "window-connection-overflow": frame(WINDOW_UPDATE, 0, 0, u32(2**31 - 1)),
    "window-stream-overflow": frame(WINDOW_UPDATE, 0, 1, u32(2**31 - 1)),
    "window-idle-stream": frame(WINDOW_UPDATE, 0, 9, u32(1)),
    "window-short": frame(WINDOW_UPDATE, 0, 0, b"\x00\x01"),
    "window-long": frame(WINDOW_UPDATE, 0, 0, u32(1) + b"\x00"),
    # RST_STREAM
    "reset": frame(RST_STREAM, 0, 1, u32(8)),
    "reset-twice": frame(RST_STREAM, 0, 1, u32(8)) * 2,
    "reset-idle-stream": frame(RST_STREAM, 0, 9, u32(8)),
    "reset-short": frame(RST_STREAM, 0, 1, b"\x00"),
    "reset-stream-0": frame(RST_STREAM, 0, 0, u32(8)),
    "reset-then-data": frame(RST_STREAM, 0, 1, u32(8)) + frame(DATA, 0, 1, b"x"),
    # SETTINGS
    "settings-window": frame(SETTINGS, 0, 0, b"\x00\x04" + u32(100_000)),
    "settings-window-zero": frame(SETTINGS, 0, 0, b"\x00\x04" + u32(0)),
    "settings-window-too-big": frame(SETTINGS, 0, 0, b"\x00\x04" + u32(2**31)),
    "settings-window-overflows-a-stream": frame(SETTINGS, 0, 0, b"\x00\x04" + u32(2**31 - 1)),
    "settings-frame-size": frame(SETTINGS, 0, 0, b"\x00\x05" + u32(20_000)),
    "settings-frame-size-small": frame(SETTINGS, 0, 0, b"\x00\x05" + u32(100)),
    "settings-push": frame(SETTINGS, 0, 0, b"\x00\x02" + u32(1)),
    "settings-push-2": frame(SETTINGS, 0, 0, b"\x00\x02" + u32(2)),
    "settings-connect-2": frame(SETTINGS, 0, 0, b"\x00\x08" + u32(2)),
    "settings-unknown": frame(SETTINGS, 0, 0, b"\x00\x42" + u32(2**32 - 1)),
    "settings-twice-in-one": frame(SETTINGS, 0, 0, b"\x00\x04" + u32(1) + b"\x00\x04" + u32(9)),
    "settings-bad-then-good": frame(
        SETTINGS, 0, 0, b"\x00\x05" + u32(1) + b"\x00\x04" + u32(2**31)
    ),
    "settings-table-size": frame(SETTINGS, 0, 0, b"\x00\x01" + u32(0)),
    "settings-odd-length": frame(SETTINGS, 0, 0, b"\x00\x04\x00"),
    "settings-ack": frame(SETTINGS, 1, 0),
    "settings-ack-payload": frame(SETTINGS, 1, 0, b"\x00\x04" + u32(1)),
    "settings-stream-1": frame(SETTINGS, 0, 1),
    # PING, PRIORITY, GOAWAY, unknown
    "ping": frame(PING, 0, 0, b"12345678"),
    "ping-ack": frame(PING, 1, 0, b"12345678"),
    "ping-short": frame(PING, 0, 0, b"1234567"),
    "ping-stream-1": frame(PING, 0, 1, bytes(8)),
    "priority": frame(PRIORITY, 0, 1, u32(3) + b"\x0f"),
    "priority-idle-stream": frame(PRIORITY, 0, 9, u32(3) + b"\x0f"),
    "priority-self": frame(PRIORITY, 0, 1, u32(1) + b"\x0f"),
    "priority-short": frame(PRIORITY, 0, 1, u32(3)),
    "priority-long": frame(PRIORITY, 0, 1, u32(3) + b"\x0f\x00"),
    "priority-stream-0": frame(PRIORITY, 0, 0, u32(3) + b"\x0f"),
    "priority-update": frame(0x10, 0, 0, u32(1) + b"u=0"),
    "priority-update-future": frame(0x10, 0, 0, u32(101) + b"u=1"),
    "priority-update-bad": frame(0x10, 0, 0, u32(1) + b"u=?"),
    "goaway": frame(GOAWAY, 0, 0, u32(1) + u32(0)),
    "goaway-error": frame(GOAWAY, 0, 0, u32(1) + u32(2)),
    "altsvc": frame(ALTSVC, 0, 1, b'\x00\x00h2=":443"'),
    "altsvc-then-data": frame(ALTSVC, 0, 0, b"\x00\x01ah2") + frame(DATA, 0, 1, b"x"),
    "altsvc-short": frame(ALTSVC, 0, 0, b"\x00"),
    "altsvc-origin-too-long": frame(ALTSVC, 0, 0, b"\x00\x09ab"),
    "unknown-type": frame(0x42, 0xFF, 1, b"anything"),
    "oversized": frame(DATA, 0, 1, b"x" * 16_385),
}
CASES.update({f"request-{name}": headers(5, fields) for name, fields in BAD_REQUESTS.items()})
CASES["push-promise-no-pad-length"] = frame(PUSH_PROMISE, END_HEADERS | PADDED, 1)
# A frame breaking into a header block is parsed first: its own faults come
# first (the gate stops such frames inside a HEADERS block; a PUSH_PROMISE
# block reaches the core).
SHAPES = [
    "data-pad-too-long",
    "data-pad-as-long-as-the-frame",
    "trailers-pad-as-long-as-the-rest",
    "push-promise-pad-as-long",
    "data-no-pad-length",
    "request-pad-too-long",
    "request-no-pad-length",
    "request-priority-short",
    "push-promise-odd",
    "push-promise-short",
    "push-promise-padded",
    "push-promise-no-pad-length",
    "window-zero",
    "window-short",
    "reset-short",
    "settings-odd-length",
    "settings-ack-payload",
    "ping-short",
    "priority-short",
    "altsvc-short",
    "unknown-type",
    "data",
]
CASES.update(
    {f"in-push-block-{name}": frame(PUSH_PROMISE, 0, 1, u32(2)) + CASES[name] for name in SHAPES}
)


def pieces(data: bytes) -> list[list[bytes]]:
    third = max(len(data) // 3, 1)
    return [
        [data],
        [data[:third], data[third : 2 * third], data[2 * third :]],
        [data[:5], data[5:]],
    ]


@pytest.mark.parametrize("setup", list(SETUPS), ids=list(SETUPS))
def test_every_case_after_every_setup(setup: str) -> None:
    limits = HTTP2Limits(enable_connect_protocol=True)
    for name, data in CASES.items():
        for chunks in pieces(data):
            pair = Pair(limits)
            SETUPS[setup](pair)
            try:
                for chunk in chunks:
                    if chunk:
                        pair.server.receive_data(chunk)
                # Then an ordinary request: the connection (or not) goes on.
                pair.server.receive_data(headers(101, GET))
            except RemoteProtocolError:
                pass
            except AssertionError as exc:
                raise AssertionError(f"case {name!r}, in {len(chunks)} pieces") from exc
            pair.server.data_to_send()


def test_the_table_reaches_both_kinds_of_error() -> None:
    # The table must hold connection errors and stream errors both, or it
    # proves less than it seems to.
    outcomes = set()
    for data in CASES.values():
        pair = Pair()
        setup_open(pair)
        try:
            pair.server.receive_data(data)
        except RemoteProtocolError as exc:
            outcomes.add(exc.error_code)
        else:
            outcomes.add("ok")
    assert {"ok", HTTP2ErrorCode.PROTOCOL_ERROR, HTTP2ErrorCode.FRAME_SIZE_ERROR} <= outcomes
    assert {HTTP2ErrorCode.FLOW_CONTROL_ERROR, HTTP2ErrorCode.ENHANCE_YOUR_CALM} & outcomes


def test_a_response_head_larger_than_a_frame_goes_out_in_continuation_frames() -> None:
    pair = Pair()
    pair.request(1)
    big = ((b"x-big", b"b" * 40_000),)
    pair.server.send(ResponseHead(stream_id=1, status=200, headers=big))
    pair.server.send(ResponseEnd(stream_id=1))
    kinds = [type(e).__name__ for e in pair.to_client()]
    assert "ResponseReceived" in kinds


# ------------------------------------------- the cores refuse the same misuse


def cores() -> list[FastCore | H2Core]:
    limits = HTTP2Limits()
    made: list[FastCore | H2Core] = [FastCore(limits), H2Core(limits)]
    for core in made:
        core.initiate()
        core.receive(PREFACE + frame(SETTINGS, 0, 0) + headers(1, GET) + headers(3, post()))
        core.data_to_send()
    return made


MISUSE: dict[str, Callable[[FastCore | H2Core], None]] = {
    "send-on-unknown-stream": lambda c: c.send_headers(9, 200, (), False),
    "informational-ending": lambda c: c.send_headers(1, 100, (), True),
    "informational-after-head": lambda c: (
        c.send_headers(1, 200, (), False),
        c.send_headers(1, 100, (), False),
    ),
    "third-head": lambda c: (
        c.send_headers(3, 200, (), False),
        c.send_headers(3, None, ((b"x", b"1"),), True),
        c.send_headers(3, None, ((b"x", b"1"),), True),
    ),
    "data-over-window": lambda c: c.send_data(1, b"x" * 70_000, False),
    "data-after-end": lambda c: (c.end_stream(3), c.send_data(3, b"x", False)),
    "end-twice": lambda c: (c.end_stream(1), c.end_stream(1)),
    "reset-twice": lambda c: (c.reset_stream(1, 0), c.reset_stream(1, 0)),
    "window-on-closed": lambda c: (c.reset_stream(1, 0), c.increment_window(10, 1)),
    "window-on-unknown": lambda c: c.increment_window(10, 11),
    "informational-on-closed": lambda c: (c.reset_stream(3, 0), c.send_headers(3, 100, (), False)),
    "trailers-without-end": lambda c: (
        c.send_headers(3, 200, (), False),
        c.send_headers(3, None, ((b"x", b"1"),), False),
    ),
    "trailers-after-failed-trailers": lambda c: (
        c.send_headers(3, 200, (), False),
        _attempt(lambda: c.send_headers(3, None, ((b"x", b"1"),), False)),
        c.send_headers(3, None, ((b"x", b"1"),), True),
    ),
}


def _attempt(action: Callable[[], object]) -> None:
    with contextlib.suppress(WireError):
        action()


@pytest.mark.parametrize("misuse", list(MISUSE), ids=list(MISUSE))
def test_both_cores_refuse_the_same_misuse(misuse: str) -> None:
    results = []
    for core in cores():
        try:
            MISUSE[misuse](core)
            results.append("done")
        except WireError:
            results.append("refused")
    assert results[0] == results[1] == "refused"


def test_a_machine_on_either_core_turns_misuse_into_a_local_error() -> None:
    server = make_server()
    server.initiate()
    with pytest.raises(LocalProtocolError):
        server.send(ResponseHead(stream_id=1, status=200))


def error_codes_without_the_gate(data: bytes) -> list[int | None]:
    """The connection error each core, fed ``data`` directly, ends with."""
    codes = []
    for core in cores():
        with pytest.raises(RemoteProtocolError) as caught:
            core.receive(data)
        codes.append(caught.value.error_code)
    return codes


@pytest.mark.parametrize("size", [16_385, 70_000], ids=["just-over", "over-64k"])
def test_both_cores_refuse_an_oversized_frame_the_gate_would_stop(size: int) -> None:
    oversized = frame(DATA, 0, 1, bytes(size))
    assert error_codes_without_the_gate(oversized) == [HTTP2ErrorCode.FRAME_SIZE_ERROR] * 2


def test_both_cores_refuse_a_header_block_continued_on_another_stream() -> None:
    # The gate refuses this before a core sees it; a core fed without the
    # gate must not take the CONTINUATION into the other stream's block.
    block = literal_block(GET)
    interrupted = frame(HEADERS, END_STREAM, 5, block[:7]) + frame(
        CONTINUATION, END_HEADERS, 7, block[7:]
    )
    assert error_codes_without_the_gate(interrupted) == [HTTP2ErrorCode.PROTOCOL_ERROR] * 2


@pytest.mark.parametrize(
    ("total", "credited"), [(32_766, []), (32_767, [32_767]), (40_000, [32_768])]
)
def test_data_on_a_stream_we_reset_is_credited_at_the_same_threshold(
    total: int, credited: list[int]
) -> None:
    # Nobody reads it, so the connection window is given back as h2 gives it
    # back: once half of the window's largest size (here 65535) has come in,
    # counted frame by frame (16384 at a time).
    pair = Pair(HTTP2Limits(connection_window_size=65_535))
    setup_reset_by_us(pair)
    first = min(total, 16_384)
    late = frame(DATA, 0, 1, bytes(first))
    late += b"".join(
        frame(DATA, 0, 1, bytes(min(16_384, total - start)))
        for start in range(first, total, 16_384)
    )
    assert pair.server.receive_data(late) == []
    updates = [
        int.from_bytes(payload, "big")
        for kind, _, stream_id, payload in parse_frames(pair.server.data_to_send())
        if kind == WINDOW_UPDATE and stream_id == 0
    ]
    assert updates == credited


def test_closed_streams_are_forgotten_on_the_same_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # h2 remembers the last 65536 streams closed; both routes, made to
    # remember 4, must forget the same ones (a HEADERS frame on a stream
    # remembered as reset is a stream error, on one forgotten a connection error).
    import h2.connection

    from pounce_protocols import _http2_fast

    monkeypatch.setattr(h2.connection.H2Connection, "MAX_CLOSED_STREAMS", 4)
    monkeypatch.setattr(_http2_fast, "_CLOSED_MEMORY", 4)
    for late in (1, 11, 13):
        pair = Pair()
        for stream_id in range(1, 21, 2):
            pair.server.receive_data(headers(stream_id, post(), END_HEADERS))
            pair.server.reset_stream(stream_id, HTTP2ErrorCode.CANCEL)
        pair.server.data_to_send()
        with contextlib.suppress(RemoteProtocolError):
            pair.server.receive_data(headers(late, GET))
        pair.server.data_to_send()


def test_streams_we_reset_are_remembered_on_the_same_schedule() -> None:
    pair = Pair()
    for stream_id in range(1, 601, 2):  # 300 resets: the first ones are forgotten
        pair.server.receive_data(headers(stream_id, post(), END_HEADERS))
        pair.server.reset_stream(stream_id, HTTP2ErrorCode.CANCEL)
        pair.server.data_to_send()
    for late in (1, 599):
        pair.server.receive_data(frame(DATA, 0, late, b"late"))
        pair.server.data_to_send()


def test_the_checks_cache_stays_bounded() -> None:
    pair = Pair()
    for stream_id in range(1, 200, 2):
        fields = [*GET, (b"x-n", b"%d" % stream_id)]
        pair.server.receive_data(headers(stream_id, fields))
        answer(pair, stream_id)
    assert len(pair.server.fast._core._checks) <= 32


def test_large_header_lists_are_not_remembered() -> None:
    # A client repeating 5 KB header lists makes the connection remember none
    # of them (a small one, it does).
    pair = Pair()
    block = literal_block(GET) + hpack_literal(b"x-big", b"b" * 5000)
    for stream_id in range(1, 41, 2):
        pair.server.receive_data(frame(HEADERS, END_STREAM | END_HEADERS, stream_id, block))
        answer(pair, stream_id)
    assert pair.server.fast._core._checks == {}
    assert pair.server.fast._requests == {}
    assert pair.server.fast._core._decoder._blocks == {}
    pair.server.receive_data(headers(41, GET))
    assert len(pair.server.fast._requests) == 1
