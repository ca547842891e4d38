"""``pounce check`` and ``pounce info``: look before serving.

:func:`preflight` does, once and in this process, what a server does at
start-up, without serving: it checks the logging setup ``pounce.run``
applies (reading a log config file, not applying it), runs every step of
:class:`~pounce._serve.startup.Startup` (the very list serving runs: event
loop, WebSocket and HTTP/3 support, env file, the packages settings need,
plugins, hooks, TLS, the worker plan), then does what each worker does: load
the worker hooks, import the app (with its layers), bind the address and
release it. Each step becomes a :class:`Finding`; a failed step does not
stop the others, so one run reports every problem it can see.

:func:`runtime_info` describes the interpreter and what is installed: the
Python build and GIL state, the worker model ``--worker-mode auto`` would
pick, whether subinterpreter workers are available, the event loop, and
every optional extra of the Pounce distributions with whether its
requirements are installed (read from package metadata, so an extra added
later shows up by itself).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import ssl
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pounce._bridge.app_stack import build_app
from pounce._edges.listeners import bind_listeners
from pounce._edges.sockets import describe_socket
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.importer import load_app
from pounce._runtime.interpreter import gil_enabled
from pounce._runtime.logs import check_logging
from pounce._serve.startup import Startup
from pounce._settings.config import ServerConfig
from pounce._workers.event_loop import resolve_loop
from pounce._workers.hooks import WorkerHooks
from pounce._workers.plan import plan_workers

__all__ = ["Finding", "preflight", "runtime_info"]

_DISTRIBUTIONS = ("pounce-protocols", "pounce-core", "pounce-cli", "pounce-extras")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One step of :func:`preflight`: its name, whether it passed, and what it saw."""

    check: str
    ok: bool
    detail: str


def _step(findings: list[Finding], check: str, action: Callable[[], str]) -> bool:
    try:
        detail = action()
    except Exception as exc:  # noqa: BLE001 - every failure is a finding, none a crash
        text = str(exc) or type(exc).__name__
        findings.append(Finding(check=check, ok=False, detail=text))
        return False
    findings.append(Finding(check=check, ok=True, detail=detail))
    return True


def preflight(app: str | ASGIApp, config: ServerConfig, *, bind: bool = True) -> list[Finding]:
    """Check that ``app`` can be served with ``config``, without serving it."""
    findings: list[Finding] = []

    def logging_setup() -> str:
        check_logging(config)  # what pounce.run applies before serving
        return f"level {config.log_level}, format {config.log_format}" + (
            f", config {config.log_config}" if config.log_config else ""
        )

    _step(findings, "logging", logging_setup)
    startup = Startup(config, app)
    for name, step in startup.steps():
        _step(findings, name, step)

    def worker_hooks() -> str:
        WorkerHooks(config)
        loaded = sum(
            len(paths)
            for paths in (config.on_worker_start, config.on_worker_draining, config.on_worker_stop)
        )
        return f"{loaded} worker hook(s)"

    _step(findings, "worker hooks", worker_hooks)

    def application() -> str:
        loaded = load_app(app, factory=config.factory, app_dir=config.app_dir)
        build_app(loaded, config, startup.plugins)
        return f"imported {app}" if isinstance(app, str) else "app object"

    _step(findings, "app", application)

    def address() -> str:
        count = 1 if startup.plan is None else startup.plan.count
        listeners = bind_listeners(config, count)
        try:
            shown = ", ".join(describe_socket(s) for s in listeners.primary)
        finally:
            listeners.close()
            if config.uds is not None and config.fd is None:
                with contextlib.suppress(OSError):
                    os.unlink(config.uds)
        return f"{shown} is free (bound and released)"

    if bind:
        _step(findings, "bind", address)
    return findings


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


_EXTRA_MARKER = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _applies(requirement: str, extra: str) -> bool:
    """Whether ``requirement`` is needed here for ``extra`` (its environment marker).

    Markers are evaluated with ``packaging`` when it is installed (it nearly
    always is); without it every requirement of the extra counts.
    """
    try:
        from packaging.requirements import Requirement  # noqa: PLC0415 - optional
    except ImportError:
        return True
    marker = Requirement(requirement).marker
    return marker is None or bool(marker.evaluate({"extra": extra}))


@dataclass(frozen=True, slots=True)
class PackageIndex:
    """How installed distributions are looked up (tests give their own)."""

    version: Callable[[str], str | None]
    requires: Callable[[str], list[str] | None]
    extras: Callable[[str], list[str]]


def _installed_requires(distribution: str) -> list[str] | None:
    try:
        return importlib.metadata.requires(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _provided_extras(distribution: str) -> list[str]:
    try:
        return importlib.metadata.metadata(distribution).get_all("Provides-Extra") or []
    except importlib.metadata.PackageNotFoundError:
        return []


INSTALLED = PackageIndex(version=_version, requires=_installed_requires, extras=_provided_extras)


def extra_requirements(distribution: str, extra: str, index: PackageIndex = INSTALLED) -> list[str]:
    """The distributions ``distribution[extra]`` needs on this Python, followed through
    the extras of the distributions it names (``pounce-core[http3]`` needs
    ``pounce-protocols[http3]``, which needs ``aioquic``): the names a user would
    install, in order, without repeats."""
    names: list[str] = []
    seen: set[tuple[str, str]] = set()

    def visit(dist: str, wanted: str) -> None:
        if (dist, wanted) in seen:
            return
        seen.add((dist, wanted))
        for requirement in index.requires(dist) or []:
            marker = _EXTRA_MARKER.search(requirement)
            match = _REQUIREMENT.match(requirement)
            if marker is None or match is None or marker.group(1) != wanted:
                continue
            if not _applies(requirement, wanted):
                continue  # not needed on this Python or platform
            name, extras = match.group(1), match.group(2)
            if index.version(name) is None or not extras:
                names.append(name)
            for nested in (extras or "").split(","):
                if nested.strip() and index.version(name) is not None:
                    visit(name, nested.strip())

    visit(distribution, extra)
    return list(dict.fromkeys(names))


def _extras(distribution: str, index: PackageIndex = INSTALLED) -> dict[str, dict[str, Any]]:
    """Each extra of ``distribution``: what it needs and whether all of it is installed."""
    extras: dict[str, dict[str, Any]] = {}
    for extra in index.extras(distribution):
        requires = extra_requirements(distribution, extra, index)
        installed = all(index.version(name) is not None for name in requires)
        extras[extra] = {"requires": requires, "installed": installed}
    return extras


def runtime_info() -> dict[str, Any]:
    """The interpreter, the worker model ``auto`` picks, and what is installed."""
    free_threaded_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    auto = plan_workers(ServerConfig(workers=0), app_is_import_string=True)
    interpreters = sys.version_info >= (3, 14) and (
        importlib.util.find_spec("concurrent.interpreters") is not None
    )
    return {
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "executable": sys.executable,
            "free_threaded_build": free_threaded_build,
            "gil_enabled": gil_enabled(),
            "platform": platform.platform(),
            "openssl": ssl.OPENSSL_VERSION,
        },
        "workers": {
            "cpus": auto.count,
            "auto_mode": auto.mode,
            "auto_note": auto.note,
            "subinterpreters_available": interpreters,
            "event_loop_auto": resolve_loop("auto"),
        },
        "versions": {name: _version(name) for name in _DISTRIBUTIONS},
        "extras": {name: _extras(name) for name in _DISTRIBUTIONS if _version(name) is not None},
    }
