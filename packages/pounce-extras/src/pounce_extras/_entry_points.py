"""The entry points the server calls: cheap factories that import lazily.

The server calls every registered factory at start-up with its config, and
most features are off; each factory therefore looks at the config first and
imports its feature's module only when the feature is on. A feature whose
third-party library is missing thus costs nothing until it is asked for, and
then stops start-up with the ``pip install`` line (``FeatureUnavailable``,
raised by the feature's module when it cannot import its library).
"""

from __future__ import annotations

# Each factory imports its feature's module only when that feature is on.
# ruff: noqa: PLC0415
from pounce import ASGIApp, ServerConfig, ServerPlugin
from pounce_extras._layers import layer_order

__all__ = [
    "compression_layer",
    "cors_layer",
    "error_pages_plugin",
    "json_logs_plugin",
    "load_shedding_layer",
    "metrics_plugin",
    "middleware_layer",
    "otel_layer",
    "rate_limit_plugin",
    "request_id_layer",
    "security_headers_layer",
    "sentry_plugin",
    "server_timing_layer",
    "static_layer",
]

# ------------------------------------------------------------- app layers


@layer_order("compression")
def compression_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On unless ``--no-compression``."""
    if not config.compression:
        return None
    from pounce_extras._compression import CompressionLayer

    return CompressionLayer(app, config)


@layer_order("static")
def static_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On when ``--static`` is given."""
    if not config.static:
        return None
    from pounce_extras._static import StaticFiles, parse_mounts

    return StaticFiles(app, config, parse_mounts(config.static))


@layer_order("middleware")
def middleware_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On when ``--middleware`` is given."""
    if not config.middleware:
        return None
    from pounce_extras._middleware import build_chain

    return build_chain(app, config.middleware)


@layer_order("cors")
def cors_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On when ``--cors-allow-origins`` is given."""
    if not config.cors_allow_origins:
        return None
    from pounce_extras._cors import CORS

    return CORS(app, config)


@layer_order("security_headers")
def security_headers_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On with ``--security-headers``."""
    if not config.security_headers:
        return None
    from pounce_extras._security_headers import SecurityHeaders

    return SecurityHeaders(app, config)


@layer_order("request_id")
def request_id_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On with ``--request-id``."""
    if not config.request_id:
        return None
    from pounce_extras._request_id import RequestID

    return RequestID(app, config)


@layer_order("load_shedding")
def load_shedding_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On when ``--limit-concurrency`` is given."""
    if config.limit_concurrency is None:
        return None
    from pounce_extras._load_shedding import ConcurrencyLimiter, LoadShedding

    queue = config.limit_queue if config.limit_queue is not None else config.limit_concurrency
    limiter = ConcurrencyLimiter(config.limit_concurrency, queue, config.limit_queue_timeout)
    return LoadShedding(app, config, limiter)


@layer_order("server_timing")
def server_timing_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On with ``--server-timing``."""
    if not config.server_timing:
        return None
    from pounce_extras._server_timing import ServerTiming

    return ServerTiming(app)


@layer_order("otel")
def otel_layer(app: ASGIApp, config: ServerConfig) -> ASGIApp | None:
    """On with ``--otel`` (needs pounce-extras[otel])."""
    if not config.otel:
        return None
    from pounce_extras._otel import OpenTelemetryLayer

    return OpenTelemetryLayer(app)


# --------------------------------------------------------- server plugins


def error_pages_plugin(config: ServerConfig) -> ServerPlugin | None:
    """On with ``--error-pages`` (the default) or ``--debug``."""
    if not (config.error_pages or config.debug):
        return None
    from pounce_extras._error_pages import ErrorPagesPlugin

    return ErrorPagesPlugin(config)


def rate_limit_plugin(config: ServerConfig) -> ServerPlugin | None:
    """On when ``--rate-limit`` is given (a Redis store needs pounce-extras[redis])."""
    if config.rate_limit is None:
        return None
    from pounce_extras._rate_limit import RateLimitPlugin, make_store

    return RateLimitPlugin(config, make_store(config))


def metrics_plugin(config: ServerConfig) -> ServerPlugin | None:
    """On with ``--metrics`` (needs pounce-extras[metrics])."""
    if not config.metrics:
        return None
    from pounce_extras._metrics import MetricsPlugin

    return MetricsPlugin(config)


def sentry_plugin(config: ServerConfig) -> ServerPlugin | None:
    """On when ``--sentry-dsn`` is given (needs pounce-extras[sentry])."""
    if not config.sentry_dsn:
        return None
    from pounce_extras._sentry import SentryPlugin

    return SentryPlugin(config)


def json_logs_plugin(config: ServerConfig) -> ServerPlugin | None:
    """On with ``--log-format json``."""
    if config.log_format != "json":
        return None
    from pounce_extras._json_logs import JSONLogsPlugin

    return JSONLogsPlugin()
