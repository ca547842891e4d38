"""Import the app again, in this process, for a rolling reload of thread workers.

Python caches modules in ``sys.modules``; importing the app again would just
return the cached objects. So the app's *own* modules (those whose files live
under ``--app-dir``) are dropped from the cache first, and the import builds
them afresh from the files on disk. Everything else stays: the standard
library, installed packages (``site-packages``, even inside the project's
own virtual environment) and Pounce itself, whose classes must stay the ones
the server is built from.

The generation that is still serving keeps references to its own module
objects, so dropping them from the cache does not disturb it. If the new
import fails, the cache is put back as it was: the old generation goes on
serving with its modules, and a later import finds them again.
"""

from __future__ import annotations

import importlib
import site
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.importer import load_app

__all__ = ["app_module_names", "reimport_app"]

# The server's own packages: never reloaded, wherever they are installed from.
_SERVER_PACKAGES = ("pounce", "pounce_protocols", "pounce_cli", "pounce_extras")


def _installed_roots() -> list[Path]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    # Library directories only, not whole prefixes: with a system Python the
    # prefix is /usr, and an app in /usr/src/app is still the app's own code.
    return [Path(root).resolve() for root in roots if root]


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def app_module_names(app_dir: str) -> list[str]:
    """Names of the loaded modules that belong to the app under ``app_dir``."""
    base = Path(app_dir).resolve()
    installed = _installed_roots()
    names = []
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in _SERVER_PACKAGES:
            continue
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue  # built-in, frozen or a namespace package
        path = Path(file).resolve()
        if _is_within(path, base) and not any(_is_within(path, root) for root in installed):
            names.append(name)
    return names


def reimport_app(target: str, *, factory: bool, app_dir: str) -> ASGIApp:
    """Load ``target`` from the files on disk, not from the module cache.

    Raises :class:`~pounce.AppLoadError` like :func:`~pounce.load_app`, with
    the module cache restored.
    """
    dropped: dict[str, ModuleType] = {}
    for name in app_module_names(app_dir):
        module = sys.modules.pop(name, None)
        if module is not None:
            dropped[name] = module
    importlib.invalidate_caches()
    try:
        return load_app(target, factory=factory, app_dir=app_dir)
    except BaseException:
        for name in app_module_names(app_dir):
            sys.modules.pop(name, None)  # half-imported new versions
        sys.modules.update(dropped)
        raise
