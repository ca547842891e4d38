"""Pounce: an ASGI server built for free-threaded Python.

``pounce.run("myapp:app", port=8000)`` serves an app until stopped;
:class:`ServerConfig` holds every setting; :class:`Server` embeds a server in
a program that manages its own lifetime. Lifecycle events (``ServerStarted``,
``RequestCompleted``...) reach the hooks given with ``--lifecycle-hook``;
:class:`ServerPlugin` is how optional features hook into the server.

Importing ``pounce`` loads none of the server: each name below is imported
from its module on first use (PEP 562), so ``pounce --version``, the pytest
plugin and ``import pounce`` in a program that only reads
``pounce.__version__`` stay cheap.
"""

import importlib
import typing

from pounce._version import VERSION as __version__

if typing.TYPE_CHECKING:
    from pounce._bridge.http_stream import ClientDisconnected, on_response_start
    from pounce._bridge.plugins import ServerPlugin
    from pounce._runtime.asgi_types import (
        ASGIApp,
        HTTPStartHook,
        Message,
        Receive,
        ResponseRelay,
        Scope,
        Send,
        StartHook,
    )
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
    from pounce._serve.server import Server, run
    from pounce._settings.config import ServerConfig, config_options
    from pounce._settings.options import FeatureUnavailable, InvalidSetting, OptionSpec
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
    "HTTPStartHook",
    "InvalidSetting",
    "LifecycleEvent",
    "Message",
    "OptionSpec",
    "Receive",
    "ReloadCompleted",
    "ReloadFailed",
    "ReloadStarted",
    "RequestCompleted",
    "ResolvedSettings",
    "ResponseRelay",
    "Scope",
    "Send",
    "Server",
    "ServerConfig",
    "ServerDraining",
    "ServerPlugin",
    "ServerStarted",
    "ServerStopped",
    "StartHook",
    "WorkerCrashed",
    "WorkerInfo",
    "WorkerStarted",
    "WorkerStopped",
    "WorkerUnresponsive",
    "__version__",
    "config_options",
    "config_schema",
    "load_app",
    "on_response_start",
    "preflight",
    "resolve_settings",
    "run",
    "runtime_info",
]

# Where each public name lives: (module, name there).
_EXPORTS: dict[str, tuple[str, str]] = {
    "ClientDisconnected": ("pounce._bridge.http_stream", "ClientDisconnected"),
    "HTTPStartHook": ("pounce._runtime.asgi_types", "HTTPStartHook"),
    "ResponseRelay": ("pounce._runtime.asgi_types", "ResponseRelay"),
    "StartHook": ("pounce._runtime.asgi_types", "StartHook"),
    "on_response_start": ("pounce._bridge.http_stream", "on_response_start"),
    "ServerPlugin": ("pounce._bridge.plugins", "ServerPlugin"),
    "ASGIApp": ("pounce._runtime.asgi_types", "ASGIApp"),
    "Message": ("pounce._runtime.asgi_types", "Message"),
    "Receive": ("pounce._runtime.asgi_types", "Receive"),
    "Scope": ("pounce._runtime.asgi_types", "Scope"),
    "Send": ("pounce._runtime.asgi_types", "Send"),
    "ErrorRenderer": ("pounce._runtime.error_responses", "ErrorRenderer"),
    "AppLoadError": ("pounce._runtime.importer", "AppLoadError"),
    "load_app": ("pounce._runtime.importer", "load_app"),
    "ConnectionClosed": ("pounce._runtime.lifecycle", "ConnectionClosed"),
    "ConnectionOpened": ("pounce._runtime.lifecycle", "ConnectionOpened"),
    "LifecycleEvent": ("pounce._runtime.lifecycle", "LifecycleEvent"),
    "ReloadCompleted": ("pounce._runtime.lifecycle", "ReloadCompleted"),
    "ReloadFailed": ("pounce._runtime.lifecycle", "ReloadFailed"),
    "ReloadStarted": ("pounce._runtime.lifecycle", "ReloadStarted"),
    "RequestCompleted": ("pounce._runtime.lifecycle", "RequestCompleted"),
    "ServerDraining": ("pounce._runtime.lifecycle", "ServerDraining"),
    "ServerStarted": ("pounce._runtime.lifecycle", "ServerStarted"),
    "ServerStopped": ("pounce._runtime.lifecycle", "ServerStopped"),
    "WorkerCrashed": ("pounce._runtime.lifecycle", "WorkerCrashed"),
    "WorkerStarted": ("pounce._runtime.lifecycle", "WorkerStarted"),
    "WorkerStopped": ("pounce._runtime.lifecycle", "WorkerStopped"),
    "WorkerUnresponsive": ("pounce._runtime.lifecycle", "WorkerUnresponsive"),
    "Finding": ("pounce._serve.preflight", "Finding"),
    "preflight": ("pounce._serve.preflight", "preflight"),
    "runtime_info": ("pounce._serve.preflight", "runtime_info"),
    "Server": ("pounce._serve.server", "Server"),
    "run": ("pounce._serve.server", "run"),
    "ServerConfig": ("pounce._settings.config", "ServerConfig"),
    "config_options": ("pounce._settings.config", "config_options"),
    "FeatureUnavailable": ("pounce._settings.options", "FeatureUnavailable"),
    "InvalidSetting": ("pounce._settings.options", "InvalidSetting"),
    "OptionSpec": ("pounce._settings.options", "OptionSpec"),
    "config_schema": ("pounce._settings.schema", "config_schema"),
    "ConfigFileError": ("pounce._settings.sources", "ConfigFileError"),
    "ResolvedSettings": ("pounce._settings.sources", "ResolvedSettings"),
    "resolve_settings": ("pounce._settings.sources", "resolve_settings"),
    "WorkerInfo": ("pounce._workers.hooks", "WorkerInfo"),
}


def __getattr__(name: str) -> typing.Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
