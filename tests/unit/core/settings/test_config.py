"""``ServerConfig``: safe defaults, validation at construction, immutability."""

from __future__ import annotations

import dataclasses
import math
import re
import ssl
import sys
from typing import Any

import pytest

from pounce import InvalidSetting, ServerConfig, config_options

# -------------------------------------------------------------- defaults

EXPECTED_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 8000,
    "uds": None,
    "fd": None,
    "backlog": 2048,
    "factory": False,
    "app_dir": ".",
    "root_path": "",
    "lifespan": "auto",
    "loop": "auto",
    "workers": 1,
    "worker_mode": "auto",
    "timeout_worker_healthcheck": 30.0,
    "limit_max_requests": None,
    "limit_max_memory": None,
    "limit_max_requests_jitter": 0,
    "on_worker_start": (),
    "on_worker_draining": (),
    "on_worker_stop": (),
    "health_path": None,
    "reload": False,
    "reload_dirs": (),
    "reload_includes": (),
    "reload_excludes": (),
    "reload_delay": 0.25,
    "env_file": None,
    "proxy_headers": True,
    "forwarded_allow_ips": ("127.0.0.1", "::1"),
    "log_level": "info",
    "access_log": True,
    "lifecycle_hooks": (),
    "log_config": None,
    "server_header": True,
    "date_header": True,
    "headers": (),
    "ssl_certfile": None,
    "ssl_keyfile": None,
    "ssl_keyfile_password": None,
    "ssl_ca_certs": None,
    "ssl_cert_reqs": "none",
    "ssl_ciphers": None,
    "http2": True,
    "h2c": True,
    "http2_max_concurrent_streams": 100,
    "http2_initial_window_size": 65535,
    "http3": False,
    "http3_max_concurrent_streams": 100,
    "http3_0rtt": True,
    "timeout_keep_alive": 5.0,
    "timeout_request_header": 10.0,
    "timeout_request": None,
    "timeout_write": 60.0,
    "timeout_flow_control": 20.0,
    "timeout_graceful_shutdown": 30.0,
    "drain_content_types": ("text/event-stream",),
    "limit_request_line": 8190,
    "limit_request_headers": 100,
    "limit_request_header_size": 16384,
    "limit_connections": 10000,
    "limit_request_body": 100 * 1024 * 1024,
    "http": "auto",
    # Settings of the pounce-extras features.
    "compression": True,
    "compression_min_size": 512,
    "compression_gzip_level": 6,
    "compression_zstd_level": 3,
    "static": (),
    "static_index": ("index.html",),
    "static_max_age": None,
    "static_sendfile": True,
    "middleware": (),
    "cors_allow_origins": (),
    "cors_allow_methods": ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
    "cors_allow_headers": (),
    "cors_expose_headers": (),
    "cors_allow_credentials": False,
    "cors_max_age": 600,
    "security_headers": False,
    "hsts_max_age": 31536000,
    "content_security_policy": None,
    "request_id": False,
    "request_id_header": "X-Request-ID",
    "rate_limit": None,
    "rate_limit_burst": None,
    "rate_limit_key_header": None,
    "rate_limit_store": "memory",
    "rate_limit_max_keys": 100_000,
    "limit_concurrency": None,
    "limit_queue": None,
    "limit_queue_timeout": 10.0,
    "error_pages": True,
    "debug": False,
    "server_timing": False,
    "metrics": False,
    "metrics_path": "/metrics",
    "metrics_bind": None,
    "otel": False,
    "sentry_dsn": None,
    "sentry_environment": None,
    "log_format": "text",
    "use_colors": None,
    "ws": "auto",
    "ws_max_size": 16 * 1024 * 1024,
    "ws_max_queue": 32,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
    "ws_per_message_deflate": True,
    "ws_close_timeout": 5.0,
}


def test_defaults() -> None:
    config = ServerConfig()
    assert {f.name: getattr(config, f.name) for f in dataclasses.fields(config)} == (
        EXPECTED_DEFAULTS
    )


# Worker recycling (--limit-max-requests) is a policy, not a bound on what a
# client can make the server do: it is off by default. So is the concurrency
# limit of load shedding (``None``), a pounce-extras feature, and
# --timeout-request, which bounds the app's own time: streaming responses and
# long polls are legitimate (see docs/security.md).
_RECYCLING = ("limit_max_requests", "limit_max_requests_jitter", "timeout_request")


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, v in EXPECTED_DEFAULTS.items()
        if (n.startswith(("timeout_", "limit_")) or n.endswith(("_timeout", "_interval", "_size")))
        and n not in _RECYCLING
        and v is not None
    ],
)
def test_every_wait_and_size_is_bounded_by_default(name: str) -> None:
    value = getattr(ServerConfig(), name)
    assert isinstance(value, int | float)
    assert 0 < value < math.inf


def test_default_binding_is_loopback_only() -> None:
    assert ServerConfig().host == "127.0.0.1"


# ------------------------------------------------------------ validation

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"host": None}, "host must be a string, got None"),
    ({"port": -1}, "port must be in 0..65535, got -1"),
    ({"port": 65536}, "port must be in 0..65535, got 65536"),
    ({"port": "80"}, "port must be an integer, got '80'"),
    ({"port": 80.0}, "port must be an integer, got 80.0"),
    ({"port": True}, "port must be an integer, got True"),
    ({"uds": 5}, "uds must be a string, got 5"),
    ({"fd": -1}, "fd must be >= 0, got -1"),
    ({"uds": "/tmp/s", "fd": 3}, "uds and fd cannot both be given"),
    ({"backlog": 0}, "backlog must be positive, got 0"),
    ({"factory": "yes"}, "factory must be true or false, got 'yes'"),
    ({"factory": 1}, "factory must be true or false, got 1"),
    ({"app_dir": None}, "app_dir must be a string, got None"),
    ({"root_path": "api"}, "root_path must be empty or start with '/'"),
    ({"root_path": "/api/"}, "root_path must be empty or start with '/' and not end with '/'"),
    ({"lifespan": "maybe"}, "lifespan must be one of auto, on, off, got 'maybe'"),
    (
        {"log_level": "verbose"},
        "log_level must be one of critical, error, warning, info, debug, trace",
    ),
    ({"log_level": "INFO"}, "log_level must be one of"),
    ({"forwarded_allow_ips": ["10.0.0.300"]}, "forwarded_allow_ips: '10.0.0.300' is not an IP"),
    ({"forwarded_allow_ips": ["proxy.local"]}, "forwarded_allow_ips: 'proxy.local' is not an IP"),
    ({"forwarded_allow_ips": [1]}, "forwarded_allow_ips must be a list of strings"),
    ({"headers": ["NoColon"]}, "headers 'NoColon' must look like 'Name: value'"),
    ({"headers": [": value"]}, "headers ': value' must look like 'Name: value'"),
    ({"headers": ["Bad Name: v"]}, "headers name 'Bad Name' is not a valid token"),
    ({"headers": ["X-A: a\r\nInjected: 1"]}, r"headers value 'a\r\nInjected: 1' has control"),
    ({"headers": ["X-A: a\x00"]}, r"headers value 'a\x00' has control characters"),
    ({"headers": ["X-A: a\x7f"]}, r"headers value 'a\x7f' has control characters"),
    ({"timeout_keep_alive": 0}, "timeout_keep_alive must be positive seconds, got 0"),
    ({"timeout_keep_alive": -1.0}, "timeout_keep_alive must be positive seconds"),
    ({"timeout_request_header": math.inf}, "timeout_request_header must be positive seconds"),
    ({"timeout_request_header": math.nan}, "timeout_request_header must be positive seconds"),
    ({"drain_content_types": ("text event",)}, "drain_content_types must be media types"),
    ({"drain_content_types": ("text/plain; x=1",)}, "drain_content_types must be media types"),
    ({"timeout_graceful_shutdown": True}, "timeout_graceful_shutdown must be positive seconds"),
    ({"timeout_graceful_shutdown": "30"}, "timeout_graceful_shutdown must be positive seconds"),
    ({"limit_request_line": 0}, "limit_request_line must be positive, got 0"),
    ({"limit_request_headers": -5}, "limit_request_headers must be positive, got -5"),
    ({"limit_request_header_size": 0}, "limit_request_header_size must be positive"),
    ({"limit_request_body": 0}, "limit_request_body must be positive, got 0"),
    ({"limit_request_body": 1.5}, "limit_request_body must be an integer, got 1.5"),
    ({"ws_max_queue": 0}, "ws_max_queue must be positive, got 0"),
    ({"ssl_keyfile": "k.pem"}, "ssl_keyfile needs ssl_certfile (TLS is off)"),
    ({"ssl_keyfile_password": "x"}, "ssl_keyfile_password needs ssl_certfile"),
    ({"ssl_ca_certs": "ca.pem"}, "ssl_ca_certs needs ssl_certfile"),
    ({"ssl_ciphers": "ECDHE"}, "ssl_ciphers needs ssl_certfile"),
    ({"ssl_cert_reqs": "required"}, "ssl_cert_reqs needs ssl_certfile"),
    (
        {"ssl_certfile": "c.pem", "ssl_cert_reqs": "optional"},
        "ssl_cert_reqs optional needs ssl_ca_certs",
    ),
    ({"ssl_certfile": "c.pem", "ssl_cert_reqs": "3"}, "ssl_cert_reqs must be one of none,"),
    ({"ssl_certfile": "c.pem", "ssl_cert_reqs": 3}, "ssl_cert_reqs must be one of none,"),
    ({"http": "hypercorn"}, "http must be one of auto, h11, httptools, zttp, got 'hypercorn'"),
    ({"loop": "trio"}, "loop must be one of auto, asyncio, uvloop, none, zuvloop, got 'trio'"),
    ({"http2": "yes"}, "http2 must be true or false"),
    ({"http2_max_concurrent_streams": 0}, "http2_max_concurrent_streams must be positive"),
    ({"http2_initial_window_size": 1024}, "http2_initial_window_size must be in 65535.."),
    ({"http2_initial_window_size": 2**31}, "http2_initial_window_size must be in 65535.."),
    ({"http3": True}, "http3 needs TLS"),
    (
        {"http3": True, "ssl_certfile": "c.pem", "uds": "/tmp/s.sock"},
        "http3 needs a host and port",
    ),
    ({"http3_max_concurrent_streams": 0}, "http3_max_concurrent_streams must be in 1..65536"),
    (
        {
            "http3": True,
            "ssl_certfile": "c.pem",
            "ssl_ca_certs": "ca.pem",
            "ssl_cert_reqs": "required",
        },
        "http3 cannot be combined with ssl_cert_reqs",
    ),
    ({"timeout_flow_control": 0}, "timeout_flow_control must be positive seconds"),
    ({"workers": -1}, "workers must be in 0..1024 (0 = one per CPU), got -1"),
    ({"workers": 5000}, "workers must be in 0..1024"),
    (
        {"worker_mode": "fork"},
        "worker_mode must be one of auto, thread, process, interpreter, got 'fork'",
    ),
    ({"timeout_worker_healthcheck": 0}, "timeout_worker_healthcheck must be positive seconds"),
    ({"reload_delay": -1}, "reload_delay must be positive seconds"),
    ({"limit_max_requests": 0}, "limit_max_requests must be positive, got 0"),
    ({"limit_max_requests_jitter": -1}, "limit_max_requests_jitter must be >= 0, got -1"),
    ({"limit_max_memory": 0}, "limit_max_memory must be positive, got 0"),
    ({"forwarded_allow_ips": 5}, "forwarded_allow_ips must be a list of strings, got 5"),
    ({"health_path": "healthz"}, "health_path must be an ASCII path starting with '/'"),
    ({"health_path": "/h\u00e9"}, "health_path must be an ASCII path starting with '/'"),
    ({"health_path": "/a b"}, "health_path must be an ASCII path starting with '/'"),
    ({"reload_dirs": [1]}, "reload_dirs must be a list of strings"),
    ({"ws": "yes"}, "ws must be one of auto, on, off, none, websockets, websockets-sansio, "),
    ({"ws_max_size": 0}, "ws_max_size must be positive, got 0"),
    ({"ws_ping_interval": 0}, "ws_ping_interval must be positive seconds or none, got 0"),
    ({"ws_ping_timeout": -1.0}, "ws_ping_timeout must be positive seconds or none"),
    ({"ws_ping_timeout": math.inf}, "ws_ping_timeout must be positive seconds or none"),
    ({"ws_close_timeout": None}, "ws_close_timeout must be positive seconds"),
    ({"ws_per_message_deflate": "no"}, "ws_per_message_deflate must be true or false"),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [pytest.param(c, m, id=",".join(f"{k}={v!r}" for k, v in c.items())) for c, m in INVALID],
)
def test_invalid_values_raise_value_error_naming_the_setting(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        ServerConfig(**changes)


@pytest.mark.parametrize(
    "changes", [{"forwarded_allow_ips": 5}, {"headers": None}], ids=["ips-int", "headers-none"]
)
def test_non_iterable_list_setting_raises_value_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        ServerConfig(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"port": 0},
        {"port": 65535},
        {"fd": 0},
        {"uds": "/run/pounce.sock"},
        {"root_path": "/api/v1"},
        {"forwarded_allow_ips": ["*"]},
        {"forwarded_allow_ips": ["unix:"]},
        {"forwarded_allow_ips": ["10.0.0.0/8", "2001:db8::/32", "192.168.1.1"]},
        {"forwarded_allow_ips": ["10.0.0.1/8"]},  # host bits set: not strict
        {"headers": ["X-Frame-Options: DENY", "Cache-Control: no-cache, no-store"]},
        {"headers": ["X-Empty:"]},
        {"timeout_keep_alive": 1},
        {"timeout_keep_alive": 0.001},
        {"limit_request_line": 16384},
        {"ssl_certfile": "c.pem", "ssl_ca_certs": "ca.pem", "ssl_cert_reqs": "required"},
        {"http2_initial_window_size": 2**31 - 1},
        {"http2": False, "h2c": False},
    ],
    ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()),
)
def test_valid_edge_values_are_accepted(changes: dict[str, Any]) -> None:
    config = ServerConfig(**changes)
    for name, value in changes.items():
        assert getattr(config, name) == (tuple(value) if isinstance(value, list) else value)


def test_sequences_are_normalized_to_tuples() -> None:
    config = ServerConfig(forwarded_allow_ips=["10.0.0.1"], headers=["X-A: 1"])  # type: ignore[arg-type]
    assert config.forwarded_allow_ips == ("10.0.0.1",)
    assert config.headers == ("X-A: 1",)
    assert hash(config) == hash(
        ServerConfig(forwarded_allow_ips=("10.0.0.1",), headers=("X-A: 1",))
    )


def test_comma_separated_string_of_proxies_is_split() -> None:
    config = ServerConfig(forwarded_allow_ips=" 10.0.0.1, ,10.0.0.2 ")  # type: ignore[arg-type]
    assert config.forwarded_allow_ips == ("10.0.0.1", "10.0.0.2")


def test_a_single_header_given_as_a_string_keeps_its_commas() -> None:
    config = ServerConfig(headers="Cache-Control: no-cache, no-store")  # type: ignore[arg-type]
    assert config.headers == ("Cache-Control: no-cache, no-store",)


def test_parsed_headers() -> None:
    config = ServerConfig(headers=("X-Frame-Options:  DENY ", "Link: </a>; rel=preload"))
    assert config.parsed_headers == (
        (b"x-frame-options", b"DENY"),
        (b"link", b"</a>; rel=preload"),
    )


# ---------------------------------------------------------- immutability


def test_config_is_frozen_and_slotted() -> None:
    config = ServerConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]
    assert not hasattr(config, "__dict__")


def test_config_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        ServerConfig("0.0.0.0")  # type: ignore[call-arg]


def test_unknown_setting_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        ServerConfig(prot=80)  # type: ignore[call-arg]


def test_replace_returns_a_validated_copy() -> None:
    config = ServerConfig(port=9000)
    changed = config.replace(host="0.0.0.0", limit_request_body=1024)
    assert (changed.host, changed.port, changed.limit_request_body) == ("0.0.0.0", 9000, 1024)
    assert (config.host, config.limit_request_body) == ("127.0.0.1", 100 * 1024 * 1024)
    assert changed == ServerConfig(port=9000, host="0.0.0.0", limit_request_body=1024)


def test_replace_validates() -> None:
    with pytest.raises(ValueError, match=r"port must be in 0\.\.65535"):
        ServerConfig().replace(port=70000)
    with pytest.raises(ValueError, match="uds and fd cannot both be given"):
        ServerConfig(uds="/tmp/s").replace(fd=3)


def test_replace_with_unknown_setting_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        ServerConfig().replace(prot=80)


def test_every_field_is_an_option() -> None:
    assert [spec.name for spec in config_options()] == [
        f.name for f in dataclasses.fields(ServerConfig)
    ]


def test_the_keyfile_password_is_secret_and_never_shown() -> None:
    config = ServerConfig(ssl_certfile="c.pem", ssl_keyfile_password="hunter2")
    assert "hunter2" not in repr(config)
    (spec,) = [s for s in config_options() if s.name == "ssl_keyfile_password"]
    assert spec.secret


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="checks the refusal before 3.14")
def test_interpreter_workers_need_python_3_14() -> None:
    with pytest.raises(ValueError, match=r"worker_mode interpreter needs CPython 3\.14"):
        ServerConfig(worker_mode="interpreter")


@pytest.mark.skipif(sys.version_info < (3, 14), reason="subinterpreter workers need 3.14+")
def test_interpreter_workers_are_accepted_on_python_3_14() -> None:
    assert ServerConfig(worker_mode="interpreter").worker_mode == "interpreter"


# ------------------------------------------------------------ Uvicorn's values


@pytest.mark.parametrize(
    ("changes", "name", "stored"),
    [
        ({"ws": "websockets"}, "ws", "on"),
        ({"ws": "websockets-sansio"}, "ws", "on"),
        ({"ws": "wsproto"}, "ws", "on"),
        ({"ws": "none"}, "ws", "off"),
        ({"loop": "none"}, "loop", "asyncio"),
        ({"loop": "zuvloop"}, "loop", "uvloop"),
        ({"http": "h11"}, "http", "auto"),
        ({"http": "httptools"}, "http", "auto"),
        ({"ssl_certfile": "c.pem", "ssl_cert_reqs": 0}, "ssl_cert_reqs", "none"),
        ({"ssl_certfile": "c.pem", "ssl_cert_reqs": "0"}, "ssl_cert_reqs", "none"),
        (
            {"ssl_certfile": "c.pem", "ssl_ca_certs": "ca", "ssl_cert_reqs": ssl.CERT_OPTIONAL},
            "ssl_cert_reqs",
            "optional",
        ),
        (
            {"ssl_certfile": "c.pem", "ssl_ca_certs": "ca", "ssl_cert_reqs": 2},
            "ssl_cert_reqs",
            "required",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_uvicorns_values_are_stored_as_ours(
    changes: dict[str, Any], name: str, stored: str
) -> None:
    assert getattr(ServerConfig(**changes), name) == stored


def test_a_boolean_is_not_taken_for_a_numbered_choice() -> None:
    with pytest.raises(ValueError, match="ssl_cert_reqs must be one of"):
        ServerConfig(ssl_certfile="c.pem", ssl_cert_reqs=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("head", "line", "expected"),
    [
        (4096, None, 4096),  # Uvicorn's --h11-max-incomplete-event-size alone
        (100, None, 100),
        (20000, None, 8190),
        (16384, 20000, 16384),
        (16384, 100, 100),
    ],
)
def test_the_request_line_limit_never_exceeds_the_head_limit(
    head: int, line: int | None, expected: int
) -> None:
    changes: dict[str, Any] = {"limit_request_header_size": head}
    if line is not None:
        changes["limit_request_line"] = line
    config = ServerConfig(**changes)
    assert (config.limit_request_header_size, config.limit_request_line) == (head, expected)


# ------------------------------------------------------------ error wording


def test_a_refusal_names_its_settings_as_placeholders() -> None:
    with pytest.raises(InvalidSetting) as info:
        ServerConfig(limit_queue=3)
    assert info.value.fields == ("limit_queue", "limit_concurrency")
    assert str(info.value) == "limit_queue needs limit_concurrency"
    assert info.value.render(str.upper) == "LIMIT_QUEUE needs LIMIT_CONCURRENCY"


def test_values_in_a_refusal_are_not_renamed() -> None:
    with pytest.raises(InvalidSetting) as info:
        ServerConfig(timeout_keep_alive=-1)
    assert info.value.fields == ("timeout_keep_alive",)
    assert info.value.render(lambda name: "--timeout-keep-alive") == (
        "--timeout-keep-alive must be positive seconds, got -1"
    )


def test_every_refusal_names_a_setting() -> None:
    for changes, _ in INVALID:
        with pytest.raises(InvalidSetting) as info:
            ServerConfig(**changes)
        assert info.value.fields, changes
        assert set(info.value.fields) <= {f.name for f in dataclasses.fields(ServerConfig)}
