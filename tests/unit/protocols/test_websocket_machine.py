"""The WebSocket frame machine, driven by scripted frames (wsproto plays the client)."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import PerMessageDeflate

from pounce_protocols import (
    BytesReceived,
    CloseReceived,
    ConnectionLost,
    DeflateParams,
    LocalProtocolError,
    PongReceived,
    ProtocolFailed,
    TextReceived,
    WebSocketMachine,
    WebSocketState,
    is_sendable_close_code,
)

from ._helpers import PROPERTY_SETTINGS


def client(deflate: PerMessageDeflate | None = None) -> Connection:
    if deflate is None:
        return Connection(ConnectionType.CLIENT)
    deflate.finalize(deflate.name)
    return Connection(ConnectionType.CLIENT, extensions=[deflate])


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """One masked client frame, built by hand (for what wsproto will not send)."""
    mask = b"\x01\x02\x03\x04"
    first = (0x80 if fin else 0) | rsv | opcode
    length = len(payload)
    if length < 126:
        head = bytes([first, 0x80 | length])
    elif length < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack("!H", length)
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def server_events(data: bytes) -> list[object]:
    """What a client makes of the server's bytes."""
    peer = Connection(ConnectionType.CLIENT)
    peer.receive_data(data)
    return list(peer.events())


# ------------------------------------------------------------- messages


def test_text_and_binary_messages() -> None:
    machine = WebSocketMachine()
    peer = client()
    data = peer.send(TextMessage(data="héllo")) + peer.send(BytesMessage(data=b"\x00\xff"))
    assert machine.receive_data(data) == [
        TextReceived(text="héllo"),
        BytesReceived(data=b"\x00\xff"),
    ]
    assert machine.data_to_send() == b""


def test_fragmented_messages_are_reassembled() -> None:
    machine = WebSocketMachine()
    peer = client()
    data = (
        peer.send(TextMessage(data="frag", message_finished=False))
        + peer.send(Ping(payload=b"in between"))  # control frames may interleave
        + peer.send(TextMessage(data="mént", message_finished=False))
        + peer.send(TextMessage(data="ed"))
    )
    assert machine.receive_data(data) == [TextReceived(text="fragménted")]
    assert server_events(machine.data_to_send()) == [Pong(payload=b"in between")]


@pytest.mark.parametrize(("step", "size"), [(1, 300), (2, 300), (3, 300), (7, 300), (4096, 70_000)])
def test_any_split_gives_the_same_messages(step: int, size: int) -> None:
    machine = WebSocketMachine()
    peer = client()
    data = (
        peer.send(BytesMessage(data=b"a" * 100, message_finished=False))
        + peer.send(BytesMessage(data=b"b" * size))  # 2- or 8-byte length
        + peer.send(TextMessage(data="€" * 50))
    )
    events: list[object] = []
    for start in range(0, len(data), step):
        events += machine.receive_data(data[start : start + step])
    assert events == [BytesReceived(data=b"a" * 100 + b"b" * size), TextReceived(text="€" * 50)]


def test_empty_messages() -> None:
    machine = WebSocketMachine()
    peer = client()
    data = peer.send(TextMessage(data="")) + peer.send(BytesMessage(data=b""))
    assert machine.receive_data(data) == [TextReceived(text=""), BytesReceived(data=b"")]


def test_send_messages() -> None:
    machine = WebSocketMachine()
    assert server_events(machine.send_text("hi") + machine.send_bytes(b"\x01")) == [
        TextMessage(data="hi"),
        BytesMessage(data=b"\x01"),
    ]


def test_lone_surrogate_cannot_be_sent() -> None:
    with pytest.raises(LocalProtocolError, match="Unicode"):
        WebSocketMachine().send_text("\ud800")


# ----------------------------------------------------------- ping / pong


def test_ping_is_answered_and_pong_reported() -> None:
    machine = WebSocketMachine()
    peer = client()
    events = machine.receive_data(peer.send(Ping(payload=b"p")) + peer.send(Pong(payload=b"q")))
    assert events == [PongReceived(payload=b"q")]
    assert server_events(machine.data_to_send()) == [Pong(payload=b"p")]
    assert machine.data_to_send() == b""


def test_send_ping() -> None:
    machine = WebSocketMachine()
    assert server_events(machine.send_ping(b"1234")) == [Ping(payload=b"1234")]
    with pytest.raises(LocalProtocolError):
        machine.send_ping(b"x" * 126)


# ------------------------------------------------------------- closing


def test_peer_close_is_answered_with_its_code() -> None:
    machine = WebSocketMachine()
    events = machine.receive_data(client().send(CloseConnection(code=4000, reason="done")))
    assert events == [CloseReceived(code=4000, reason="done")]
    assert server_events(machine.data_to_send()) == [CloseConnection(code=4000, reason="")]
    assert machine.state is WebSocketState.CLOSED
    assert not machine.can_send
    with pytest.raises(LocalProtocolError, match="closed"):
        machine.send_text("late")
    assert machine.send_close() == b""
    assert machine.receive_data(b"ignored") == []


def test_close_without_code_is_1005_and_answered_empty() -> None:
    machine = WebSocketMachine()
    assert machine.receive_data(frame(0x8, b"")) == [CloseReceived(code=1005)]
    assert machine.data_to_send()[:2] == b"\x88\x00"


def test_we_close_first_then_the_peer_answers() -> None:
    machine = WebSocketMachine()
    peer = client()
    sent = machine.send_close(1001, "going away")
    assert server_events(sent) == [CloseConnection(code=1001, reason="going away")]
    assert machine.state is WebSocketState.CLOSING
    assert machine.send_ping(b"") == b""
    # Messages may still arrive until the peer's Close.
    late = peer.send(TextMessage(data="late"))
    assert machine.receive_data(late) == [TextReceived(text="late")]
    events = machine.receive_data(peer.send(CloseConnection(code=1001)))
    assert events == [CloseReceived(code=1001)]
    assert machine.data_to_send() == b""  # no second Close
    assert machine.state is WebSocketState.CLOSED


def test_long_close_reason_is_cut_at_a_character_boundary() -> None:
    (event,) = server_events(WebSocketMachine().send_close(1000, "é" * 100))
    assert isinstance(event, CloseConnection)
    assert event.reason == "é" * 61  # 122 bytes; one more would not fit in 123


@pytest.mark.parametrize(
    "code", [999, 1004, 1005, 1006, 1014, 1015, 1016, 2999, 5000, True, "1000"]
)
def test_unsendable_close_codes(code: object) -> None:
    assert not is_sendable_close_code(code)
    with pytest.raises(LocalProtocolError, match="may not be sent"):
        WebSocketMachine().send_close(code)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 1013, 3000, 4999])
def test_sendable_close_codes(code: int) -> None:
    assert is_sendable_close_code(code)
    assert server_events(WebSocketMachine().send_close(code)) == [
        CloseConnection(code=code, reason="")
    ]


def test_end_of_input_is_connection_lost() -> None:
    machine = WebSocketMachine()
    machine.receive_data(client().send(TextMessage(data="par", message_finished=False)))
    assert machine.receive_data(b"") == [ConnectionLost()]
    assert machine.state is WebSocketState.CLOSED
    assert machine.receive_data(b"") == []


# ------------------------------------------------------------- failures


def failure(machine: WebSocketMachine, data: bytes) -> tuple[ProtocolFailed, CloseConnection]:
    events = machine.receive_data(data)
    assert len(events) == 1
    assert isinstance(events[0], ProtocolFailed)
    (close,) = server_events(machine.data_to_send())
    assert isinstance(close, CloseConnection)
    assert close.code == events[0].code
    assert machine.state is WebSocketState.FAILED
    assert machine.receive_data(client().send(TextMessage(data="ignored"))) == []
    assert machine.receive_data(b"") == []
    return events[0], close


def test_invalid_utf8_is_1007_as_soon_as_seen() -> None:
    machine = WebSocketMachine()
    # Not even the end of the frame is needed to know this is not UTF-8.
    event, close = failure(machine, frame(0x1, b"ok \xff", fin=False))
    assert event.code == 1007
    assert close.reason == "invalid frame payload data"


def test_utf8_split_across_fragments_is_valid() -> None:
    machine = WebSocketMachine()
    euro = "€".encode()
    data = frame(0x1, euro[:1], fin=False) + frame(0x0, euro[1:])
    assert machine.receive_data(data) == [TextReceived(text="€")]


def test_truncated_utf8_at_message_end_is_1007() -> None:
    event, _ = failure(WebSocketMachine(), frame(0x1, "€".encode()[:2]))
    assert event.code == 1007


def test_invalid_utf8_in_close_reason_is_1007() -> None:
    event, _ = failure(WebSocketMachine(), frame(0x8, b"\x03\xe8\xff"))
    assert event.code == 1007


@pytest.mark.parametrize(
    "data",
    [
        frame(0x3, b""),  # reserved opcode
        frame(0x1, b"x", rsv=0x40),  # RSV1 without an extension
        frame(0x9, b"x", fin=False),  # fragmented control frame
        frame(0x9, b"x" * 126),  # control frame over 125 bytes
        frame(0x0, b"x"),  # continuation with nothing to continue
        frame(0x1, b"a", fin=False) + frame(0x1, b"b"),  # new message inside a message
        frame(0x8, b"\x03"),  # close payload of one byte
        frame(0x8, struct.pack("!H", 1005)),  # a code only for reporting
        frame(0x8, struct.pack("!H", 999)),
        b"\x81\x05hello",  # unmasked client frame
    ],
)
def test_protocol_errors_are_1002(data: bytes) -> None:
    event, close = failure(WebSocketMachine(), data)
    assert event.code == 1002
    assert close.reason == "protocol error"


def test_message_over_the_limit_is_1009_before_it_is_buffered() -> None:
    machine = WebSocketMachine(max_message_size=100)
    peer = client()
    assert machine.receive_data(peer.send(BytesMessage(data=b"x" * 100))) == [
        BytesReceived(data=b"x" * 100)
    ]
    # Only the first 101 bytes of a declared 1 MB frame arrive: already too big.
    head = frame(0x2, b"y" * 1_000_000)[: 14 + 101]
    event, close = failure(machine, head)
    assert event.code == 1009
    assert close.reason == "message too big"


def test_limit_counts_all_fragments() -> None:
    machine = WebSocketMachine(max_message_size=10)
    peer = client()
    data = peer.send(TextMessage(data="123456", message_finished=False)) + peer.send(
        TextMessage(data="78901")
    )
    event, _ = failure(machine, data)
    assert event.code == 1009


def test_limit_counts_utf8_bytes_not_characters() -> None:
    machine = WebSocketMachine(max_message_size=10)
    event, _ = failure(machine, client().send(TextMessage(data="€" * 4)))  # 12 bytes
    assert event.code == 1009


def test_failure_after_our_close_sends_no_second_close() -> None:
    machine = WebSocketMachine()
    machine.send_close(1000)
    events = machine.receive_data(frame(0x3, b""))
    assert [type(e) for e in events] == [ProtocolFailed]
    assert machine.data_to_send() == b""


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_bad_limit(size: object) -> None:
    with pytest.raises(ValueError, match="max_message_size"):
        WebSocketMachine(max_message_size=size)  # type: ignore[arg-type]


# ------------------------------------------------------ permessage-deflate


def test_deflate_both_ways() -> None:
    machine = WebSocketMachine(deflate=DeflateParams())
    peer = client(PerMessageDeflate())
    data = peer.send(TextMessage(data="a" * 10_000)) + peer.send(
        BytesMessage(data=b"b" * 5000, message_finished=False)
    )
    data += peer.send(BytesMessage(data=b"c" * 5000))
    assert len(data) < 500
    assert machine.receive_data(data) == [
        TextReceived(text="a" * 10_000),
        BytesReceived(data=b"b" * 5000 + b"c" * 5000),
    ]
    out = machine.send_text("z" * 10_000)
    assert out[0] & 0x40  # RSV1: compressed
    assert len(out) < 200
    peer.receive_data(out)
    assert list(peer.events()) == [TextMessage(data="z" * 10_000)]


def test_deflate_bomb_is_stopped_at_the_limit() -> None:
    """A small compressed message inflating far past the limit fails with 1009
    without ever holding much more than the limit."""
    machine = WebSocketMachine(max_message_size=64 * 1024, deflate=DeflateParams())
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = compressor.compress(b"\0" * (16 * 1024 * 1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(payload) < 32 * 1024
    data = frame(0x2, payload[:-4], rsv=0x40)
    tracemalloc.start()
    try:
        event, _ = failure(machine, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert event.code == 1009
    # Inflating the whole frame at once would have taken 16 MiB (three times over).
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize("bits", [None, 9])
def test_we_compress_at_the_fastest_level_within_the_agreed_window(bits: int | None) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 200
    machine = WebSocketMachine(deflate=DeflateParams(server_max_window_bits=bits))
    out = machine.send_text(text)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -(bits or 15))
    expected = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    header = 2 if out[1] < 126 else 4  # the frames are short: no 8-byte length
    assert out[header:] == expected[:-4]


def test_server_no_context_takeover_resets_the_compressor() -> None:
    machine = WebSocketMachine(deflate=DeflateParams(server_no_context_takeover=True))
    first = machine.send_text("same words " * 20)
    second = machine.send_text("same words " * 20)
    assert first == second  # no shared history between messages


def test_corrupt_deflate_data_is_1007() -> None:
    machine = WebSocketMachine(deflate=DeflateParams())
    event, _ = failure(machine, frame(0x2, b"\xff\xff\xff\xff", rsv=0x40))
    assert event.code == 1007


# ------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=50), st.booleans())
def test_arbitrary_bytes_never_raise(data: bytes, step: int, deflate: bool) -> None:
    """Whatever arrives, only events come out: no wsproto exception escapes."""
    machine = WebSocketMachine(max_message_size=200, deflate=DeflateParams() if deflate else None)
    for start in range(0, len(data), step):
        machine.receive_data(data[start : start + step])
        machine.data_to_send()
    machine.receive_data(b"")
    assert machine.state in (WebSocketState.CLOSED, WebSocketState.FAILED)


_SAFE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=50)


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(_SAFE_TEXT, st.binary(max_size=50)), max_size=8), st.data())
def test_valid_messages_come_out_whole_however_split(
    messages: list[str | bytes], data: st.DataObject
) -> None:
    peer = client()
    wire = b""
    for message in messages:
        # Fragment each message at a few points.
        cut = data.draw(st.integers(min_value=0, max_value=len(message)))
        kind = TextMessage if isinstance(message, str) else BytesMessage
        wire += peer.send(kind(data=message[:cut], message_finished=False))  # type: ignore[arg-type]
        wire += peer.send(kind(data=message[cut:]))  # type: ignore[arg-type]
    machine = WebSocketMachine()
    step = data.draw(st.integers(min_value=1, max_value=max(1, len(wire))))
    events: list[object] = []
    for start in range(0, len(wire), step):
        events += machine.receive_data(wire[start : start + step])
    expected = [
        TextReceived(text=m) if isinstance(m, str) else BytesReceived(data=m) for m in messages
    ]
    assert events == expected
