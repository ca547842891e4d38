"""Pounce's loggers and their default configuration.

``pounce.error`` carries server messages (start-up, shutdown, protocol errors,
application tracebacks) and ``pounce.access`` one line per request. Apps keep
their own logging: we attach handlers to the ``pounce`` logger only, and only
when :func:`configure_logging` is called by ``pounce.run`` or the CLI.

``--log-format`` names a formatter for our handler: ``text`` is built in,
others (``json``) are provided by plugins through the ``pounce.log_formats``
entry-point group, each a callable returning a :class:`logging.Formatter`.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pounce._settings.options import FeatureUnavailable

__all__ = ["ACCESS_LOGGER", "ERROR_LOGGER", "TRACE", "configure_logging", "level_number"]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

ERROR_LOGGER = "pounce.error"
ACCESS_LOGGER = "pounce.access"

_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}


class _DefaultFormatter(logging.Formatter):
    """``INFO     message`` with a timestamp, tracebacks included."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(message)s", "%Y-%m-%d %H:%M:%S")


def _load_log_config(path: str) -> None:
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"log config file {path!r} does not exist")
    suffix = file.suffix.lower()
    parse: Callable[[str], Any] | None = None  # None: an .ini-style fileConfig
    if suffix == ".json":
        parse = json.loads
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional
        except ImportError:
            raise ValueError("a YAML log config needs PyYAML installed") from None
        parse = yaml.safe_load
    # A broken file fails in many ways (JSON/YAML syntax, configparser, a
    # handler class that does not import...); the user needs one line saying
    # which file and why, so every one of them becomes a ValueError.
    try:
        if parse is not None:
            logging.config.dictConfig(parse(file.read_text()))
        else:
            logging.config.fileConfig(str(file), disable_existing_loggers=False)
    except Exception as exc:
        raise ValueError(f"invalid log config file {path!r}: {type(exc).__name__}: {exc}") from exc


def level_number(level: str) -> int:
    """The numeric level of a ``--log-level`` name."""
    return _LEVELS[level]


LOG_FORMAT_GROUP = "pounce.log_formats"


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "text":
        return _DefaultFormatter()
    for entry in entry_points(group=LOG_FORMAT_GROUP, name=log_format):
        factory: Any = entry.load()
        formatter = factory()
        if not isinstance(formatter, logging.Formatter):
            raise ValueError(f"log format {log_format!r} did not give a logging.Formatter")
        return formatter
    raise FeatureUnavailable(f"--log-format {log_format}")


def configure_logging(
    *, log_level: str, access_log: bool, log_config: str | None, log_format: str = "text"
) -> None:
    """Set up Pounce's loggers for a server run (``log_format`` is ignored when
    ``log_config`` configures the handlers)."""
    if log_config is not None:
        _load_log_config(log_config)
    base = logging.getLogger("pounce")
    if log_config is None:
        formatter = _formatter(log_format)  # before touching handlers: it may fail
        for handler in list(base.handlers):
            if getattr(handler, "_pounce_default", False):
                base.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        handler._pounce_default = True  # type: ignore[attr-defined]
        base.addHandler(handler)
        base.propagate = False
    base.setLevel(_LEVELS[log_level])
    access = logging.getLogger(ACCESS_LOGGER)
    access.disabled = not access_log
