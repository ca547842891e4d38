"""The HTTP/1.1 machine's work grows with its input, never faster.

No clocks here: the work is counted. The machine's receive buffer is given an
instrumented ``bytearray`` that adds up every byte an operation on it reads,
copies or moves (slices, searches, counts, appends, deletions), and the chunked
gate's and h11's entry points are counted per call. Each test then grows the
input tenfold and checks the work grows tenfold too, not a hundredfold: a
backlog of pipelined requests costs each request the same however deep it is,
a head dribbled a byte at a time costs what it costs whole, and a body in tiny
chunks costs a few parser steps per chunk, with one event per read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h11
import pytest

from pounce_protocols import (
    BodyReceived,
    HTTP1ServerConnection,
    ResponseEnd,
    ResponseHead,
    _http1_chunked,
    _receive_buffer,
)
from pounce_protocols._http1_chunked import ChunkedFraming

from ._helpers import chunked, request


@dataclass
class Work:
    """Bytes read, copied or moved by operations on the receive buffer."""

    bytes: int = 0


def _span(buf: bytearray, start: Any, end: Any) -> tuple[int, int]:
    low, high, _ = slice(start, end).indices(len(buf))
    return low, high


def counting_bytearray(work: Work) -> type[bytearray]:
    """A ``bytearray`` whose operations add what they touch to ``work``."""

    class Counting(bytearray):
        def __getitem__(self, key: Any) -> Any:
            result = super().__getitem__(key)
            if isinstance(key, slice):
                work.bytes += len(result)
            return result

        def __delitem__(self, key: Any) -> None:
            if isinstance(key, slice):
                # What a deletion moves: everything after the deleted part.
                work.bytes += len(self) - key.indices(len(self))[1]
            super().__delitem__(key)

        def __iadd__(self, other: Any) -> Any:
            work.bytes += len(other)
            return super().__iadd__(other)

        def find(self, sub: Any, start: Any = None, end: Any = None) -> int:
            found = super().find(sub, start, end)
            low, high = _span(self, start, end)
            work.bytes += (found + len(sub) if found >= 0 else high) - low
            return found

        def count(self, sub: Any, start: Any = None, end: Any = None) -> int:
            low, high = _span(self, start, end)
            work.bytes += max(high - low, 0)
            return super().count(sub, start, end)

        def startswith(self, prefix: Any, start: Any = None, end: Any = None) -> bool:
            work.bytes += len(prefix)
            return super().startswith(prefix, start, end)

    return Counting


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Work:
    """The work done on every receive buffer made while the test runs."""
    counted = Work()
    monkeypatch.setattr(_receive_buffer, "bytearray", counting_bytearray(counted), raising=False)
    return counted


def _respond(conn: HTTP1ServerConnection) -> None:
    stream_id = conn.stream_id
    conn.send(ResponseHead(stream_id=stream_id, status=204, headers=()))
    conn.send(ResponseEnd(stream_id=stream_id))


def _serve_backlog(wire: bytes, *, fast_path: bool, read_size: int | None) -> int:
    """Serve pipelined ``wire`` like a server would; how many were answered.

    ``read_size=None`` hands it all over at once (the deepest backlog);
    otherwise it arrives a read at a time, each when less than one read is
    buffered, between responses.
    """
    conn = HTTP1ServerConnection(fast_path=fast_path)
    pos = len(wire) if read_size is None else read_size
    conn.receive_data(wire[:pos])
    answered = 0
    while conn.request_complete:
        _respond(conn)
        answered += 1
        if pos < len(wire) and read_size is not None and conn.buffered_bytes < read_size:
            conn.receive_data(wire[pos : pos + read_size])
            pos += read_size
        conn.start_next_cycle()
    return answered


GET = request(b"/items?page=2")
POST_LENGTH = request(
    method=b"POST", headers=[b"Host: example.com", b"Content-Length: 5"], body=b"hello"
)
POST_CHUNKED = request(
    method=b"POST",
    headers=[b"Host: example.com", b"Transfer-Encoding: chunked"],
    body=chunked(b"hel", b"lo"),
)
PIPELINED = {
    "get": (GET, True),
    "post-length": (POST_LENGTH, True),
    "post-chunked": (POST_CHUNKED, True),
    "get-reference": (GET, False),
    "post-length-reference": (POST_LENGTH, False),
    "post-chunked-reference": (POST_CHUNKED, False),
}


@pytest.mark.parametrize("read_size", [None, 4096], ids=["all-at-once", "read-by-read"])
@pytest.mark.parametrize("kind", list(PIPELINED))
def test_a_pipelined_backlog_costs_each_request_the_same(
    kind: str, read_size: int | None, work: Work
) -> None:
    one, fast_path = PIPELINED[kind]
    per_request = []
    for count in (200, 2000):
        work.bytes = 0
        assert _serve_backlog(one * count, fast_path=fast_path, read_size=read_size) == count
        per_request.append(work.bytes / count)
    shallow, deep = per_request
    # The same per request with a backlog ten times as deep (a copy or a
    # rescan of what waits would make it ten times as much)...
    assert deep <= shallow * 1.1 + 8
    # ...and a small multiple of the request's own size (the gate makes a
    # handful of C-speed passes over a head, the body is copied out once).
    assert deep <= 12 * len(one)


def _dribble_head(size: int) -> int:
    """Work for a head of about ``size`` bytes received one byte at a time."""
    fields = [b"Host: example.com"]
    while sum(len(f) + 2 for f in fields) < size:
        fields.append(b"X-Field-%03d: %s" % (len(fields), b"v" * 100))
    head = request(headers=fields)
    conn = HTTP1ServerConnection()
    events = []
    for i in range(len(head)):
        events += conn.receive_data(head[i : i + 1])
    assert len(events) == 2  # the request and the end of its (empty) body
    return len(head)


def test_a_head_dribbled_a_byte_at_a_time_is_checked_once(work: Work) -> None:
    per_byte = []
    for size in (800, 8000):
        work.bytes = 0
        length = _dribble_head(size)
        per_byte.append(work.bytes / length)
    small, large = per_byte
    # Each byte is looked at a bounded number of times, however long the head
    # (checking the whole head again on each read would make it ten times more).
    assert large <= small * 1.2
    assert large <= 40


@dataclass
class Calls:
    size_lines: int = 0  # attempts to match a chunk-size line
    general_lines: int = 0  # framing lines read through the general, line-at-a-time state
    h11_events: int = 0  # h11 next_event() calls


class CountingPattern:
    """A compiled pattern whose matches add to ``calls``."""

    def __init__(self, pattern: Any, calls: Calls) -> None:
        self._pattern = pattern
        self._calls = calls

    def match(self, *args: Any) -> Any:
        self._calls.size_lines += 1
        return self._pattern.match(*args)

    def fullmatch(self, *args: Any) -> Any:
        self._calls.size_lines += 1
        return self._pattern.fullmatch(*args)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    counted = Calls()
    feed_line = ChunkedFraming._feed_line
    next_event = h11.Connection.next_event

    def counting_feed_line(self: ChunkedFraming, data: Any, pos: int) -> int:
        counted.general_lines += 1
        return feed_line(self, data, pos)

    def counting_next_event(self: h11.Connection) -> Any:
        counted.h11_events += 1
        return next_event(self)

    for name in ("_SIZE_LINE", "_PLAIN_SIZE_LINE"):
        pattern = getattr(_http1_chunked, name)
        monkeypatch.setattr(_http1_chunked, name, CountingPattern(pattern, counted))
    monkeypatch.setattr(ChunkedFraming, "_feed_line", counting_feed_line)
    monkeypatch.setattr(h11.Connection, "next_event", counting_next_event)
    return counted


CHUNKED_HEAD = request(method=b"POST", headers=[b"Host: x", b"Transfer-Encoding: chunked"])
READ = 4096


def _tiny_chunks(count: int, sizes: list[int]) -> bytes:
    """A chunked body of ``count`` chunks whose sizes cycle through ``sizes``."""
    return chunked(*[b"x" * sizes[i % len(sizes)] for i in range(count)])


@pytest.mark.parametrize("sizes", [[1], [7], [1, 2], [20, 30]], ids=str)
def test_a_body_in_tiny_chunks_costs_a_few_steps_per_chunk(sizes: list[int], calls: Calls) -> None:
    for count in (1000, 10000):
        calls.size_lines = calls.general_lines = calls.h11_events = 0
        body = _tiny_chunks(count, sizes)
        wire = CHUNKED_HEAD + body
        reads = -(-len(wire) // READ)
        conn = HTTP1ServerConnection()
        events = []
        for i in range(0, len(wire), READ):
            events += conn.receive_data(wire[i : i + READ])
        data = [e for e in events if isinstance(e, BodyReceived)]
        assert b"".join(e.data for e in data) == b"".join(
            b"x" * sizes[i % len(sizes)] for i in range(count)
        )
        assert conn.request_complete
        # One event per read at most, never one per chunk.
        assert len(data) <= reads
        # At most one size-line match per chunk (a run of one-digit sizes
        # takes one for the run), and a few per read, where a line is cut;
        # lines go the general way only where a read cuts them.
        assert calls.size_lines <= count + 3 * reads
        assert calls.general_lines <= 2 * reads + 4
        # h11 reads the head and the trailer section, not the chunks.
        assert calls.h11_events <= 4


def test_the_reference_route_reports_one_event_per_read() -> None:
    count = 5000
    wire = CHUNKED_HEAD + chunked(*[b"x"] * count)
    conn = HTTP1ServerConnection(fast_path=False)
    events = []
    for i in range(0, len(wire), READ):
        events += conn.receive_data(wire[i : i + READ])
    data = [e for e in events if isinstance(e, BodyReceived)]
    assert b"".join(e.data for e in data) == b"x" * count
    assert len(data) <= -(-len(wire) // READ)
