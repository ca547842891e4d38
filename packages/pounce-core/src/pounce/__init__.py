"""Pounce: an ASGI server built for free-threaded Python.

``pounce.run("myapp:app", port=8000)`` serves an app until stopped;
:class:`ServerConfig` holds every setting; :class:`Server` embeds a server in
a program that manages its own lifetime. Lifecycle events (``ServerStarted``,
``RequestCompleted``...) reach the hooks given with ``--lifecycle-hook``;
:class:`ServerPlugin` is how optional features hook into the server.
"""

from pounce._bridge.http_stream import ClientDisconnected
from pounce._bridge.plugins import ServerPlugin
from pounce._runtime.asgi_types import ASGIApp, Message, Receive, Scope, Send
from pounce._runtime.error_responses import ErrorRenderer
from pounce._runtime.importer import AppLoadError, load_app
from pounce._runtime.lifecycle import (
    ConnectionClosed,
    ConnectionOpened,
    LifecycleEvent,
    ReloadCompleted,
    ReloadFailed,
    ReloadStarted,
    RequestCompleted,
    ServerDraining,
    ServerStarted,
    ServerStopped,
    WorkerCrashed,
    WorkerStarted,
    WorkerStopped,
    WorkerUnresponsive,
)
from pounce._serve.preflight import Finding, preflight, runtime_info
from pounce._serve.server import VERSION as __version__
from pounce._serve.server import Server, run
from pounce._settings.config import ServerConfig, config_options
from pounce._settings.options import FeatureUnavailable, OptionSpec
from pounce._settings.schema import config_schema
from pounce._settings.sources import ConfigFileError, ResolvedSettings, resolve_settings
from pounce._workers.hooks import WorkerInfo

__all__ = [
    "ASGIApp",
    "AppLoadError",
    "ClientDisconnected",
    "ConfigFileError",
    "ConnectionClosed",
    "ConnectionOpened",
    "ErrorRenderer",
    "FeatureUnavailable",
    "Finding",
    "LifecycleEvent",
    "Message",
    "OptionSpec",
    "Receive",
    "ReloadCompleted",
    "ReloadFailed",
    "ReloadStarted",
    "RequestCompleted",
    "ResolvedSettings",
    "Scope",
    "Send",
    "Server",
    "ServerConfig",
    "ServerDraining",
    "ServerPlugin",
    "ServerStarted",
    "ServerStopped",
    "WorkerCrashed",
    "WorkerInfo",
    "WorkerStarted",
    "WorkerStopped",
    "WorkerUnresponsive",
    "__version__",
    "config_options",
    "config_schema",
    "load_app",
    "preflight",
    "resolve_settings",
    "run",
    "runtime_info",
]
