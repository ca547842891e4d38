"""The WebSocket machine's fast path against wsproto's route, on the same bytes.

Without compression the machine takes whole single-frame messages itself and
hands every other frame to wsproto. Here a machine with the fast path and one
made to send everything through wsproto get the same frames, cut into the
same reads, and must give the same events, the same bytes to send and the
same state after every read.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
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


@st.composite
def reads(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Frames cut into reads at arbitrary places, and a message size limit."""
    wire = b"".join(draw(st.lists(frames(), min_size=1, max_size=8)))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=6))))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    limit = draw(st.sampled_from(LIMITS))
    return [piece for piece in pieces if piece], limit


# ------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(reads())
def test_the_fast_path_reads_what_wsproto_reads(case: tuple[list[bytes], int]) -> None:
    pieces, limit = case
    fast = WebSocketMachine(max_message_size=limit)
    slow = slow_machine(max_message_size=limit)
    for piece in pieces:
        assert fast.receive_data(piece) == slow.receive_data(piece)
        assert fast.data_to_send() == slow.data_to_send()
        assert fast.state is slow.state
    assert fast.receive_data(b"") == slow.receive_data(b"")
    assert fast.state is slow.state


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
