"""The request target of an HTTP/2 or HTTP/3 request, from its pseudo-headers.

Both protocols carry the request line as ``:method``, ``:scheme`` and
``:path`` (RFC 9113 §8.3.1, RFC 9114 §4.3.1), and name the origin with
``:authority`` or a Host field; both read them by the same rules, and this is
the one place those rules live.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from pounce_protocols._http1_head import valid_host

__all__ = [
    "MalformedTarget",
    "RequestFields",
    "check_origin",
    "split_fields",
    "split_pseudo_target",
]

_SCHEMES = frozenset({b"http", b"https"})


class RequestFields(NamedTuple):
    """A request's header list, its pseudo-header fields taken out."""

    method: bytes | None
    path: bytes | None
    scheme: bytes | None
    authority: bytes | None
    protocol: bytes | None
    fields: list[tuple[bytes, bytes]]  # the others, in order
    size: int  # of the whole list, counted as RFC 9113 §6.5.2 (name + value + 32)


def split_fields(headers: Iterable[tuple[bytes, bytes]]) -> RequestFields:
    """The pseudo-header fields of a request's header list (the last of each
    kind; unknown ones are dropped), the other fields, and the list's size."""
    method = path = scheme = authority = protocol = None
    fields: list[tuple[bytes, bytes]] = []
    size = 0
    for name, value in headers:
        size += len(name) + len(value) + 32
        if name[:1] == b":":
            if name == b":method":
                method = value
            elif name == b":path":
                path = value
            elif name == b":scheme":
                scheme = value
            elif name == b":authority":
                authority = value
            elif name == b":protocol":
                protocol = value
            continue
        fields.append((name, value))
    return RequestFields(method, path, scheme, authority, protocol, fields, size)


class MalformedTarget(Exception):
    """The pseudo-headers do not make a request this server serves (400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def split_pseudo_target(method: bytes, scheme: bytes, path: bytes) -> tuple[bytes, bytes]:
    """``(path, query)`` of a request; :class:`MalformedTarget` when the scheme
    is not http(s), the path holds a fragment, or it is neither origin form nor
    ``*`` for OPTIONS."""
    if scheme not in _SCHEMES:
        raise MalformedTarget(f"unsupported :scheme {scheme!r}")
    if 0x23 in path:  # "#" (a byte as an integer: see _http1_fast)
        raise MalformedTarget("fragment in :path")
    if path == b"*":
        if method != b"OPTIONS":
            raise MalformedTarget("'*' is only a path for OPTIONS")
        return path, b""
    if path[:1] == b"/":
        path, _, query = path.partition(b"?")
        return path, query
    raise MalformedTarget("invalid :path")


def check_origin(authority: bytes | None, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """:class:`MalformedTarget` unless the origin the request names (its
    ``:authority``, else its Host field, if either) is ``uri-host[:port]``
    without userinfo, as HTTP/1.1 requires of Host; routing and the ASGI
    ``server`` read it alike over every version."""
    host = authority
    if host is None:
        host = next((value for name, value in headers if name == b"host"), None)
    if host is not None and not valid_host(host):
        raise MalformedTarget("invalid :authority or host")
