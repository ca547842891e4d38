"""The public surface of each package, pinned (as trio's test_exports does).

A change to what a package exports must be a deliberate edit of this file.
"""

from __future__ import annotations

import importlib.util
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
        "HTTP3Endpoint",
        "HTTP3Limits",
        "HTTP3ServerConnection",
        "SessionTicketStore",
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
        # RFC 9218 priorities, shared by the HTTP/2 and HTTP/3 machines.
        "Priority",
        "PriorityScheduler",
        "parse_priority",
    },
    pounce: {
        "ASGIApp",
        "AppLoadError",
        "ClientDisconnected",
        "ConfigFileError",
        "ConnectionClosed",
        "ConnectionOpened",
        "ErrorRenderer",
        "FeatureUnavailable",
        "Finding",
        "InvalidSetting",
        "LifecycleEvent",
        "Message",
        "OptionSpec",
        "Receive",
        "RequestCompleted",
        "ResolvedSettings",
        "HTTPStartHook",
        "ResponseRelay",
        "Scope",
        "Send",
        "Server",
        "ServerConfig",
        "ServerDraining",
        "ServerPlugin",
        "ServerStarted",
        "ServerStopped",
        "StartHook",
        "ReloadCompleted",
        "ReloadFailed",
        "ReloadStarted",
        "WorkerCrashed",
        "WorkerInfo",
        "WorkerStarted",
        "WorkerStopped",
        "WorkerUnresponsive",
        "__version__",
        "config_options",
        "config_schema",
        "load_app",
        "on_response_start",
        "preflight",
        "resolve_settings",
        "run",
        "runtime_info",
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

# Loaded on first use from aioquic (pounce-protocols[http3]), which a
# free-threaded interpreter cannot install: there they are still exported,
# and using one is an ImportError that says what to install.
NEEDS_AIOQUIC = {"HTTP3Endpoint", "HTTP3Limits", "HTTP3ServerConnection", "SessionTicketStore"}
HAS_AIOQUIC = importlib.util.find_spec("aioquic") is not None


def available(package: types.ModuleType) -> list[str]:
    """The exported names this installation can load."""
    if HAS_AIOQUIC or package is not pounce_protocols:
        return list(package.__all__)
    return [name for name in package.__all__ if name not in NEEDS_AIOQUIC]


@PACKAGES
def test_all_is_pinned(package: types.ModuleType) -> None:
    assert set(package.__all__) == PUBLIC_API[package]
    assert len(package.__all__) == len(set(package.__all__))


@PACKAGES
def test_every_exported_name_exists(package: types.ModuleType) -> None:
    for name in available(package):
        assert hasattr(package, name), name


@pytest.mark.skipif(HAS_AIOQUIC, reason="aioquic is installed here")
def test_http3_names_without_aioquic_say_what_to_install() -> None:
    for name in NEEDS_AIOQUIC:
        with pytest.raises(ImportError, match=r"install pounce-protocols\[http3\]"):
            getattr(pounce_protocols, name)


@PACKAGES
def test_star_import_gives_exactly_all(package: types.ModuleType) -> None:
    if len(available(package)) < len(package.__all__):
        pytest.skip("a star import needs every exported name loadable (aioquic is missing)")
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
    for name in available(package):
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
