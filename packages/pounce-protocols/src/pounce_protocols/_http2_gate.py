"""The HTTP/2 frame gate: raw frames checked before a wire core parses them.

Theory of operation
-------------------
HTTP/2's known denial-of-service attacks are shapes of the frame *stream*
rather than of any one frame: many RST_STREAM frames (rapid reset,
CVE-2023-44487), a header block spread over endless CONTINUATION frames,
floods of PING or SETTINGS frames that each force a reply, floods of empty
frames. A wire core (ours, :mod:`._http2_fast`, or ``h2``, the reference)
parses and answers every one of them faithfully. The gate walks the frame
headers (9 bytes each; payloads are skipped, never parsed) of every byte the
peer sends, before the core sees them, and keeps the books:

* an encoded header block (HEADERS + CONTINUATION) is bounded in bytes and
  in CONTINUATION frames, so it is refused while it is still arriving;
* RST_STREAM frames draw from one token bucket; PING and SETTINGS frames
  without ACK, and empty DATA frames without END_STREAM, from another. An
  empty bucket means the peer is attacking, not talking;
* a frame longer than SETTINGS_MAX_FRAME_SIZE (never raised above 16 KiB)
  is refused as soon as its header arrives, rather than held whole first.

Every violation raises :class:`RemoteProtocolError` with the HTTP/2 error
code the connection is to be closed with (ENHANCE_YOUR_CALM for abuse).

The gate also takes the peer's GOAWAY frames out of the byte stream. ``h2``
stops sending anything once it has received a GOAWAY, while RFC 9113 §6.8
lets the streams the peer already opened complete; so the machine learns of
a GOAWAY from the gate and no core ever sees one. Bytes of a frame header
split across reads are held back until the header is whole, which a core
(which buffers partial frames anyway) cannot tell apart.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable

from pounce_protocols._errors import RemoteProtocolError
from pounce_protocols._http2_limits import HTTP2Limits

__all__ = ["PREFACE", "FrameGate", "HTTP2ErrorCode", "TokenBucket"]

#: The client connection preface (RFC 9113 §3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 §6).
_DATA = 0x0
_HEADERS = 0x1
_PRIORITY = 0x2
_SETTINGS = 0x4
_RST_STREAM = 0x3
_PING = 0x6
_GOAWAY = 0x7
_CONTINUATION = 0x9
_PRIORITY_UPDATE = 0x10  # RFC 9218 §7.1
_END_STREAM = 0x1
_ACK = 0x1
_END_HEADERS = 0x4
# We never raise SETTINGS_MAX_FRAME_SIZE above its default.
_MAX_FRAME = 16_384
# A frame header: length (24 bits), type, flags, stream id (RFC 9113 §4.1).
_HEADER = struct.Struct(">BHBBL")


class HTTP2ErrorCode(enum.IntEnum):
    """HTTP/2 error codes (RFC 9113 §7) the server sends."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    ENHANCE_YOUR_CALM = 0xB


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second of ``clock``."""

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, burst: int, rate: float, clock: Callable[[], float]) -> None:
        self._burst = float(burst)
        self._rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        now = self._clock()
        tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True


def _abuse(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, error_code=HTTP2ErrorCode.ENHANCE_YOUR_CALM)


class FrameGate:
    """Checks the peer's frame stream; see the module docstring."""

    __slots__ = (
        "_block",
        "_block_limit",
        "_block_stream",
        "_continuations",
        "_control",
        "_goaway",
        "_goaways",
        "_head",
        "_max_continuations",
        "_payload_left",
        "_preface_left",
        "_priorities",
        "_resets",
    )

    def __init__(self, limits: HTTP2Limits, clock: Callable[[], float]) -> None:
        self._preface_left = len(PREFACE)
        self._head = bytearray()
        self._payload_left = 0
        self._goaway: bytearray | None = None  # payload of a GOAWAY being read
        self._goaways: list[tuple[int, int]] = []
        self._block: int | None = None  # bytes of the header block so far
        self._block_stream = 0
        self._continuations = 0
        self._block_limit = limits.header_block_limit
        self._max_continuations = limits.max_continuation_frames
        self._resets = TokenBucket(limits.reset_burst, limits.reset_rate, clock)
        self._control = TokenBucket(limits.control_burst, limits.control_rate, clock)
        self._priorities = TokenBucket(limits.priority_burst, limits.priority_rate, clock)

    @property
    def preface_received(self) -> bool:
        """True once the 24 bytes of the client preface have arrived."""
        return self._preface_left == 0

    def take_goaways(self) -> list[tuple[int, int]]:
        """The peer's GOAWAY frames since the last call, as (last stream, error code)."""
        goaways, self._goaways = self._goaways, []
        return goaways

    def feed(self, data: bytes) -> bytes:
        """Check ``data``; return the bytes to hand on (GOAWAY frames removed)."""
        pos = 0
        if not (self._preface_left or self._payload_left or self._head):
            # The usual read: whole frames, or whole ones and the start of
            # the next one's payload. Their headers are checked in place.
            size = len(data)
            unpack = _HEADER.unpack_from
            check = self._check
            while size - pos >= 9:
                high, low, kind, flags, stream_id = unpack(data, pos)
                if kind == _GOAWAY:
                    break
                length = (high << 16) | low
                check(kind, flags, length, stream_id & 0x7FFF_FFFF)
                pos += 9 + length
            else:
                if pos >= size:
                    self._payload_left = pos - size
                    return data
        return self._feed(data, pos)

    def _feed(self, data: bytes, pos: int) -> bytes:
        """:meth:`feed` from ``pos`` on, frame headers held back or completed
        across reads, GOAWAY frames taken out (what is before ``pos`` passes)."""
        view = memoryview(data)
        size = len(data)
        pieces: list[bytes | memoryview] = [view[:pos]] if pos else []
        # Whether the output is exactly ``data``: false once a held-back
        # header is completed, a GOAWAY is taken out or a header is held back.
        clean = not self._head
        if self._preface_left:
            pos = min(self._preface_left, size)
            self._preface_left -= pos
            pieces.append(view[:pos])
        while pos < size:
            left = self._payload_left
            if left:
                take = min(left, size - pos)
                goaway = self._goaway
                if goaway is None:
                    pieces.append(view[pos : pos + take])
                else:
                    goaway += view[pos : pos + take]
                    clean = False
                self._payload_left = left - take
                pos += take
                if goaway is not None and not self._payload_left:
                    self._end_goaway(goaway)
                continue
            head = self._head
            if not head and size - pos >= 9:
                header = bytes(view[pos : pos + 9])
                pos += 9
            else:
                piece = view[pos : pos + 9 - len(head)]
                head += piece
                pos += len(piece)
                if len(head) < 9:
                    clean = False
                    break
                header = bytes(head)
                head.clear()
            length = int.from_bytes(header[:3], "big")
            kind = header[3]
            if kind == _GOAWAY:
                self._start_goaway(header, length)
                clean = False
            else:
                stream_id = int.from_bytes(header[5:], "big") & 0x7FFF_FFFF
                self._check(kind, header[4], length, stream_id)
                pieces.append(header)
                if length == 0:
                    continue
            self._payload_left = length
        if clean:
            return data
        return b"".join(pieces)

    def _start_goaway(self, header: bytes, length: int) -> None:
        if self._block is not None:
            raise RemoteProtocolError(
                "GOAWAY inside a header block", error_code=HTTP2ErrorCode.PROTOCOL_ERROR
            )
        if int.from_bytes(header[5:], "big") & 0x7FFF_FFFF:
            raise RemoteProtocolError(
                "GOAWAY on a stream other than 0", error_code=HTTP2ErrorCode.PROTOCOL_ERROR
            )
        if not 8 <= length <= _MAX_FRAME:
            raise RemoteProtocolError(
                f"GOAWAY frame of {length} bytes", error_code=HTTP2ErrorCode.FRAME_SIZE_ERROR
            )
        self._goaway = bytearray()

    def _end_goaway(self, payload: bytearray) -> None:
        self._goaway = None
        last_stream = int.from_bytes(payload[:4], "big") & 0x7FFF_FFFF
        error_code = int.from_bytes(payload[4:8], "big")
        self._goaways.append((last_stream, error_code))

    def _check(self, kind: int, flags: int, length: int, stream_id: int) -> None:
        self._check_kind(kind, flags, length, stream_id)
        if length > _MAX_FRAME:
            # Refused as its header arrives, before any of it is held.
            raise RemoteProtocolError(
                f"frame of {length} bytes, over {_MAX_FRAME}",
                error_code=HTTP2ErrorCode.FRAME_SIZE_ERROR,
            )

    def _check_kind(self, kind: int, flags: int, length: int, stream_id: int) -> None:
        block = self._block
        if block is not None:
            if kind != _CONTINUATION or stream_id != self._block_stream:
                raise RemoteProtocolError(
                    "a header block was interrupted by another frame",
                    error_code=HTTP2ErrorCode.PROTOCOL_ERROR,
                )
            block += length
            self._continuations += 1
            if block > self._block_limit:
                raise _abuse(f"header block over {self._block_limit} bytes")
            if self._continuations > self._max_continuations:
                raise _abuse(f"header block in more than {self._max_continuations} frames")
            self._block = None if flags & _END_HEADERS else block
        elif kind == _DATA:
            if length == 0 and not flags & _END_STREAM and not self._control.take():
                raise _abuse("empty DATA frame flood")
        elif kind == _HEADERS:
            if length > self._block_limit:
                raise _abuse(f"header block over {self._block_limit} bytes")
            if not flags & _END_HEADERS:
                self._block = length
                self._block_stream = stream_id
                self._continuations = 0
        elif kind == _RST_STREAM:
            if not self._resets.take():
                raise _abuse("too many stream resets (rapid reset)")
        elif kind in (_PING, _SETTINGS) and not flags & _ACK and not self._control.take():
            raise _abuse("PING flood" if kind == _PING else "SETTINGS flood")
        elif kind in (_PRIORITY, _PRIORITY_UPDATE):
            if kind == _PRIORITY_UPDATE:
                if stream_id:
                    raise RemoteProtocolError(
                        "PRIORITY_UPDATE on a stream other than 0",
                        error_code=HTTP2ErrorCode.PROTOCOL_ERROR,
                    )
                if length < 4:
                    raise RemoteProtocolError(
                        f"PRIORITY_UPDATE frame of {length} bytes",
                        error_code=HTTP2ErrorCode.FRAME_SIZE_ERROR,
                    )
            if not self._priorities.take():
                raise _abuse("priority signal flood")
