"""Load the ASGI application named by ``"module.path:attribute"``.

Each failure mode gets its own one-line message naming the part that failed,
because "could not import app" is the first thing a new user sees go wrong.
When the app's own code raised (while its module was imported, or in its
factory), the lines after that one are the traceback of the user's code:
the file and line that raised, without the import machinery's frames or ours.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from collections.abc import Callable
from typing import Any, cast

from pounce._runtime.asgi_types import ASGIApp, Receive, Scope, Send

__all__ = ["AppLoadError", "load_app"]


class AppLoadError(Exception):
    """The application could not be loaded.

    The message's first line says why; when the app's own code raised, the
    lines after it are that traceback (see the module docstring).
    """


# Frames of the import machinery and of this module: never the user's.
_MACHINERY = (importlib.__file__, __file__)


def _user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (and what it chains) without importlib's frames or ours."""
    report = traceback.TracebackException.from_exception(exc)
    report.stack = traceback.StackSummary.from_list(
        [
            frame
            for frame in report.stack
            if not frame.filename.startswith("<frozen importlib")
            and frame.filename not in _MACHINERY
        ]
    )
    return "".join(report.format()).rstrip("\n")


def _raised_by_the_app(summary: str, exc: BaseException) -> AppLoadError:
    return AppLoadError(f"{summary}: {type(exc).__name__}: {exc}\n{_user_traceback(exc)}")


def check_import_string(target: str) -> tuple[str, str]:
    """Split ``module:attribute``; ``AppLoadError`` when it is not that shape."""
    module_name, sep, attrs = target.partition(":")
    if not sep or not module_name or not attrs:
        raise AppLoadError(f'APP must look like "module:attribute", got "{target}"')
    return module_name, attrs


def resolve_attribute(module_name: str, attribute: str) -> object:
    """Import ``module_name`` and follow the dotted ``attribute`` path in it."""
    value: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _import_attribute(target: str) -> Any:
    module_name, attrs = check_import_string(target)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if (
            exc.name is not None
            and module_name.startswith(exc.name)
            and (module_name == exc.name or module_name.startswith(exc.name + "."))
        ):
            # Name the missing part when it is a parent package, so a typo
            # in "pkg.sub" is told apart from a missing "sub".
            missing = "" if exc.name == module_name else f': no package "{exc.name}"'
            raise AppLoadError(f'Could not import module "{module_name}"{missing}.') from exc
        # The module exists but something it imports does not: that is the
        # user's real problem, so show it (and the import line) rather than hiding it.
        raise _raised_by_the_app(f'Error importing module "{module_name}"', exc) from exc
    except Exception as exc:
        raise _raised_by_the_app(f'Error importing module "{module_name}"', exc) from exc
    value: Any = module
    for part in attrs.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise AppLoadError(
                f'Attribute "{attrs}" not found in module "{module_name}".'
            ) from None
    return value


def _is_asgi3(app: Any) -> bool:
    if inspect.isclass(app):
        return hasattr(app, "__await__")
    if inspect.isfunction(app) or inspect.ismethod(app):
        return inspect.iscoroutinefunction(app)
    return inspect.iscoroutinefunction(getattr(app, "__call__", None))  # noqa: B004


class _ASGI2Adapter:
    """Serve an ASGI 2 (double-callable) application through the ASGI 3 interface."""

    __slots__ = ("_app",)

    def __init__(self, app: Callable[[Scope], Callable[[Receive, Send], Any]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        instance = self._app(scope)
        await instance(receive, send)


def _signature_arity(func: Any) -> int | None:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return len(positional)


def load_app(
    target: str | ASGIApp, *, factory: bool = False, app_dir: str | None = None
) -> ASGIApp:
    """Resolve ``target`` to an ASGI 3 callable.

    ``target`` is an app object or ``"module:attribute"``; with ``factory`` the
    attribute is called with no arguments to build the app. ASGI 2 apps are
    adapted. Raises :class:`AppLoadError` with a one-line reason.
    """
    if isinstance(target, str):
        if app_dir is not None and app_dir not in sys.path:
            sys.path.insert(0, app_dir)
        app: Any = _import_attribute(target)
    else:
        app = target
    if factory:
        if not callable(app):
            raise AppLoadError(f"The factory {target!r} is not callable.")
        try:
            app = app()
        except Exception as exc:
            raise _raised_by_the_app("Error calling the app factory", exc) from exc
    elif isinstance(target, str) and inspect.isfunction(app) and _signature_arity(app) == 0:
        raise AppLoadError(
            f'"{target}" is a function with no arguments; if it builds the app, pass --factory.'
        )
    if not callable(app):
        raise AppLoadError(
            f"{target if isinstance(target, str) else type(app).__name__!r} is not an ASGI "
            f"application: {type(app).__name__} is not callable."
        )
    if _is_asgi3(app):
        return cast(ASGIApp, app)
    call = app if inspect.isfunction(app) or inspect.isclass(app) else app.__call__
    arity = _signature_arity(call)
    if arity == 1:
        return _ASGI2Adapter(app)
    if arity == 3 or arity is None:
        # A plain callable returning an awaitable (e.g. a partial) is ASGI 3.
        return cast(ASGIApp, app)
    raise AppLoadError(
        f"{target if isinstance(target, str) else type(app).__name__!r} is not an ASGI "
        f"application: it takes {arity} arguments, an ASGI app takes (scope, receive, send)."
    )
