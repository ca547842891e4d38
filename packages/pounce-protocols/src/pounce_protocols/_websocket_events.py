"""WebSocket events: what a :class:`~pounce_protocols.WebSocketMachine` reports.

A WebSocket machine serves exactly one WebSocket (one HTTP/1.1 connection
after its ``101``, or later one HTTP/2 stream), so unlike the HTTP events these
carry no stream id: whoever owns the machine knows which stream it is.

The machine reports whole messages (fragments already reassembled, text
already validated as UTF-8), pongs (for keep-alive bookkeeping) and the end of
the conversation: :class:`CloseReceived` when the peer sent a Close frame,
:class:`ProtocolFailed` when the peer broke the protocol or a limit and the
machine failed the connection itself. The end of the transport without either
is :class:`~pounce_protocols.ConnectionLost`.

Events are frozen, slotted, keyword-only dataclasses validated at
construction; the machine builds its own through the ``_trusted`` flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, dataclass

from pounce_protocols._events import Event

__all__ = [
    "BytesReceived",
    "CloseReceived",
    "PongReceived",
    "ProtocolFailed",
    "TextReceived",
    "WebSocketEvent",
]


def _check_code(code: object) -> None:
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        raise ValueError(f"close code must be an int in [1000, 4999], got {code!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketEvent(Event):
    """Base class of the events a WebSocket machine yields."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TextReceived(WebSocketEvent):
    """A complete text message (valid UTF-8, decoded)."""

    text: str
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if not _trusted and not isinstance(self.text, str):
            raise TypeError("text must be str")


@dataclass(frozen=True, slots=True, kw_only=True)
class BytesReceived(WebSocketEvent):
    """A complete binary message."""

    data: bytes
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if not _trusted and not isinstance(self.data, bytes):
            raise TypeError("data must be bytes")


# The machine's own message events, built without the dataclass's __init__:
# for a small message that call (keyword arguments, the InitVar, __post_init__)
# cost a tenth of receiving it. The slots are set as __init__ sets them, so
# the events compare, hash and print as any other.
_new_event = object.__new__
_set_text: Callable[[TextReceived, str], None] = vars(TextReceived)["text"].__set__
_set_data: Callable[[BytesReceived, bytes], None] = vars(BytesReceived)["data"].__set__


def text_received(text: str) -> TextReceived:
    """A :class:`TextReceived` for text the machine has already decoded."""
    event = _new_event(TextReceived)
    _set_text(event, text)
    return event


def bytes_received(data: bytes) -> BytesReceived:
    """A :class:`BytesReceived` for ``bytes`` the machine has built."""
    event = _new_event(BytesReceived)
    _set_data(event, data)
    return event


@dataclass(frozen=True, slots=True, kw_only=True)
class PongReceived(WebSocketEvent):
    """A Pong frame, solicited or not (RFC 6455 §5.5.3 allows unsolicited ones)."""

    payload: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.payload, bytes) or len(self.payload) > 125:
            raise ValueError("payload must be at most 125 bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseReceived(WebSocketEvent):
    """The peer sent a Close frame.

    ``code`` is 1005 when the frame carried no status code (RFC 6455 §7.1.5).
    If we had not sent a Close frame yet, the machine has queued the answer:
    the close handshake is complete once its outgoing data is written, and the
    server closes the transport (RFC 6455 §7.1.1).
    """

    code: int = 1005
    reason: str = ""

    def __post_init__(self) -> None:
        _check_code(self.code)
        if not isinstance(self.reason, str):
            raise TypeError("reason must be str")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolFailed(WebSocketEvent):
    """The peer broke the protocol or a limit; the machine failed the connection.

    A Close frame with ``code`` (1002 protocol error, 1007 invalid payload such
    as bad UTF-8, 1009 message too big) is queued; everything the peer sends
    afterwards is ignored. The transport should be closed once that frame is
    written (RFC 6455 §7.1.7), after giving the peer a moment to read it.
    """

    code: int
    reason: str = ""

    def __post_init__(self) -> None:
        _check_code(self.code)
        if not isinstance(self.reason, str):
            raise TypeError("reason must be str")
