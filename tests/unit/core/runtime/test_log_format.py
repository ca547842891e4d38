"""How log lines look: coloured level names, tracebacks, formats."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from pounce._runtime import logs
from pounce._runtime.logs import _DefaultFormatter


def _record(level: int) -> logging.LogRecord:
    return logging.LogRecord("pounce.error", level, __file__, 1, "hello %s", ("you",), None)


def test_plain_lines_keep_their_columns() -> None:
    line = _DefaultFormatter().format(_record(logging.INFO))
    assert line.endswith(" INFO     hello you")
    assert "\x1b[" not in line


def test_coloured_level_names_keep_the_same_columns() -> None:
    plain = _DefaultFormatter().format(_record(logging.WARNING))
    coloured = _DefaultFormatter(colours=True).format(_record(logging.WARNING))
    assert coloured.endswith(" \x1b[33mWARNING\x1b[0m  hello you")
    assert coloured.replace("\x1b[33m", "").replace("\x1b[0m", "") == plain


def test_tracebacks_follow_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "pounce.error", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = _DefaultFormatter(colours=True).format(record)
    assert text.splitlines()[1] == "Traceback (most recent call last):"
    assert text.endswith("ValueError: boom")


@pytest.fixture
def restored_pounce_logger() -> Iterator[logging.Logger]:
    """configure_logging changes the pounce logger: put it back afterwards."""
    logger = logging.getLogger("pounce")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield logger
    logger.handlers[:] = saved[0]
    logger.propagate, logger.level = saved[1], saved[2]


@pytest.mark.parametrize(
    ("use_colors", "terminal", "coloured"),
    [(True, False, True), (False, True, False), (None, True, True), (None, False, False)],
)
def test_use_colors_or_a_terminal_colours_the_default_format(
    monkeypatch: pytest.MonkeyPatch,
    restored_pounce_logger: logging.Logger,
    use_colors: bool | None,
    terminal: bool,
    coloured: bool,
) -> None:
    monkeypatch.setattr(logs, "_stderr_is_a_terminal", lambda: terminal)
    logs.configure_logging(
        log_level="info", access_log=True, log_config=None, use_colors=use_colors
    )
    (handler,) = [h for h in restored_pounce_logger.handlers if getattr(h, "_pounce_default", 0)]
    text = handler.format(_record(logging.ERROR))
    assert ("\x1b[31mERROR\x1b[0m" in text) is coloured
