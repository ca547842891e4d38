"""Bodies of the responses the server writes itself (400, 408, 413, 500...)."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Protocol

__all__ = ["ErrorRenderer", "plain_text_error"]


class ErrorRenderer(Protocol):
    """Builds the headers and body of a server-generated error response."""

    def __call__(
        self, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> tuple[list[tuple[bytes, bytes]], bytes]: ...


def plain_text_error(
    status: int, request_headers: Iterable[tuple[bytes, bytes]]
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """``<status> <reason>`` as text/plain: the default, safe for any client."""
    del request_headers  # a plain-text page is the same for every client
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = f"{status} {phrase}\n".encode("ascii")
    return [(b"content-type", b"text/plain; charset=utf-8")], body
