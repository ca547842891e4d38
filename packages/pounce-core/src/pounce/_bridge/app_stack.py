"""The app as the workers serve it: the user's app inside the configured layers.

Optional layers (compression, static files, middleware, rate limiting...)
live in higher packages; they register themselves here through the
``pounce.app_layers`` entry point group, so this package never imports them.
Each entry point names a callable ``(app, config) -> app | None``; it returns
a wrapped app when the config turns its feature on, or ``None`` to stay out.
Layers are applied in ascending order of their ``order`` attribute (default
100): a lower order sits closer to the application. Server plugins
(:mod:`pounce._bridge.plugins`) that wrap the app take their place in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from pounce._bridge.plugins import ServerPlugin
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig

__all__ = ["AppLayer", "build_app", "installed_layers"]

_logger = logging.getLogger(ERROR_LOGGER)

ENTRY_POINT_GROUP = "pounce.app_layers"

AppLayer = Callable[[ASGIApp, ServerConfig], ASGIApp | None]


def installed_layers() -> list[tuple[str, AppLayer]]:
    """Every registered layer as ``(name, callable)``, in application order."""
    layers: list[tuple[int, str, AppLayer]] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        layer: Any = entry.load()
        layers.append((int(getattr(layer, "order", 100)), entry.name, layer))
    layers.sort(key=lambda item: (item[0], item[1]))
    return [(name, layer) for _, name, layer in layers]


def build_app(app: ASGIApp, config: ServerConfig, plugins: Iterable[ServerPlugin] = ()) -> ASGIApp:
    """Wrap ``app`` in every installed layer that ``config`` turns on, and in
    the layers of ``plugins``, innermost (lowest order) first."""
    steps: list[tuple[int, str, Callable[[ASGIApp], ASGIApp | None]]] = []
    for name, layer in installed_layers():
        steps.append((int(getattr(layer, "order", 100)), name, _bind(layer, config)))
    for plugin in plugins:
        steps.append((plugin.order, type(plugin).__name__, plugin.wrap_app))
    steps.sort(key=lambda item: (item[0], item[1]))
    for _, name, wrap in steps:
        wrapped = wrap(app)
        if wrapped is not None and wrapped is not app:
            _logger.debug("App layer %s enabled.", name)
            app = wrapped
    return app


def _bind(layer: AppLayer, config: ServerConfig) -> Callable[[ASGIApp], ASGIApp | None]:
    return lambda app: layer(app, config)
