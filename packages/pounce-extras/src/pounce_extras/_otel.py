"""OpenTelemetry: ``--otel`` records one server span per HTTP request.

The span continues the caller's trace when the request carries a W3C
``traceparent`` (read with the globally configured propagator, W3C Trace
Context and Baggage by default), and it is the current span while the app
runs, so the app's own spans become its children. It is named after the
method (the server does not know the app's routes) and carries the stable
HTTP semantic-convention attributes: ``http.request.method``, ``url.scheme``,
``url.path``, ``url.query``, ``server.address``, ``server.port``,
``client.address``, ``client.port``, ``network.protocol.version``,
``user_agent.original``, ``http.response.status_code``, and ``error.type``
for a 5xx status or an exception (which is also recorded on the span).

Spans go to the global tracer provider. Configure it as usual: in the app
(it is looked up on each request, so a provider set during lifespan startup
is used), or with ``opentelemetry-instrument`` and the ``OTEL_*`` environment
variables.
"""

from __future__ import annotations

from pounce import ASGIApp, FeatureUnavailable, Receive, Scope, Send, on_response_start
from pounce import __version__ as pounce_version

try:
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - depends on the install
    raise FeatureUnavailable("--otel", "otel") from None

__all__ = ["OpenTelemetryLayer"]

Headers = list[tuple[bytes, bytes]]


class _HeaderGetter(Getter[Headers]):
    """Reads propagation fields from ASGI's (name, value) byte pairs."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for k, value in carrier if k == name]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier]


_GETTER = _HeaderGetter()


def request_attributes(scope: Scope) -> dict[str, str | int]:
    """The semantic-convention attributes known before the app runs."""
    attributes: dict[str, str | int] = {
        "http.request.method": scope["method"],
        "url.scheme": scope.get("scheme", "http"),
        "url.path": scope["path"],
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    query = scope.get("query_string")
    if query:
        attributes["url.query"] = query.decode("latin-1")
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"user-agent":
            attributes["user_agent.original"] = value.decode("latin-1")
    if host:
        address, sep, port = host.rpartition(":")
        if sep and port.isdigit() and not address.endswith(":"):
            attributes["server.address"] = address.strip("[]")
            attributes["server.port"] = int(port)
        else:
            attributes["server.address"] = host.strip("[]")
    server = scope.get("server")
    if server and server[1] is not None and "server.port" not in attributes:
        attributes["server.port"] = int(server[1])
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
        if client[1]:
            attributes["client.port"] = int(client[1])
    return attributes


class OpenTelemetryLayer:
    """The ASGI layer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(scope["headers"], getter=_GETTER)
        tracer = trace.get_tracer("pounce", pounce_version)
        with tracer.start_as_current_span(
            scope["method"],
            context=parent,
            kind=SpanKind.SERVER,
            attributes=request_attributes(scope),
        ) as span:

            def record_status(status: int, fields: list[tuple[bytes, bytes]]) -> None:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_attribute("error.type", str(status))
                    span.set_status(Status(StatusCode.ERROR))

            try:
                await self.app(scope, receive, on_response_start(send, record_status))
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise  # the span records it and sets its status to error
