"""Protocol errors, each carrying the response it implies.

Two families, as in h11: the peer broke the protocol (:class:`RemoteProtocolError`)
or we were asked to send something the protocol does not allow
(:class:`LocalProtocolError`). Exceptions of the third-party libraries we build on
never cross this package's boundary; every machine translates them into these.

The libraries quote what the peer sent as Python byte reprs (h11: ``illegal
request line: bytearray(b'GARBAGE')``); the translation shows them as the text
they hold (``illegal request line: "GARBAGE"``), with :func:`readable_message`,
so that a log line reads as what arrived.
"""

from __future__ import annotations

import ast
import re
from http import HTTPStatus

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base of every protocol error raised by ``pounce_protocols``.

    ``status_hint`` is the HTTP status a server should answer with when it can
    still answer at all (HTTP/1.1 before a response started; an HTTP/2 stream
    before its headers were sent). ``error_code`` is the HTTP/2 or HTTP/3 error
    code to reset a stream or close a connection with, when the protocol has one.
    """

    status_hint: int
    error_code: int | None

    def __init__(self, message: str, *, status_hint: int = 400, error_code: int | None = None):
        super().__init__(message)
        if not 400 <= status_hint <= 599:
            raise ValueError(f"status_hint must be a 4xx or 5xx status, got {status_hint}")
        self.status_hint = status_hint
        self.error_code = error_code

    @property
    def reason(self) -> str:
        """The standard reason phrase of :attr:`status_hint`."""
        try:
            return HTTPStatus(self.status_hint).phrase
        except ValueError:
            return "Error"


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow.

    In a server this is almost always the application's doing (an invalid header
    name, too much body for the declared Content-Length), so its default status
    hint is 500.
    """

    def __init__(self, message: str, *, status_hint: int = 500, error_code: int | None = None):
        super().__init__(message, status_hint=status_hint, error_code=error_code)


# A bytes literal as repr() writes one, bare or in bytearray(...).
_BYTES_LITERAL = r"b'(?:[^'\\]|\\.)*'" + r'|b"(?:[^"\\]|\\.)*"'
_BYTES_REPR = re.compile(rf"bytearray\(({_BYTES_LITERAL})\)|(?<!\w)({_BYTES_LITERAL})")


def _quoted(data: bytes) -> str:
    shown = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            shown.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            shown.append(char)
        else:
            shown.append(f"\\x{byte:02x}")
    return '"' + "".join(shown) + '"'


def readable_message(message: str) -> str:
    """``message`` with each Python bytes repr in it shown as quoted text.

    ``illegal request line: bytearray(b'GARBAGE')`` becomes ``illegal request
    line: "GARBAGE"``; bytes outside printable ASCII stay escaped (``\\x16``).
    """

    def show(match: re.Match[str]) -> str:
        literal = match.group(1) or match.group(2)
        try:
            data = ast.literal_eval(literal)
        except (SyntaxError, ValueError):
            return match.group(0)
        return _quoted(data) if isinstance(data, bytes) else match.group(0)

    return _BYTES_REPR.sub(show, message)
