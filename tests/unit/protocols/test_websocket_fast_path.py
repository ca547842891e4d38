"""The WebSocket machine's fast path against wsproto's route, on the same bytes.

Without compression the machine reads every frame header itself, takes the
data frames (whole messages, fragments, frames still arriving) and hands
control frames and malformed ones to wsproto. Here a machine with the fast
path and one made to send everything through wsproto get the same frames, cut
into the same reads, and must give the same events, the same bytes to send
and the same state after every read: the same messages, and the same
failures (bad UTF-8, a message over the limit, a broken fragment sequence) at
the same moment with the same reason.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, TextMessage

from pounce_protocols import (
    BytesReceived,
    ProtocolFailed,
    TextReceived,
    WebSocketMachine,
)
from pounce_protocols._websocket import _unmask

from ._helpers import PROPERTY_SETTINGS

MASKS = [b"\x00\x00\x00\x00", b"\x01\x02\x03\x04", b"\xff\x80\x7f\x11"]
SIZES = [0, 1, 2, 3, 4, 5, 30, 31, 125, 126, 127, 200, 201, 65535, 65536]
LIMITS = [16 * 1024 * 1024, 200, 30, 1]  # sizes above sit on both sides of each


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = b"\x01\x02\x03\x04",
    length_bytes: int | None = None,
) -> bytes:
    """A client frame built by hand; ``length_bytes`` (0, 2 or 8) forces a
    length encoding, minimal or not."""
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if mask is not None else 0
    size = len(payload)
    if length_bytes is None:
        length_bytes = 0 if size < 126 else 2 if size < 65536 else 8
    if length_bytes == 0:
        head = bytes([first, mask_bit | size])
    elif length_bytes == 2:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", size)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def slow_machine(**options: int) -> WebSocketMachine:
    """A machine that sends every frame through wsproto."""
    machine = WebSocketMachine(**options)
    machine._fast = False
    return machine


# ------------------------------------------------------------ strategies

texts = st.text(max_size=40)
payloads = st.binary(max_size=40)
masks = st.sampled_from(MASKS)


@st.composite
def sized_payloads(draw: st.DrawFn) -> bytes:
    size = draw(st.sampled_from(SIZES) | st.integers(0, 300))
    return bytes((i * 7 + size) & 0xFF for i in range(size))


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            [
                "text",
                "text",
                "binary",
                "binary",
                "sized",
                "bad-utf8",
                "fragments",
                "ping",
                "pong",
                "close",
                "malformed",
            ]
        )
    )
    mask = draw(masks)
    if kind == "text":
        return encode_frame(0x1, draw(texts).encode("utf-8"), mask=mask)
    if kind == "binary":
        return encode_frame(0x2, draw(payloads), mask=mask)
    if kind == "sized":
        return encode_frame(draw(st.sampled_from([0x1, 0x2])), draw(sized_payloads()), mask=mask)
    if kind == "bad-utf8":
        text = draw(texts).encode("utf-8")
        cut = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82"]))
        return encode_frame(0x1, text[:cut] + bad + text[cut:], mask=mask)
    if kind == "fragments":
        opcode = draw(st.sampled_from([0x1, 0x2]))
        whole = draw(texts).encode("utf-8") if opcode == 0x1 else draw(payloads)
        cuts = sorted(draw(st.lists(st.integers(0, len(whole)), min_size=1, max_size=3)))
        pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
        out = b""
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            out += encode_frame(0x0 if index else opcode, piece, fin=last, mask=mask)
            if not last and draw(st.booleans()):
                out += encode_frame(0x9, b"mid", mask=mask)  # control frames may interleave
        return out
    if kind == "ping":
        return encode_frame(0x9, draw(st.binary(max_size=125)), mask=mask)
    if kind == "pong":
        return encode_frame(0xA, draw(st.binary(max_size=125)), mask=mask)
    if kind == "close":
        code = draw(st.sampled_from([1000, 1001, 3000, 4999]))
        return encode_frame(0x8, struct.pack("!H", code) + b"bye", mask=mask)
    # Malformed, one way or another.
    return draw(
        st.sampled_from(
            [
                encode_frame(0x3, b"x"),  # reserved opcode
                encode_frame(0x1, b"x", rsv=0x40),  # RSV1 without an extension
                encode_frame(0x2, b"x", rsv=0x10),  # RSV3
                encode_frame(0x1, b"hello", mask=None),  # unmasked
                encode_frame(0x2, b"x" * 10, length_bytes=2),  # length not minimal
                encode_frame(0x2, b"x" * 300, length_bytes=8),  # length not minimal
                encode_frame(0x0, b"x"),  # continuation of nothing
                # A new message inside a fragmented one, after its first
                # fragment or after a middle one.
                encode_frame(0x1, b"a", fin=False) + encode_frame(0x1, b"b"),
                encode_frame(0x2, b"a", fin=False)
                + encode_frame(0x0, b"b", fin=False)
                + encode_frame(0x2, b"c"),
                encode_frame(0x9, b"x", fin=False),  # fragmented control frame
                encode_frame(0x9, b"x" * 126),  # control frame over 125 bytes
                b"\x82\xff" + b"\x80" + b"\x00" * 7 + b"\x01\x02\x03\x04",  # length MSB set
            ]
        )
    )


# Characters of every UTF-8 length, so that fragments split them.
fragment_texts = st.text(st.sampled_from("az\x00é€😀"), max_size=30)
BAD_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\xf0\x9f", b"\xc0\xaf"]


@st.composite
def fragmented_messages(draw: st.DrawFn) -> bytes:
    """A message in up to 8 frames, now and then with something wrong on the
    way: bad UTF-8, a malformed fragment, a frame between the fragments that
    does not belong there (a new message, an empty one) or does (a ping, a
    close)."""
    opcode = draw(st.sampled_from([0x1, 0x2]))
    mask = draw(masks)
    if opcode == 0x1:
        whole = draw(fragment_texts).encode("utf-8")
        if draw(st.integers(0, 5)) == 0:
            cut = draw(st.integers(0, len(whole)))
            whole = whole[:cut] + draw(st.sampled_from(BAD_UTF8)) + whole[cut:]
    else:
        whole = draw(st.binary(max_size=30))
    count = draw(st.integers(1, 8))
    cuts = sorted(
        draw(st.lists(st.integers(0, len(whole)), min_size=count - 1, max_size=count - 1))
    )
    pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    out = b""
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        flaw = draw(st.integers(0, 30))
        out += encode_frame(
            0x0 if index else opcode,
            piece,
            fin=last,
            mask=mask,
            rsv=0x40 if flaw == 0 else 0,
            length_bytes=2 if flaw == 1 else 8 if flaw == 2 else None,
        )
        if not last:
            between = draw(st.integers(0, 12))
            if between == 0:
                out += encode_frame(0x9, b"mid", mask=mask)
            elif between == 1:
                out += encode_frame(draw(st.sampled_from([0x1, 0x2])), b"new", mask=mask)
            elif between == 2:
                out += encode_frame(draw(st.sampled_from([0x1, 0x2])), b"", mask=mask)
            elif between == 3:
                out += encode_frame(0x8, struct.pack("!H", 1000), mask=mask)
    return out


@st.composite
def reads(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Frames cut into reads at arbitrary places, and a message size limit."""
    wire = b"".join(draw(st.lists(frames(), min_size=1, max_size=8)))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=6))))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    limit = draw(st.sampled_from(LIMITS))
    return [piece for piece in pieces if piece], limit


@st.composite
def byte_per_frame_messages(draw: st.DrawFn) -> tuple[bytes, int]:
    """A message a byte per frame, each frame with its own key, now and then
    with a ping, a frame of two bytes or bad UTF-8 on the way; and a size
    limit near the message's size."""
    opcode = draw(st.sampled_from([0x1, 0x2]))
    if opcode == 0x1:
        whole = draw(fragment_texts).encode("utf-8")
        if draw(st.integers(0, 4)) == 0:
            cut = draw(st.integers(0, len(whole)))
            whole = whole[:cut] + draw(st.sampled_from(BAD_UTF8)) + whole[cut:]
    else:
        whole = draw(st.binary(min_size=1, max_size=40))
    out = b""
    at = 0
    while at < len(whole):
        step = 2 if draw(st.integers(0, 15)) == 0 else 1
        piece = whole[at : at + step]
        at += step
        mask = draw(st.binary(min_size=4, max_size=4))
        out += encode_frame(0x0 if out else opcode, piece, fin=at >= len(whole), mask=mask)
        if at < len(whole) and draw(st.integers(0, 15)) == 0:
            out += encode_frame(0x9, b"mid", mask=mask)
    limit = max(1, len(whole) + draw(st.integers(-3, 3)))
    return out, limit


@st.composite
def byte_per_frame_reads(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Such messages, among other frames, cut into reads anywhere."""
    wire, limit = draw(byte_per_frame_messages())
    before = b"".join(draw(st.lists(frames(), max_size=2)))
    after = b"".join(draw(st.lists(frames(), max_size=2)))
    wire = before + wire + after
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=6))))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    return [piece for piece in pieces if piece], limit


@st.composite
def fragment_reads(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Fragmented messages among other frames, read in small even steps or
    cut anywhere, and a message size limit."""
    wire = b"".join(
        draw(st.lists(st.one_of(fragmented_messages(), frames()), min_size=1, max_size=6))
    )
    if draw(st.booleans()):
        step = draw(st.integers(1, 7))
        pieces = [wire[at : at + step] for at in range(0, len(wire), step)]
    else:
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=10))))
        pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    limit = draw(st.sampled_from([*LIMITS, 10, 5]))
    return [piece for piece in pieces if piece], limit


# ------------------------------------------------------------- properties


def assert_both_routes_agree(pieces: list[bytes], limit: int) -> None:
    fast = WebSocketMachine(max_message_size=limit)
    slow = slow_machine(max_message_size=limit)
    for piece in pieces:
        assert fast.receive_data(piece) == slow.receive_data(piece)
        assert fast.data_to_send() == slow.data_to_send()
        assert fast.state is slow.state
    assert fast.receive_data(b"") == slow.receive_data(b"")
    assert fast.state is slow.state


@PROPERTY_SETTINGS
@given(reads())
# An 8-byte length with its top bit set, its mask key in the next read: both
# routes must refuse it as the length arrives.
@example(([b"\x82\xff\x80" + bytes(7), b"\x01\x02\x03\x04"], 1 << 20))
def test_the_fast_path_reads_what_wsproto_reads(case: tuple[list[bytes], int]) -> None:
    assert_both_routes_agree(*case)


@settings(PROPERTY_SETTINGS, max_examples=600)
@given(fragment_reads())
def test_fragments_are_read_as_wsproto_reads_them(case: tuple[list[bytes], int]) -> None:
    assert_both_routes_agree(*case)


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(byte_per_frame_reads())
def test_a_byte_per_frame_is_read_as_wsproto_reads_it(case: tuple[list[bytes], int]) -> None:
    assert_both_routes_agree(*case)


# Frame headers at the edges of what the fast path may take, each after the
# first fragment of a binary message, so that a continuation is in order.
EDGES = {
    "2-byte length 125 (not minimal)": encode_frame(0x0, b"x" * 125, length_bytes=2),
    "2-byte length 126": encode_frame(0x0, b"x" * 126, length_bytes=2),
    "8-byte length 65535 (not minimal)": encode_frame(0x0, b"x" * 65535, length_bytes=8),
    "8-byte length 65536": encode_frame(0x0, b"x" * 65536, length_bytes=8),
    "8-byte length with its top bit set": b"\x80\xff\x80" + bytes(7) + b"\x01\x02\x03\x04",
    "RSV1": encode_frame(0x0, b"x", rsv=0x40),
    "RSV2": encode_frame(0x0, b"x", rsv=0x20),
    "RSV3": encode_frame(0x0, b"x", rsv=0x10),
    "unmasked": encode_frame(0x0, b"x", mask=None),
    "reserved opcode 3": encode_frame(0x3, b"x"),
    "reserved opcode 0xB": encode_frame(0xB, b"x"),
    "a new text message": encode_frame(0x1, b"x"),
    "a new binary message, empty": encode_frame(0x2, b""),
    "a ping": encode_frame(0x9, b"p"),
    "the last fragment, empty": encode_frame(0x0, b""),
}


@pytest.mark.parametrize("name", EDGES)
def test_frames_at_the_edge_split_anywhere(name: str) -> None:
    wire = encode_frame(0x2, b"first", fin=False) + EDGES[name] + encode_frame(0x0, b"end")
    # Every split in the headers and the first payload bytes, and a few near the end.
    for split in {*range(1, min(len(wire), 40)), *range(max(1, len(wire) - 20), len(wire))}:
        assert_both_routes_agree([wire[:split], wire[split:]], 16 * 1024 * 1024)
    assert_both_routes_agree([wire], 16 * 1024 * 1024)


def one_byte_frames(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """``payload`` a byte per frame, the first with ``opcode`` (0: all continuations)."""
    last = len(payload) - 1
    return b"".join(
        encode_frame(
            0x0 if index else opcode, payload[index : index + 1], fin=fin and index == last
        )
        for index in range(len(payload))
    )


ZERO_KEY = b"\x00\x00\x00\x00"  # leaves a payload as it is: one frame can hide another
HIDDEN = encode_frame(0x1, b"hi")  # a whole text message, as a read of its own


def hiding_in(opcode: int) -> list[bytes]:
    """A frame whose payload ends with ``HIDDEN``, read in two: up to it, then it."""
    frame = encode_frame(opcode, b"ab" + HIDDEN, mask=ZERO_KEY)
    return [frame[: -len(HIDDEN)], frame[-len(HIDDEN) :]]


# Reads that look like something they are not, or where the order of reads
# decides what a frame means.
READS = {
    # A read the size of a small whole frame, but the start of a larger one.
    "the first 132 bytes of a 300-byte frame": [encode_frame(0x1, b"x" * 300)[:132]],
    "the first 131 bytes of a 300-byte frame": [encode_frame(0x1, b"x" * 300)[:131]],
    "a 2-byte length of 124 in a read of 132": [encode_frame(0x1, b"x" * 124, length_bytes=2)],
    "an unmasked frame and 4 more bytes": [encode_frame(0x1, b"hello", mask=None) + b"\x89\x80ab"],
    # A read that is a whole frame by itself, but continues something.
    "a new message alone in its read, a message open": [
        encode_frame(0x2, b"open", fin=False),
        HIDDEN,
        encode_frame(0x0, b"end"),
    ],
    "the rest of a data frame's payload": hiding_in(0x2),
    "the rest of a ping's payload": hiding_in(0x9),
    "the rest of a header": [b"\x82", b"\x81\x80" + bytes(4)],
    # One-byte frames in a row that must not be taken as one piece.
    "one-byte continuations with no message open": [one_byte_frames(0x0, b"abc")],
    "one-byte continuations after a message ended": [
        encode_frame(0x1, b"done") + one_byte_frames(0x0, b"abc")
    ],
    "a character's first byte, then ASCII a byte per frame": [
        encode_frame(0x1, b"\xc3", fin=False) + one_byte_frames(0x0, b"abc")
    ],
    "a character's first byte, then its second and ASCII a byte per frame": [
        encode_frame(0x1, b"\xc3", fin=False) + one_byte_frames(0x0, b"\xa9bc")
    ],
    "a byte per frame ending on a character's first byte": [
        one_byte_frames(0x1, b"ab\xc3", fin=False) + encode_frame(0x0, b"\xa9")
    ],
}


@pytest.mark.parametrize("name", READS)
@pytest.mark.parametrize("limit", [16 * 1024 * 1024, 3])
def test_reads_that_look_like_something_else(name: str, limit: int) -> None:
    assert_both_routes_agree(READS[name], limit)
    # The same bytes in two reads, split anywhere: when a failure is seen matters too.
    wire = b"".join(READS[name])
    for split in range(1, len(wire)):
        assert_both_routes_agree([wire[:split], wire[split:]], limit)


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(texts, st.binary(max_size=300)), max_size=10))
def test_the_fast_path_frames_what_wsproto_frames(messages: list[str | bytes]) -> None:
    fast = WebSocketMachine()
    slow = slow_machine()
    for message in messages:
        if isinstance(message, str):
            assert fast.send_text(message) == slow.send_text(message)
        else:
            assert fast.send_bytes(message) == slow.send_bytes(message)


@pytest.mark.parametrize("size", SIZES)
def test_frames_of_every_length_encoding_both_ways(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    fast = WebSocketMachine()
    slow = slow_machine()
    assert fast.send_bytes(payload) == slow.send_bytes(payload)
    # What a client sends, as wsproto's own client frames it.
    client = Connection(ConnectionType.CLIENT)
    wire = client.send(BytesMessage(data=payload)) + client.send(TextMessage(data="é" * 3))
    assert fast.receive_data(wire) == [
        BytesReceived(data=payload),
        TextReceived(text="é" * 3),
    ]


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 1000])
def test_unmask_undoes_the_mask(mask: bytes, size: int) -> None:
    payload = bytes((i * 31) & 0xFF for i in range(size))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert _unmask(mask, masked) == payload


def test_a_frame_split_in_its_header_is_taken_whole() -> None:
    machine = WebSocketMachine()
    wire = encode_frame(0x2, b"x" * 300)  # two length bytes, then the mask
    for split in range(1, 8):
        assert machine.receive_data(wire[:split]) == []
        assert machine.receive_data(wire[split:]) == [BytesReceived(data=b"x" * 300)]


@pytest.mark.parametrize("opcode", [0x1, 0x2])
@pytest.mark.parametrize("over", [-1, 0, 1])
@pytest.mark.parametrize("limit", [1, 30, 200])
def test_the_size_limit_at_its_edge(opcode: int, over: int, limit: int) -> None:
    size = limit + over
    wire = encode_frame(opcode, "é".encode() * (size // 2) + b"x" * (size % 2))
    fast = WebSocketMachine(max_message_size=limit)
    slow = slow_machine(max_message_size=limit)
    events = fast.receive_data(wire)
    assert events == slow.receive_data(wire)
    if over > 0:
        assert events == [ProtocolFailed(code=1009, reason=f"message over {limit} bytes")]
    else:
        assert [type(event) for event in events] == [
            TextReceived if opcode == 0x1 else BytesReceived
        ]
