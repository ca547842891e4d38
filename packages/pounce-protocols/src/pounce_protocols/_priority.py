"""Extensible priorities (RFC 9218): the signals, and the order they imply.

Theory of operation
-------------------
A client says how urgent each response is, and whether it is of use in
pieces, with the ``priority`` request header or, later and for any stream,
a PRIORITY_UPDATE frame. Both carry a Structured Field dictionary
(RFC 8941/9651) with two members: ``u``, the urgency (0 most urgent to 7,
default 3), and ``i``, incremental (a boolean, default false). Members of
another type or out of range, and members we do not know, are ignored, so
are header values that are not a dictionary at all: a request without
a usable signal has the default priority.

The order of sending follows from it (RFC 9218 §10). When several responses
have data ready and the connection can take only some, the most urgent go
first; within one urgency, non-incremental responses are sent one at a time
in stream order (a half-received image is of no use), then incremental ones
take turns, frame by frame, resuming after the last one served so that
every turn starts with a different stream. :meth:`PriorityScheduler.plan`
gives that order; it knows nothing of windows or frames, which the protocol
machine owns.

A PRIORITY_UPDATE may arrive before the HEADERS of its stream. The
scheduler keeps the latest one per stream not yet opened, at most
``max_buffered`` of them (the oldest goes first), so a client naming streams
it never opens cannot make it hold more.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PRIORITY",
    "Priority",
    "PriorityScheduler",
    "parse_priority",
    "parse_sf_dictionary",
    "priority_from_headers",
]

_MAX_URGENCY = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class Priority:
    """A response's priority (RFC 9218 §4): urgency 0 (first) to 7, incremental."""

    urgency: int = 3
    incremental: bool = False

    def __post_init__(self) -> None:
        if (
            not isinstance(self.urgency, int)
            or isinstance(self.urgency, bool)
            or not 0 <= self.urgency <= _MAX_URGENCY
        ):
            raise ValueError(f"urgency must be an int in [0, 7], got {self.urgency!r}")


#: What a request without a usable priority signal gets.
DEFAULT_PRIORITY = Priority()


class _Token(str):
    """A Structured Field token, told apart from a string."""

    __slots__ = ()


# ------------------------------------------------- Structured Field parsing

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_DECIMAL = re.compile(r"-?[0-9]{1,12}\.[0-9]{1,3}")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_STRING_CHUNK = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
_DISPLAY_CHUNK = re.compile(r"[\x20\x21\x23\x24\x26-\x5b\x5d-\x7e]+|%[0-9a-f]{2}")


class _Malformed(ValueError):
    pass


class _Parser:
    """RFC 9651 §4.2 for dictionaries: one pass, raising on the first error."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip(self, chars: str) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in chars:
            pos += 1
        self.pos = pos

    def match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise _Malformed(f"unexpected input at {self.pos}")
        self.pos = found.end()
        return found

    def dictionary(self) -> dict[str, object]:
        members: dict[str, object] = {}
        self.skip(" ")
        while self.pos < len(self.text):
            key = self.match(_KEY).group()
            if self.peek() == "=":
                self.pos += 1
                value = self.inner_list() if self.peek() == "(" else self.bare_item()
            else:
                value = True
            self.parameters()
            members[key] = value  # a repeated key: the last one counts
            self.skip(" \t")
            if self.pos == len(self.text):
                break
            if self.peek() != ",":
                raise _Malformed(f"expected ',' at {self.pos}")
            self.pos += 1
            self.skip(" \t")
            if self.pos == len(self.text):
                raise _Malformed("trailing comma")
        return members

    def inner_list(self) -> tuple[object, ...]:
        self.pos += 1  # "("
        items: list[object] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return tuple(items)
            items.append(self.bare_item())
            self.parameters()
            if self.peek() not in (" ", ")"):
                raise _Malformed(f"bad inner list at {self.pos}")

    def parameters(self) -> None:
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            self.match(_KEY)
            if self.peek() == "=":
                self.pos += 1
                self.bare_item()

    def bare_item(self) -> object:
        first = self.peek()
        if first == "-" or first.isdigit():
            decimal = _DECIMAL.match(self.text, self.pos)
            if decimal is not None:
                self.pos = decimal.end()
                return float(decimal.group())
            number = self.match(_INTEGER).group()
            if self.peek() == ".":
                raise _Malformed("bad decimal")
            return int(number)
        if first == '"':
            return self.string()
        if first == "?":
            value = self.text[self.pos + 1 : self.pos + 2]
            if value not in ("0", "1"):
                raise _Malformed("bad boolean")
            self.pos += 2
            return value == "1"
        if first == ":":
            encoded = self.match(_BYTES).group(1)
            try:
                return base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise _Malformed("bad byte sequence") from None
        if first == "@":  # a date (RFC 9651)
            self.pos += 1
            return int(self.match(_INTEGER).group())
        if first == "%":  # a display string (RFC 9651)
            self.pos += 1
            return self.display_string()
        return _Token(self.match(_TOKEN).group())

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                escaped = text[self.pos + 1 : self.pos + 2]
                if escaped not in ('"', "\\"):
                    raise _Malformed("bad escape")
                out.append(escaped)
                self.pos += 2
                continue
            out.append(self.match(_STRING_CHUNK).group())
        raise _Malformed("unterminated string")

    def display_string(self) -> str:
        if self.peek() != '"':
            raise _Malformed("bad display string")
        self.pos += 1
        out = bytearray()
        while self.pos < len(self.text):
            if self.peek() == '"':
                self.pos += 1
                try:
                    return out.decode("utf-8")
                except UnicodeDecodeError:
                    raise _Malformed("display string is not UTF-8") from None
            chunk = self.match(_DISPLAY_CHUNK).group()
            out += bytes.fromhex(chunk[1:]) if chunk[0] == "%" else chunk.encode("ascii")
        raise _Malformed("unterminated display string")


def parse_sf_dictionary(value: bytes) -> dict[str, object] | None:
    """A Structured Field dictionary's members (bare values), or None if malformed.

    Inner lists come back as tuples, tokens as ``str``; parameters are
    checked but not returned.
    """
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    try:
        return _Parser(text.rstrip(" ")).dictionary()
    except _Malformed:
        return None


def _from_members(members: dict[str, object]) -> Priority:
    urgency = members.get("u")
    incremental = members.get("i")
    return Priority(
        urgency=(
            urgency
            if isinstance(urgency, int)
            and not isinstance(urgency, bool)
            and 0 <= urgency <= _MAX_URGENCY
            else DEFAULT_PRIORITY.urgency
        ),
        incremental=incremental if isinstance(incremental, bool) else False,
    )


def parse_priority(value: bytes) -> Priority | None:
    """The priority a field value says, or None when it is not a dictionary.

    Members that are unknown, of the wrong type or out of range are ignored
    (their defaults apply), as RFC 9218 §4 asks.
    """
    members = parse_sf_dictionary(value)
    return None if members is None else _from_members(members)


def priority_from_headers(values: Iterable[bytes]) -> Priority:
    """The priority of a request with these ``priority`` field lines."""
    lines = list(values)
    if not lines:
        return DEFAULT_PRIORITY
    # Field lines of one Structured Field are one value, joined by commas.
    return parse_priority(b", ".join(lines)) or DEFAULT_PRIORITY


# ----------------------------------------------------------------- ordering


class PriorityScheduler:
    """The send order of one connection's responses; see the module docstring."""

    __slots__ = ("_buffered", "_last_served", "_max_buffered")

    def __init__(self, max_buffered: int) -> None:
        if max_buffered < 1:
            raise ValueError("max_buffered must be at least 1")
        self._max_buffered = max_buffered
        self._buffered: dict[int, Priority] = {}
        # Per urgency, the incremental stream that was served last.
        self._last_served = [0] * (_MAX_URGENCY + 1)

    @property
    def buffered(self) -> int:
        """PRIORITY_UPDATEs held for streams not opened yet."""
        return len(self._buffered)

    def buffer_update(self, stream_id: int, priority: Priority) -> None:
        """Keep a PRIORITY_UPDATE for a stream that is not open yet."""
        buffered = self._buffered
        buffered.pop(stream_id, None)  # re-inserted as the newest
        if len(buffered) >= self._max_buffered:
            del buffered[next(iter(buffered))]
        buffered[stream_id] = priority

    def open(self, stream_id: int, header: Iterable[bytes] = ()) -> Priority:
        """The priority of a stream that starts now, given its ``priority`` lines.

        A PRIORITY_UPDATE that came before the request is the client's later
        word, so it wins over the header.
        """
        update = self._buffered.pop(stream_id, None)
        return update if update is not None else priority_from_headers(header)

    def start(self, stream_id: int, priority: Priority) -> Priority:
        """:meth:`open`, for a request whose ``priority`` lines give ``priority``."""
        update = self._buffered.pop(stream_id, None)
        return update if update is not None else priority

    def plan(self, ready: Iterable[tuple[int, Priority]]) -> list[tuple[int, ...]]:
        """The turns in which to serve the ``(stream id, priority)`` that have data.

        Each turn is a tuple of stream ids to serve round robin, a frame each,
        until none of them can send more; only then does the next turn start.
        A non-incremental stream is a turn of its own.
        """
        sequential: list[list[int]] = [[] for _ in range(_MAX_URGENCY + 1)]
        incremental: list[list[int]] = [[] for _ in range(_MAX_URGENCY + 1)]
        for stream_id, priority in ready:
            group = incremental if priority.incremental else sequential
            group[priority.urgency].append(stream_id)
        turns: list[tuple[int, ...]] = []
        for urgency in range(_MAX_URGENCY + 1):
            turns.extend((stream_id,) for stream_id in sorted(sequential[urgency]))
            shared = sorted(incremental[urgency])
            if shared:
                last = self._last_served[urgency]
                split = next((n for n, s in enumerate(shared) if s > last), 0)
                turns.append(tuple(shared[split:] + shared[:split]))
        return turns

    def served(self, stream_id: int, priority: Priority) -> None:
        """``stream_id`` has just sent a frame (the round robin moves past it)."""
        if priority.incremental:
            self._last_served[priority.urgency] = stream_id
