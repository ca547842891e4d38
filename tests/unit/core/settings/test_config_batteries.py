"""Validation of the settings that pounce-extras features read."""

from __future__ import annotations

from typing import Any

import pytest

from pounce import ServerConfig, config_options


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"compression_min_size": -1}, "compression_min_size"),
        ({"compression_gzip_level": 0}, "compression_gzip_level"),
        ({"compression_gzip_level": 10}, "compression_gzip_level"),
        ({"compression_zstd_level": 20}, "compression_zstd_level"),
        ({"static": ("assets=./public",)}, "static prefix"),
        ({"static": ("/assets/=./public",)}, "static prefix"),
        ({"static": ("/assets",)}, "static"),
        ({"static": ("/assets=",)}, "static"),
        ({"static_index": ("a/b.html",)}, "static_index"),
        ({"static_index": ("..",)}, "static_index"),
        ({"static_max_age": -5}, "static_max_age"),
        ({"middleware": ("no_colon",)}, "middleware"),
        ({"middleware": ("mod:",)}, "middleware"),
        ({"cors_allow_origins": ("example.com",)}, "cors_allow_origins"),
        ({"cors_allow_origins": ("https://a.example/",)}, "cors_allow_origins"),
        ({"cors_allow_methods": ("GE T",)}, "cors_allow_methods"),
        ({"cors_allow_headers": ("x:y",)}, "cors_allow_headers"),
        ({"cors_max_age": -1}, "cors_max_age"),
        ({"hsts_max_age": -1}, "hsts_max_age"),
        ({"content_security_policy": "a\nb"}, "content_security_policy"),
        ({"request_id_header": "X Request"}, "request_id_header"),
        ({"rate_limit": 0.0}, "rate_limit"),
        ({"rate_limit": float("inf")}, "rate_limit"),
        ({"rate_limit_burst": 5}, "rate_limit_burst needs rate_limit"),
        ({"rate_limit": 1.0, "rate_limit_burst": 0}, "rate_limit_burst"),
        ({"rate_limit_key_header": "a b"}, "rate_limit_key_header"),
        ({"rate_limit_store": "mysql://x"}, "rate_limit_store"),
        ({"rate_limit_max_keys": 0}, "rate_limit_max_keys"),
        ({"limit_concurrency": 0}, "limit_concurrency"),
        ({"limit_queue": 5}, "limit_queue needs limit_concurrency"),
        ({"limit_concurrency": 1, "limit_queue": -1}, "limit_queue"),
        ({"limit_queue_timeout": 0}, "limit_queue_timeout"),
        ({"health_path": "healthz"}, "health_path"),
        ({"metrics_path": "metrics"}, "metrics_path"),
        ({"metrics_bind": "localhost"}, "metrics_bind"),
        ({"metrics_bind": "127.0.0.1:99999"}, "metrics_bind"),
        ({"sentry_dsn": "ftp://x"}, "sentry_dsn"),
        ({"log_format": "xml"}, "log_format"),
    ],
)
def test_invalid_values_are_refused(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ServerConfig(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"static": ("/=./public", "/assets=./a", "/a/b=./c")},
        {"static_index": ("index.html", "index.htm")},
        {"cors_allow_origins": ("*",), "cors_allow_methods": ("*",), "cors_allow_headers": ("*",)},
        {"cors_allow_origins": ("https://a.example", "http://localhost:3000")},
        {"rate_limit": 0.5, "rate_limit_burst": 1},
        {"rate_limit": 10.0, "rate_limit_store": "redis://:secret@127.0.0.1:6379/2"},
        {"rate_limit": 10.0, "rate_limit_store": "unix:///run/redis.sock"},
        {"limit_concurrency": 1, "limit_queue": 0},
        {"metrics_bind": "[::1]:9100"},
        {"metrics_bind": "0.0.0.0:0"},
        {"sentry_dsn": "https://key@o1.ingest.sentry.io/2"},
        {"hsts_max_age": 0, "content_security_policy": "default-src 'self'"},
    ],
)
def test_valid_values_are_accepted(changes: dict[str, Any]) -> None:
    ServerConfig(**changes)


def test_repeatable_and_separated_flags_parse_from_text() -> None:
    specs = {spec.name: spec for spec in config_options()}
    assert specs["static"].flag == "--static"
    assert specs["static"].separator is None  # repeated, not split
    assert specs["static"].parse("/a=./b") == ("/a=./b",)
    assert specs["middleware"].parse("pkg.mod:Factory") == ("pkg.mod:Factory",)
    assert specs["cors_allow_origins"].parse("https://a, https://b") == ("https://a", "https://b")
    assert specs["rate_limit"].parse("2.5") == 2.5
    assert specs["compression"].parse("off") is False


def test_secret_settings_are_marked() -> None:
    secret = {spec.name for spec in config_options() if spec.secret}
    assert {"sentry_dsn", "rate_limit_store"} <= secret


def test_each_battery_setting_names_its_feature() -> None:
    features = {spec.name: spec.feature for spec in config_options()}
    assert features["compression"] == "compression"
    assert features["metrics_bind"] == "metrics"
    assert features["log_format"] == "json_logs"
    assert features["host"] is None
