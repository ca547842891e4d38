"""Server plugins and the check that a used setting's feature is installed."""

from __future__ import annotations

from typing import Any

import pytest

import pounce._bridge.plugins as plugins_module
from pounce import ASGIApp, FeatureUnavailable, LifecycleEvent, ServerConfig, ServerPlugin
from pounce._bridge.app_stack import build_app
from pounce._bridge.plugins import check_features, error_renderer, event_hooks


def test_feature_unavailable_names_the_pip_install() -> None:
    assert str(FeatureUnavailable("--metrics", "metrics")) == (
        "--metrics needs pounce-extras[metrics]: pip install 'pounce-extras[metrics]'"
    )
    assert str(FeatureUnavailable("--static")) == (
        "--static needs pounce-extras: pip install 'pounce-extras'"
    )
    assert isinstance(FeatureUnavailable("--x"), ValueError)


def test_every_provided_setting_has_an_installed_provider() -> None:
    # The dev environment installs pounce-extras[all]: everything is provided.
    config = ServerConfig(
        static=("/a=.",),
        metrics=True,
        otel=True,
        sentry_dsn="http://k@127.0.0.1:9/1",
        rate_limit=1.0,
        rate_limit_store="redis://127.0.0.1:9/0",
        limit_concurrency=2,
        health_path="/h",
        server_timing=True,
        log_format="json",
        debug=True,
        middleware=("a:b",),
        cors_allow_origins=("*",),
        security_headers=True,
        request_id=True,
    )
    check_features(config)


class _NoEntryPoints:
    def __call__(self, *, group: str) -> list[Any]:
        return []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metrics": True}, "--metrics needs pounce-extras[metrics]"),
        ({"static": ("/a=.",)}, "--static needs pounce-extras: pip install 'pounce-extras'"),
        ({"sentry_dsn": "https://k@x/1"}, "--sentry-dsn needs pounce-extras[sentry]"),
        ({"rate_limit": 2.0}, "--rate-limit needs pounce-extras"),
        ({"log_format": "json"}, "--log-format needs pounce-extras"),
    ],
)
def test_a_used_setting_without_its_plugin_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], message: str
) -> None:
    # As if pounce-extras were not installed: no entry point provides anything.
    monkeypatch.setattr(plugins_module, "entry_points", _NoEntryPoints())
    with pytest.raises(FeatureUnavailable, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_features(ServerConfig(**changes))


def test_defaults_and_switched_off_features_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins_module, "entry_points", _NoEntryPoints())
    check_features(ServerConfig())  # compression and error pages default on: simply absent
    check_features(ServerConfig(compression=False, error_pages=False, metrics=False))


async def _app(scope: Any, receive: Any, send: Any) -> None:
    return None


class _Recorder(ServerPlugin):
    def __init__(self, name: str, order: int, trail: list[str]) -> None:
        self.name = name
        self.order = order
        self.trail = trail

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        self.trail.append(self.name)
        return app


class _Listener(ServerPlugin):
    def on_event(self, event: LifecycleEvent) -> None:
        pass


def test_plugins_wrap_in_ascending_order() -> None:
    trail: list[str] = []
    plugins = [_Recorder("outer", 900, trail), _Recorder("inner", 10, trail)]
    build_app(_app, ServerConfig(compression=False, error_pages=False), plugins)
    assert trail == ["inner", "outer"]


def test_only_plugins_that_listen_are_subscribed() -> None:
    listener, silent = _Listener(), ServerPlugin()
    assert event_hooks([silent, listener]) == [listener.on_event]


def test_the_first_error_renderer_offered_is_used() -> None:
    def render(status: int, headers: Any) -> tuple[list[tuple[bytes, bytes]], bytes]:
        return [], b""

    class Offers(ServerPlugin):
        def error_renderer(self) -> Any:
            return render

    assert error_renderer([ServerPlugin(), Offers()]) is render
    assert error_renderer([ServerPlugin()]) is None
