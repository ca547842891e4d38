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
how the network split the bytes never changes the verdict. The gate reports
where the body ends; on the reference route h11 decodes exactly those bytes.
Everything the gate accepts, h11 accepts and frames identically (a unit test
checks that they agree), so the fast path lets the gate hand out the chunk
data it has just delimited, and h11 reads only the trailer section.

Cost: h11 (and a gate stepping through its states byte by byte) spends a
Python step per framing byte and an event per chunk, which a body sent in
one-byte chunks turns into seconds of CPU per megabyte. Whole chunks that lie
in the bytes at hand are taken in one loop instead, a regular-expression match
and a slice each, and a call's chunk data is returned together.
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
# The usual size line, without extensions: tried first, as it is matched faster.
_PLAIN_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")
# The size of a chunk whose size line is one hex digit and CRLF, by the digit
# (0 for a byte that is not a non-zero hex digit): read without a regular
# expression, as the chunks of a body sent a few bytes at a time are.
_ONE_DIGIT = tuple(
    int(chr(byte), 16) if chr(byte) in "123456789abcdefABCDEF" else 0 for byte in range(256)
)


def _runs() -> dict[int, tuple[re.Pattern[bytes], re.Pattern[bytes] | None]]:
    """For each one-digit size line, by its digit: a pattern for a run of such
    chunks, and one that captures their data (none for one-byte chunks: every
    sixth byte of the run is theirs)."""
    table: dict[int, tuple[re.Pattern[bytes], re.Pattern[bytes] | None]] = {}
    for byte, size in enumerate(_ONE_DIGIT):
        if size:
            chunk = rb"%c\r\n([\x00-\xff]{%d})\r\n" % (byte, size)
            run = re.compile(rb"(?:%s)+" % chunk.replace(b"(", b"(?:"))
            table[byte] = (run, re.compile(chunk) if size > 1 else None)
    return table


# Runs of chunks of one small size, the shape of a body sent a byte (or a few)
# at a time, are taken by one match and their data by one slice or findall.
_RUNS = _runs()


class ChunkedFraming:
    """Checks the framing of one chunked body as its bytes arrive, and can decode it."""

    __slots__ = ("_line", "_max_line", "_remaining", "_state", "_trailer_section")

    def __init__(self, max_line: int) -> None:
        self._max_line = max_line
        self._state = _State.SIZE_LINE
        self._line = bytearray()
        self._remaining = 0  # bytes of chunk data, or of the CRLF after it, still due
        self._trailer_section = bytearray()

    @property
    def done(self) -> bool:
        """True once the whole body, trailer section included, has been seen."""
        return self._state is _State.DONE

    @property
    def trailer_section(self) -> bytes:
        """The field lines after the last chunk and the empty line that ends
        them, as received (complete once :attr:`done`)."""
        return bytes(self._trailer_section)

    def feed(
        self, data: bytes | bytearray, pos: int = 0, pieces: list[bytes | bytearray] | None = None
    ) -> int:
        """Check the bytes of ``data`` from ``pos`` on; return where the body
        stops in them.

        That is ``len(data)`` until the body ends, and the offset of the first
        byte after it (the start of a pipelined request) once it does. Raises
        :class:`RemoteProtocolError` (400) as soon as the framing is invalid.
        Given ``pieces``, the chunk data found is appended to it, as it arrives
        (a chunk split across reads is appended in parts).
        """
        end = len(data)
        while pos < end:
            state = self._state
            if state is _State.DATA:
                take = min(self._remaining, end - pos)
                if pieces is not None:
                    pieces.append(data[pos : pos + take])
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
            elif state is _State.SIZE_LINE and not self._line:
                stop = self._whole_chunks(data, pos, pieces)
                pos = self._feed_line(data, pos) if stop == pos else stop
            else:
                pos = self._feed_line(data, pos)
        return pos

    def _whole_chunks(
        self, data: bytes | bytearray, pos: int, pieces: list[bytes | bytearray] | None
    ) -> int:
        """Take the chunks that begin at ``pos`` and are here whole, in one loop.

        The framing is checked exactly as the states of :meth:`feed` check it,
        only without going through them per byte: a body of many small chunks
        costs a few steps per chunk. Stops before anything else (a line not
        here whole or not valid, the last chunk, data cut short or not followed
        by CRLF) and returns where; :meth:`feed` then reads that the general
        way, with its errors.
        """
        plain = _PLAIN_SIZE_LINE.match
        match = _SIZE_LINE.match
        startswith = data.startswith
        append = None if pieces is None else pieces.append
        one_digit = _ONE_DIGIT
        max_line = self._max_line
        last = 0  # the size of the chunk before, when it had a one-digit line
        while True:
            if startswith(_CRLF, pos + 1) and (size := one_digit[data[pos]]):
                if size == last:
                    # The second of a run of chunks of this size: the run
                    # is taken whole, and the loop goes on after it.
                    last = 0
                    stop = _take_run(data, pos, pieces)
                    if stop > pos:
                        pos = stop
                        continue
                start = pos + 3
            else:
                found = plain(data, pos) or match(data, pos)
                if found is None:
                    return pos
                start = found.end()
                if start - pos > max_line:
                    return pos
                size = int(found[1], 16)
                if not size:
                    return pos
            stop = start + size
            if not startswith(_CRLF, stop):
                # Cut short, or not followed by CRLF: the data state reads it.
                self._state = _State.DATA
                self._remaining = size
                return start
            if append is not None:
                append(data[start:stop])
            pos = stop + 2
            last = size

    def _feed_line(self, data: bytes | bytearray, pos: int) -> int:
        newline = data.find(b"\n", pos)
        stop = len(data) if newline < 0 else newline + 1
        line = self._line
        budget = self._max_line - (
            len(self._trailer_section) if self._state is _State.TRAILERS else 0
        )
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
        self._trailer_section += line
        if line == _CRLF:
            self._state = _State.DONE
        elif _FIELD_LINE.fullmatch(line) is None:
            raise _reject("invalid trailer field line")


def _take_run(data: bytes | bytearray, pos: int, pieces: list[bytes | bytearray] | None) -> int:
    """The chunks with the one-digit size line at ``pos`` that follow from it,
    as many as are here whole: their data added to ``pieces``; where they end."""
    run, piece = _RUNS[data[pos]]
    found = run.match(data, pos)
    if found is None:
        return pos
    end = found.end()
    if pieces is not None:
        if piece is None:
            pieces.append(data[pos + 3 : end : 6])
        else:
            pieces.extend(piece.findall(data, pos, end))
    return end


def _reject(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, status_hint=400)
