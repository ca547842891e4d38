"""The WebSocket machine's work on a fragmented message grows with the message.

No clocks here: the work is counted. A message sent as one-byte frames is the
worst shape a client can choose (seven bytes on the wire per payload byte);
each frame must cost a few steps of its own and nothing that grows with what
came before it (one-byte frames in a row are even taken a run at a
time). The machine's message buffer is given an instrumented
``bytearray`` that adds up the bytes each append or join touches, the
unmasking and UTF-8 checks count the bytes they are given, and wsproto's entry
point counts its calls (it would parse every frame again). Each test grows the
message tenfold and checks the work grows tenfold, not a hundredfold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pounce_protocols import BytesReceived, TextReceived, WebSocketMachine
from pounce_protocols import _websocket as websocket

from .test_websocket_fast_path import encode_frame


@dataclass
class Work:
    buffer_bytes: int = 0  # appended to or copied out of the message buffer
    unmasked: int = 0
    decoded: int = 0
    wsproto_calls: int = 0

    def total(self) -> int:
        return self.buffer_bytes + self.unmasked + self.decoded


def counting_bytearray(work: Work) -> type[bytearray]:
    class Counting(bytearray):
        def __iadd__(self, other: Any) -> Counting:
            work.buffer_bytes += len(other)
            return super().__iadd__(other)  # type: ignore[return-value]

        def __add__(self, other: Any) -> Counting:
            # A join of everything so far with the new piece: a full copy.
            work.buffer_bytes += len(self) + len(other)
            return Counting(bytes(self) + bytes(other))

    return Counting


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Work:
    counted = Work()
    unmask, decode = websocket._unmask, websocket._utf8_decode

    def counting_unmask(key: bytes, payload: bytes) -> bytes:
        counted.unmasked += len(payload)
        return unmask(key, payload)

    def counting_decode(data: bytes, errors: str, final: bool) -> tuple[str, int]:
        counted.decoded += len(data)
        return decode(data, errors, final)

    monkeypatch.setattr(websocket, "_unmask", counting_unmask)
    monkeypatch.setattr(websocket, "_utf8_decode", counting_decode)
    return counted


def tiny_frames(opcode: int, payload: bytes, sizes: list[int]) -> bytes:
    """``payload`` in frames of the ``sizes`` in turn (a key per frame, as a client masks)."""
    frames = []
    at = 0
    while at < len(payload):
        size = sizes[len(frames) % len(sizes)]
        piece = payload[at : at + size]
        at += size
        key = (len(frames) * 2654435761 & 0xFFFFFFFF).to_bytes(4, "big")
        frames.append(
            encode_frame(0x0 if frames else opcode, piece, fin=at >= len(payload), mask=key)
        )
    return b"".join(frames)


def receive_in_reads(machine: WebSocketMachine, wire: bytes, work: Work) -> list[object]:
    buffer_type = counting_bytearray(work)
    machine._buffer = buffer_type()
    feed = machine._conn.receive_data

    def counting_feed(data: bytes | None) -> None:
        work.wsproto_calls += 1
        feed(data)

    machine._conn.receive_data = counting_feed  # type: ignore[method-assign]
    events: list[object] = []
    for at in range(0, len(wire), 4096):  # what a socket read hands over
        events += machine.receive_data(wire[at : at + 4096])
    return events


def work_for(kind: str, sizes: list[int], size: int, work: Work) -> int:
    work.buffer_bytes = work.unmasked = work.decoded = work.wsproto_calls = 0
    if kind == "binary":
        payload = bytes(index & 0xFF for index in range(size))
        expected: object = BytesReceived(data=payload)
        opcode = 0x2
    else:
        text = ("é" if kind == "text, 2-byte characters" else "a") * (size // 2 * 2)
        payload = text.encode()
        expected = TextReceived(text=text)
        opcode = 0x1
    events = receive_in_reads(WebSocketMachine(), tiny_frames(opcode, payload, sizes), work)
    assert events == [expected]
    assert work.wsproto_calls == 0  # no data frame goes through wsproto
    return work.total()


@pytest.mark.parametrize("sizes", [[1], [1, 2], [2], [3]], ids=["1", "1,2", "2", "3"])
@pytest.mark.parametrize("kind", ["binary", "text, ASCII", "text, 2-byte characters"])
def test_a_message_in_tiny_frames_costs_in_proportion(
    kind: str, sizes: list[int], work: Work
) -> None:
    small = work_for(kind, sizes, 1_000, work)
    large = work_for(kind, sizes, 10_000, work)
    assert small > 0
    assert large <= 11 * small
