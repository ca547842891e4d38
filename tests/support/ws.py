"""A WebSocket client over a plain blocking socket, frame by frame.

The ``websockets`` library is a well-behaved peer: it answers pings, sends
valid UTF-8 and completes close handshakes. These suites also need a peer that
does none of that (stays silent, sends broken text, never answers a Close), so
:class:`RawWebSocket` does the opening handshake and then reads and writes
exactly the frames it is given. Every read has a deadline.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import dataclass
from types import TracebackType

__all__ = [
    "CLOSE",
    "PING",
    "PONG",
    "Frame",
    "RawWebSocket",
    "client_frame",
    "close_payload",
    "handshake_request",
]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DEFAULT_TIMEOUT = 30.0


def handshake_request(
    path: str = "/", *, key: str | None = None, extra: list[tuple[str, str]] | None = None
) -> bytes:
    key = key or base64.b64encode(os.urandom(16)).decode("ascii")
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in extra or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """One frame as a client sends it (masked)."""
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        head = bytes([first, 0x80 | length])
    elif length < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack("!H", length)
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode("utf-8")


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        assert self.opcode == CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode("utf-8")


class RawWebSocket:
    """One client connection that speaks WebSocket frames literally."""

    def __init__(
        self, port: int, path: str = "/", *, timeout: float = DEFAULT_TIMEOUT, early: bytes = b""
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = b""
        # ``early``: frames sent right behind the request, before the answer.
        self.sock.sendall(handshake_request(path) + early)
        head = self._read_until(b"\r\n\r\n")
        self.status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in self.status_line:
            raise AssertionError(f"handshake refused: {head!r}")

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.sock.close()

    # -------------------------------------------------------------- writing

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True) -> None:
        self.sock.sendall(client_frame(opcode, payload, fin=fin))

    # -------------------------------------------------------------- reading

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def read_frame(self) -> Frame:
        first, second = self._read_exactly(2)
        assert not second & 0x80, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        payload = self._read_exactly(length)
        return Frame(fin=bool(first & 0x80), opcode=first & 0x0F, payload=payload)

    def assert_closed(self) -> None:
        """The server has closed the connection (EOF or reset), nothing more to read."""
        try:
            data = self._buffer or self.sock.recv(65536)
        except ConnectionResetError:
            return
        assert data == b"", f"expected the connection to be closed, got {data!r}"
