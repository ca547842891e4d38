"""The checks and preparations a server makes before it binds, in order: one list.

Serving (:class:`pounce._serve.server.Server`) runs every step of
:meth:`Startup.steps` and stops at the first that fails; ``pounce check``
(:func:`pounce._serve.preflight.preflight`) runs the same steps and reports
each, going on past failures. Both run this list and nothing else, so a
setting ``pounce check`` passes cannot be one serving refuses.

A step returns a short description of what it found and keeps what serving
needs later (the plugins, the lifecycle hooks, the TLS context, the worker
plan) on the :class:`Startup`; a step that fails raises ``ValueError`` (or
:class:`~pounce.AppLoadError` for a hook that does not import) with a
one-line message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pounce._bridge.plugins import ServerPlugin, check_features, load_plugins
from pounce._bridge.websocket_session import check_websocket_support
from pounce._edges.http3.support import check_http3_support
from pounce._edges.tls import ServerTLS, build_server_tls
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.lifecycle import LifecycleHook, load_hooks
from pounce._settings.config import ServerConfig
from pounce._settings.env_file import load_env_file
from pounce._workers.event_loop import loop_factory, resolve_loop
from pounce._workers.plan import WorkerPlan, plan_workers

__all__ = ["Startup", "StartupStep"]

StartupStep = tuple[str, Callable[[], str]]


@dataclass(slots=True)
class Startup:
    """What serving ``app`` with ``config`` needs, prepared by :meth:`steps`."""

    config: ServerConfig
    app: str | ASGIApp
    plugins: list[ServerPlugin] = field(default_factory=list)
    hooks: list[LifecycleHook] = field(default_factory=list)
    tls: ServerTLS | None = None
    plan: WorkerPlan | None = None

    def steps(self) -> tuple[StartupStep, ...]:
        """Every step, named, in the order serving runs them."""
        return (
            ("event loop", self._event_loop),
            ("websocket", self._websocket),
            ("http3", self._http3),
            ("env file", self._env_file),
            ("features", self._features),
            ("plugins", self._plugins),
            ("hooks", self._hooks),
            ("tls", self._tls),
            ("workers", self._workers),
        )

    def run(self) -> None:
        """Run every step; the first failure is raised."""
        for _, step in self.steps():
            step()

    def _event_loop(self) -> str:
        loop_factory(self.config.loop)  # refuses a uvloop that cannot run here
        return f"--loop {self.config.loop}: {resolve_loop(self.config.loop)}"

    def _websocket(self) -> str:
        check_websocket_support(self.config.ws)
        return f"ws={self.config.ws}"

    def _http3(self) -> str:
        check_http3_support(self.config.http3)
        return "on" if self.config.http3 else "off"

    def _env_file(self) -> str:
        if self.config.env_file is None:
            return "none"
        loaded = load_env_file(self.config.env_file)
        return f"{self.config.env_file}: {len(loaded)} variable(s)"

    def _features(self) -> str:
        check_features(self.config)
        return "every setting used is provided by an installed package"

    def _plugins(self) -> str:
        self.plugins = load_plugins(self.config)
        return f"{len(self.plugins)} enabled"

    def _hooks(self) -> str:
        self.hooks = load_hooks(self.config.lifecycle_hooks)
        return f"{len(self.hooks)} lifecycle hook(s)"

    def _tls(self) -> str:
        # Checked here so a bad certificate is one line at start-up; each
        # worker builds its own context from the config.
        self.tls = build_server_tls(self.config)
        return "off" if self.tls is None else f"on ({self.config.ssl_certfile})"

    def _workers(self) -> str:
        plan = plan_workers(self.config, app_is_import_string=isinstance(self.app, str))
        self.plan = plan
        return f"{plan.count} {plan.mode} worker(s)" + (f"; note: {plan.note}" if plan.note else "")
