"""Server plugins: features of higher packages that need more than the app.

An app layer (:mod:`pounce._bridge.app_stack`) only wraps the application. Some features
also need the server itself: a renderer for the responses the server writes
(error pages), the lifecycle events (metrics), or a resource that lives as
long as the server (a metrics listener, a connection pool to close). Those
register a factory in the ``pounce.server_plugins`` entry-point group: a
callable ``(config) -> ServerPlugin | None`` returning ``None`` when the
config leaves its feature off. The server then

1. applies each plugin's :meth:`ServerPlugin.wrap_app` together with the app
   layers, in ascending ``order``;
2. subscribes :meth:`ServerPlugin.on_event` to lifecycle events, for plugins
   that override it (so a server without listeners builds no events);
3. uses the first :meth:`ServerPlugin.error_renderer` offered;
4. calls :meth:`ServerPlugin.start` once its sockets are bound, and
   :meth:`ServerPlugin.stop` when it has stopped serving.

A plugin object is shared by every worker of its process: with thread
workers, its methods run concurrently on several threads and must be
thread-safe. With process workers, each worker process loads and starts its
own plugins (so their state is per process), and the supervisor's process
loads them only to deliver its lifecycle events (worker started, crashed,
reloads) to ``on_event``; it never starts them.

Settings implemented by plugins name them in their option metadata
(``feature``); :func:`check_features` refuses to start when such a setting is
used and nothing installed provides it, naming the ``pip install`` to run,
without importing the package that would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.error_responses import ErrorRenderer
from pounce._runtime.lifecycle import LifecycleEvent
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig, config_options
from pounce._settings.options import FeatureUnavailable

__all__ = [
    "PLUGIN_GROUP",
    "ServerPlugin",
    "check_features",
    "error_renderer",
    "event_hooks",
    "load_plugins",
    "start_plugins",
    "stop_plugins",
]

_logger = logging.getLogger(ERROR_LOGGER)

PLUGIN_GROUP = "pounce.server_plugins"
# Every group whose entry-point names can provide a setting's ``feature``.
_FEATURE_GROUPS = ("pounce.app_layers", PLUGIN_GROUP, "pounce.log_formats")


class ServerPlugin:
    """Base class of server plugins; every hook does nothing by default.

    ``order`` places :meth:`wrap_app` among the app layers (a lower order sits
    closer to the application).
    """

    order: int = 100

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        """The app wrapped in this plugin's layer (the app itself by default)."""
        return app

    def error_renderer(self) -> ErrorRenderer | None:
        """A renderer for server-generated responses, or ``None`` to keep the default."""
        return None

    def on_event(self, event: LifecycleEvent) -> None:
        """Called with every lifecycle event, on the thread that produced it."""

    def start(self) -> None:
        """The server's sockets are bound; raise ``ValueError`` to refuse to start."""

    def stop(self) -> None:
        """The server has stopped serving; release what :meth:`start` took."""


def load_plugins(config: ServerConfig) -> list[ServerPlugin]:
    """The plugins ``config`` turns on, in ascending ``order``."""
    plugins: list[tuple[int, str, ServerPlugin]] = []
    for entry in entry_points(group=PLUGIN_GROUP):
        factory: Any = entry.load()
        plugin = factory(config)
        if plugin is None:
            continue
        if not isinstance(plugin, ServerPlugin):
            raise TypeError(f"plugin {entry.name!r} did not return a ServerPlugin")
        _logger.debug("Server plugin %s enabled.", entry.name)
        plugins.append((plugin.order, entry.name, plugin))
    plugins.sort(key=lambda item: (item[0], item[1]))
    return [plugin for _, _, plugin in plugins]


def event_hooks(plugins: Iterable[ServerPlugin]) -> list[Any]:
    """The ``on_event`` of every plugin that listens to lifecycle events."""
    return [p.on_event for p in plugins if type(p).on_event is not ServerPlugin.on_event]


def error_renderer(plugins: Iterable[ServerPlugin]) -> ErrorRenderer | None:
    """The first error renderer a plugin offers."""
    for plugin in plugins:
        renderer = plugin.error_renderer()
        if renderer is not None:
            return renderer
    return None


def start_plugins(plugins: list[ServerPlugin]) -> list[ServerPlugin]:
    """Start each plugin; if one refuses, stop those already started and re-raise."""
    started: list[ServerPlugin] = []
    try:
        for plugin in plugins:
            plugin.start()
            started.append(plugin)
    except BaseException:
        stop_plugins(started)
        raise
    return started


def stop_plugins(plugins: list[ServerPlugin]) -> None:
    """Stop started plugins, last started first; a failure is logged, not raised."""
    for plugin in reversed(plugins):
        try:
            plugin.stop()
        except Exception:
            _logger.exception("Stopping server plugin %s failed.", type(plugin).__name__)


def _is_used(value: Any, default: Any) -> bool:
    # A setting switched off (False, None, empty) needs nothing, even when its
    # default is on: without the plugin, the default simply does not apply.
    return bool(value) and value != default


def check_features(config: ServerConfig) -> None:
    """Raise :class:`FeatureUnavailable` for a used setting nothing installed provides."""
    provided: set[str] | None = None
    for spec in config_options():
        if spec.feature is None or not _is_used(getattr(config, spec.name), spec.default):
            continue
        if provided is None:
            provided = {e.name for group in _FEATURE_GROUPS for e in entry_points(group=group)}
        if spec.feature not in provided:
            raise FeatureUnavailable(spec.flag, spec.extra)
