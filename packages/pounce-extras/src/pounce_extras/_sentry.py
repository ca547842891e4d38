"""Sentry: ``--sentry-dsn`` reports the app's exceptions with their request.

At start-up the Sentry SDK is initialised with the DSN (and
``--sentry-environment``). Each HTTP request then runs in its own Sentry
isolation scope, and an exception the app lets out is captured there with the
request attached (method, URL, query string, headers without credentials or
cookies, client address) before the server handles it as usual. Framework
integrations are not switched on automatically, so the SDK does not patch the
app's framework behind its back; an app that wants them initialises Sentry
itself (and then needs no ``--sentry-dsn``). Events are flushed when the
server stops.

Sentry's client is process-wide: one DSN per process.
"""

from __future__ import annotations

from typing import Any

from pounce import (
    ASGIApp,
    ClientDisconnected,
    FeatureUnavailable,
    Receive,
    Scope,
    Send,
    ServerConfig,
    ServerPlugin,
)
from pounce_extras._layers import ORDER

try:
    import sentry_sdk
except ImportError:  # pragma: no cover - depends on the install
    raise FeatureUnavailable("--sentry-dsn", "sentry") from None

__all__ = ["SentryPlugin", "request_info"]

# Never sent: they authenticate the user.
_PRIVATE = frozenset({b"authorization", b"proxy-authorization", b"cookie", b"x-api-key"})


def request_info(scope: Scope) -> dict[str, Any]:
    """The Sentry ``request`` interface for an ASGI HTTP scope."""
    headers: dict[str, str] = {}
    host = ""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        if name in _PRIVATE:
            continue
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    if not host and scope.get("server"):
        server = scope["server"]
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    info: dict[str, Any] = {
        "method": scope["method"],
        "url": f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}",
        "query_string": scope.get("query_string", b"").decode("latin-1"),
        "headers": headers,
    }
    client = scope.get("client")
    if client:
        info["env"] = {"REMOTE_ADDR": client[0]}
    return info


class SentryPlugin(ServerPlugin):
    """Initialises the SDK, captures app exceptions, flushes at stop."""

    order = ORDER["sentry"]

    def __init__(self, config: ServerConfig) -> None:
        sentry_sdk.init(
            dsn=config.sentry_dsn,
            environment=config.sentry_environment,
            auto_enabling_integrations=False,
        )

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        async def reported(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            with sentry_sdk.isolation_scope() as sentry_scope:
                info = request_info(scope)

                def add_request(event: Any, hint: Any) -> Any:
                    event.setdefault("request", info)
                    return event

                sentry_scope.add_event_processor(add_request)
                try:
                    await app(scope, receive, send)
                except ClientDisconnected:
                    raise  # the client left; nothing went wrong in the app
                except Exception as exc:
                    sentry_sdk.capture_exception(exc)
                    raise

        return reported

    def stop(self) -> None:
        sentry_sdk.get_client().close(timeout=5.0)
