"""CORS (the Fetch standard's cross-origin protocol), with ``--cors-allow-origins``.

Two kinds of request matter:

* A **preflight**: ``OPTIONS`` with ``Origin`` and
  ``Access-Control-Request-Method``. It is answered here and never reaches
  the app: 204 with the allowed origin, methods, headers and max-age when the
  origin, the method and every requested header are allowed; otherwise 400,
  which the browser reports as a CORS failure.
* Any other request with an ``Origin`` that is allowed: the app answers, and
  ``Access-Control-Allow-Origin`` (plus credentials and exposed headers) is
  added to its response. A disallowed origin gets the app's response without
  CORS headers, so the browser withholds it from the page.

``*`` as an origin allows any origin; with ``--cors-allow-credentials`` the
request's origin is echoed instead, since browsers refuse ``*`` there.
``*`` for methods or headers allows whatever is asked. Whenever the answer
depends on the origin, ``Vary: Origin`` is added for caches.
"""

from __future__ import annotations

from pounce import ASGIApp, Receive, Scope, Send, ServerConfig, on_response_start
from pounce_extras._error_pages import send_error
from pounce_extras._http import add_vary, get_header

__all__ = ["CORS"]

# Request headers a browser sends cross-origin without asking (Fetch §2.2.2).
_SAFELISTED = frozenset({"accept", "accept-language", "content-language", "content-type", "range"})


class CORS:
    """The ASGI layer; configuration is read once, per-request state is local."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config
        origins = config.cors_allow_origins
        self.any_origin = "*" in origins
        self.origins = frozenset(o.encode("latin-1") for o in origins if o != "*")
        self.any_method = "*" in config.cors_allow_methods
        self.methods = frozenset(m.upper() for m in config.cors_allow_methods)
        self.any_header = "*" in config.cors_allow_headers
        self.headers = frozenset(h.lower() for h in config.cors_allow_headers) | _SAFELISTED
        self.credentials = config.cors_allow_credentials
        self.expose = ", ".join(config.cors_expose_headers).encode("latin-1")
        # With "*" and no credentials the answer is the same for every origin.
        self.varies = not (self.any_origin and not self.credentials)

    def allowed_origin(self, origin: bytes) -> bytes | None:
        """The Access-Control-Allow-Origin value for ``origin``, or ``None``."""
        if origin in self.origins:
            return origin
        if self.any_origin:
            return origin if self.credentials else b"*"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        origin = get_header(headers, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        requested = get_header(headers, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested is not None:
            await self._preflight(scope, send, origin, requested)
            return
        allowed = self.allowed_origin(origin)

        def add_cors(status: int, fields: list[tuple[bytes, bytes]]) -> None:
            if allowed is not None and all(
                name != b"access-control-allow-origin" for name, _ in fields
            ):
                fields.append((b"access-control-allow-origin", allowed))
                if self.credentials:
                    fields.append((b"access-control-allow-credentials", b"true"))
                if self.expose:
                    fields.append((b"access-control-expose-headers", self.expose))
            if self.varies:
                add_vary(fields, b"Origin")

        await self.app(scope, receive, on_response_start(send, add_cors))

    async def _preflight(self, scope: Scope, send: Send, origin: bytes, method: bytes) -> None:
        allowed = self.allowed_origin(origin)
        method_text = method.decode("latin-1").strip().upper()
        asked = get_header(scope["headers"], b"access-control-request-headers") or b""
        asked_names = [h.strip().lower() for h in asked.decode("latin-1").split(",") if h.strip()]
        problem = None
        if allowed is None:
            problem = "origin not allowed"
        elif not (self.any_method or method_text in self.methods):
            problem = f"method {method_text} not allowed"
        elif not self.any_header and any(h not in self.headers for h in asked_names):
            problem = "request headers not allowed"
        vary = [(b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")]
        if problem is not None or allowed is None:
            await send_error(send, self.config, 400, scope, headers=vary, detail=problem)
            return
        methods = method_text if self.any_method else ", ".join(sorted(self.methods))
        headers = [
            (b"access-control-allow-origin", allowed),
            (b"access-control-allow-methods", methods.encode("latin-1")),
            (b"access-control-max-age", str(self.config.cors_max_age).encode("ascii")),
            *vary,
            (b"content-length", b"0"),
        ]
        if asked_names:
            headers.append((b"access-control-allow-headers", ", ".join(asked_names).encode()))
        if self.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
