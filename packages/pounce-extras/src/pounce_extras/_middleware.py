"""``--middleware module:factory``: the user's ASGI middleware, in order.

Each factory is imported at start-up and called with the app it wraps, as
Starlette-style middleware classes are (``Factory(app) -> app``); the first
given is the outermost, so the chain reads in the order a request meets it.
The chain sits right around the app, inside every built-in layer. A factory
that does not import, is not callable or fails when called stops start-up
with one line saying which and why.
"""

from __future__ import annotations

import importlib
from typing import Any

from pounce import ASGIApp

__all__ = ["build_chain", "load_factory"]


def load_factory(path: str) -> Any:
    """The callable named by ``module:attribute`` (``attribute`` may be dotted)."""
    module_name, _, attribute = path.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--middleware {path}: cannot import {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ValueError(f"--middleware {path}: {module_name!r} has no {attribute!r}") from None
    if not callable(value):
        raise ValueError(f"--middleware {path}: not callable")
    return value


def build_chain(app: ASGIApp, paths: tuple[str, ...]) -> ASGIApp:
    """``app`` wrapped so that ``paths[0]`` is the outermost middleware."""
    for path in reversed(paths):
        factory = load_factory(path)
        try:
            wrapped = factory(app)
        except Exception as exc:
            raise ValueError(
                f"--middleware {path}: calling it with the app failed: {exc!r}"
            ) from exc
        if not callable(wrapped):
            raise ValueError(f"--middleware {path}: did not return an ASGI app")
        app = wrapped
    return app
