"""The gate every chunked request body passes before it is decoded.

h11 decodes chunked bodies leniently: it takes a bare LF as a line ending in
the trailer section, unfolds obs-fold trailers, accepts any bytes in chunk
extensions and bounds a chunk-size line only by its whole receive buffer. A
proxy in front of us that reads the same bytes differently would disagree on
where the body ends, which is how requests get smuggled. So, as with request
heads (:mod:`._http1_head`), the framing is checked on the raw bytes first and
h11 only ever sees bytes that passed:

* a chunk-size line is 1 to 16 hex digits, then optional chunk extensions
  (``;name`` or ``;name=token`` or ``;name="quoted"``), then CRLF, and is at
  most ``max_line`` bytes long, CRLF included (RFC 9112 §7.1);
* chunk data is followed by exactly CRLF;
* the trailer section holds field lines as in a head: CRLF only, no obs-fold,
  no control characters, at most ``max_line`` bytes in all, the closing empty
  line included (RFC 9112 §7.1.2).

The checks are incremental: only the framing line being built is buffered, so
how the network split the bytes never changes the verdict. The gate reads
framing only; it reports where the body ends and h11 decodes exactly those
bytes. Everything the gate accepts, h11 accepts and frames identically (a unit
test checks that they agree).
"""

from __future__ import annotations

import enum
import re

from pounce_protocols._errors import RemoteProtocolError

__all__ = ["ChunkedFraming"]


class _State(enum.Enum):
    SIZE_LINE = "size line"  # reading a chunk-size line
    DATA = "data"  # inside chunk data
    DATA_CRLF = "data crlf"  # the CRLF after chunk data
    TRAILERS = "trailers"  # reading the trailer section
    DONE = "done"  # the body is complete


_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_EXTENSION = rb";[ \t]*%s(?:[ \t]*=[ \t]*(?:%s|%s))?[ \t]*" % (_TOKEN, _TOKEN, _QUOTED)
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:%s)*\r\n" % _EXTENSION)
_VCHAR = rb"[\x21-\x7e\x80-\xff]"
_FIELD_LINE = re.compile(rb"%s:[ \t]*(?:%s+(?:[ \t]+%s+)*)?[ \t]*\r\n" % (_TOKEN, _VCHAR, _VCHAR))
_CRLF = b"\r\n"


class ChunkedFraming:
    """Checks the framing of one chunked body as its bytes arrive."""

    __slots__ = ("_line", "_max_line", "_remaining", "_state", "_trailer_bytes")

    def __init__(self, max_line: int) -> None:
        self._max_line = max_line
        self._state = _State.SIZE_LINE
        self._line = bytearray()
        self._remaining = 0  # bytes of chunk data, or of the CRLF after it, still due
        self._trailer_bytes = 0

    @property
    def done(self) -> bool:
        """True once the whole body, trailer section included, has been seen."""
        return self._state is _State.DONE

    def feed(self, data: bytes) -> int:
        """Check the next bytes; return how many of them belong to the body.

        That is ``len(data)`` until the body ends, and the offset of the first
        byte after it (the start of a pipelined request) once it does. Raises
        :class:`RemoteProtocolError` (400) as soon as the framing is invalid.
        """
        pos = 0
        end = len(data)
        while pos < end:
            state = self._state
            if state is _State.DATA:
                take = min(self._remaining, end - pos)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _State.DATA_CRLF
                    self._remaining = 2
            elif state is _State.DATA_CRLF:
                expected = _CRLF[2 - self._remaining]
                if data[pos] != expected:
                    raise _reject("chunk data not followed by CRLF")
                pos += 1
                self._remaining -= 1
                if not self._remaining:
                    self._state = _State.SIZE_LINE
            elif state is _State.DONE:
                break
            else:
                pos = self._feed_line(data, pos)
        return pos

    def _feed_line(self, data: bytes, pos: int) -> int:
        newline = data.find(b"\n", pos)
        stop = len(data) if newline < 0 else newline + 1
        line = self._line
        budget = self._max_line - (self._trailer_bytes if self._state is _State.TRAILERS else 0)
        if len(line) + stop - pos > budget:
            if self._state is _State.TRAILERS:
                raise _reject("trailer section too long")
            raise _reject("chunk-size line too long")
        line += data[pos:stop]
        if newline >= 0:
            self._end_line(bytes(line))
            line.clear()
        return stop

    def _end_line(self, line: bytes) -> None:
        if self._state is _State.SIZE_LINE:
            match = _SIZE_LINE.fullmatch(line)
            if match is None:
                raise _reject("invalid chunk-size line")
            size = int(match.group(1), 16)
            if size:
                self._state = _State.DATA
                self._remaining = size
            else:
                self._state = _State.TRAILERS
            return
        self._trailer_bytes += len(line)
        if line == _CRLF:
            self._state = _State.DONE
        elif _FIELD_LINE.fullmatch(line) is None:
            raise _reject("invalid trailer field line")


def _reject(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, status_hint=400)
