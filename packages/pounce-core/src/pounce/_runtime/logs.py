"""Pounce's loggers and their default configuration.

``pounce.error`` carries server messages (start-up, shutdown, protocol errors,
application tracebacks) and ``pounce.access`` one line per request. Apps keep
their own logging: we attach handlers to the ``pounce`` logger only, and only
when :func:`configure_logging` is called by ``pounce.run`` or the CLI.

``--log-format`` names a formatter for our handler: ``text`` is built in,
others (``json``) are provided by plugins through the ``pounce.log_formats``
entry-point group, each a callable returning a :class:`logging.Formatter`.
``text`` colours its level names when ``--use-colors`` says so, or by
default when the log goes to a terminal.
"""

from __future__ import annotations

import configparser
import json
import logging
import logging.config
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pounce._settings.config import ServerConfig
from pounce._settings.options import FeatureUnavailable

__all__ = [
    "ACCESS_LOGGER",
    "ERROR_LOGGER",
    "TRACE",
    "check_logging",
    "configure_logging",
    "configure_logging_for",
    "level_number",
]

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


# ANSI SGR colours of the level names, as terminals show them.
_LEVEL_COLOURS = {
    TRACE: "34",  # blue
    logging.DEBUG: "36",  # cyan
    logging.INFO: "32",  # green
    logging.WARNING: "33",  # yellow
    logging.ERROR: "31",  # red
    logging.CRITICAL: "1;31",  # bold red
}


class _DefaultFormatter(logging.Formatter):
    """``INFO     message`` with a timestamp, tracebacks included."""

    def __init__(self, *, colours: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        self._colours = colours

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The padding is applied to the bare name, so colours do not shift the columns.
        name = f"{record.levelname:<8}"
        colour = _LEVEL_COLOURS.get(record.levelno) if self._colours else None
        if colour is not None:
            name = f"\x1b[{colour}m{record.levelname}\x1b[0m{name[len(record.levelname) :]}"
        return f"{record.asctime} {name} {record.message}"


def _read_log_config(path: str) -> Callable[[], None]:
    """Read and parse a log config file; the function returned applies it.

    A broken file fails in many ways (JSON/YAML syntax, configparser, a
    handler class that does not import...); the user needs one line saying
    which file and why, so every one of them becomes a ValueError, whether
    found here or when the config is applied.
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"log config file {path!r} does not exist")

    def invalid(exc: Exception) -> ValueError:
        return ValueError(f"invalid log config file {path!r}: {type(exc).__name__}: {exc}")

    suffix = file.suffix.lower()
    try:
        if suffix == ".json":
            parsed = json.loads(file.read_text())
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional
            except ImportError:
                raise ValueError("a YAML log config needs PyYAML installed") from None
            parsed = yaml.safe_load(file.read_text())
        else:  # an .ini-style fileConfig
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(file.read_text())
            for section in ("loggers", "handlers", "formatters"):
                if not parser.has_section(section):
                    raise KeyError(section)
            parsed = None
    except ValueError as exc:
        if "PyYAML" in str(exc):
            raise
        raise invalid(exc) from exc
    except Exception as exc:
        raise invalid(exc) from exc

    def apply() -> None:
        try:
            if parsed is not None:
                logging.config.dictConfig(parsed)
            else:
                logging.config.fileConfig(str(file), disable_existing_loggers=False)
        except Exception as exc:
            raise invalid(exc) from exc

    return apply


def level_number(level: str) -> int:
    """The numeric level of a ``--log-level`` name."""
    return _LEVELS[level]


LOG_FORMAT_GROUP = "pounce.log_formats"


def _formatter(log_format: str, *, colours: bool) -> logging.Formatter:
    if log_format == "text":
        return _DefaultFormatter(colours=colours)
    for entry in entry_points(group=LOG_FORMAT_GROUP, name=log_format):
        factory: Any = entry.load()
        formatter = factory()
        if not isinstance(formatter, logging.Formatter):
            raise ValueError(f"log format {log_format!r} did not give a logging.Formatter")
        return formatter
    raise FeatureUnavailable(f"--log-format {log_format}")


def configure_logging_for(config: ServerConfig) -> None:
    """:func:`configure_logging` with the settings of ``config`` (a server, a worker
    process, a reloaded server and ``pounce check`` all start this way)."""
    configure_logging(
        log_level=config.log_level,
        access_log=config.access_log,
        log_config=config.log_config,
        log_format=config.log_format,
        use_colors=config.use_colors,
    )


def check_logging(config: ServerConfig) -> None:
    """What :func:`configure_logging_for` reads, checked without applying it
    (``pounce check``): the log format's formatter, the log config file."""
    if config.log_config is not None:
        _read_log_config(config.log_config)
    else:
        _formatter(config.log_format, colours=False)


def _stderr_is_a_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced, or closed
        return False


def configure_logging(
    *,
    log_level: str,
    access_log: bool,
    log_config: str | None,
    log_format: str = "text",
    use_colors: bool | None = None,
) -> None:
    """Set up Pounce's loggers for a server run (``log_format`` and ``use_colors``
    are ignored when ``log_config`` configures the handlers; ``use_colors=None``
    colours a terminal's log only)."""
    if log_config is not None:
        _read_log_config(log_config)()
    base = logging.getLogger("pounce")
    if log_config is None:
        colours = _stderr_is_a_terminal() if use_colors is None else use_colors
        # Before touching the handlers: it may fail.
        formatter = _formatter(log_format, colours=colours)
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
