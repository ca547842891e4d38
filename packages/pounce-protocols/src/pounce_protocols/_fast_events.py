"""Events built slot by slot, for the parsers of the fast paths.

A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__`` and takes keyword arguments; for the events every
fast-path request makes, that costs about twice what the slot descriptors
do. A fast parser has checked every field (the ``_trusted`` path of the
events, made cheaper); a unit test holds these lists to the dataclasses'
fields, so a new field cannot be left unset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pounce_protocols._events import BodyEnded, BodyReceived, Headers, RequestReceived

__all__ = [
    "BODY_ENDED_SLOTS",
    "BODY_RECEIVED_SLOTS",
    "REQUEST_RECEIVED_SLOTS",
    "body_ended",
    "body_received",
    "http1_request_received",
    "request_received",
]

REQUEST_RECEIVED_SLOTS = (
    "stream_id",
    "method",
    "path",
    "query_string",
    "http_version",
    "headers",
    "scheme",
    "authority",
    "expect_continue",
)
BODY_RECEIVED_SLOTS = ("stream_id", "data")
BODY_ENDED_SLOTS = ("stream_id", "trailers")

_new = object.__new__


def _setters(cls: type, names: tuple[str, ...]) -> list[Callable[[object, Any], None]]:
    return [getattr(cls, name).__set__ for name in names]


(
    _set_stream_id,
    _set_method,
    _set_path,
    _set_query_string,
    _set_http_version,
    _set_headers,
    _set_scheme,
    _set_authority,
    _set_expect_continue,
) = _setters(RequestReceived, REQUEST_RECEIVED_SLOTS)
_set_data_stream_id, _set_data = _setters(BodyReceived, BODY_RECEIVED_SLOTS)
_set_end_stream_id, _set_trailers = _setters(BodyEnded, BODY_ENDED_SLOTS)


def request_received(  # noqa: PLR0917 (positional for the HTTP/1.1 path)
    stream_id: int,
    method: bytes,
    path: bytes,
    query_string: bytes,
    http_version: str,
    headers: Headers,
    scheme: bytes | None,
    authority: bytes | None,
    expect_continue: bool,
) -> RequestReceived:
    """``RequestReceived(...)`` for a request the parser has checked."""
    event: RequestReceived = _new(RequestReceived)
    _set_stream_id(event, stream_id)
    _set_method(event, method)
    _set_path(event, path)
    _set_query_string(event, query_string)
    _set_http_version(event, http_version)
    _set_headers(event, headers)
    _set_scheme(event, scheme)
    _set_authority(event, authority)
    _set_expect_continue(event, expect_continue)
    return event


def http1_request_received(
    stream_id: int, method: bytes, path: bytes, query_string: bytes, headers: Headers
) -> RequestReceived:
    """An origin-form HTTP/1.1 :class:`RequestReceived` without Expect."""
    # Positionally: a call with keywords costs a request noticeably more.
    return request_received(
        stream_id, method, path, query_string, "1.1", headers, None, None, False
    )


def body_received(stream_id: int, data: bytes) -> BodyReceived:
    """``BodyReceived(stream_id=..., data=...)`` for bytes the parser framed."""
    event: BodyReceived = _new(BodyReceived)
    _set_data_stream_id(event, stream_id)
    _set_data(event, data)
    return event


def body_ended(stream_id: int, trailers: Headers = ()) -> BodyEnded:
    """``BodyEnded(stream_id=..., trailers=...)``."""
    event: BodyEnded = _new(BodyEnded)
    _set_end_stream_id(event, stream_id)
    _set_trailers(event, trailers)
    return event
