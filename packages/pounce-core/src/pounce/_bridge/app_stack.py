"""The app as the workers serve it: the user's app inside the configured layers.

Optional layers (compression, static files, middleware, rate limiting...)
live in higher packages; they register themselves here through the
``pounce.app_layers`` entry point group, so this package never imports them.
Each entry point names a callable ``(app, config) -> app | None``; it returns
a wrapped app when the config turns its feature on, or ``None`` to stay out.
Layers are applied in ascending order of their ``order`` attribute (default
100): a lower order sits closer to the application. Server plugins
(:mod:`pounce._bridge.plugins`) that wrap the app take their place in the same order.

A layer that, for an ``http`` request, only registers a start hook chosen
from the request (:func:`pounce.on_response_start`) and calls the app it
wraps with the same arguments may say so with two attributes: ``app``, the
app it wraps, and ``http_start_hook(scope, status, fields)``, the hook it
would register, called with the request's scope. The workers then serve HTTP
requests with the app inside the outermost such layers and let each stream
run their hooks (:func:`split_hook_layers`); WebSocket and lifespan still
go through every layer. This saves each such layer its call and its
registration on every request, which for the default stack (compression
alone) is most of what it costs a response it leaves alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from pounce._bridge.plugins import ServerPlugin
from pounce._runtime.asgi_types import ASGIApp, HTTPStartHook
from pounce._runtime.logs import ERROR_LOGGER
from pounce._settings.config import ServerConfig

__all__ = ["AppLayer", "build_app", "installed_layers", "split_hook_layers"]

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


def split_hook_layers(app: ASGIApp) -> tuple[ASGIApp, tuple[HTTPStartHook, ...]]:
    """The app HTTP requests are served with, and the start hooks the streams
    run for the layers it leaves out: the outermost layers of ``app`` that
    declare ``http_start_hook`` (innermost first, as registered hooks run)."""
    hooks: list[HTTPStartHook] = []
    # Declared by the layer's class: an object that answers any attribute
    # (a mock) declares nothing.
    while callable(getattr(type(app), "http_start_hook", None)):
        inner = getattr(app, "app", None)
        if not callable(inner):
            break
        hooks.append(app.http_start_hook)  # type: ignore[attr-defined]
        app = inner
    hooks.reverse()
    return app, tuple(hooks)
