"""The WebSocket benchmark's frames client: it counts only echoes it checked.

The client behind the harness's WebSocket row frames and checks the protocol
itself, to cost less per message than the servers it compares; these tests
hold it to RFC 6455 on a fake transport (no socket, no server): a handshake
with the wrong accept key, a frame that is not the echo, or a masked server
frame is an error, never a counted message.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import time
from collections.abc import Callable, Coroutine, Iterator
from types import ModuleType
from typing import Any

import pytest
import wsproto.frame_protocol as wsframes

from support.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def ws_client() -> Iterator[ModuleType]:
    with benchmark_script("ws_client.py") as module:
        yield module


def in_a_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run the async test in a fresh event loop (the client needs a running one)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def _server_frame(payload: bytes, *, opcode: int = 0x1, masked: bool = False) -> bytes:
    size = len(payload)
    if size < 126:
        length = bytes([size])
    elif size < 1 << 16:
        length = bytes([126]) + size.to_bytes(2, "big")
    else:
        length = bytes([127]) + size.to_bytes(8, "big")
    if masked:
        length = bytes([length[0] | 0x80]) + length[1:]
        return bytes([0x80 | opcode]) + length + b"\x00\x00\x00\x00" + payload
    return bytes([0x80 | opcode]) + length + payload


def _accept(key: bytes) -> bytes:
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)


def _handshake(accept: bytes) -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def _client_messages(written: list[bytes]) -> list[bytes]:
    """What the client's frames carry, unmasked by wsproto's own parser."""
    parser = wsframes.FrameProtocol(client=False, extensions=[])
    parser.receive_bytes(b"".join(written))
    return [frame.payload.encode() for frame in parser.received_frames()]


def _opened(ws_client: ModuleType, payload: bytes, *, seconds: float = 60.0) -> Any:
    protocol = ws_client.EchoProtocol(
        b"127.0.0.1:8000", b"/ws", payload, time.perf_counter() + seconds
    )
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


@in_a_loop
async def test_a_checked_handshake_then_one_message_per_echo(ws_client: ModuleType) -> None:
    payload = b"m" * 64
    protocol, transport = _opened(ws_client, payload)
    request = transport.written.pop()
    assert request.startswith(b"GET /ws HTTP/1.1\r\n")
    assert b"Sec-WebSocket-Key: " + protocol.key + b"\r\n" in request
    protocol.data_received(_handshake(_accept(protocol.key)))
    assert _client_messages(transport.written) == [payload]
    # Two echoes in one read, then one split over two reads.
    protocol.data_received(_server_frame(payload) * 2)
    frame = _server_frame(payload)
    protocol.data_received(frame[:5])
    assert len(protocol.latencies) == 2
    protocol.data_received(frame[5:])
    assert len(protocol.latencies) == 3
    assert _client_messages(transport.written) == [payload] * 4
    assert not protocol.done.done()


def test_each_frame_has_its_own_mask(ws_client: ModuleType) -> None:
    frames = ws_client.masked_text_frames(b"m" * 300, 8)
    assert len({frame[4:8] for frame in frames}) == 8  # 126-form header: mask at 4..8
    parser = wsframes.FrameProtocol(client=False, extensions=[])
    parser.receive_bytes(b"".join(frames))
    assert [frame.payload for frame in parser.received_frames()] == ["m" * 300] * 8


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_server_frame(b"n" * 64), id="another payload"),
        pytest.param(_server_frame(b"m" * 64, opcode=0x2), id="a binary frame"),
        pytest.param(_server_frame(b"m" * 64, masked=True), id="a masked server frame"),
        pytest.param(_server_frame(b"\x03\xe8", opcode=0x8), id="a close"),
    ],
)
@in_a_loop
async def test_anything_but_the_echo_is_an_error(ws_client: ModuleType, answer: bytes) -> None:
    protocol, transport = _opened(ws_client, b"m" * 64)
    protocol.data_received(_handshake(_accept(protocol.key)))
    protocol.data_received(answer)
    assert protocol.latencies == []
    assert transport.closed
    with pytest.raises(ws_client.EchoError):
        await protocol.done


@in_a_loop
async def test_a_wrong_accept_key_is_an_error(ws_client: ModuleType) -> None:
    protocol, transport = _opened(ws_client, b"m" * 64)
    protocol.data_received(_handshake(_accept(b"another key")))
    assert transport.closed
    with pytest.raises(ws_client.EchoError, match="Sec-WebSocket-Accept"):
        await protocol.done


@in_a_loop
async def test_the_deadline_ends_the_connection_with_a_close(ws_client: ModuleType) -> None:
    payload = b"m" * 200  # the 126 length form
    protocol, transport = _opened(ws_client, payload, seconds=0.0)
    protocol.data_received(_handshake(_accept(protocol.key)))
    protocol.data_received(_server_frame(payload))
    assert len(protocol.latencies) == 1
    assert transport.closed
    assert transport.written[-1][:2] == b"\x88\x82"  # a masked close, nothing after it
    await protocol.done


@in_a_loop
async def test_the_connection_dropped_is_an_error(ws_client: ModuleType) -> None:
    protocol, _ = _opened(ws_client, b"m")
    protocol.connection_lost(None)
    with pytest.raises(ws_client.EchoError):
        await protocol.done
