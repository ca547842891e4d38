"""Pounce: an ASGI server built for free-threaded Python.

``pounce.run("myapp:app", port=8000)`` serves an app until stopped;
:class:`ServerConfig` holds every setting; :class:`Server` embeds a server in
a program that manages its own lifetime. Lifecycle events (``ServerStarted``,
``RequestCompleted``...) reach the hooks given with ``--lifecycle-hook``;
:class:`ServerPlugin` is how optional features hook into the server.
"""

from pounce._asgi_types import ASGIApp, Message, Receive, Scope, Send
from pounce._config import ServerConfig, config_options
from pounce._error_responses import ErrorRenderer
from pounce._http_stream import ClientDisconnected
from pounce._importer import AppLoadError, load_app
from pounce._lifecycle import (
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
from pounce._options import FeatureUnavailable, OptionSpec
from pounce._plugins import ServerPlugin
from pounce._server import VERSION as __version__
from pounce._server import Server, run

__all__ = [
    "ASGIApp",
    "AppLoadError",
    "ClientDisconnected",
    "ConnectionClosed",
    "ConnectionOpened",
    "ErrorRenderer",
    "FeatureUnavailable",
    "LifecycleEvent",
    "Message",
    "OptionSpec",
    "Receive",
    "ReloadCompleted",
    "ReloadFailed",
    "ReloadStarted",
    "RequestCompleted",
    "Scope",
    "Send",
    "Server",
    "ServerConfig",
    "ServerDraining",
    "ServerPlugin",
    "ServerStarted",
    "ServerStopped",
    "WorkerCrashed",
    "WorkerStarted",
    "WorkerStopped",
    "WorkerUnresponsive",
    "__version__",
    "config_options",
    "load_app",
    "run",
]
