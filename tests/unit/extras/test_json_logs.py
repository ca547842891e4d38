"""The JSON log formatter and the lifecycle events it logs."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from pounce import RequestCompleted, ServerDraining, ServerStarted
from pounce_extras._json_logs import JSONFormatter, JSONLogsPlugin, event_fields


def record(
    name: str, msg: str, args: tuple[object, ...] = (), **extra: object
) -> logging.LogRecord:
    rec = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_plain_record() -> None:
    line = JSONFormatter().format(record("pounce.error", "Started %s", ("ok",)))
    data = json.loads(line)
    assert data["level"] == "info"
    assert data["logger"] == "pounce.error"
    assert data["message"] == "Started ok"
    assert data["time"].endswith("+00:00")
    assert "\n" not in line


def test_an_access_record_has_its_fields() -> None:
    args = ("127.0.0.1:5000", "GET", "/x?a=1", "1.1", 200, 12, 3.14159)
    data = json.loads(
        JSONFormatter().format(record("pounce.access", "%s %s %s %s %d %d %.1f", args))
    )
    assert data["client"] == "127.0.0.1:5000"
    assert data["method"] == "GET"
    assert data["path"] == "/x?a=1"
    assert data["status"] == 200
    assert data["bytes"] == 12
    assert data["duration_ms"] == 3.142


def test_an_exception_is_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("pounce.error", logging.ERROR, "", 1, "failed", (), sys.exc_info())
    data = json.loads(JSONFormatter().format(rec))
    assert "ValueError: boom" in data["exception"]


def test_event_fields() -> None:
    event = ServerStarted(addresses=("http://127.0.0.1:1",), workers=1, worker_mode="single")
    fields = event_fields(event)
    assert fields["event"] == "ServerStarted"
    assert fields["addresses"] == ("http://127.0.0.1:1",)
    assert fields["timestamp"] == event.timestamp


def test_plugin_logs_server_events_but_not_per_request_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin = JSONLogsPlugin()
    with caplog.at_level(logging.INFO, logger="pounce.lifecycle"):
        plugin.on_event(ServerDraining(reason="SIGTERM"))
        plugin.on_event(
            RequestCompleted(
                worker_id=0,
                method="GET",
                path="/",
                http_version="1.1",
                status=200,
                bytes_sent=1,
                duration=0.1,
                client=None,
            )
        )
    assert [r.getMessage() for r in caplog.records] == ["ServerDraining"]
    data = json.loads(JSONFormatter().format(caplog.records[0]))
    assert data["event"] == "ServerDraining"
    assert data["reason"] == "SIGTERM"
    assert data["message"] == "ServerDraining"
