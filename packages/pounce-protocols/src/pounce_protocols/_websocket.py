"""One WebSocket after its opening handshake: frames in, messages out.

Theory of operation
-------------------
:class:`WebSocketMachine` wraps wsproto's frame-level ``Connection`` (not its
HTTP/1.1 handshake), so the same machine serves a WebSocket over an HTTP/1.1
connection after the ``101`` and, later, one carried in the DATA frames of an
HTTP/2 stream. The opening handshake is :mod:`._websocket_handshake`'s job.

Feed the peer's bytes to :meth:`~WebSocketMachine.receive_data` and act on the
events; give it messages and closes to serialize; write whatever
:meth:`~WebSocketMachine.data_to_send` returns after each call (the machine
answers pings and the peer's Close frame on its own). States::

    OPEN ──send_close──▶ CLOSING ──peer's Close──▶ CLOSED
      │ peer's Close (answered at once) ─────────────▲
      │ transport ended ─────────────────────────────┘ (from CLOSING too)
      └─ protocol error, bad UTF-8, message over the limit ─▶ FAILED

What the machine adds to wsproto:

* **Whole messages.** wsproto yields frames as they arrive, even partial
  ones; the machine reassembles fragmented messages and yields each message
  once, complete. Text is checked as UTF-8 incrementally, failing as soon as
  a bad sequence is seen (1007).
* **A size limit.** A message growing past ``max_message_size`` fails the
  connection with 1009 as soon as the excess arrives, not after buffering it.
  With permessage-deflate the peer's bytes are fed to wsproto in small slices,
  because it inflates everything it is given at once: a few kilobytes of
  deflate can expand a thousandfold, and the limit must be checked before
  that memory is spent.
* **One failure path.** wsproto reports a protocol error and a genuine Close
  frame the same way (a ``CloseConnection`` event); the machine tells them
  apart by wsproto's state and reports :class:`ProtocolFailed` for the
  former, after queueing a Close frame with the code wsproto chose (1002 or
  1007). After a failure the machine ignores everything the peer sends.
* **No leaks.** wsproto exceptions never cross this module: a bad frame is a
  :class:`ProtocolFailed`, a bad request to send is our
  :class:`LocalProtocolError`.
* **A fast path.** Without compression, the machine reads frame headers
  itself, so it always knows where the next frame starts, and takes every
  well-formed data frame (text, binary or continuation, no RSV bits, masked,
  its length in the fewest bytes, in an order the message allows): a whole
  message in one complete frame is unmasked and decoded at once; fragments,
  and frames whose payload is still arriving, are unmasked as their bytes
  come, checked as UTF-8 incrementally (ASCII needs no decoding) and against
  the size limit, and appended to one buffer that is joined once, when the
  message ends. A fragment therefore costs a few steps of its own, whatever
  came before it. wsproto gets control frames and anything malformed, whole
  or as it arrives, so it sees only whole frames' worth of bytes, its buffer
  is empty again after each, and it never holds a message. A message sent
  whole is framed here too. Both paths give the same events and failures, at
  the same moment and with the same reasons (differential property tests).

wsproto is an optional dependency (the ``websocket`` extra); without it,
:func:`websocket_available` is false and building a machine raises.
"""

from __future__ import annotations

import enum
import re
import struct
import zlib
from codecs import utf_8_decode as _utf8_decode
from typing import NoReturn

from pounce_protocols._errors import LocalProtocolError
from pounce_protocols._events import ConnectionLost
from pounce_protocols._websocket_events import (
    CloseReceived,
    PongReceived,
    ProtocolFailed,
    WebSocketEvent,
    bytes_received,
    text_received,
)
from pounce_protocols._websocket_handshake import DeflateParams

try:
    from wsproto.connection import Connection, ConnectionState, ConnectionType
    from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
    from wsproto.extensions import Extension, PerMessageDeflate
    from wsproto.frame_protocol import FrameDecoder, FrameProtocol, Opcode, RsvBits
    from wsproto.utilities import ProtocolError as _WsprotoError

    _AVAILABLE = True
except ImportError:  # pragma: no cover - exercised by a subprocess test without wsproto
    _AVAILABLE = False

__all__ = ["WebSocketMachine", "WebSocketState", "websocket_available"]

# First bytes of a frame that is a whole message: FIN, no RSV bits, text or binary.
_TEXT_WHOLE = 0x81
_BINARY_WHOLE = 0x82
_WHOLE_MESSAGE_STARTS = (_TEXT_WHOLE, _BINARY_WHOLE)
# A frame's length is at most 2**63 - 1 (the 64-bit length's top bit is 0).
_LENGTH_LIMIT = 1 << 63
_STRUCT_LENGTH_16 = struct.Struct("!BBH")
_STRUCT_LENGTH_64 = struct.Struct("!BBQ")

# Largest piece of compressed input inflated in one step. Deflate expands at
# most ~1030:1, so one step produces at most ~2 MiB before the limit is checked.
_DEFLATE_SLICE = 2048
# Close codes an endpoint may send (RFC 6455 §7.4, IANA registry): 1004-1006
# and 1015 are reserved for reporting, 1016-2999 unassigned. 1014 is registered
# too, but wsproto-based peers (and so this machine) fail a Close carrying it.
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1014)})
# What a failure to parse the peer's bytes can raise inside wsproto, beyond the
# ParseFailed it turns into a CloseConnection event itself.
_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    (_WsprotoError, ValueError, TypeError, AssertionError, struct.error) if _AVAILABLE else ()
)
_MAX_REASON = 123  # a Close frame's payload is at most 125 bytes, 2 of them the code
# What the peer reads in the Close frame of a failure; the event keeps the details.
_FAILURE_REASONS = {
    1002: "protocol error",
    1007: "invalid frame payload data",
    1009: "message too big",
}


# zlib level for what we compress. Compression runs on the event loop, where
# its CPU time delays every other connection; level 1 costs a fraction of the
# default's (a fifth on plain text) for a ratio a few percent worse.
_COMPRESSION_LEVEL = 1


if _AVAILABLE:

    class _PerMessageDeflate(PerMessageDeflate):
        """wsproto's permessage-deflate, compressing at ``_COMPRESSION_LEVEL``.

        wsproto creates its compressor (at zlib's default level) on the first
        frame of a message when it has none; we create it first. Should a
        wsproto release rename the attribute, this only loses the speed-up.
        """

        def frame_outbound(
            self,
            proto: FrameDecoder | FrameProtocol,
            opcode: Opcode,
            rsv: RsvBits,
            data: bytes,
            fin: bool,
        ) -> tuple[RsvBits, bytes]:
            if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY):
                self._compressor = zlib.compressobj(
                    _COMPRESSION_LEVEL, zlib.DEFLATED, -self.server_max_window_bits
                )
            return super().frame_outbound(proto, opcode, rsv, data, fin)


def websocket_available() -> bool:
    """Whether wsproto (the ``websocket`` extra) is installed."""
    return _AVAILABLE


def is_sendable_close_code(code: object) -> bool:
    """Whether an endpoint may put ``code`` in a Close frame."""
    return (
        isinstance(code, int)
        and not isinstance(code, bool)
        and (code in _SENDABLE_CODES or 3000 <= code <= 4999)
    )


_ONE_BYTE = [bytes((value,)) for value in range(256)]
# Two or more whole frames in a row that each continue a message with one
# masked byte, without FIN: what a message sent a byte at a time looks like.
_ONE_BYTE_FRAMES = re.compile(rb"(?:\x00\x81.{5}){2,}", re.DOTALL)


def _unmask(key: bytes, payload: bytes) -> bytes:
    """``payload`` XORed with the 4-byte masking ``key`` (RFC 6455 §5.3), as
    one integer operation rather than a loop over bytes."""
    size = len(payload)
    if size < 2:
        # A one-byte payload (a message sent a byte per frame) is one lookup.
        return _ONE_BYTE[payload[0] ^ key[0]] if size else b""
    repeated = (key * ((size >> 2) + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        size, "little"
    )


def _server_frame(first_byte: int, payload: bytes) -> bytes:
    """An unmasked frame (a server's) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((first_byte, size)) + payload
    if size < 65536:
        return _STRUCT_LENGTH_16.pack(first_byte, 126, size) + payload
    return _STRUCT_LENGTH_64.pack(first_byte, 127, size) + payload


def _truncate_reason(reason: str) -> bytes:
    try:
        data = reason.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalProtocolError("close reason is not valid Unicode") from None
    if len(data) > _MAX_REASON:
        # Cut at a character boundary so the peer still gets valid UTF-8.
        data = data[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")
    return data


class WebSocketState(enum.Enum):
    """Where a :class:`WebSocketMachine` is in the close handshake."""

    OPEN = "open"
    CLOSING = "closing"  # we sent a Close frame; waiting for the peer's
    CLOSED = "closed"  # Close frames exchanged, or the transport ended
    FAILED = "failed"  # we failed the connection; the peer's bytes are ignored


_OPEN = WebSocketState.OPEN
_CLOSING = WebSocketState.CLOSING
_CLOSED = WebSocketState.CLOSED
_FAILED = WebSocketState.FAILED


class WebSocketMachine:
    """The server side of one WebSocket, after the handshake, without I/O.

    ``deflate`` are the negotiated permessage-deflate parameters (``None``:
    no compression). ``max_message_size`` bounds a whole message, after
    decompression.
    """

    __slots__ = (
        "_buffer",
        "_byte_parts",
        "_conn",
        "_fast",
        "_fin",
        "_given",
        "_head",
        "_key",
        "_left",
        "_max_size",
        "_opcode",
        "_outbox",
        "_owed",
        "_pending",
        "_size",
        "_slice",
        "_state",
        "_text_parts",
    )

    def __init__(
        self, *, max_message_size: int = 16 * 1024 * 1024, deflate: DeflateParams | None = None
    ) -> None:
        if not _AVAILABLE:
            raise RuntimeError(
                "WebSocket support needs wsproto: pip install 'pounce-protocols[websocket]'"
            )
        if (
            not isinstance(max_message_size, int)
            or isinstance(max_message_size, bool)
            or max_message_size < 1
        ):
            raise ValueError(f"max_message_size must be a positive int, got {max_message_size!r}")
        extensions: list[Extension] = []
        if deflate is not None:
            extension = _PerMessageDeflate(
                client_no_context_takeover=deflate.client_no_context_takeover,
                server_no_context_takeover=deflate.server_no_context_takeover,
                server_max_window_bits=deflate.server_max_window_bits,
            )
            # The parameters are already agreed; this only switches it on.
            extension.finalize(extension.name)
            extensions.append(extension)
        self._conn = Connection(ConnectionType.SERVER, extensions=extensions)
        self._max_size = max_message_size
        self._slice = _DEFLATE_SLICE if deflate is not None else 0
        self._outbox = bytearray()
        # The fragments of the message being received (one list stays empty).
        self._text_parts: list[str] = []
        self._byte_parts: list[bytes] = []
        self._size = 0
        self._state = _OPEN
        # The fast path (see the module's docstring): only without extensions.
        self._fast = deflate is None
        self._head = b""  # the start of a frame header not yet complete
        self._given = 0  # how much of _head wsproto already has
        self._owed = 0  # bytes of the current frame still to hand to wsproto
        # The fast path's message being received: its opcode (0: none open),
        # its payload so far, the bytes of a UTF-8 character not yet complete.
        self._opcode = 0
        self._buffer = bytearray()
        self._pending = b""
        # The fast path's frame whose payload is still arriving: how much is
        # to come, the masking key turned to where it resumes, its FIN bit.
        self._left = 0
        self._key = b""
        self._fin = False

    # ----------------------------------------------------------------- queries

    @property
    def state(self) -> WebSocketState:
        return self._state

    @property
    def can_send(self) -> bool:
        """Whether messages may still be sent (no Close frame sent or received)."""
        return self._state is _OPEN

    def data_to_send(self) -> bytes:
        """Bytes the machine queued on its own (pongs, Close answers); clears them."""
        if not self._outbox:
            return b""
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    # ----------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[WebSocketEvent | ConnectionLost]:
        """Take bytes from the peer (``b""`` = the transport ended); return events."""
        state = self._state
        if not data:
            if state is _CLOSED or state is _FAILED:
                return []
            self._state = _CLOSED
            self._drop_parts()
            return [ConnectionLost()]
        if state is _CLOSED or state is _FAILED:
            return []
        events: list[WebSocketEvent | ConnectionLost] = []
        if self._fast:
            self._receive_frames(data, events)
            return events
        step = self._slice
        if not step or len(data) <= step:
            self._feed(data, events)
        else:
            view = memoryview(data)
            for start in range(0, len(data), step):
                self._feed(bytes(view[start : start + step]), events)
                if self._state is _CLOSED or self._state is _FAILED:
                    break
        return events

    def _receive_frames(self, data: bytes, events: list[WebSocketEvent | ConnectionLost]) -> None:
        """The fast path: read every frame header here, take the data frames,
        hand the rest to wsproto (see the module's docstring)."""
        if not (self._head or self._owed or self._opcode):
            # Between messages (a data frame in progress means one is open),
            # and the read is one small whole message in one masked frame
            # (what an echo or a chat sends): no loop needed.
            # Its second byte is the mask bit and a 7-bit length that the
            # read's size matches exactly (6 bytes of header and key).
            size = len(data)
            if 5 < size < 132 and data[1] == 0x7A + size and data[0] in _WHOLE_MESSAGE_STARTS:
                self._on_whole_message(data[0] & 0x0F, data[2:6], data[6:], events)
                return
        given = self._given  # bytes of the frame at the start of data wsproto has
        if self._head:
            data = self._head + data
            self._head = b""
            self._given = 0
        end = len(data)
        at = 0
        while at < end:
            left = self._left
            if left:
                # More payload of a data frame of ours, as much as is here.
                stop = at + left if left < end - at else end
                left -= stop - at
                self._left = left
                key = self._key
                if left:
                    turn = (stop - at) & 3
                    self._key = key[turn:] + key[:turn]
                payload = data[at:stop] if at or stop < end else data
                if not self._on_piece(_unmask(key, payload), not left and self._fin, events):
                    return
                at = stop
                continue
            owed = self._owed
            if owed:
                stop = at + owed if owed < end - at else end
                self._owed = owed - (stop - at)
                self._feed(data[at:stop] if at or stop < end else data, events)
                if self._state is _CLOSED or self._state is _FAILED:
                    return
                at = stop
                continue
            # A frame header starts here.
            first = data[at]
            if not first and self._opcode and data[at + 1 : at + 2] == b"\x81":
                # One-byte continuation frames: a run of them is taken at once.
                run = _ONE_BYTE_FRAMES.match(data, at)
                if run is not None:
                    if not self._take_run(data, at, run.end(), events):
                        return
                    at = run.end()
                    continue
            opcode = first & 0x0F
            # Ours: a data frame without RSV bits that fits the message state
            # (a continuation needs an open message; a new message while one
            # is open is an error we report), masked, its length minimal.
            ours = not first & 0x70 and opcode < 3 and (opcode != 0 or self._opcode != 0)
            start = at + 2
            if start <= end:
                second = data[at + 1]
                masked = second & 0x80
                ours = ours and masked != 0
                length = second & 0x7F
                if length > 125:
                    # 126: two more length bytes, for 126-65535; 127: eight, beyond that.
                    if length == 126:
                        start += 2
                        floor = 125
                    else:
                        start += 8
                        floor = 65535
                    if start <= end:
                        length = int.from_bytes(data[at + 2 : start], "big")
                        ours = ours and floor < length < _LENGTH_LIMIT
                if masked:
                    start += 4
            if start > end:
                # The header is not all here. If what is here already rules
                # the frame out, wsproto has it now, to fail as early as it
                # would have on its own.
                if not ours and end - at > given:
                    self._feed(data[at + given : end], events)
                    if self._state is _CLOSED or self._state is _FAILED:
                        return
                    given = end - at
                break
            stop = start + length
            if not ours:
                # wsproto's frame, now or as it arrives.
                self._owed = stop - at - given
                at += given
                given = 0
                continue
            if opcode and self._opcode:
                # A new message inside a fragmented one: wsproto fails it once
                # its header and a first payload byte (if any) are here.
                if length and start == end:
                    break
                self._fail(1002, f"expected CONTINUATION, got {Opcode(opcode)!r}", events)
                return
            fin = first & 0x80
            if fin and opcode and stop <= end:
                # A whole message in one frame: the common case.
                if not self._on_whole_message(
                    opcode, data[start - 4 : start], data[start:stop], events
                ):
                    return
                at = stop
                continue
            if opcode:
                self._opcode = opcode
            self._fin = fin != 0
            if stop <= end:
                if not self._on_piece(
                    _unmask(data[start - 4 : start], data[start:stop]), self._fin, events
                ):
                    return
            else:
                self._left = length
                self._key = data[start - 4 : start]
                stop = start
            at = stop
        if at < end:
            self._head = data[at:]
            self._given = given

    def _take_run(
        self, data: bytes, start: int, stop: int, events: list[WebSocketEvent | ConnectionLost]
    ) -> bool:
        """The one-byte continuation frames (none with FIN) in
        ``data[start:stop]``, taken as one piece when that changes nothing
        (its bytes, checked as UTF-8 at once, fit within the size limit),
        else frame by frame, so that a failure comes at the frame where it
        belongs; False once the connection failed."""
        count = (stop - start) // 7
        # Each frame is 0x00 0x81, a masking key and one byte masked with the
        # key's first byte: every seventh byte from two places.
        keys = int.from_bytes(data[start + 2 : stop : 7])
        piece = (keys ^ int.from_bytes(data[start + 6 : stop : 7])).to_bytes(count)
        size = count
        pending = self._pending
        text = self._opcode == 1 and (pending or not piece.isascii())
        if text:
            # Whatever the split into frames, the characters complete so far
            # are the same: checking the run at once counts what each frame
            # would have, and any bad sequence in it fails here too.
            pending += piece
            try:
                size = _utf8_decode(pending, "strict", False)[1]
            except UnicodeDecodeError:
                size = -1
        total = self._size + size
        if size < 0 or total > self._max_size:
            for at in range(start, stop, 7):
                if not self._on_piece(_ONE_BYTE[data[at + 2] ^ data[at + 6]], False, events):
                    return False
            return True
        if text:
            self._pending = pending[size:]
        self._size = total
        self._buffer += piece
        return True

    def _on_whole_message(
        self, opcode: int, key: bytes, masked: bytes, events: list[WebSocketEvent | ConnectionLost]
    ) -> bool:
        """A message in one whole frame, checked as wsproto's route checks it
        (UTF-8 first, then the size limit); False once the connection failed."""
        payload = _unmask(key, masked)
        if opcode == 1:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._fail(1007, str(exc), events)
                return False
            if len(payload) > self._max_size:
                self._fail_too_big(events)
                return False
            events.append(text_received(text))
        else:
            if len(payload) > self._max_size:
                self._fail_too_big(events)
                return False
            events.append(bytes_received(payload))
        return True

    def _on_piece(
        self, piece: bytes, finished: bool, events: list[WebSocketEvent | ConnectionLost]
    ) -> bool:
        """The payload of a frame of the open message, or the part of it that
        is here, checked and counted as wsproto's route does (UTF-8 first,
        then the size limit); False once the connection failed."""
        size = len(piece)
        if self._opcode == 1:
            pending = self._pending
            if pending or not piece.isascii():
                # Only the characters complete so far count towards the
                # limit, as in wsproto's incremental decoder; ASCII needs no
                # decoding to be checked or counted.
                pending += piece
                try:
                    size = _utf8_decode(pending, "strict", finished)[1]
                except UnicodeDecodeError as exc:
                    self._fail(1007, str(exc), events)
                    return False
                self._pending = pending[size:]
        total = self._size + size
        if total > self._max_size:
            self._fail_too_big(events)
            return False
        if not finished:
            self._size = total
            self._buffer += piece
            return True
        # The message is complete: joined once, its fragments already checked.
        buffer = self._buffer
        if buffer:
            buffer += piece
            piece = bytes(buffer)
            self._buffer = bytearray()
        opcode = self._opcode
        self._opcode = 0
        self._size = 0
        if opcode == 1:
            events.append(text_received(piece.decode("utf-8")))
        else:
            events.append(bytes_received(piece))
        return True

    def _feed(self, data: bytes, events: list[WebSocketEvent | ConnectionLost]) -> None:
        conn = self._conn
        try:
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, TextMessage | BytesMessage):
                    if not self._on_data(event, events):
                        return
                elif isinstance(event, Ping):
                    if self._state is _OPEN:
                        self._outbox += conn.send(event.response())
                elif isinstance(event, Pong):
                    events.append(PongReceived(payload=bytes(event.payload)))
                elif isinstance(event, CloseConnection):
                    self._on_close(event, events)
                    return
        except _PARSE_ERRORS:
            self._fail(1002, "protocol error", events)

    def _on_data(
        self, event: TextMessage | BytesMessage, events: list[WebSocketEvent | ConnectionLost]
    ) -> bool:
        data = event.data
        if isinstance(data, str):
            size = len(data) if data.isascii() else len(data.encode("utf-8"))
        else:
            size = len(data)
        total = self._size + size
        if total > self._max_size:
            self._fail_too_big(events)
            return False
        if not event.message_finished:
            self._size = total
            if isinstance(data, str):
                self._text_parts.append(data)
            elif data:
                self._byte_parts.append(bytes(data))
            return True
        self._size = 0
        if isinstance(data, str):
            text_parts = self._text_parts
            if text_parts:
                text_parts.append(data)
                data = "".join(text_parts)
                text_parts.clear()
            events.append(text_received(data))
        else:
            byte_parts = self._byte_parts
            if byte_parts:
                byte_parts.append(bytes(data))
                joined = b"".join(byte_parts)
                byte_parts.clear()
            else:
                joined = bytes(data)
            events.append(bytes_received(joined))
        return True

    def _drop_parts(self) -> None:
        self._text_parts.clear()
        self._byte_parts.clear()
        self._buffer = bytearray()
        self._pending = b""
        self._size = 0

    def _on_close(
        self, event: CloseConnection, events: list[WebSocketEvent | ConnectionLost]
    ) -> None:
        conn_state = self._conn.state
        code = int(event.code)
        reason = event.reason or ""
        if conn_state is ConnectionState.REMOTE_CLOSING:
            # The peer started the close: answer with its code (RFC 6455 §5.5.1);
            # wsproto answers a Close without a code (1005) with an empty one.
            self._outbox += self._conn.send(CloseConnection(code=event.code))
        elif conn_state is not ConnectionState.CLOSED:
            # wsproto's state did not move: this "close" is its report of a
            # frame it could not parse, with the code to fail the connection with.
            self._fail(code, reason, events)
            return
        self._state = _CLOSED
        self._drop_parts()
        events.append(CloseReceived(code=code, reason=reason))

    def _fail_too_big(self, events: list[WebSocketEvent | ConnectionLost]) -> None:
        self._fail(1009, f"message over {self._max_size} bytes", events)

    def _fail(self, code: int, reason: str, events: list[WebSocketEvent | ConnectionLost]) -> None:
        if self._conn.state is ConnectionState.OPEN:
            self._outbox += self._conn.send(
                CloseConnection(code=code, reason=_FAILURE_REASONS.get(code, ""))
            )
        self._state = _FAILED
        self._drop_parts()
        events.append(ProtocolFailed(code=code, reason=reason))

    # ------------------------------------------------------------- sending

    def send_text(self, text: str) -> bytes:
        """Serialize one whole text message."""
        if self._state is not _OPEN:
            self._refuse_message()
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError("text message is not valid Unicode") from None
        if self._fast:
            return _server_frame(_TEXT_WHOLE, encoded)
        return bytes(self._conn.send(TextMessage(data=text)))

    def send_bytes(self, data: bytes) -> bytes:
        """Serialize one whole binary message."""
        if self._state is not _OPEN:
            self._refuse_message()
        if self._fast:
            return _server_frame(_BINARY_WHOLE, bytes(data))
        return bytes(self._conn.send(BytesMessage(data=data)))

    def send_ping(self, payload: bytes = b"") -> bytes:
        """Serialize a Ping (at most 125 bytes of payload); ``b""`` once closing."""
        if len(payload) > 125:
            raise LocalProtocolError("a ping payload is at most 125 bytes")
        if self._state is not _OPEN:
            return b""
        return bytes(self._conn.send(Ping(payload=payload)))

    def send_close(self, code: int = 1000, reason: str = "") -> bytes:
        """Start the close handshake; ``b""`` if a Close frame was already exchanged.

        ``reason`` is cut to the 123 bytes a Close frame has room for.
        """
        if not is_sendable_close_code(code):
            raise LocalProtocolError(
                f"close code {code!r} may not be sent (use 1000-1003, 1007-1013 or 3000-4999)"
            )
        data = _truncate_reason(reason)
        if self._state is not _OPEN:
            return b""
        self._state = _CLOSING
        return bytes(self._conn.send(CloseConnection(code=code, reason=data.decode("utf-8"))))

    def _refuse_message(self) -> NoReturn:
        raise LocalProtocolError(
            f"cannot send a message on a WebSocket that is {self._state.value}"
        )
