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
  once, complete. Text arrives already checked as UTF-8 by wsproto's
  incremental decoder, which fails as soon as a bad sequence is seen (1007).
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
  itself, so it always knows where the next frame starts. A whole message in
  one complete frame (text or binary, FIN, no RSV bits, masked, its length in
  the fewest bytes, no fragmented message open) is unmasked and decoded here,
  the way wsproto would; every other frame (control frames, fragments, a
  frame not yet complete, anything malformed) is handed to wsproto whole or
  as it arrives, so wsproto sees only whole frames' worth of bytes and its
  buffer is empty again after each. A message sent whole is framed here too.
  Both paths give the same events and failures (differential property tests).

wsproto is an optional dependency (the ``websocket`` extra); without it,
:func:`websocket_available` is false and building a machine raises.
"""

from __future__ import annotations

import enum
import struct
import zlib

from pounce_protocols._errors import LocalProtocolError
from pounce_protocols._events import ConnectionLost
from pounce_protocols._websocket_events import (
    BytesReceived,
    CloseReceived,
    PongReceived,
    ProtocolFailed,
    TextReceived,
    WebSocketEvent,
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
_WHOLE_MESSAGE_STARTS = frozenset({_TEXT_WHOLE, _BINARY_WHOLE})
_DATA_OPCODES = frozenset({0x1, 0x2})
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


def _unmask(key: bytes, payload: bytes) -> bytes:
    """``payload`` XORed with the 4-byte masking ``key`` (RFC 6455 §5.3), as
    one integer operation rather than a loop over bytes."""
    size = len(payload)
    if not size:
        return b""
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
        "_byte_parts",
        "_conn",
        "_fast",
        "_fragmented",
        "_given",
        "_head",
        "_max_size",
        "_outbox",
        "_owed",
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
        self._fragmented = False  # wsproto holds an unfinished fragmented message

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
        """The fast path: take whole simple frames here, hand the rest to wsproto."""
        given = self._given  # bytes of the frame at the start of data wsproto has
        if self._head:
            data = self._head + data
            self._head = b""
            self._given = 0
        end = len(data)
        at = 0
        while at < end:
            owed = self._owed
            if owed:
                stop = at + owed if owed < end - at else end
                self._owed = owed - (stop - at)
                self._feed(data[at:stop] if at or stop < end else data, events)
                if self._state is _CLOSED or self._state is _FAILED:
                    return
                at = stop
                continue
            start, stop, takes = self._frame_at(data, at, end)
            if stop < 0:
                # The header is not all here. If what is here already rules
                # the fast path out, wsproto has it now, to fail as early as
                # it would have on its own.
                if not takes and end - at > given:
                    self._feed(data[at + given : end], events)
                    if self._state is _CLOSED or self._state is _FAILED:
                        return
                    given = end - at
                break
            if takes and stop <= end:
                if not self._on_whole_message(data, at, start, stop, events):
                    return
                at = stop
                continue
            # Not ours: wsproto gets this frame, now or as it arrives. Data
            # frames say whether a fragmented message is open (a malformed
            # one makes wsproto fail the connection anyway).
            first = data[at]
            opcode = first & 0x0F
            if opcode in _DATA_OPCODES:
                if not first & 0x80:
                    self._fragmented = True
            elif opcode == 0x0 and first & 0x80:
                self._fragmented = False
            self._owed = stop - at - given
            at += given
            given = 0
        if at < end:
            self._head = data[at:]
            self._given = given

    def _frame_at(self, data: bytes, at: int, end: int) -> tuple[int, int, bool]:
        """Where the payload of the frame starting at ``at`` starts and where
        the frame ends (both -1 while its header is not all here), and whether
        the fast path may take it, as far as the bytes here tell."""
        takes = data[at] in _WHOLE_MESSAGE_STARTS and not self._fragmented
        if end - at < 2:
            return -1, -1, takes
        second = data[at + 1]
        takes = takes and second & 0x80 != 0
        length = second & 0x7F
        start = at + 2
        if length > 125:
            # 126: two more length bytes, for 126-65535; 127: eight, beyond that.
            size, floor = (2, 125) if length == 126 else (8, 65535)
            start += size
            if start > end:
                return -1, -1, takes
            length = int.from_bytes(data[at + 2 : start], "big")
            takes = takes and length > floor
        if second & 0x80:
            start += 4
            if start > end:
                return -1, -1, takes
        return start, start + length, takes

    def _on_whole_message(
        self,
        data: bytes,
        at: int,
        start: int,
        stop: int,
        events: list[WebSocketEvent | ConnectionLost],
    ) -> bool:
        """The message in the whole simple frame ``data[at:stop]`` (its payload
        from ``start``), checked as wsproto checks it (UTF-8 first, then the
        size limit); False once the connection failed."""
        payload = _unmask(data[start - 4 : start], data[start:stop])
        text = None
        if data[at] == _TEXT_WHOLE:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._fail(1007, str(exc), events)
                return False
        if len(payload) > self._max_size:
            self._fail_too_big(events)
            return False
        if text is None:
            events.append(BytesReceived(data=payload, _trusted=True))
        else:
            events.append(TextReceived(text=text, _trusted=True))
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
            events.append(TextReceived(text=data, _trusted=True))
        else:
            byte_parts = self._byte_parts
            if byte_parts:
                byte_parts.append(bytes(data))
                joined = b"".join(byte_parts)
                byte_parts.clear()
            else:
                joined = bytes(data)
            events.append(BytesReceived(data=joined, _trusted=True))
        return True

    def _drop_parts(self) -> None:
        self._text_parts.clear()
        self._byte_parts.clear()
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
        self._check_open()
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError("text message is not valid Unicode") from None
        if self._fast:
            return _server_frame(_TEXT_WHOLE, encoded)
        return bytes(self._conn.send(TextMessage(data=text)))

    def send_bytes(self, data: bytes) -> bytes:
        """Serialize one whole binary message."""
        self._check_open()
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

    def _check_open(self) -> None:
        if self._state is not _OPEN:
            raise LocalProtocolError(
                f"cannot send a message on a WebSocket that is {self._state.value}"
            )
