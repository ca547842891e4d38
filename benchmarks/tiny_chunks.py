"""A body in tiny pieces against the same body in one piece: server CPU, per server.

    python benchmarks/tiny_chunks.py [--cases h1,h2,ws] [--servers pounce,uvicorn]
                                     [--pounce-src CHECKOUT]... [--rounds 3]

Each case sends one body to each server twice, once cut as small as the
protocol allows and once whole (as few pieces as it allows), and reads the
server's CPU time (its process tree, from /proc) before and after:

* ``h1``: ``POST /drain`` with ``Transfer-Encoding: chunked``, ``--h1-size``
  bytes (2 MiB) as one-byte chunks (``1\\r\\nx\\r\\n``, six bytes on the wire each)
  against one chunk; ``--chunk-sizes 1,2`` cycles through several tiny sizes
  instead (a mix defeats any shortcut for runs of one size);
* ``h2``: the same request over HTTP/2 (cleartext, prior knowledge),
  ``--h2-size`` bytes (256 KiB) as one-byte DATA frames (ten bytes each)
  against 16 KiB frames, within the server's flow-control windows;
* ``ws``: a binary WebSocket message of ``--ws-size`` bytes (256 KiB) to the
  echo route, as one-byte frames (a first frame, continuations, seven bytes
  each, masked; ``--chunk-sizes`` cycles through several sizes here too)
  against one frame; the echo comes back whole either way.

The app reads the body (``/drain`` answers with its length), so what differs
between the two is only how the server takes the pieces. Reported per server
and case: wall time and server CPU for each, medians over ``--rounds``, their
ratio, and the CPU per piece. A server without the protocol gets "n/a".

A benchmark, not a test: nothing asserts on the figures. Compare within a run.
"""

from __future__ import annotations

import argparse
import functools
import json
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peers

TIMEOUT = 300.0


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(TIMEOUT)
    return sock


def _read_until(sock: socket.socket, marker: bytes, data: bytes = b"") -> bytes:
    while marker not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError(f"closed before {marker!r}: {data[-200:]!r}")
        data += more
    return data


def _at_least(sock: socket.socket, data: bytes, size: int) -> bytes:
    while len(data) < size:
        more = sock.recv(1 << 20)
        if not more:
            raise ConnectionError("the server closed the connection")
        data += more
    return data


# ------------------------------------------------------------------ HTTP/1.1


def _tiny_chunks(size: int, sizes: tuple[int, ...]) -> bytes:
    """``size`` bytes as chunks whose sizes cycle through ``sizes``."""
    cycle = b"".join(b"%x\r\n%s\r\n" % (n, b"x" * n) for n in sizes)
    body = cycle * (size // sum(sizes))
    rest = size % sum(sizes)
    return body + (b"%x\r\n%s\r\n" % (rest, b"x" * rest) if rest else b"")


def h1_upload(port: int, size: int, tiny: bool, sizes: tuple[int, ...] = (1,)) -> None:
    body = _tiny_chunks(size, sizes) if tiny else b"%x\r\n%s\r\n" % (size, b"x" * size)
    head = b"POST /drain HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    with _connect(port) as sock:
        sock.sendall(head + body + b"0\r\n\r\n")
        answer = _read_until(sock, b"\r\n\r\n")
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"answered {answer[:100]!r}")
        head_end = answer.index(b"\r\n\r\n") + 4
        _read_until(sock, str(size).encode(), answer[head_end:])


# -------------------------------------------------------------------- HTTP/2


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame: 24-bit length, type, flags, stream id, payload."""
    header = len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big")
    return header + payload


class _H2Peer:
    """Just enough of an HTTP/2 client: windows, settings, pings, the end of the answer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.connection_window = 65535
        self.initial = 65535
        self.stream_window = 65535
        self.answered = False

    def read(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection")
        buf = self.buffer + data
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            kind, flags = buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = buf[9 : 9 + length]
            buf = buf[9 + length :]
            self._on_frame(kind, flags, stream, payload)
        self.buffer = buf

    def _on_frame(self, kind: int, flags: int, stream: int, payload: bytes) -> None:
        if kind == 0x4 and not flags & 0x1:  # SETTINGS
            for at in range(0, len(payload), 6):
                key, value = struct.unpack("!HI", payload[at : at + 6])
                if key == 0x4:  # SETTINGS_INITIAL_WINDOW_SIZE
                    self.stream_window += value - self.initial
                    self.initial = value
            self.sock.sendall(_frame(0x4, 0x1, 0))
        elif kind == 0x8:  # WINDOW_UPDATE
            increment = int.from_bytes(payload, "big") & 0x7FFFFFFF
            if stream == 0:
                self.connection_window += increment
            else:
                self.stream_window += increment
        elif kind == 0x6 and not flags & 0x1:  # PING
            self.sock.sendall(_frame(0x6, 0x1, 0, payload))
        elif kind in (0x0, 0x1) and stream == 1 and flags & 0x1:  # END_STREAM
            self.answered = True
        elif kind in (0x3, 0x7):  # RST_STREAM, GOAWAY
            raise RuntimeError(f"the server sent frame type {kind}: {payload!r}")


def h2_upload(port: int, size: int, tiny: bool) -> None:
    from hpack import Encoder  # h2's HPACK, installed with Pounce

    piece = 1 if tiny else 16384
    fields = [(":method", "POST"), (":scheme", "http"), (":path", "/drain")]
    fields.append((":authority", "127.0.0.1"))
    with _connect(port) as sock:
        peer = _H2Peer(sock)
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(0x4, 0, 0))
        sock.sendall(_frame(0x1, 0x4, 1, Encoder().encode(fields)))
        one = _frame(0x0, 0, 1, b"x" * piece)
        left = size
        while left:
            room = min(peer.connection_window, peer.stream_window, left)
            count = room // piece if room >= piece else 0
            if count == 0 and room == left and room:
                sock.sendall(_frame(0x0, 0, 1, b"x" * room))
                sent = room
            else:
                sock.sendall(one * count)
                sent = count * piece
            peer.connection_window -= sent
            peer.stream_window -= sent
            left -= sent
            if left:
                peer.read()
        sock.sendall(_frame(0x0, 0x1, 1))
        while not peer.answered:
            peer.read()


# ----------------------------------------------------------------- WebSocket


def _tiny_frames(size: int, sizes: tuple[int, ...], key: bytes) -> bytes:
    """A binary message of ``size`` bytes in frames whose sizes cycle through ``sizes``."""
    frames = []
    sent = 0
    while sent < size:
        n = min(sizes[len(frames) % len(sizes)], size - sent)
        sent += n
        first = (0x80 if sent == size else 0) | (0x0 if frames else 0x2)
        frames.append(bytes((first, 0x80 | n)) + key + b"x" * n)
    return b"".join(frames)


def ws_upload(port: int, size: int, tiny: bool, sizes: tuple[int, ...] = (1,)) -> None:
    key = b"\x00\x00\x00\x00"  # a zero masking key leaves the payload as it is
    if tiny:
        message = _tiny_frames(size, sizes, key)
    elif size < 65536:  # the length in the fewest bytes, as RFC 6455 requires
        message = b"\x82\xfe" + size.to_bytes(2, "big") + key + b"x" * size
    else:
        message = b"\x82\xff" + size.to_bytes(8, "big") + key + b"x" * size
    handshake = (
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with _connect(port) as sock:
        sock.sendall(handshake)
        answer = _read_until(sock, b"\r\n\r\n")
        if not answer.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"answered {answer[:100]!r}")
        data = answer[answer.index(b"\r\n\r\n") + 4 :]
        sock.sendall(message)
        received = 0
        while received < size:  # the echo, in whatever frames it comes
            data = _at_least(sock, data, 2)
            if data[0] & 0x0F == 0x8:
                raise RuntimeError(f"the server closed the WebSocket: {data[:40]!r}")
            length, at = data[1] & 0x7F, 2
            if length >= 126:
                at = 4 if length == 126 else 10
                data = _at_least(sock, data, at)
                length = int.from_bytes(data[2:at], "big")
            data = _at_least(sock, data, at + length)
            received += length
            data = data[at + length :]
        sock.sendall(b"\x88\x82" + key + b"\x03\xe8")  # Close 1000


CASES: dict[str, tuple[str, str, Callable[[int, int, bool], None]]] = {
    "h1": ("h1", "h1_size", h1_upload),
    "h2": ("h2", "h2_size", h2_upload),
    "ws": ("h1", "ws_size", ws_upload),
}


def measure(contender: peers.Contender, case: str, args: argparse.Namespace) -> dict[str, Any]:
    protocol, size_option, upload = CASES[case]
    if case == "h1":
        upload = functools.partial(h1_upload, sizes=args.chunk_sizes)
    elif case == "ws":
        upload = functools.partial(ws_upload, sizes=args.chunk_sizes)
    size = getattr(args, size_option)
    result: dict[str, Any] = {"server": contender.label, "case": case, "size": size}
    with peers.serving(contender, protocol, args.logs) as running:
        if isinstance(running, str):
            result["note"] = running
            return result
        try:
            upload(running.port, min(size, 4096), False)  # warm up
            for tiny in (True, False):
                walls, cpus = [], []
                for _ in range(args.rounds):
                    cpu = peers.cpu_seconds(running)
                    began = time.perf_counter()
                    upload(running.port, size, tiny)
                    walls.append(time.perf_counter() - began)
                    cpus.append(peers.cpu_seconds(running) - cpu)
                name = "tiny" if tiny else "whole"
                result[f"{name}_wall_s"] = statistics.median(walls)
                result[f"{name}_cpu_s"] = statistics.median(cpus)
        except (OSError, RuntimeError) as exc:
            result["note"] = f"error: {exc}"[:200]
    return result


def row(result: dict[str, Any]) -> str:
    start = f"| {result['server']} | {result['case']} ({result['size'] // 1024} KiB) |"
    if "note" in result:
        return f"{start} {result['note']} ||||"
    tiny, whole = result["tiny_cpu_s"], result["whole_cpu_s"]
    ratio = f"{tiny / whole:.0f}x" if whole else "-"
    return (
        f"{start} {result['tiny_wall_s']:.2f} s / {tiny:.2f} s | "
        f"{result['whole_wall_s']:.3f} s / {whole:.3f} s | {ratio} | "
        f"{tiny / result['size'] * 1e6:.2f} µs |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="h1,h2,ws")
    parser.add_argument("--servers", default="pounce,uvicorn")
    parser.add_argument("--pounce-src", type=Path, action="append", default=[])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--h1-size", type=int, default=2 * 1024 * 1024)
    parser.add_argument(
        "--chunk-sizes", default="1", help="tiny chunk or frame sizes in turn, e.g. 1,2 (h1, ws)"
    )
    parser.add_argument("--h2-size", type=int, default=256 * 1024)
    parser.add_argument("--ws-size", type=int, default=256 * 1024)
    parser.add_argument("--logs", type=Path, default=Path("/tmp/pounce-bench-logs"))
    args = parser.parse_args(argv)
    args.chunk_sizes = tuple(int(size) for size in args.chunk_sizes.split(","))
    print(
        f"{sys.implementation.name} {sys.version.split()[0]}, median of {args.rounds}, "
        f"HTTP/1.1 chunk and WebSocket frame sizes {args.chunk_sizes}"
    )
    print(
        "| server | case | tiny pieces: wall / server CPU | whole: wall / server CPU "
        "| CPU ratio | tiny: CPU per body byte |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for case in args.cases.split(","):
        for contender in peers.contenders(args.servers, args.pounce_src):
            result = measure(contender, case, args)
            print(row(result), flush=True)
            print(json.dumps(result), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
