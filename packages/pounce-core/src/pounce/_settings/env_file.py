"""Read ``--env-file``: ``KEY=value`` lines, as in the dotenv convention.

Supported: blank lines and ``#`` comments, an optional ``export`` prefix,
single-quoted values taken literally, double-quoted values with ``\\n``,
``\\t``, ``\\"`` and ``\\\\`` escapes, and unquoted values with trailing
`` #comments`` removed. Variables already set in the environment win, so the
file provides defaults and the real environment overrides them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["load_env_file", "parse_env"]

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw[1:-1])
    return re.sub(r"\s+#.*$", "", raw)


def parse_env(text: str) -> dict[str, str]:
    """Parse dotenv text into a dict; malformed lines raise ``ValueError``."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"line {number}: expected KEY=value, got {stripped!r}")
        key, raw = match.groups()
        values[key] = _unquote(raw)
    return values


def load_env_file(path: str) -> dict[str, str]:
    """Set variables from ``path`` that the environment does not already set."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read env file {path!r}: {exc.strerror}") from exc
    values = parse_env(text)
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values
