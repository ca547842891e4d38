"""``ServerConfig``: every server setting, declared once.

The config is a frozen, slotted, keyword-only dataclass validated at
construction. Workers share one instance without locks: nothing can change it
after ``__post_init__`` returns. Each field's metadata (see :mod:`pounce._settings.options`)
is the single declaration from which the CLI flags, the ``pounce.run()``
keywords, the config file keys and ``POUNCE_*`` variables
(:mod:`pounce._settings.sources`), the JSON Schema and the reference docs are derived.

Defaults are chosen to be safe on the open internet: every size and every wait
is bounded.

Why every field is declared here, and not beside the room that uses it:

* ``_settings`` is the lowest room of the core; every other room reads the
  config. A group of fields declared in ``_edges`` or ``_workers`` would make
  this module import upward, and the batteries' fields cannot live in
  pounce-extras at all: the core must know them when pounce-extras is not
  installed, to stop start-up with the ``pip install`` line when one is used.
* Groups declared as separate dataclasses cannot be joined into one slotted
  class: two slotted bases with fields conflict in instance layout, so the
  only form is a single-inheritance chain of about a dozen classes, whose
  order would be arbitrary and whose ``replace()``/``fields()`` would span
  them all. One class with commented sections (below) reads the same and
  keeps one table of every setting for the CLI, files, environment and docs.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import math
import os
import re
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pounce._settings.options import InvalidSetting, OptionSpec, option, option_specs

__all__ = ["LifespanMode", "LogLevel", "ServerConfig", "WorkerMode", "config_options"]

LifespanMode = Literal["auto", "on", "off"]
LoopChoice = Literal["auto", "asyncio", "uvloop"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
LogFormat = Literal["text", "json"]
CertReqs = Literal["none", "optional", "required"]
WorkerMode = Literal["auto", "thread", "process", "interpreter"]
WebSocketChoice = Literal["auto", "on", "off"]
HTTPChoice = Literal["auto"]

_MIB = 1024 * 1024
_MAX_WORKERS = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """All settings of a Pounce server. Build once; share freely."""

    # --- where to listen ---------------------------------------------------
    host: str = field(
        default="127.0.0.1",
        metadata=option("Bind socket to this host.", group="Binding", common=True),
    )
    port: int = field(
        default=8000,
        metadata=option(
            "Bind socket to this port (0 = any free port).", group="Binding", common=True
        ),
    )
    uds: str | None = field(
        default=None,
        metadata=option("Bind to a UNIX domain socket at this path.", group="Binding", common=True),
    )
    fd: int | None = field(
        default=None,
        metadata=option(
            "Serve on an already-bound socket given by file descriptor "
            "(systemd socket activation).",
            group="Binding",
            common=True,
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
            common=True,
        ),
    )
    app_dir: str = field(
        default=".",
        metadata=option(
            "Look for APP in this directory (it is put first on sys.path).",
            group="Application",
            common=True,
        ),
    )
    root_path: str = field(
        default="",
        metadata=option(
            "The ASGI root_path, when the app is mounted below a path prefix by a proxy.",
            group="Application",
            common=True,
        ),
    )
    lifespan: LifespanMode = field(
        default="auto",
        metadata=option(
            "Lifespan protocol: 'on' requires it, 'off' skips it, 'auto' uses it when "
            "the app supports it.",
            group="Application",
            common=True,
        ),
    )
    env_file: str | None = field(
        default=None,
        metadata=option(
            "Load environment variables from this file before importing the app.",
            group="Application",
            common=True,
        ),
    )

    loop: LoopChoice = field(
        default="auto",
        metadata=option(
            "Event loop: 'uvloop', 'asyncio', or 'auto' (uvloop when installed and, on "
            "free-threaded Python, built to keep the GIL off).",
            group="Application",
            value_aliases={"none": "asyncio", "zuvloop": "uvloop"},
        ),
    )

    # --- workers -----------------------------------------------------------
    workers: int = field(
        default=1,
        metadata=option(
            "Number of workers, each with its own event loop (0 = one per CPU); "
            "default: $WEB_CONCURRENCY when set, else 1.",
            group="Workers",
            env=("WEB_CONCURRENCY",),
            common=True,
        ),
    )
    worker_mode: WorkerMode = field(
        default="auto",
        metadata=option(
            "Run workers as threads of one process, as processes, or as subinterpreters "
            "of one process (CPython 3.14+); 'auto' uses threads on free-threaded Python "
            "(or for a single worker), processes otherwise.",
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
    limit_max_memory: int | None = field(
        default=None,
        metadata=option(
            "Replace a worker process whose memory (RSS) passes this many MiB, new worker "
            "first (none dropped). Thread workers share one process: past the limit, the "
            "whole generation is handed over as on SIGHUP. Linux only.",
            group="Workers",
            metavar="MIB",
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
    on_worker_start: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Import path (module:callable) of a function, sync or async, called in each "
            "worker with a WorkerInfo before its lifespan startup; if it raises, the "
            "worker fails to start (repeatable).",
            group="Workers",
            flag="--on-worker-start",
            metavar="MODULE:CALLABLE",
        ),
    )
    on_worker_draining: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Import path of a function called in each worker with a WorkerInfo when it "
            "begins to drain (shutdown, reload, retirement) (repeatable).",
            group="Workers",
            flag="--on-worker-draining",
            metavar="MODULE:CALLABLE",
        ),
    )
    on_worker_stop: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Import path of a function called in each worker with a WorkerInfo after its "
            "lifespan shutdown, as the worker ends (repeatable).",
            group="Workers",
            flag="--on-worker-stop",
            metavar="MODULE:CALLABLE",
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
            common=True,
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
            common=True,
        ),
    )
    forwarded_allow_ips: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata=option(
            "Comma-separated addresses or networks of trusted proxies; '*' trusts all "
            "(default: $FORWARDED_ALLOW_IPS when set).",
            group="Proxies",
            separator=",",
            env=("FORWARDED_ALLOW_IPS",),
            common=True,
        ),
    )

    # --- logging -----------------------------------------------------------
    log_level: LogLevel = field(
        default="info",
        metadata=option("Log level.", group="Logging", common=True),
    )
    access_log: bool = field(
        default=True,
        metadata=option("Log one line per request.", group="Logging", common=True),
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
    use_colors: bool | None = field(
        default=None,
        metadata=option(
            "Colour the level names of the default log format (default: when the log "
            "goes to a terminal).",
            group="Logging",
        ),
    )
    log_config: str | None = field(
        default=None,
        metadata=option(
            "A logging configuration file (.json dictConfig, .ini/.conf fileConfig, "
            ".yaml if PyYAML is installed).",
            group="Logging",
            common=True,
        ),
    )

    # --- TLS ---------------------------------------------------------------
    ssl_certfile: str | None = field(
        default=None,
        metadata=option(
            "Serve HTTPS (TLS 1.2 or later) with this PEM certificate (chain); "
            "the key may be in the same file.",
            group="TLS",
            common=True,
        ),
    )
    ssl_keyfile: str | None = field(
        default=None,
        metadata=option("The PEM private key of --ssl-certfile.", group="TLS", common=True),
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
            value_aliases={"0": "none", "1": "optional", "2": "required"},
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

    # --- HTTP/3 ------------------------------------------------------------
    http3: bool = field(
        default=False,
        metadata=option(
            "Serve HTTP/3 (QUIC) on a UDP socket at the TLS port and advertise it with "
            "Alt-Svc. Needs --ssl-certfile and the http3 extra (aioquic); not available "
            "on free-threaded builds.",
            group="HTTP/3",
        ),
    )
    http3_max_concurrent_streams: int = field(
        default=100,
        metadata=option(
            "Most HTTP/3 requests a client may have open on one QUIC connection.",
            group="HTTP/3",
        ),
    )
    http3_0rtt: bool = field(
        default=True,
        metadata=option(
            "Issue session tickets and accept 0-RTT early data for GET, HEAD and OPTIONS "
            "(other methods in early data get 425 Too Early).",
            group="HTTP/3",
        ),
    )

    # --- HTTP/1.1 ----------------------------------------------------------
    http: HTTPChoice = field(
        default="auto",
        metadata=option(
            "HTTP/1.1 implementation. Pounce has one (h11's rules, with a fast path for "
            "common requests); Uvicorn's names for its own are accepted and mean it.",
            group="HTTP",
            value_aliases={"h11": "auto", "httptools": "auto", "zttp": "auto"},
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
            "Close a keep-alive connection after this many idle seconds.",
            group="Timeouts",
            common=True,
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
    timeout_request: float | None = field(
        default=None,
        metadata=option(
            "Seconds the app has to complete a response, from the end of the request head; "
            "then it is cancelled and the client gets 504, or loses the connection (the "
            "HTTP/2 stream) if the response had started. Off by default: streaming "
            "responses and long polls are legitimate.",
            group="Timeouts",
        ),
    )
    timeout_write: float | None = field(
        default=60.0,
        metadata=option(
            "A client that reads nothing of its response for this many seconds is "
            "disconnected (the app hears http.disconnect); one that reads slowly is not. "
            "'none' waits forever.",
            group="Timeouts",
        ),
    )
    timeout_flow_control: float = field(
        default=20.0,
        metadata=option(
            "An HTTP/2 stream whose response waits this many seconds for a client that "
            "keeps its flow-control window shut is reset (other streams go on).",
            group="Timeouts",
        ),
    )
    timeout_graceful_shutdown: float = field(
        default=30.0,
        metadata=option(
            "On shutdown, wait this many seconds for in-flight requests before cancelling them.",
            group="Timeouts",
            common=True,
        ),
    )
    drain_content_types: tuple[str, ...] = field(
        default=("text/event-stream",),
        metadata=option(
            "A response of this content type that never ends by itself (server-sent events, "
            "a streamed long poll) is asked to end when a worker drains (shutdown, reload): "
            "its app hears http.disconnect, its client reconnects. Others get the whole "
            "grace period (repeatable; none to ask no response).",
            group="Timeouts",
            flag="--drain-content-type",
            metavar="TYPE",
        ),
    )

    # --- limits ------------------------------------------------------------
    limit_request_line: int = field(
        default=8190,
        metadata=option(
            "Maximum bytes in a request line; longer gets 414. At most "
            "--limit-request-header-size (a larger value is lowered to it).",
            group="Limits",
        ),
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
    limit_connections: int | None = field(
        default=10000,
        metadata=option(
            "Most connections one worker holds open; a connection past it is answered "
            "503 and closed ('none': no limit beyond the process's file descriptors).",
            group="Limits",
        ),
    )
    limit_request_body: int = field(
        default=100 * _MIB,
        metadata=option("Maximum request body bytes; more gets 413.", group="Limits"),
    )

    # --- batteries (pounce-extras) -----------------------------------------
    # Declared here like every setting; implemented by plugins of the
    # pounce-extras package (``feature`` names the plugin, ``extra`` the
    # install extra it needs). Core never imports them.
    compression: bool = field(
        default=True,
        metadata=option(
            "Compress responses (zstd, else gzip) for clients that accept it.",
            group="Compression",
            feature="compression",
        ),
    )
    compression_min_size: int = field(
        default=512,
        metadata=option(
            "Bodies smaller than this many bytes are sent uncompressed.",
            group="Compression",
            feature="compression",
        ),
    )
    compression_gzip_level: int = field(
        default=6,
        metadata=option("gzip level, 1 (fast) to 9 (small).", group="Compression"),
    )
    compression_zstd_level: int = field(
        default=3,
        metadata=option("zstd level, 1 (fast) to 19 (small).", group="Compression"),
    )

    static: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Serve the files of DIR under the URL path PREFIX, e.g. /assets=./public (repeatable).",
            group="Static files",
            metavar="PREFIX=DIR",
            feature="static",
        ),
    )
    static_index: tuple[str, ...] = field(
        default=("index.html",),
        metadata=option(
            "Comma-separated file names served for a directory path ending in '/'.",
            group="Static files",
            separator=",",
        ),
    )
    static_max_age: int | None = field(
        default=None,
        metadata=option(
            "Send 'cache-control: public, max-age=N' with static files.",
            group="Static files",
        ),
    )
    static_sendfile: bool = field(
        default=True,
        metadata=option(
            "Send static files with os.sendfile on plain TCP connections.",
            group="Static files",
        ),
    )

    middleware: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "ASGI middleware to wrap the app in, as module:factory; the factory is called "
            "with the app (repeatable; the first given is the outermost).",
            group="Middleware",
            metavar="MODULE:FACTORY",
            feature="middleware",
        ),
    )
    cors_allow_origins: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Comma-separated origins allowed to make cross-origin requests ('*': any); "
            "turns CORS on.",
            group="Middleware",
            separator=",",
            feature="cors",
        ),
    )
    cors_allow_methods: tuple[str, ...] = field(
        default=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
        metadata=option(
            "Comma-separated methods allowed in cross-origin requests ('*': any).",
            group="Middleware",
            separator=",",
        ),
    )
    cors_allow_headers: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Comma-separated request headers allowed in cross-origin requests ('*': any); "
            "CORS-safelisted headers are always allowed.",
            group="Middleware",
            separator=",",
        ),
    )
    cors_expose_headers: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "Comma-separated response headers cross-origin scripts may read.",
            group="Middleware",
            separator=",",
        ),
    )
    cors_allow_credentials: bool = field(
        default=False,
        metadata=option(
            "Allow cross-origin requests with credentials (cookies, authorization).",
            group="Middleware",
        ),
    )
    cors_max_age: int = field(
        default=600,
        metadata=option("Seconds a browser may cache a CORS preflight answer.", group="Middleware"),
    )
    security_headers: bool = field(
        default=False,
        metadata=option(
            "Add security headers (nosniff, frame options, referrer policy, HSTS on https) "
            "unless the app sets them.",
            group="Middleware",
            feature="security_headers",
        ),
    )
    hsts_max_age: int = field(
        default=31536000,
        metadata=option(
            "max-age of the Strict-Transport-Security header --security-headers sends "
            "on https (0: none).",
            group="Middleware",
        ),
    )
    content_security_policy: str | None = field(
        default=None,
        metadata=option(
            "A Content-Security-Policy header value for --security-headers to send.",
            group="Middleware",
            feature="security_headers",
        ),
    )
    request_id: bool = field(
        default=False,
        metadata=option(
            "Give every request an ID (kept from the request when valid, else generated) "
            "and echo it in the response.",
            group="Middleware",
            feature="request_id",
        ),
    )
    request_id_header: str = field(
        default="X-Request-ID",
        metadata=option("The header carrying the request ID.", group="Middleware"),
    )

    rate_limit: float | None = field(
        default=None,
        metadata=option(
            "Requests per second allowed per client (token bucket); more get 429.",
            group="Rate limiting",
            metavar="RATE",
            feature="rate_limit",
        ),
    )
    rate_limit_burst: int | None = field(
        default=None,
        metadata=option(
            "Requests a client may make at once before --rate-limit applies "
            "(default: the rate, rounded up).",
            group="Rate limiting",
            feature="rate_limit",
        ),
    )
    rate_limit_key_header: str | None = field(
        default=None,
        metadata=option(
            "Key clients by this request header (e.g. an API key) instead of their address.",
            group="Rate limiting",
            feature="rate_limit",
        ),
    )
    rate_limit_store: str = field(
        default="memory",
        metadata=option(
            "Where buckets live: 'memory' (one limit per process) or a redis:// URL "
            "(one limit across processes and machines).",
            group="Rate limiting",
            metavar="memory|redis://HOST:PORT/DB",
            feature="rate_limit",
            extra="redis",
            secret=True,  # the URL may hold a password
        ),
    )
    rate_limit_max_keys: int = field(
        default=100_000,
        metadata=option(
            "Clients remembered by the memory store; the least recently seen are forgotten.",
            group="Rate limiting",
        ),
    )

    limit_concurrency: int | None = field(
        default=None,
        metadata=option(
            "Requests handled at once; more wait in a queue, and get 503 when it is full.",
            group="Load shedding",
            feature="load_shedding",
        ),
    )
    limit_queue: int | None = field(
        default=None,
        metadata=option(
            "Requests that may wait for --limit-concurrency (default: as many as it allows).",
            group="Load shedding",
            feature="load_shedding",
        ),
    )
    limit_queue_timeout: float = field(
        default=10.0,
        metadata=option(
            "Seconds a request may wait in the queue before it gets 503.",
            group="Load shedding",
        ),
    )
    error_pages: bool = field(
        default=True,
        metadata=option(
            "Render the responses the server generates as HTML or JSON when the "
            "client's Accept prefers it (plain text otherwise).",
            group="Error pages",
            feature="error_pages",
        ),
    )
    debug: bool = field(
        default=False,
        metadata=option(
            "Show the traceback of an application error in its 500 response. Never in production.",
            group="Error pages",
            feature="error_pages",
        ),
    )

    server_timing: bool = field(
        default=False,
        metadata=option(
            "Add a Server-Timing header (parse and app durations; send as a trailer "
            "for clients that accept trailers).",
            group="Observability",
            feature="server_timing",
        ),
    )
    metrics: bool = field(
        default=False,
        metadata=option(
            "Expose Prometheus metrics.",
            group="Observability",
            feature="metrics",
            extra="metrics",
        ),
    )
    metrics_path: str = field(
        default="/metrics",
        metadata=option(
            "Path of the metrics on the main listener (when --metrics-bind is not given).",
            group="Observability",
            feature="metrics",
            extra="metrics",
        ),
    )
    metrics_bind: str | None = field(
        default=None,
        metadata=option(
            "Serve the metrics on a separate listener at HOST:PORT instead.",
            group="Observability",
            metavar="HOST:PORT",
            feature="metrics",
            extra="metrics",
        ),
    )
    otel: bool = field(
        default=False,
        metadata=option(
            "Record an OpenTelemetry server span per request, continuing a W3C traceparent.",
            group="Observability",
            feature="otel",
            extra="otel",
        ),
    )
    sentry_dsn: str | None = field(
        default=None,
        metadata=option(
            "Report application exceptions to Sentry at this DSN.",
            group="Observability",
            feature="sentry",
            extra="sentry",
            secret=True,
        ),
    )
    sentry_environment: str | None = field(
        default=None,
        metadata=option(
            "The environment name given to Sentry events.",
            group="Observability",
            feature="sentry",
            extra="sentry",
        ),
    )
    log_format: LogFormat = field(
        default="text",
        metadata=option(
            "Log lines as readable 'text' or as one JSON object per line, lifecycle "
            "events included ('json').",
            group="Logging",
            feature="json_logs",
        ),
    )
    # --- WebSocket ---------------------------------------------------------
    ws: WebSocketChoice = field(
        default="auto",
        metadata=option(
            "WebSocket support: 'auto' when wsproto is installed (otherwise upgrade "
            "requests are served as plain HTTP, with a note in the log), 'on' requires "
            "it, 'off' never upgrades.",
            group="WebSocket",
            value_aliases={
                "none": "off",
                "websockets": "on",
                "websockets-sansio": "on",
                "wsproto": "on",
            },
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
    ws_max_queue: int = field(
        default=32,
        metadata=option(
            "Stop reading from a WebSocket client while this many of its messages wait "
            "for the app (or 1 MiB of them); read again once a quarter as many wait.",
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
        # A choice may be given by another name of its value (Uvicorn's:
        # ws="wsproto", ssl_cert_reqs=ssl.CERT_REQUIRED): stored as our own.
        for spec in config_options():
            if spec.kind == "choice" and spec.value_aliases:
                value = getattr(self, spec.name)
                object.__setattr__(self, spec.name, spec.canonical(value))
            if spec.kind != "list":
                continue
            value = getattr(self, spec.name)
            if isinstance(value, str):
                value = spec.parse(value)
            elif not isinstance(value, tuple):
                try:
                    value = tuple(value)
                except TypeError:
                    raise InvalidSetting(
                        "{" + spec.name + "} must be a list of strings, got {v!r}", v=value
                    ) from None
            object.__setattr__(self, spec.name, value)
        _validate(self)
        # A request line is part of the head, so the head's limit bounds it
        # too; Uvicorn users set only the head's (--h11-max-incomplete-event-size).
        if self.limit_request_line > self.limit_request_header_size:
            object.__setattr__(self, "limit_request_line", self.limit_request_header_size)

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


# type "/" subtype, each an RFC 9110 token.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check(condition: bool, template: str, **values: object) -> None:
    """Refuse the config unless ``condition``; ``template`` names settings as ``{field}``."""
    if not condition:
        raise InvalidSetting(template, **values)


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
        field_ref = "{" + spec.name + "}"
        if value is None and spec.optional:
            continue
        if spec.kind == "bool":
            _check(
                isinstance(value, bool), field_ref + " must be true or false, got {v!r}", v=value
            )
        elif spec.kind == "int":
            _check(
                isinstance(value, int) and not isinstance(value, bool),
                field_ref + " must be an integer, got {v!r}",
                v=value,
            )
        elif spec.kind == "str":
            _check(isinstance(value, str), field_ref + " must be a string, got {v!r}", v=value)
        elif spec.kind == "choice":
            _check(
                value in spec.choices,
                field_ref + " must be one of {choices}, got {v!r}",
                choices=", ".join(spec.accepted),
                v=value,
            )
        elif spec.kind == "list":
            _check(
                all(isinstance(v, str) for v in value),
                field_ref + " must be a list of strings, got {v!r}",
                v=value,
            )
    _check(0 <= config.port <= 65535, "{port} must be in 0..65535, got {v}", v=config.port)
    _check(
        not (config.uds is not None and config.fd is not None),
        "{uds} and {fd} cannot both be given",
    )
    _check(config.fd is None or config.fd >= 0, "{fd} must be >= 0, got {v}", v=config.fd)
    _check(config.backlog > 0, "{backlog} must be positive, got {v}", v=config.backlog)
    root = config.root_path
    _check(
        root == "" or (root.startswith("/") and not root.endswith("/")),
        "{root_path} must be empty or start with '/' and not end with '/', got {v!r}",
        v=root,
    )
    for name in (
        "timeout_keep_alive",
        "timeout_request_header",
        "timeout_flow_control",
        "timeout_graceful_shutdown",
        "ws_close_timeout",
        "timeout_worker_healthcheck",
        "reload_delay",
    ):
        value = getattr(config, name)
        _check(
            _positive_number(value), "{" + name + "} must be positive seconds, got {v!r}", v=value
        )
    for name in ("ws_ping_interval", "ws_ping_timeout", "timeout_request", "timeout_write"):
        value = getattr(config, name)
        _check(
            value is None or _positive_number(value),
            "{" + name + "} must be positive seconds or none, got {v!r}",
            v=value,
        )
    for name in (
        "limit_request_line",
        "limit_request_headers",
        "limit_request_header_size",
        "limit_request_body",
        "ws_max_size",
        "ws_max_queue",
    ):
        value = getattr(config, name)
        _check(value > 0, "{" + name + "} must be positive, got {v}", v=value)
    _validate_tls(config)
    for kind in config.drain_content_types:
        # A media type without parameters, as the response's Content-Type
        # is compared (lowercase, parameters dropped); "none" asks none.
        _check(
            kind == "none" or _MEDIA_TYPE.fullmatch(kind) is not None,
            "{drain_content_types} must be media types such as text/event-stream, got {v!r}",
            v=kind,
        )
    streams = config.http2_max_concurrent_streams
    _check(
        1 <= streams <= 2**31 - 1,
        "{http2_max_concurrent_streams} must be positive, got {v}",
        v=streams,
    )
    _validate_http3(config)
    window = config.http2_initial_window_size
    _check(
        65535 <= window <= 2**31 - 1,
        "{http2_initial_window_size} must be in 65535..2147483647, got {v}",
        v=window,
    )
    _check(
        0 <= config.workers <= _MAX_WORKERS,
        "{workers} must be in 0..{most} (0 = one per CPU), got {v}",
        most=_MAX_WORKERS,
        v=config.workers,
    )
    _check(
        config.limit_connections is None or config.limit_connections > 0,
        "{limit_connections} must be positive, got {v}",
        v=config.limit_connections,
    )
    _check(
        config.limit_max_requests is None or config.limit_max_requests > 0,
        "{limit_max_requests} must be positive, got {v}",
        v=config.limit_max_requests,
    )
    _check(
        config.limit_max_memory is None or config.limit_max_memory > 0,
        "{limit_max_memory} must be positive, got {v}",
        v=config.limit_max_memory,
    )
    _check(
        config.limit_max_memory is None or os.path.exists("/proc/self/statm"),
        "{limit_max_memory} needs /proc to read the workers' memory (Linux)",
    )
    _check(
        config.limit_max_requests_jitter >= 0,
        "{limit_max_requests_jitter} must be >= 0, got {v}",
        v=config.limit_max_requests_jitter,
    )
    _check(
        config.worker_mode != "interpreter" or _interpreters_available(),
        "{worker_mode} interpreter needs CPython 3.14 or later (concurrent.interpreters, "
        "PEP 734); this is Python {version}",
        version=sys.version.split()[0],
    )
    _check(
        not (config.worker_mode == "interpreter" and config.loop == "uvloop"),
        "{worker_mode} interpreter cannot use {loop} uvloop: uvloop does not support "
        "subinterpreters",
    )
    health = config.health_path
    _check(
        health is None or (health.startswith("/") and health.isascii() and " " not in health),
        "{health_path} must be an ASCII path starting with '/', got {v!r}",
        v=health,
    )
    for entry in config.forwarded_allow_ips:
        if entry in ("*", "unix:"):
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidSetting(
                "{forwarded_allow_ips}: {v!r} is not an IP address or network", v=entry
            ) from None
    for item in config.headers:
        name, sep, value = item.partition(":")
        _check(
            bool(sep) and bool(name.strip()),
            "{headers} {v!r} must look like 'Name: value'",
            v=item,
        )
        _check(
            all(33 <= ord(c) <= 126 and c not in '"(),/:;<=>?@[\\]{}' for c in name.strip()),
            "{headers} name {v!r} is not a valid token",
            v=name.strip(),
        )
        _check(
            all(c == "\t" or 32 <= ord(c) <= 126 or 128 <= ord(c) <= 255 for c in value),
            "{headers} value {v!r} has control characters",
            v=value.strip(),
        )
    _validate_batteries(config)


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TOKEN_CHARS for c in text)


def _is_field_value(text: str) -> bool:
    return all(c == "\t" or 32 <= ord(c) <= 126 for c in text)


def _is_path(text: str) -> bool:
    return text.startswith("/") and _is_field_value(text) and " " not in text


def _validate_batteries(config: ServerConfig) -> None:
    """Settings of the pounce-extras features: shape and bounds only.

    Whether a directory exists or a middleware imports is checked by the
    feature itself when the server starts.
    """
    _check(
        config.compression_min_size >= 0,
        "{compression_min_size} must be >= 0, got {v}",
        v=config.compression_min_size,
    )
    _check(
        1 <= config.compression_gzip_level <= 9,
        "{compression_gzip_level} must be in 1..9, got {v}",
        v=config.compression_gzip_level,
    )
    # Levels above 19 need a window larger than the 8 MiB an HTTP client must
    # accept (RFC 9659 §3).
    _check(
        1 <= config.compression_zstd_level <= 19,
        "{compression_zstd_level} must be in 1..19, got {v}",
        v=config.compression_zstd_level,
    )
    for entry in config.static:
        prefix, sep, directory = entry.partition("=")
        _check(
            bool(sep) and bool(directory.strip()),
            "{static}: {v!r} must look like '/prefix=directory'",
            v=entry,
        )
        prefix = prefix.strip()
        _check(
            _is_path(prefix) and (prefix == "/" or not prefix.endswith("/")),
            "{static} prefix {v!r} must start with '/' and not end with '/'",
            v=prefix,
        )
    for name in config.static_index:
        _check(
            bool(name) and "/" not in name and "\\" not in name and name not in (".", ".."),
            "{static_index}: {v!r} must be a plain file name",
            v=name,
        )
    _check(
        config.static_max_age is None or config.static_max_age >= 0,
        "{static_max_age} must be >= 0, got {v}",
        v=config.static_max_age,
    )
    for path in config.middleware:
        module, sep, attribute = path.partition(":")
        _check(
            bool(sep) and bool(module) and bool(attribute),
            "{middleware}: {v!r} must look like 'module:factory'",
            v=path,
        )
    for origin in config.cors_allow_origins:
        _check(
            origin == "*" or ("://" in origin and not origin.endswith("/")),
            "{cors_allow_origins}: {v!r} must be '*' or scheme://host[:port]",
            v=origin,
        )
    for name in ("cors_allow_methods", "cors_allow_headers", "cors_expose_headers"):
        for item in getattr(config, name):
            _check(
                item == "*" or _is_token(item),
                "{" + name + "}: {v!r} is not a valid token",
                v=item,
            )
    _check(config.cors_max_age >= 0, "{cors_max_age} must be >= 0, got {v}", v=config.cors_max_age)
    _check(config.hsts_max_age >= 0, "{hsts_max_age} must be >= 0, got {v}", v=config.hsts_max_age)
    csp = config.content_security_policy
    _check(
        csp is None or (bool(csp.strip()) and _is_field_value(csp)),
        "{content_security_policy} must be a non-empty header value",
    )
    _check(
        _is_token(config.request_id_header),
        "{request_id_header} {v!r} is not a valid header name",
        v=config.request_id_header,
    )
    if config.rate_limit is None:
        _check(config.rate_limit_burst is None, "{rate_limit_burst} needs {rate_limit}")
    else:
        _check(
            _positive_number(config.rate_limit),
            "{rate_limit} must be a positive number of requests per second, got {v!r}",
            v=config.rate_limit,
        )
    _check(
        config.rate_limit_burst is None or config.rate_limit_burst >= 1,
        "{rate_limit_burst} must be >= 1, got {v}",
        v=config.rate_limit_burst,
    )
    _check(
        config.rate_limit_key_header is None or _is_token(config.rate_limit_key_header),
        "{rate_limit_key_header} {v!r} is not a valid header name",
        v=config.rate_limit_key_header,
    )
    store = config.rate_limit_store
    _check(
        store == "memory" or store.startswith(("redis://", "rediss://", "unix://")),
        "{rate_limit_store} must be 'memory' or a redis:// URL, got {v!r}",
        v=store,
    )
    _check(
        config.rate_limit_max_keys >= 1,
        "{rate_limit_max_keys} must be >= 1, got {v}",
        v=config.rate_limit_max_keys,
    )
    if config.limit_concurrency is None:
        _check(config.limit_queue is None, "{limit_queue} needs {limit_concurrency}")
    else:
        _check(
            config.limit_concurrency >= 1,
            "{limit_concurrency} must be >= 1, got {v}",
            v=config.limit_concurrency,
        )
    _check(
        config.limit_queue is None or config.limit_queue >= 0,
        "{limit_queue} must be >= 0, got {v}",
        v=config.limit_queue,
    )
    _check(
        _positive_number(config.limit_queue_timeout),
        "{limit_queue_timeout} must be positive seconds, got {v!r}",
        v=config.limit_queue_timeout,
    )
    _check(
        _is_path(config.metrics_path),
        "{metrics_path} must start with '/', got {v!r}",
        v=config.metrics_path,
    )
    if config.metrics_bind is not None:
        _, sep, port = config.metrics_bind.rpartition(":")
        _check(
            bool(sep) and port.isdigit() and 0 <= int(port) <= 65535,
            "{metrics_bind} must look like HOST:PORT, got {v!r}",
            v=config.metrics_bind,
        )
    dsn = config.sentry_dsn
    _check(
        dsn is None or dsn.startswith(("http://", "https://")),
        "{sentry_dsn} must be an http:// or https:// URL",
    )


def _interpreters_available() -> bool:
    if sys.version_info < (3, 14):
        return False
    try:
        return importlib.util.find_spec("concurrent.interpreters") is not None
    except ImportError:
        return False


def _validate_http3(config: ServerConfig) -> None:
    """HTTP/3 runs over QUIC, which is always TLS, on the TCP listener's port."""
    streams = config.http3_max_concurrent_streams
    _check(
        1 <= streams <= 2**16,
        "{http3_max_concurrent_streams} must be in 1..65536, got {v}",
        v=streams,
    )
    if not config.http3:
        return
    _check(
        config.ssl_certfile is not None,
        "{http3} needs TLS: QUIC is always encrypted, give {ssl_certfile} (and {ssl_keyfile})",
    )
    _check(
        config.uds is None and config.fd is None,
        "{http3} needs a host and port to bind a UDP socket (not {uds} or {fd})",
    )
    # The QUIC handshake does not ask for client certificates: HTTP/3 must not
    # become a way around mutual TLS.
    _check(
        config.ssl_cert_reqs == "none",
        "{http3} cannot be combined with {ssl_cert_reqs} (client certificates over QUIC "
        "are not supported)",
    )


def _validate_tls(config: ServerConfig) -> None:
    """Settings that only make sense together; the files are read at start-up."""
    if config.ssl_certfile is None:
        for name in ("ssl_keyfile", "ssl_keyfile_password", "ssl_ca_certs", "ssl_ciphers"):
            _check(
                getattr(config, name) is None, "{" + name + "} needs {ssl_certfile} (TLS is off)"
            )
        _check(config.ssl_cert_reqs == "none", "{ssl_cert_reqs} needs {ssl_certfile} (TLS is off)")
    _check(
        config.ssl_cert_reqs == "none" or config.ssl_ca_certs is not None,
        "{ssl_cert_reqs} {v} needs {ssl_ca_certs} to verify client certificates",
        v=config.ssl_cert_reqs,
    )


def config_options() -> tuple[OptionSpec, ...]:
    """Every setting of :class:`ServerConfig`, as the CLI and files see it."""
    return _OPTION_SPECS


_OPTION_SPECS: tuple[OptionSpec, ...] = option_specs(ServerConfig)
