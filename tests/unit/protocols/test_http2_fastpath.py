"""The HTTP/2 fast path against the ``h2`` route, on generated conversations.

Every machine of these tests is a :class:`~._http2_helpers.Twin`: the fast
path and the ``h2`` route fed the same calls, with every answer, every byte
of output (header blocks decoded) and the state after every call compared.
The other ``test_http2_*`` modules run their cases through it too; here
hypothesis writes the conversations:

* hostile ones: frames of every type with random flags, stream ids, lengths
  and payloads, mixed with well-formed requests (real HPACK blocks, some
  split into CONTINUATION frames, padded, with priority data), trailers,
  window updates, settings, resets, cut into reads at random points;
* well-behaved ones: ``h2`` as the client, sending requests and bodies,
  consuming what it gets, changing its settings, resetting streams;

and a server plays its part between the reads (answering whole, in pieces,
with trailers, early, or not at all; reading bodies; resetting streams;
running out of socket room; shutting down).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import h2.settings
import hpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pounce_protocols import (
    BodyReceived,
    HTTP2ErrorCode,
    HTTP2Limits,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    RequestReceived,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    UpgradeRequested,
)

from ._http2_helpers import (
    CONTINUATION,
    DATA,
    HEADERS,
    PREFACE,
    PRIORITY,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    FakeClock,
    Pair,
    Twin,
    frame,
    make_server,
)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LIMITS = st.sampled_from(
    [
        HTTP2Limits(),
        HTTP2Limits(max_concurrent_streams=2, max_header_list_size=300, max_header_count=6),
        HTTP2Limits(connection_window_size=65_535, enable_connect_protocol=True),
        HTTP2Limits(initial_window_size=100_000, connection_window_size=200_000),
    ]
)

# ----------------------------------------------------------- request heads

PSEUDO = [
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":method", b"HEAD"),
    (b":method", b"CONNECT"),
    (b":method", b"OPTIONS"),
    (b":path", b"/"),
    (b":path", b"/a/b?c=d&e"),
    (b":path", b"*"),
    (b":path", b""),
    (b":path", b"rel"),
    (b":scheme", b"https"),
    (b":scheme", b"http"),
    (b":scheme", b"ftp"),
    (b":authority", b"example.com"),
    (b":authority", b"other:8080"),
    (b":authority", b"user@host"),
    (b":protocol", b"websocket"),
    (b":status", b"200"),
    (b":status", b"103"),
    (b":other", b"x"),
]
REGULAR = [
    (b"accept", b"*/*"),
    (b"user-agent", b"fuzz/1"),
    (b"cookie", b"a=1"),
    (b"cookie", b"b=2"),
    (b"cookie", b""),
    (b"content-length", b"5"),
    (b"content-length", b"0"),
    (b"content-length", b"x"),
    (b"priority", b"u=1, i"),
    (b"priority", b"u=9"),
    (b"expect", b"100-continue"),
    (b"host", b"example.com"),
    (b"host", b"elsewhere"),
    (b"te", b"trailers"),
    (b"te", b"gzip"),
    (b"connection", b"close"),
    (b"X-Upper", b"1"),
    (b"x-space", b" padded"),
    (b"x-nul", b"a\x00b"),
    (b"x-lf", b"a\nb"),
    (b"x-cr", b"a\rb"),
    (b"x-vt", b"a\x0bb"),
    (b"x-quote", b'a"b'),
    (b'bad"name', b"1"),
    (b"x-long", b"v" * 200),
    (b"sec-websocket-version", b"13"),
]

VALID_REGULAR = [field for field in REGULAR[:13] if field[1] not in (b"x", b"5", b"u=9")]
GOOD_HEAD = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/")]


@st.composite
def header_lists(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    if draw(st.integers(0, 3)):  # mostly a request that may well be served
        fields = list(GOOD_HEAD)
        if draw(st.booleans()):
            fields[0] = (b":method", draw(st.sampled_from([b"POST", b"HEAD", b"CONNECT"])))
        if draw(st.integers(0, 3)):
            fields.append((b":authority", b"example.com"))
        fields += draw(st.lists(st.sampled_from(REGULAR[:13]), max_size=4))
        return fields
    pseudo = draw(st.lists(st.sampled_from(PSEUDO), max_size=5))
    regular = draw(st.lists(st.sampled_from(REGULAR), max_size=4))
    if draw(st.booleans()):
        return pseudo + regular
    return draw(st.permutations(pseudo + regular))


# ----------------------------------------------------- hostile conversations


def padded(payload: bytes, pad: int | None) -> tuple[int, bytes]:
    if pad is None:
        return 0, payload
    return 0x8, bytes([pad]) + payload + bytes(min(pad, 20))


VALID_SETTINGS = [(1, 0), (1, 100), (1, 4096), (2, 0), (3, 10), (4, 0), (4, 10), (4, 70_000)]
VALID_SETTINGS += [(4, 2**31 - 1), (5, 16_384), (5, 20_000), (6, 100), (8, 1), (0x42, 7)]
BAD_SETTINGS = [(2, 2), (4, 2**31), (5, 100), (5, 2**24), (8, 2)]


def settings_frame(pairs: list[tuple[int, int]]) -> bytes:
    payload = b"".join(c.to_bytes(2, "big") + v.to_bytes(4, "big") for c, v in pairs)
    return frame(SETTINGS, 0, 0, payload)


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    """A client's bytes: mostly what a client may send, now and then not."""
    encoder = hpack.Encoder()
    if draw(st.booleans()):
        encoder.header_table_size = draw(st.sampled_from([0, 100, 4096]))
    out = [PREFACE]
    if draw(st.integers(0, 4)):
        out.append(settings_frame(draw(st.lists(st.sampled_from(VALID_SETTINGS), max_size=3))))
    sending: list[int] = []  # streams the client has not ended
    ended: list[int] = []  # and those it has
    next_id = 1
    for _ in range(draw(st.integers(1, 16))):
        bad = not draw(st.integers(0, 9))  # one step in ten breaks a rule
        choice = draw(st.integers(0, 13))
        known = sending + ended
        if bad:
            stream_id = draw(
                st.sampled_from([next_id + 2, 0, 2, 2**31 - 1, *known[:1], *ended[-1:]])
            )
        elif choice in (4, 5, 6, 8) and sending:
            stream_id = draw(st.sampled_from(sending))
        elif known:
            stream_id = draw(st.sampled_from(known))
        else:
            stream_id = next_id
        if choice <= 3 or not known:  # a new request
            stream_id = stream_id if bad else next_id
            if bad or not draw(st.integers(0, 4)):
                fields = draw(header_lists())
            else:
                fields = [*GOOD_HEAD, (b":authority", b"example.com")]
                fields += draw(st.lists(st.sampled_from(VALID_REGULAR), max_size=3))
            block = encoder.encode(fields, huffman=draw(st.booleans()))
            end = draw(st.booleans())
            out += header_block_frames(draw, stream_id, block, end, bad)
            if stream_id == next_id:
                next_id += 2
                (ended if end else sending).append(stream_id)
        elif choice <= 5:  # DATA
            size = draw(st.sampled_from([0, 1, 5, 1000, 16_384]))
            pad = (
                draw(st.sampled_from([None, None, None, 0, 3]))
                if not bad
                else draw(st.sampled_from([None, 255, 0]))
            )
            flags, payload = padded(b"d" * size, pad)
            end = draw(st.integers(0, 2)) == 0
            out.append(frame(DATA, flags | end, stream_id, payload[:16_384]))
            if end and stream_id in sending:
                sending.remove(stream_id)
                ended.append(stream_id)
        elif choice == 6:  # trailers
            block = encoder.encode(draw(st.lists(st.sampled_from(REGULAR[:3]), max_size=2)))
            end = not bad or draw(st.booleans())
            out += header_block_frames(draw, stream_id, block, end, bad)
            if end and stream_id in sending:
                sending.remove(stream_id)
                ended.append(stream_id)
        elif choice == 7:
            increment = draw(
                st.sampled_from([1, 1000, 65_535, 2**31 - 1] if not bad else [0, 2**31])
            )
            target = draw(st.sampled_from([0, stream_id]))
            out.append(frame(WINDOW_UPDATE, 0, target, increment.to_bytes(4, "big")))
        elif choice == 8:
            out.append(frame(RST_STREAM, 0, stream_id, (8).to_bytes(4, "big")))
            for group in (sending, ended):
                if stream_id in group:
                    group.remove(stream_id)
        elif choice == 9:
            depends = draw(st.sampled_from([0, 1, 3] if not bad else [stream_id]))
            out.append(frame(PRIORITY, 0, stream_id, depends.to_bytes(4, "big") + b"\x0f"))
        elif choice == 10:  # PRIORITY_UPDATE
            value = draw(st.sampled_from([b"u=0", b"u=7, i"] if not bad else [b"u=x", b"\x00"]))
            target = draw(st.sampled_from([stream_id, next_id, next_id + 4]))
            out.append(frame(0x10, 0, 1 if bad else 0, target.to_bytes(4, "big") + value))
        elif choice == 11:
            if bad:
                out.append(settings_frame([draw(st.sampled_from(BAD_SETTINGS))]))
            else:
                pairs = draw(st.lists(st.sampled_from(VALID_SETTINGS), max_size=3))
                out.append(
                    settings_frame(pairs) if draw(st.integers(0, 2)) else frame(SETTINGS, 1, 0)
                )
        elif choice == 12:
            out.append(frame(6, draw(st.sampled_from([0, 1])), 0, bytes(8 if not bad else 7)))
        else:  # anything at all, or what no client should send
            kind = draw(st.integers(0, 16)) if bad else draw(st.sampled_from([0xB, 0xA, 5]))
            if kind == 7:  # GOAWAY: the gate's business, tested in the lifecycle tests
                kind = 0xB
            flags = draw(st.integers(0, 255))
            out.append(frame(kind, flags, stream_id, draw(st.binary(max_size=24))))
    return b"".join(out)


def header_block_frames(
    draw: st.DrawFn, stream_id: int, block: bytes, end: bool, bad: bool
) -> list[bytes]:
    """A header block as HEADERS (padded, with priority) and CONTINUATION frames."""
    flags = 0x1 if end else 0
    payload = block
    if draw(st.integers(0, 4)) == 0:
        depends = stream_id if bad and draw(st.booleans()) else 0
        payload = depends.to_bytes(4, "big") + b"\x10" + payload
        flags |= 0x20
    if draw(st.integers(0, 4)) == 0:
        pad = draw(st.integers(0, 20)) if not bad else draw(st.sampled_from([200, 255]))
        flags |= 0x8
        payload = bytes([pad]) + payload + bytes(min(pad, 20))
    if draw(st.integers(0, 3)):
        return [frame(HEADERS, flags | 0x4, stream_id, payload)]
    cut = draw(st.integers(0, len(payload)))
    frames = [frame(HEADERS, flags, stream_id, payload[:cut])]
    for _ in range(draw(st.integers(0, 2))):
        frames.append(frame(CONTINUATION, 0, stream_id, b""))
    if bad and draw(st.booleans()):
        frames.append(frame(6, 0, 0, bytes(8)))  # a PING inside the block
    frames.append(frame(CONTINUATION, 0x4, stream_id, payload[cut:]))
    return frames


@st.composite
def reads(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(data) - 1, 1)), max_size=8))))
    bounds = [0, *[c for c in cuts if 0 < c < len(data)], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


class Responder:
    """The server's side of a conversation, chosen by hypothesis as it goes."""

    def __init__(self, server: Twin, draw: Any) -> None:
        self.server = server
        self.draw = draw
        self.open: list[int] = []

    def attempt(self, event: Any) -> None:
        # A response HTTP/2 cannot send is refused by both routes alike.
        with contextlib.suppress(LocalProtocolError):
            self.server.send(event)

    def respond(self, stream_id: int) -> None:
        style = self.draw(st.integers(0, 8))
        if style == 0:
            return  # not yet
        if style == 1:
            self.server.reset_stream(stream_id, HTTP2ErrorCode.CANCEL)
            return
        if style == 2:
            self.attempt(InformationalResponse(stream_id=stream_id, status=103))
        head = ((b"content-type", b"text/plain"), (b"X-Mixed", b"Case"), (b"connection", b"x"))
        status = self.draw(st.sampled_from([200, 404, 204]))
        size = self.draw(st.sampled_from([0, 13, 13, 20_000, 70_000]))
        if style >= 6:  # all at once, as a one-message ASGI response goes
            with contextlib.suppress(LocalProtocolError):
                if self.server.send_response(stream_id, status, head, b"r" * size):
                    return
        self.attempt(ResponseHead(stream_id=stream_id, status=status, headers=head))
        if size:
            if style == 5:
                with contextlib.suppress(LocalProtocolError):
                    self.server.send_body(stream_id, b"r" * size)
            else:
                self.attempt(ResponseBody(stream_id=stream_id, data=b"r" * size))
        if style == 3:
            return  # the end comes later, or never
        trailers = ((b"x-sum", b"1"),) if style == 4 else ()
        self.attempt(ResponseEnd(stream_id=stream_id, trailers=trailers))

    def after(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, RequestReceived | UpgradeRequested):
                self.open.append(event.stream_id)
                self.respond(event.stream_id)
            elif isinstance(event, RequestRejected):
                self.attempt(ResponseHead(stream_id=event.stream_id, status=event.status_hint))
                self.attempt(ResponseEnd(stream_id=event.stream_id))
            elif isinstance(event, BodyReceived) and self.draw(st.booleans()):
                self.server.acknowledge_received_data(event.stream_id, len(event.data))
        if self.open and not self.draw(st.integers(0, 3)):
            self.respond(self.draw(st.sampled_from(self.open)))
        what = self.draw(st.integers(0, 12))
        if what == 0:
            self.server.set_output_room(self.draw(st.sampled_from([0, 100, 20_000, None])))
        elif what == 1:
            self.server.start_graceful_shutdown()
        self.server.data_to_send()


def play(server: Twin, chunks: list[bytes], responder: Responder) -> None:
    server.initiate()
    server.data_to_send()
    for chunk in chunks:
        try:
            events = server.receive_data(chunk)
        except RemoteProtocolError:
            server.data_to_send()
            assert server.closed
            return
        responder.after(events)
    server.receive_data(b"")
    server.data_to_send()


@FUZZ
@given(LIMITS, st.data())
def test_hostile_conversations_go_the_same_way(limits: HTTP2Limits, data: st.DataObject) -> None:
    wire = data.draw(hostile())
    server = make_server(limits)
    play(server, data.draw(reads(wire)), Responder(server, data.draw))


# -------------------------------------------------- well-behaved conversations


@FUZZ
@given(LIMITS, st.data())
def test_conversations_with_h2_as_the_client_go_the_same_way(
    limits: HTTP2Limits, data: st.DataObject
) -> None:
    pair = Pair(limits, clock=FakeClock())
    responder = Responder(pair.server, data.draw)  # type: ignore[arg-type]
    client = pair.client
    codes = h2.settings.SettingCodes
    next_id = 1
    for _ in range(data.draw(st.integers(1, 12))):
        action = data.draw(st.integers(0, 7))
        try:
            if action <= 2 and client.open_outbound_streams < limits.max_concurrent_streams:
                body = data.draw(st.sampled_from([None, b"x" * 10, b"y" * 70_000]))
                end = data.draw(st.booleans())
                headers = [*GOOD_HEAD, (b":authority", b"example.com")]
                client.send_headers(next_id, headers, end_stream=end and body is None)
                if body is not None:
                    window = client.local_flow_control_window(next_id)
                    chunk = body[: min(window, 16_384)]
                    client.send_data(next_id, chunk, end_stream=end and chunk == body)
                next_id += 2
            elif action == 3:
                code = data.draw(
                    st.sampled_from(
                        [codes.INITIAL_WINDOW_SIZE, codes.MAX_FRAME_SIZE, codes.HEADER_TABLE_SIZE]
                    )
                )
                value = data.draw(st.sampled_from([0, 16_384, 20_000, 100_000]))
                client.update_settings({code: value})
            elif action == 4:
                client.ping(b"12345678")
            elif action == 5 and next_id > 1:
                client.reset_stream(data.draw(st.integers(0, next_id // 2 - 1)) * 2 + 1)
            elif action == 6:
                client.increment_flow_control_window(data.draw(st.sampled_from([1, 100_000])))
        except h2.exceptions.ProtocolError:
            pass  # h2 refused to send that in this state
        try:
            events = pair.to_server()
        except RemoteProtocolError:
            pair.server.data_to_send()
            return
        responder.after(events)
        received = client.receive_data(pair.server.data_to_send()) if not pair.server.closed else []
        for event in received:
            if isinstance(event, h2.events.DataReceived) and data.draw(st.booleans()):
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)


# ------------------------------------------------------ field values, byte by byte


@pytest.mark.parametrize(
    "value",
    [b"a\x00b", b"a\nb", b"a\rb", b"a\x0bb", b"a\x0cb", b"a\tb", b" a", b"a\t", b"\x7f", b"\xff"],
    ids=repr,
)
def test_a_request_field_value_is_judged_alike(value: bytes) -> None:
    """Each byte a field value may not hold (RFC 9113 §8.2.1), and its
    neighbours that it may, answered the same way by both routes."""
    server = make_server()
    fields = [*GOOD_HEAD, (b":authority", b"example.com"), (b"x-probe", value)]
    block = hpack.Encoder().encode(fields, huffman=False)
    wire = PREFACE + settings_frame([]) + frame(HEADERS, 0x5, 1, block)
    play(server, [wire], Responder(server, lambda strategy: 0))  # never answers
