"""``pounce check`` runs exactly the checks serving runs: one list, two readers.

Each case below is a setting serving refuses (here with pounce-extras,
wsproto or aioquic made to look absent); ``preflight`` must report the same
refusal, word for word, as a failed finding.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from pounce import ServerConfig, preflight
from pounce._runtime.exit_codes import EXIT_BAD_CONFIG
from pounce._serve.server import Server
from pounce._serve.startup import Startup
from support.apps import app as plain_app


@pytest.fixture
def without_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if pounce-extras were not installed: no entry point provides a feature."""
    from pounce._bridge import plugins
    from pounce._runtime import logs

    monkeypatch.setattr(plugins, "entry_points", lambda **_: ())
    monkeypatch.setattr(logs, "entry_points", lambda **_: ())


@pytest.fixture
def without_wsproto(monkeypatch: pytest.MonkeyPatch) -> None:
    import pounce._bridge.websocket_session as session

    monkeypatch.setattr(session, "websocket_available", lambda: False)


@pytest.fixture
def without_aioquic(monkeypatch: pytest.MonkeyPatch) -> None:
    from pounce._edges.http3 import support

    # A GIL build without aioquic (a free-threaded one is refused first, for its own reason).
    monkeypatch.setattr(support, "gil_enabled", lambda: True)
    monkeypatch.setattr(support, "_aioquic_installed", lambda: False)


REFUSED = [
    pytest.param({"metrics": True}, "without_extras", "--metrics needs pounce-extras[metrics]"),
    pytest.param({"rate_limit": 5.0}, "without_extras", "--rate-limit needs pounce-extras"),
    pytest.param({"limit_concurrency": 3}, "without_extras", "--limit-concurrency needs"),
    pytest.param({"static": ["/a=."]}, "without_extras", "--static needs pounce-extras"),
    pytest.param({"ws": "on"}, "without_wsproto", "--ws on needs wsproto installed"),
    pytest.param(
        {"http3": True, "ssl_certfile": "cert.pem"},
        "without_aioquic",
        "--http3 needs aioquic installed",
    ),
    pytest.param({"lifecycle_hooks": ["support.nowhere:hook"]}, None, "cannot load lifecycle"),
]


def _serve_refusal(config: ServerConfig, caplog: pytest.LogCaptureFixture) -> str:
    server = Server(config, plain_app)
    with caplog.at_level(logging.ERROR, logger="pounce.error"):
        code = asyncio.run(server.serve())
    assert code == EXIT_BAD_CONFIG
    assert not server.sockets, "refused before binding"
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    return record.getMessage()


@pytest.mark.parametrize(("options", "absent", "message"), REFUSED)
def test_check_refuses_exactly_what_serving_refuses(
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    absent: str | None,
    message: str,
) -> None:
    if absent is not None:
        request.getfixturevalue(absent)
    config = ServerConfig(**options)
    refused = _serve_refusal(config, caplog)
    assert message in refused
    failed = [f for f in preflight(plain_app, config, bind=False) if not f.ok]
    # Serving stops at the first refusal; check reports it, and any after it.
    assert failed[0].detail == refused


def test_check_reports_every_step_serving_runs_in_its_order() -> None:
    config = ServerConfig()
    names = [name for name, _ in Startup(config, plain_app).steps()]
    reported = [f.check for f in preflight(plain_app, config, bind=False)]
    assert reported[1 : 1 + len(names)] == names
    assert reported[0] == "logging"  # what pounce.run does before a Server runs
    assert reported[1 + len(names) :] == ["worker hooks", "app"]


def test_the_json_log_format_without_extras_fails_check_as_it_fails_serving(
    without_extras: None,
) -> None:
    from pounce._runtime import logs

    config = ServerConfig(log_format="json")
    with pytest.raises(ValueError, match="--log-format json needs pounce-extras") as refusal:
        logs.configure_logging_for(config)
    failed = [f for f in preflight(plain_app, config, bind=False) if not f.ok]
    assert (failed[0].check, failed[0].detail) == ("logging", str(refusal.value))
    assert [f.check for f in failed] == ["logging", "features"]


def test_check_reads_a_log_config_file_without_applying_it(tmp_path: Path) -> None:
    broken = tmp_path / "logging.json"
    broken.write_text("{not json")
    config = ServerConfig(log_config=str(broken))
    failed = [f for f in preflight(plain_app, config, bind=False) if not f.ok]
    assert [f.check for f in failed] == ["logging"]
    assert failed[0].detail.startswith(f"invalid log config file {str(broken)!r}: JSONDecodeError")
    good = tmp_path / "good.json"
    good.write_text('{"version": 1, "loggers": {"pounce": {"level": "CRITICAL"}}}')
    assert all(f.ok for f in preflight(plain_app, ServerConfig(log_config=str(good)), bind=False))
    assert logging.getLogger("pounce").level != logging.CRITICAL  # read, not applied
