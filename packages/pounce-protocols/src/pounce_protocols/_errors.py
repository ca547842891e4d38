"""Protocol errors, each carrying the response it implies.

Two families, as in h11: the peer broke the protocol (:class:`RemoteProtocolError`)
or we were asked to send something the protocol does not allow
(:class:`LocalProtocolError`). Exceptions of the third-party libraries we build on
never cross this package's boundary; every machine translates them into these.
"""

from __future__ import annotations

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
