"""The request target of an HTTP/2 or HTTP/3 request, from its pseudo-headers.

Both protocols carry the request line as ``:method``, ``:scheme`` and
``:path`` (RFC 9113 §8.3.1, RFC 9114 §4.3.1), and name the origin with
``:authority`` or a Host field; both read them by the same rules, and this is
the one place those rules live.
"""

from __future__ import annotations

from collections.abc import Iterable

from pounce_protocols._http1_head import valid_host

__all__ = ["MalformedTarget", "check_origin", "split_pseudo_target"]

_SCHEMES = frozenset({b"http", b"https"})


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
    if b"#" in path:
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
