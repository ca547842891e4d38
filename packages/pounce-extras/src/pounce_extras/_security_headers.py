"""``--security-headers``: response headers that close common browser holes.

Added to every HTTP response unless the app already set the same header:

* ``X-Content-Type-Options: nosniff`` (no MIME sniffing),
* ``X-Frame-Options: SAMEORIGIN`` (no framing by other sites: clickjacking),
* ``Referrer-Policy: strict-origin-when-cross-origin``,
* ``Cross-Origin-Opener-Policy: same-origin``,
* ``Strict-Transport-Security: max-age=N; includeSubDomains`` on https only
  (browsers ignore it over http, RFC 6797 §8.1); ``--hsts-max-age 0`` omits
  it,
* ``Content-Security-Policy`` when ``--content-security-policy`` gives one.
"""

from __future__ import annotations

from pounce import ASGIApp, Receive, Scope, Send, ServerConfig, on_response_start

__all__ = ["SecurityHeaders"]


class SecurityHeaders:
    """The ASGI layer; the header lists are built once."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"SAMEORIGIN"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if config.content_security_policy:
            common.append(
                (b"content-security-policy", config.content_security_policy.encode("latin-1"))
            )
        self.plain = tuple(common)
        if config.hsts_max_age:
            hsts = f"max-age={config.hsts_max_age}; includeSubDomains".encode("ascii")
            self.secure = (*self.plain, (b"strict-transport-security", hsts))
        else:
            self.secure = self.plain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hook = self._add_secure if scope.get("scheme") == "https" else self._add_plain
        await self.app(scope, receive, on_response_start(send, hook))

    def _add_plain(self, status: int, fields: list[tuple[bytes, bytes]]) -> None:
        _add_missing(fields, self.plain)

    def _add_secure(self, status: int, fields: list[tuple[bytes, bytes]]) -> None:
        _add_missing(fields, self.secure)


def _add_missing(fields: list[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...]) -> None:
    """Append the fields of ``extra`` whose names ``fields`` lacks."""
    names = {name for name, _ in fields}
    fields.extend(pair for pair in extra if pair[0] not in names)
