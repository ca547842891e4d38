"""``pounce check`` and ``pounce info``: look before serving.

:func:`preflight` does, once and in this process, what a server does at
start-up, without serving: load the env file, check WebSocket and TLS
support, plan the workers, load every hook and server plugin, import the
app (with its layers), bind the address and release it. Each step becomes a
:class:`Finding`; a failed step does not stop the others, so one run reports
every problem it can see.

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
from pounce._bridge.plugins import ServerPlugin, load_plugins
from pounce._bridge.websocket_session import check_websocket_support
from pounce._edges.listeners import bind_listeners
from pounce._edges.sockets import describe_socket
from pounce._edges.tls import build_server_tls
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.importer import load_app
from pounce._runtime.interpreter import gil_enabled
from pounce._runtime.lifecycle import load_hooks
from pounce._settings.config import ServerConfig
from pounce._settings.env_file import load_env_file
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

    def env_file() -> str:
        assert config.env_file is not None
        loaded = load_env_file(config.env_file)
        return f"{config.env_file}: {len(loaded)} variable(s)"

    if config.env_file is not None:
        _step(findings, "env file", env_file)

    def websocket() -> str:
        check_websocket_support(config.ws)
        return f"ws={config.ws}"

    _step(findings, "websocket", websocket)

    def tls() -> str:
        return "off" if build_server_tls(config) is None else f"on ({config.ssl_certfile})"

    _step(findings, "tls", tls)
    count = 1

    def workers() -> str:
        nonlocal count
        plan = plan_workers(config, app_is_import_string=isinstance(app, str))
        count = plan.count
        return f"{plan.count} {plan.mode} worker(s)" + (f"; note: {plan.note}" if plan.note else "")

    _step(findings, "workers", workers)

    def hooks() -> str:
        loaded = load_hooks(config.lifecycle_hooks)
        WorkerHooks(config)
        worker_hooks = sum(
            len(paths)
            for paths in (config.on_worker_start, config.on_worker_draining, config.on_worker_stop)
        )
        return f"{len(loaded)} lifecycle hook(s), {worker_hooks} worker hook(s)"

    _step(findings, "hooks", hooks)

    plugins: list[ServerPlugin] = []

    def server_plugins() -> str:
        plugins.extend(load_plugins(config))
        return f"{len(plugins)} enabled"

    _step(findings, "plugins", server_plugins)

    def application() -> str:
        loaded = load_app(app, factory=config.factory, app_dir=config.app_dir)
        build_app(loaded, config, plugins)
        return f"imported {app}" if isinstance(app, str) else "app object"

    _step(findings, "app", application)

    def address() -> str:
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
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


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


def _extras(distribution: str) -> dict[str, dict[str, Any]]:
    """Each extra of ``distribution``: its requirements and whether all are installed."""
    try:
        meta = importlib.metadata.metadata(distribution)
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    extras: dict[str, dict[str, Any]] = {
        name: {"requires": [], "installed": True} for name in meta.get_all("Provides-Extra") or []
    }
    for requirement in requires:
        marker = _EXTRA_MARKER.search(requirement)
        name_match = _REQUIREMENT_NAME.match(requirement)
        if marker is None or name_match is None or marker.group(1) not in extras:
            continue
        extra = marker.group(1)
        if not _applies(requirement, extra):
            continue  # not needed on this Python or platform
        entry = extras[extra]
        name = name_match.group(1)
        entry["requires"].append(name)
        if _version(name) is None:
            entry["installed"] = False
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
