"""The public surface of each package, pinned (as trio's test_exports does).

A change to what a package exports must be a deliberate edit of this file.
"""

from __future__ import annotations

import inspect
import pkgutil
import types

import pytest

import pounce
import pounce_extras
import pounce_protocols

PUBLIC_API = {
    pounce_protocols: {
        "BodyEnded",
        "BodyReceived",
        "ConnectionLost",
        "Event",
        "HTTP1Limits",
        "HTTP1ServerConnection",
        "HTTP2ErrorCode",
        "HTTP2Limits",
        "HTTP2ServerConnection",
        "HeadLimits",
        "Headers",
        "InformationalResponse",
        "LocalProtocolError",
        "ProtocolError",
        "RemoteProtocolError",
        "RequestEvent",
        "RequestReceived",
        "RequestRejected",
        "ResponseBody",
        "ResponseEnd",
        "ResponseEvent",
        "ResponseHead",
        "StreamReset",
        "UpgradeRequested",
        # WebSocket
        "BytesReceived",
        "CloseReceived",
        "DeflateParams",
        "ExtensionOffer",
        "PongReceived",
        "ProtocolFailed",
        "TextReceived",
        "WebSocketEvent",
        "WebSocketHandshakeError",
        "WebSocketMachine",
        "WebSocketRequest",
        "WebSocketState",
        "accept_token",
        "handshake_response_headers",
        "is_sendable_close_code",
        "negotiate_deflate",
        "parse_websocket_request",
        "websocket_available",
    },
    pounce: {
        "ASGIApp",
        "AppLoadError",
        "ClientDisconnected",
        "ConnectionClosed",
        "ConnectionOpened",
        "ErrorRenderer",
        "FeatureUnavailable",
        "LifecycleEvent",
        "Message",
        "OptionSpec",
        "Receive",
        "RequestCompleted",
        "Scope",
        "Send",
        "Server",
        "ServerConfig",
        "ServerDraining",
        "ServerPlugin",
        "ServerStarted",
        "ServerStopped",
        "ReloadCompleted",
        "ReloadFailed",
        "ReloadStarted",
        "WorkerCrashed",
        "WorkerStarted",
        "WorkerStopped",
        "WorkerUnresponsive",
        "__version__",
        "config_options",
        "load_app",
        "run",
    },
    pounce_extras: {
        "CORS",
        "CompressionLayer",
        "ConcurrencyLimiter",
        "JSONFormatter",
        "LoadShedding",
        "MemoryStore",
        "RateLimitLayer",
        "RequestID",
        "SecurityHeaders",
        "ServerTiming",
        "StaticFiles",
        "render_error",
    },
}
PACKAGES = pytest.mark.parametrize("package", list(PUBLIC_API), ids=lambda p: p.__name__)
PUBLIC_MODULES = {"__main__", "testing"}


@PACKAGES
def test_all_is_pinned(package: types.ModuleType) -> None:
    assert set(package.__all__) == PUBLIC_API[package]
    assert len(package.__all__) == len(set(package.__all__))


@PACKAGES
def test_every_exported_name_exists(package: types.ModuleType) -> None:
    for name in package.__all__:
        assert hasattr(package, name), name


@PACKAGES
def test_star_import_gives_exactly_all(package: types.ModuleType) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {package.__name__} import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(package.__all__)


@pytest.mark.parametrize(
    "package",
    [
        pounce_protocols,
        pounce,
        pounce_extras,
    ],
    ids=lambda p: p.__name__,
)
def test_no_public_name_outside_all(package: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(package.__all__)


@PACKAGES
def test_exported_classes_and_functions_are_documented(package: types.ModuleType) -> None:
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{package.__name__}.{name} has no docstring"


@PACKAGES
def test_modules_are_private(package: types.ModuleType) -> None:
    modules = [m.name for m in pkgutil.iter_modules(package.__path__)]
    assert modules, "no modules found: the check would prove nothing"
    public = [m for m in modules if not m.startswith("_") and m not in PUBLIC_MODULES]
    assert public == []


def test_version() -> None:
    assert isinstance(pounce.__version__, str)
    assert pounce.__version__.count(".") >= 2
