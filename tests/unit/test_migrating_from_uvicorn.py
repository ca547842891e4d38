"""docs/migrating-from-uvicorn.md tells the truth about every Uvicorn option.

The lists below are Uvicorn 0.55's, from ``uvicorn --help`` (its options and
their choices) and its source (the environment variables it reads). Every
one must have a row in the page; a row saying **Same** or **Accepted** must
name a flag the ``pounce`` command accepts, and one saying **Not accepted**
one it refuses. Uvicorn's values for our options must parse to ours.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from pounce import config_options
from pounce_cli import build_cli
from pounce_cli._serve import switch_values

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-uvicorn.md"

UVICORN_055_OPTIONS = (
    "--host", "--port", "--uds", "--fd", "--reload", "--reload-dir", "--reload-include",
    "--reload-exclude", "--reload-delay", "--workers", "--loop", "--http", "--http2", "--ws",
    "--ws-max-size", "--ws-max-queue", "--ws-ping-interval", "--ws-ping-timeout",
    "--ws-per-message-deflate", "--lifespan", "--interface", "--env-file", "--log-config",
    "--log-level", "--access-log", "--no-access-log", "--use-colors", "--no-use-colors",
    "--proxy-headers", "--no-proxy-headers", "--server-header", "--no-server-header",
    "--date-header", "--no-date-header", "--forwarded-allow-ips", "--root-path",
    "--limit-concurrency", "--backlog", "--limit-max-requests", "--limit-max-requests-jitter",
    "--timeout-keep-alive", "--timeout-graceful-shutdown", "--timeout-worker-healthcheck",
    "--ssl-keyfile", "--ssl-certfile", "--ssl-keyfile-password", "--ssl-version",
    "--ssl-cert-reqs", "--ssl-ca-certs", "--ssl-ciphers", "--header", "--version", "--app-dir",
    "--h11-max-incomplete-event-size", "--reset-contextvars", "--factory", "--help",
)  # fmt: skip
UVICORN_055_VARIABLES = (
    "UVICORN_APP",
    "UVICORN_<OPTION>",
    "WEB_CONCURRENCY",
    "FORWARDED_ALLOW_IPS",
)
# The choices `uvicorn --help` offers (and the ones its config takes).
UVICORN_055_VALUES = {
    "--loop": ("auto", "asyncio", "uvloop", "zuvloop", "none"),
    "--http": ("auto", "h11", "httptools", "zttp"),
    "--ws": ("auto", "websockets", "websockets-sansio", "wsproto", "none"),
    "--lifespan": ("auto", "on", "off"),
    "--log-level": ("critical", "error", "warning", "info", "debug", "trace"),
    "--ssl-cert-reqs": ("0", "1", "2"),
}
ROW = re.compile(r"^\| ([^|]+?) \| \*\*(Same|Accepted|Not accepted)\*\*", re.M)


def _rows() -> dict[str, str]:
    """Each Uvicorn flag or variable of the page's tables, and its verdict."""
    rows: dict[str, str] = {}
    for names, verdict in ROW.findall(DOC.read_text()):
        for name in re.findall(r"`([^`]+)`", names):
            for part in name.split(" / "):
                rows[part.split()[0]] = verdict
    return rows


def _accepted_flags() -> set[str]:
    root = typer.main.get_command(build_cli())
    serve = root.commands["serve"]  # type: ignore[attr-defined]
    flags = {"--help", "--help-all"}
    for param in serve.params:
        flags.update(getattr(param, "opts", ()))
        flags.update(getattr(param, "secondary_opts", ()))
    return flags


def test_every_uvicorn_option_and_variable_has_a_row() -> None:
    rows = _rows()
    missing = [name for name in (*UVICORN_055_OPTIONS, *UVICORN_055_VARIABLES) if name not in rows]
    assert missing == []


def test_what_the_page_says_is_accepted_is_and_what_it_says_is_not_is_not() -> None:
    accepted = _accepted_flags()
    for name, verdict in _rows().items():
        if not name.startswith("--"):
            continue
        if verdict == "Not accepted":
            assert name not in accepted, f"{name}: the page says it is refused"
        else:
            assert name in accepted, f"{name}: the page says it works"


@pytest.mark.parametrize(
    ("flag", "value"),
    [(flag, value) for flag, values in UVICORN_055_VALUES.items() for value in values],
)
def test_uvicorns_values_parse(flag: str, value: str) -> None:
    (spec,) = [spec for spec in config_options() if spec.flag == flag]
    assert spec.parse(value) in spec.choices


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--ws-per-message-deflate", "false"], ["--no-ws-per-message-deflate"]),
        (["--ws-per-message-deflate", "True"], ["--ws-per-message-deflate"]),
        (["--access-log=0", "a:b"], ["--no-access-log", "a:b"]),
        (["--access-log=yes", "a:b"], ["--access-log", "a:b"]),
        (["--reload", "a:b"], ["--reload", "a:b"]),  # an app is never a value
        (["--reload", "--port", "1"], ["--reload", "--port", "1"]),
        (["--port", "0", "--factory", "no"], ["--port", "0", "--no-factory"]),
        (["--", "--reload", "false"], ["--", "--reload", "false"]),
        (["--host", "true"], ["--host", "true"]),  # not a switch
        (["--access-log=maybe"], ["--access-log=maybe"]),  # left for the parser to refuse
    ],
)
def test_a_switch_takes_uvicorns_boolean_value(args: list[str], expected: list[str]) -> None:
    assert switch_values(["serve", *args]) == ["serve", *expected]
