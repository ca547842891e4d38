"""``ServerConfig``: every server setting, declared once.

The config is a frozen, slotted, keyword-only dataclass validated at
construction. Workers share one instance without locks: nothing can change it
after ``__post_init__`` returns. Each field's metadata (see :mod:`._options`)
is the single declaration from which the CLI flags and ``pounce.run()``
keywords are derived.

Defaults are chosen to be safe on the open internet: every size and every wait
is bounded.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pounce._options import OptionSpec, option, option_specs

__all__ = ["LifespanMode", "LogLevel", "ServerConfig", "WorkerMode", "config_options"]

LifespanMode = Literal["auto", "on", "off"]
LoopChoice = Literal["auto", "asyncio", "uvloop"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
CertReqs = Literal["none", "optional", "required"]
WorkerMode = Literal["auto", "thread", "process"]
WebSocketChoice = Literal["auto", "on", "off"]

_MIB = 1024 * 1024
_MAX_WORKERS = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """All settings of a Pounce server. Build once; share freely."""

    # --- where to listen ---------------------------------------------------
    host: str = field(
        default="127.0.0.1",
        metadata=option("Bind socket to this host.", group="Binding"),
    )
    port: int = field(
        default=8000,
        metadata=option("Bind socket to this port (0 = any free port).", group="Binding"),
    )
    uds: str | None = field(
        default=None,
        metadata=option("Bind to a UNIX domain socket at this path.", group="Binding"),
    )
    fd: int | None = field(
        default=None,
        metadata=option(
            "Serve on an already-bound socket given by file descriptor "
            "(systemd socket activation).",
            group="Binding",
        ),
    )
    backlog: int = field(
        default=2048,
        metadata=option("Maximum number of pending connections.", group="Binding"),
    )

    # --- the application ---------------------------------------------------
    factory: bool = field(
        default=False,
        metadata=option(
            "Treat APP as a factory: call it with no arguments to get the ASGI app.",
            group="Application",
        ),
    )
    app_dir: str = field(
        default=".",
        metadata=option(
            "Look for APP in this directory (it is put first on sys.path).",
            group="Application",
        ),
    )
    root_path: str = field(
        default="",
        metadata=option(
            "The ASGI root_path, when the app is mounted below a path prefix by a proxy.",
            group="Application",
        ),
    )
    lifespan: LifespanMode = field(
        default="auto",
        metadata=option(
            "Lifespan protocol: 'on' requires it, 'off' skips it, 'auto' uses it when "
            "the app supports it.",
            group="Application",
        ),
    )
    env_file: str | None = field(
        default=None,
        metadata=option(
            "Load environment variables from this file before importing the app.",
            group="Application",
        ),
    )

    loop: LoopChoice = field(
        default="auto",
        metadata=option(
            "Event loop: 'uvloop' (GIL builds only), 'asyncio', or 'auto' "
            "(uvloop when installed and the GIL is on).",
            group="Application",
        ),
    )

    # --- workers -----------------------------------------------------------
    workers: int = field(
        default=1,
        metadata=option(
            "Number of workers, each with its own event loop (0 = one per CPU).",
            group="Workers",
        ),
    )
    worker_mode: WorkerMode = field(
        default="auto",
        metadata=option(
            "Run workers as threads of one process or as processes; 'auto' uses threads "
            "on free-threaded Python (or for a single worker), processes otherwise.",
            group="Workers",
        ),
    )
    timeout_worker_healthcheck: float = field(
        default=30.0,
        metadata=option(
            "A worker whose event loop has not checked in for this many seconds is "
            "reported as stuck (and, in process mode, killed and replaced).",
            group="Workers",
        ),
    )
    limit_max_requests: int | None = field(
        default=None,
        metadata=option(
            "Replace a worker after it has served this many requests (none dropped).",
            group="Workers",
        ),
    )
    limit_max_requests_jitter: int = field(
        default=0,
        metadata=option(
            "Add a random 0..N to each worker's --limit-max-requests, so workers are not "
            "all replaced at once.",
            group="Workers",
        ),
    )
    health_path: str | None = field(
        default=None,
        metadata=option(
            "Answer this path in the server, before the app: 200 while serving, 503 "
            "while shutting down.",
            group="Workers",
        ),
    )

    # --- development ---------------------------------------------------------
    reload: bool = field(
        default=False,
        metadata=option(
            "Restart the server when watched files change (development only).",
            group="Development",
        ),
    )
    reload_dirs: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "A directory to watch with --reload (repeatable; default: --app-dir).",
            group="Development",
            flag="--reload-dir",
            metavar="DIR",
        ),
    )
    reload_includes: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "A glob of files to watch besides *.py, e.g. '*.html' (repeatable).",
            group="Development",
            flag="--reload-include",
            metavar="GLOB",
        ),
    )
    reload_excludes: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "A glob of files or directories not to watch, besides hidden ones and "
            "__pycache__ (repeatable).",
            group="Development",
            flag="--reload-exclude",
            metavar="GLOB",
        ),
    )
    reload_delay: float = field(
        default=0.25,
        metadata=option(
            "Seconds between two looks at the watched files with --reload.",
            group="Development",
        ),
    )

    # --- proxies -----------------------------------------------------------
    proxy_headers: bool = field(
        default=True,
        metadata=option(
            "Trust X-Forwarded-For and X-Forwarded-Proto from --forwarded-allow-ips "
            "to set the client address and scheme.",
            group="Proxies",
        ),
    )
    forwarded_allow_ips: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata=option(
            "Comma-separated addresses or networks of trusted proxies; '*' trusts all.",
            group="Proxies",
            separator=",",
        ),
    )

    # --- logging -----------------------------------------------------------
    log_level: LogLevel = field(
        default="info",
        metadata=option("Log level.", group="Logging"),
    )
    access_log: bool = field(
        default=True,
        metadata=option("Log one line per request.", group="Logging"),
    )
    lifecycle_hooks: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Import path (module:callable) of a function called with every lifecycle "
            "event (repeatable).",
            group="Logging",
            flag="--lifecycle-hook",
            metavar="MODULE:CALLABLE",
        ),
    )
    log_config: str | None = field(
        default=None,
        metadata=option(
            "A logging configuration file (.json dictConfig, .ini/.conf fileConfig, "
            ".yaml if PyYAML is installed).",
            group="Logging",
        ),
    )

    # --- TLS ---------------------------------------------------------------
    ssl_certfile: str | None = field(
        default=None,
        metadata=option(
            "Serve HTTPS (TLS 1.2 or later) with this PEM certificate (chain); "
            "the key may be in the same file.",
            group="TLS",
        ),
    )
    ssl_keyfile: str | None = field(
        default=None,
        metadata=option("The PEM private key of --ssl-certfile.", group="TLS"),
    )
    ssl_keyfile_password: str | None = field(
        default=None,
        repr=False,  # a secret: never shown
        metadata=option("Password of an encrypted --ssl-keyfile.", group="TLS", secret=True),
    )
    ssl_ca_certs: str | None = field(
        default=None,
        metadata=option(
            "CA certificates (PEM file or directory) that client certificates must "
            "chain to (mutual TLS).",
            group="TLS",
        ),
    )
    ssl_cert_reqs: CertReqs = field(
        default="none",
        metadata=option(
            "Client certificates: 'none' not asked for, 'optional' verified when sent, "
            "'required' (mutual TLS) refuses clients without a valid one.",
            group="TLS",
        ),
    )
    ssl_ciphers: str | None = field(
        default=None,
        metadata=option(
            "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's); "
            "default: OpenSSL's secure defaults.",
            group="TLS",
        ),
    )

    # --- HTTP/2 ------------------------------------------------------------
    http2: bool = field(
        default=True,
        metadata=option(
            "Serve HTTP/2: offered by ALPN over TLS, and over cleartext (see --h2c).",
            group="HTTP/2",
        ),
    )
    h2c: bool = field(
        default=True,
        metadata=option(
            "Accept HTTP/2 over cleartext: clients that start with the HTTP/2 preface "
            "(prior knowledge) or ask for 'Upgrade: h2c'.",
            group="HTTP/2",
        ),
    )
    http2_max_concurrent_streams: int = field(
        default=100,
        metadata=option(
            "Most HTTP/2 streams (requests) a client may have open on one connection.",
            group="HTTP/2",
        ),
    )
    http2_initial_window_size: int = field(
        default=65535,
        metadata=option(
            "Bytes of request body a client may send on a stream ahead of the app "
            "reading it (the HTTP/2 flow-control window).",
            group="HTTP/2",
        ),
    )

    # --- response headers --------------------------------------------------
    server_header: bool = field(
        default=True,
        metadata=option("Send a 'server: pounce' header unless the app sets one.", group="HTTP"),
    )
    date_header: bool = field(
        default=True,
        metadata=option("Send a 'date' header unless the app sets one.", group="HTTP"),
    )
    headers: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "An extra default response header 'Name: value' (repeatable).",
            group="HTTP",
            flag="--header",
            metavar="NAME:VALUE",
        ),
    )

    # --- timeouts (seconds) -----------------------------------------------
    timeout_keep_alive: float = field(
        default=5.0,
        metadata=option(
            "Close a keep-alive connection after this many idle seconds.", group="Timeouts"
        ),
    )
    timeout_request_header: float = field(
        default=10.0,
        metadata=option(
            "Seconds a client has to send a complete request head (stops slowloris); "
            "answered with 408.",
            group="Timeouts",
        ),
    )
    timeout_flow_control: float = field(
        default=20.0,
        metadata=option(
            "An HTTP/2 stream whose response waits this many seconds for a client that "
            "keeps its flow-control window shut is reset; a client that reads nothing "
            "at all for this long is disconnected.",
            group="Timeouts",
        ),
    )
    timeout_graceful_shutdown: float = field(
        default=30.0,
        metadata=option(
            "On shutdown, wait this many seconds for in-flight requests before cancelling them.",
            group="Timeouts",
        ),
    )

    # --- limits ------------------------------------------------------------
    limit_request_line: int = field(
        default=8190,
        metadata=option("Maximum bytes in a request line; longer gets 414.", group="Limits"),
    )
    limit_request_headers: int = field(
        default=100,
        metadata=option("Maximum number of request header fields; more gets 431.", group="Limits"),
    )
    limit_request_header_size: int = field(
        default=16384,
        metadata=option(
            "Maximum bytes in a request head (request line and all fields); more gets 431.",
            group="Limits",
            aliases=("--h11-max-incomplete-event-size",),
        ),
    )
    limit_request_body: int = field(
        default=100 * _MIB,
        metadata=option("Maximum request body bytes; more gets 413.", group="Limits"),
    )

    # --- WebSocket ---------------------------------------------------------
    ws: WebSocketChoice = field(
        default="auto",
        metadata=option(
            "WebSocket support: 'auto' when wsproto is installed (otherwise upgrade "
            "requests are served as plain HTTP, with a note in the log), 'on' requires "
            "it, 'off' never upgrades.",
            group="WebSocket",
        ),
    )
    ws_max_size: int = field(
        default=16 * _MIB,
        metadata=option(
            "Largest WebSocket message accepted, in bytes; a larger one closes with 1009.",
            group="WebSocket",
        ),
    )
    ws_ping_interval: float | None = field(
        default=20.0,
        metadata=option(
            "Send a WebSocket ping every this many seconds ('none': never).",
            group="WebSocket",
        ),
    )
    ws_ping_timeout: float | None = field(
        default=20.0,
        metadata=option(
            "Close a WebSocket whose peer does not answer a ping within this many "
            "seconds ('none': wait forever).",
            group="WebSocket",
        ),
    )
    ws_per_message_deflate: bool = field(
        default=True,
        metadata=option(
            "Accept the permessage-deflate compression extension when a client offers it.",
            group="WebSocket",
        ),
    )
    ws_close_timeout: float = field(
        default=5.0,
        metadata=option(
            "Seconds to wait for the peer's answer to a WebSocket Close frame before "
            "dropping the connection.",
            group="WebSocket",
        ),
    )

    def __post_init__(self) -> None:
        # Normalize sequences given as lists (from Python callers) to tuples so
        # the instance stays hashable and immutable all the way down. A lone
        # string is read as on the command line: split only where the option
        # has a separator (a header value may contain commas).
        for spec in config_options():
            if spec.kind != "list":
                continue
            value = getattr(self, spec.name)
            if isinstance(value, str):
                value = spec.parse(value)
            elif not isinstance(value, tuple):
                try:
                    value = tuple(value)
                except TypeError:
                    raise ValueError(
                        f"{spec.name} must be a list of strings, got {value!r}"
                    ) from None
            object.__setattr__(self, spec.name, value)
        _validate(self)

    def replace(self, **changes: Any) -> ServerConfig:
        """A copy with some settings changed (validated like a new instance)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return ServerConfig(**current)

    @property
    def parsed_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """``headers`` as lowercased (name, value) byte pairs."""
        pairs = []
        for item in self.headers:
            name, _, value = item.partition(":")
            pairs.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
        return tuple(pairs)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _validate(config: ServerConfig) -> None:
    for spec in config_options():
        value = getattr(config, spec.name)
        if value is None and spec.optional:
            continue
        if spec.kind == "bool":
            _check(isinstance(value, bool), f"{spec.name} must be true or false, got {value!r}")
        elif spec.kind == "int":
            _check(
                isinstance(value, int) and not isinstance(value, bool),
                f"{spec.name} must be an integer, got {value!r}",
            )
        elif spec.kind == "str":
            _check(isinstance(value, str), f"{spec.name} must be a string, got {value!r}")
        elif spec.kind == "choice":
            _check(
                value in spec.choices,
                f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}",
            )
        elif spec.kind == "list":
            _check(
                all(isinstance(v, str) for v in value),
                f"{spec.name} must be a list of strings, got {value!r}",
            )
    _check(0 <= config.port <= 65535, f"port must be in 0..65535, got {config.port}")
    _check(
        not (config.uds is not None and config.fd is not None),
        "uds and fd cannot both be given",
    )
    _check(config.fd is None or config.fd >= 0, f"fd must be >= 0, got {config.fd}")
    _check(config.backlog > 0, f"backlog must be positive, got {config.backlog}")
    root = config.root_path
    _check(
        root == "" or (root.startswith("/") and not root.endswith("/")),
        f"root_path must be empty or start with '/' and not end with '/', got {root!r}",
    )
    for name in (
        "timeout_keep_alive",
        "timeout_request_header",
        "timeout_flow_control",
        "timeout_graceful_shutdown",
        "ws_close_timeout",
    ):
        value = getattr(config, name)
        _check(_positive_number(value), f"{name} must be positive seconds, got {value!r}")
    for name in ("ws_ping_interval", "ws_ping_timeout"):
        value = getattr(config, name)
        _check(
            value is None or _positive_number(value),
            f"{name} must be positive seconds or none, got {value!r}",
        )
    for name in (
        "limit_request_line",
        "limit_request_headers",
        "limit_request_header_size",
        "limit_request_body",
        "ws_max_size",
    ):
        _check(getattr(config, name) > 0, f"{name} must be positive, got {getattr(config, name)}")
    _check(
        config.limit_request_line <= config.limit_request_header_size,
        "limit_request_line cannot exceed limit_request_header_size",
    )
    _validate_tls(config)
    streams = config.http2_max_concurrent_streams
    _check(
        1 <= streams <= 2**31 - 1,
        f"http2_max_concurrent_streams must be positive, got {streams}",
    )
    window = config.http2_initial_window_size
    _check(
        65535 <= window <= 2**31 - 1,
        f"http2_initial_window_size must be in 65535..2147483647, got {window}",
    )
    _check(
        0 <= config.workers <= _MAX_WORKERS,
        f"workers must be in 0..{_MAX_WORKERS} (0 = one per CPU), got {config.workers}",
    )
    for name in ("timeout_worker_healthcheck", "reload_delay"):
        value = getattr(config, name)
        _check(_positive_number(value), f"{name} must be positive seconds, got {value!r}")
    _check(
        config.limit_max_requests is None or config.limit_max_requests > 0,
        f"limit_max_requests must be positive, got {config.limit_max_requests}",
    )
    _check(
        config.limit_max_requests_jitter >= 0,
        f"limit_max_requests_jitter must be >= 0, got {config.limit_max_requests_jitter}",
    )
    health = config.health_path
    _check(
        health is None or (health.startswith("/") and health.isascii() and " " not in health),
        f"health_path must be an ASCII path starting with '/', got {health!r}",
    )
    for entry in config.forwarded_allow_ips:
        if entry in ("*", "unix:"):
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"forwarded_allow_ips: {entry!r} is not an IP address or network"
            ) from None
    for item in config.headers:
        name, sep, value = item.partition(":")
        _check(bool(sep) and bool(name.strip()), f"header {item!r} must look like 'Name: value'")
        _check(
            all(33 <= ord(c) <= 126 and c not in '"(),/:;<=>?@[\\]{}' for c in name.strip()),
            f"header name {name.strip()!r} is not a valid token",
        )
        _check(
            all(c == "\t" or 32 <= ord(c) <= 126 or 128 <= ord(c) <= 255 for c in value),
            f"header value {value.strip()!r} has control characters",
        )


def _validate_tls(config: ServerConfig) -> None:
    """Settings that only make sense together; the files are read at start-up."""
    if config.ssl_certfile is None:
        for name in ("ssl_keyfile", "ssl_keyfile_password", "ssl_ca_certs", "ssl_ciphers"):
            _check(getattr(config, name) is None, f"{name} needs ssl_certfile (TLS is off)")
        _check(config.ssl_cert_reqs == "none", "ssl_cert_reqs needs ssl_certfile (TLS is off)")
    _check(
        config.ssl_cert_reqs == "none" or config.ssl_ca_certs is not None,
        f"ssl_cert_reqs={config.ssl_cert_reqs} needs ssl_ca_certs to verify client certificates",
    )


def config_options() -> tuple[OptionSpec, ...]:
    """Every setting of :class:`ServerConfig`, as the CLI and files see it."""
    return _OPTION_SPECS


_OPTION_SPECS: tuple[OptionSpec, ...] = option_specs(ServerConfig)
