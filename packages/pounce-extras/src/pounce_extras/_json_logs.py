"""``--log-format json``: one JSON object per log line, lifecycle events included.

Every record of the ``pounce`` loggers becomes an object with ``time`` (UTC,
ISO 8601), ``level``, ``logger`` and ``message``, plus ``exception`` when
there is a traceback. Access log records also carry their parts as fields
(``client``, ``method``, ``path``, ``http_version``, ``status``, ``bytes``,
``duration_ms``), so log pipelines need no regular expression. The server's
lifecycle events (started, draining, stopped, worker events...) are logged on
``pounce.lifecycle`` with ``event`` (the event's class name) and the event's
fields; per-request and per-connection events are left out, as the access
log already has one line per request.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime
from typing import Any

from pounce import (
    ConnectionClosed,
    ConnectionOpened,
    LifecycleEvent,
    RequestCompleted,
    ServerPlugin,
)

__all__ = ["JSONFormatter", "JSONLogsPlugin"]

LIFECYCLE_LOGGER = "pounce.lifecycle"
_EVENT = "pounce_event"
# The access log's arguments, in the order the server logs them.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status", "bytes", "duration_ms")
_QUIET = (RequestCompleted, ConnectionOpened, ConnectionClosed)


class JSONFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "pounce.access" and isinstance(args, tuple) and len(args) == 7:
            data.update(zip(_ACCESS_FIELDS, args, strict=True))
            data["duration_ms"] = round(float(data["duration_ms"]), 3)
        event = getattr(record, _EVENT, None)
        if isinstance(event, dict):
            for key, value in event.items():
                data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str)


def event_fields(event: LifecycleEvent) -> dict[str, Any]:
    """An event as ``{"event": name, field: value...}``."""
    fields: dict[str, Any] = {"event": type(event).__name__}
    for field in dataclasses.fields(event):
        fields[field.name] = getattr(event, field.name)
    return fields


class JSONLogsPlugin(ServerPlugin):
    """Logs lifecycle events, for ``--log-format json``."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(LIFECYCLE_LOGGER)

    def on_event(self, event: LifecycleEvent) -> None:
        if isinstance(event, _QUIET) or not self.logger.isEnabledFor(logging.INFO):
            return
        self.logger.info(type(event).__name__, extra={_EVENT: event_fields(event)})
