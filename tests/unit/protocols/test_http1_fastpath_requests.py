"""The fast path reads requests exactly as the h11 reference does.

Same bytes in, same transcript out (events, responses, every public query,
the status of a rejection): for generated valid pipelines however they are
split, for mutated and random bytes, and for every hostile case of the other
HTTP/1.1 tests, embedded as a request line, a field, a target, a body...
See ``_fastpath.py`` for what a transcript holds.
"""

from __future__ import annotations

import dataclasses

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    HTTP1Limits,
    HTTP1ServerConnection,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)
from pounce_protocols import _fast_events as events
from pounce_protocols import _http1 as http1_module
from pounce_protocols import _http1_fast as fast

from ._fastpath import EMBEDDINGS, harvested_bytes, same_transcripts, splits_of
from ._helpers import INTERESTING, PROPERTY_SETTINGS, request
from .test_http1_limits import LIMITS
from .test_http1_properties import mutated, pipelines, splits

HARVESTED = harvested_bytes()


def test_the_corpus_is_not_empty() -> None:
    # The harvest reads the other modules' tables; if it silently found
    # nothing, every test below would pass without testing anything.
    assert len(HARVESTED) > 200
    assert b"X: a\r\n b" in HARVESTED  # from the request-head tables
    assert b"chunked, gzip" in HARVESTED  # from the framing tables


@pytest.mark.parametrize("embedding", sorted(EMBEDDINGS))
def test_every_harvested_case_reads_the_same(embedding: str) -> None:
    embed = EMBEDDINGS[embedding]
    for leaf in HARVESTED:
        data = embed(leaf)
        for chunks in splits_of(data):
            same_transcripts(chunks)


@pytest.mark.parametrize("embedding", ["raw", "request-line", "field-line", "target"])
def test_every_harvested_case_reads_the_same_under_small_limits(embedding: str) -> None:
    embed = EMBEDDINGS[embedding]
    for leaf in HARVESTED:
        for chunks in splits_of(embed(leaf)):
            same_transcripts(chunks, limits=LIMITS)


@PROPERTY_SETTINGS
@given(st.data(), pipelines)
def test_valid_pipelines_read_the_same_however_split(data: st.DataObject, generated: list) -> None:
    stream = b"".join(g.wire for g in generated)
    same_transcripts([stream])
    same_transcripts(data.draw(splits(stream)))


@PROPERTY_SETTINGS
@given(st.data(), pipelines)
def test_mutated_pipelines_read_the_same(data: st.DataObject, generated: list) -> None:
    stream = data.draw(mutated(b"".join(g.wire for g in generated)))
    same_transcripts([stream])
    same_transcripts(data.draw(splits(stream)))


@PROPERTY_SETTINGS
@given(st.data(), st.binary(max_size=300))
def test_random_bytes_read_the_same(data: st.DataObject, junk: bytes) -> None:
    same_transcripts(data.draw(splits(junk)))
    same_transcripts([b"GET / HTTP/1.1\r\n" + junk])
    same_transcripts([b"GET / HTTP/1.1\r\nHost: x\r\n" + junk])
    same_transcripts([b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n" + junk])


_FIELD_NAMES = st.sampled_from(
    [b"Host", b"host", b"HOST", b"hOsT", b"Content-Length", b"content-length", b"Connection",
     b"Transfer-Encoding", b"Expect", b"Upgrade", b"X-Custom", b"Accept", b"Cookie", b"TE",
     b"User-Agent", b"X", b"x-Forwarded-For"]
)  # fmt: skip
_FIELD_VALUES = st.one_of(
    st.sampled_from(
        [b"", b"0", b"5", b"005", b"close", b"keep-alive", b"Keep-Alive, close", b"upgrade",
         b"chunked", b"100-continue", b"websocket", b"example.com", b"a b\tc", b"caf\xc3\xa9",
         b"9" * 19, b"5, 5", b" 5", b"5 "]
    ),
    st.binary(max_size=8).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)  # fmt: skip
_TARGETS = st.one_of(
    st.sampled_from([b"/", b"/a?b", b"/a?", b"/?#", b"*", b"http://h/p", b"/%41?x=%42", b"//x"]),
    st.binary(min_size=1, max_size=10).map(lambda b: b"/" + b.replace(b" ", b"")),
)


@PROPERTY_SETTINGS
@given(
    method=st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"CONNECT", b"get", b"M-SEARCH"]),
    target=_TARGETS,
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"http/1.1"]),
    fields=st.lists(st.tuples(_FIELD_NAMES, _FIELD_VALUES), max_size=5),
    body=st.binary(max_size=12),
    pipelined=st.booleans(),
)
def test_generated_heads_read_the_same(
    *,
    method: bytes,
    target: bytes,
    version: bytes,
    fields: list[tuple[bytes, bytes]],
    body: bytes,
    pipelined: bool,
) -> None:
    # Heads built field by field around the names that steer the fast path:
    # which ones it takes, which ones it hands to the reference.
    lines = [name + b": " + value for name, value in fields]
    data = request(target, method=method, version=version, headers=lines, body=body)
    if pipelined:
        data += request(b"/second")
    for chunks in splits_of(data):
        same_transcripts(chunks)


# Chunk-size lines as a client may spell them: the fast path takes runs of
# one-digit ones at once, anything else one chunk at a time.
_SPELLINGS = st.sampled_from([b"%x", b"%X", b"0%x", b"%x;e=1"])


@st.composite
def _tiny_chunked_bodies(draw: st.DrawFn) -> bytes:
    """Chunked bodies of many small chunks, in runs of one size and mixed."""
    out = []
    for size, count in draw(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 6)))):
        spelling = draw(_SPELLINGS)
        data = draw(st.binary(min_size=size, max_size=size))
        out.append((spelling % size + b"\r\n" + data + b"\r\n") * count)
    return b"".join(out) + draw(st.sampled_from([b"0\r\n\r\n", b"0\r\nX-T: 1\r\n\r\n"]))


@PROPERTY_SETTINGS
@given(st.data(), _tiny_chunked_bodies(), st.booleans())
def test_bodies_in_tiny_chunks_read_the_same(
    data: st.DataObject, body: bytes, mutate: bool
) -> None:
    head = request(method=b"POST", headers=[b"Host: h", b"Transfer-Encoding: chunked"])
    wire = head + body + request(b"/next")
    if mutate:
        wire = head + data.draw(mutated(body + request(b"/next")))
    same_transcripts(data.draw(splits(wire)))


@pytest.mark.parametrize("piece", INTERESTING, ids=repr)
def test_interesting_pieces_in_every_position_read_the_same(piece: bytes) -> None:
    base = request(
        b"/p?q", method=b"POST", headers=[b"Host: h", b"Content-Length: 3", b"X: y"], body=b"abc"
    )
    for at in range(len(base) + 1):
        same_transcripts([base[:at] + piece + base[at:]])


# ------------------------------------------------- the fast path is taken


def _no_h11(*args: object, **kwargs: object) -> h11.Connection:
    raise AssertionError("the reference was used for a common request")


@pytest.mark.parametrize(
    "data",
    [
        request(),
        request(b"/search?q=pounce&page=2", headers=[b"Host: h", b"Accept: */*", b"X-Y: z"]),
        request(method=b"HEAD"),
        request(method=b"POST", headers=[b"Host: h", b"Content-Length: 5"], body=b"hello"),
        request(method=b"DELETE", headers=[b"host: h", b"Connection: keep-alive"]),
        request(headers=[b"Host: h", b"Connection: close"]),
        request(method=b"PURGE", headers=[b"Host: h", b"Content-Length: 0"]),
    ],
    ids=["get", "query-and-fields", "head", "post", "keep-alive", "close", "custom-method"],
)
def test_common_requests_never_touch_h11(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = HTTP1ServerConnection(fast_path=False).receive_data(data)
    monkeypatch.setattr(http1_module.h11, "Connection", _no_h11)
    conn = HTTP1ServerConnection()
    assert conn.receive_data(data) == reference
    stream_id = conn.stream_id
    conn.send(ResponseHead(stream_id=stream_id, status=200, headers=((b"content-length", b"2"),)))
    if not data.startswith(b"HEAD"):
        conn.send(ResponseBody(stream_id=stream_id, data=b"ok"))
    conn.send(ResponseEnd(stream_id=stream_id))


@pytest.mark.parametrize(
    "data",
    [
        request(method=b"POST", headers=[b"Host: h", b"Transfer-Encoding: chunked"]),
        request(headers=[b"Host: h", b"Expect: 100-continue"]),
        request(headers=[b"Host: h", b"Upgrade: websocket", b"Connection: Upgrade"]),
        request(b"http://h/p"),
        request(b"*", method=b"OPTIONS"),
        request(version=b"HTTP/1.0", headers=[]),
        request(headers=[b"Host: a", b"Host: b"]),
        request(headers=[]),
    ],
    ids=["chunked", "expect", "upgrade", "absolute", "asterisk", "http10", "two-hosts", "no-host"],
)
def test_unusual_requests_take_the_reference(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1_module.h11, "Connection", _no_h11)
    with pytest.raises(AssertionError, match="reference was used"):
        HTTP1ServerConnection().receive_data(data)


def test_a_body_split_anywhere_is_counted_off_like_h11() -> None:
    head = request(method=b"POST", headers=[b"Host: h", b"Content-Length: 10"])
    data = head + b"0123456789" + request(b"/next")
    for cut in range(len(head), len(data) + 1):
        events = same_transcripts([data[:cut], data[cut:]] if cut < len(data) else [data])
        received = [e for step in events if step[0] == "receive" for e in step[1][1] or ()]
        assert b"".join(e.data for e in received if isinstance(e, BodyReceived)) == b"0123456789"
        assert [type(e) for e in received if not isinstance(e, BodyReceived)][:2] == [
            RequestReceived,
            BodyEnded,
        ]


def test_limits_object_is_respected_by_both_routes() -> None:
    limits = HTTP1Limits(max_request_line=20, max_header_bytes=60, max_header_count=2)
    for data in [request(b"/" + b"a" * 30), request(headers=[b"Host: h", b"A: 1", b"B: 2"])]:
        same_transcripts([data], limits=limits)


# --------------------------------------------------- the events it builds


@pytest.mark.parametrize(
    ("cls", "slots"),
    [
        (RequestReceived, fast.REQUEST_RECEIVED_SLOTS),
        (BodyReceived, fast.BODY_RECEIVED_SLOTS),
        (BodyEnded, fast.BODY_ENDED_SLOTS),
    ],
)
def test_event_factories_set_every_field(cls: type, slots: tuple[str, ...]) -> None:
    # The fast path builds its events slot by slot; a field added to an event
    # must be added there too, or it would be left unset.
    assert slots == tuple(f.name for f in dataclasses.fields(cls))


def test_event_factories_build_what_the_constructors_build() -> None:
    headers = ((b"host", b"h"),)
    assert events.http1_request_received(3, b"GET", b"/p", b"q=1", headers) == RequestReceived(
        stream_id=3, method=b"GET", path=b"/p", query_string=b"q=1", http_version="1.1",
        headers=headers,
    )  # fmt: skip
    fields = {
        "method": b"PUT", "path": b"/", "query_string": b"", "http_version": "2",
        "headers": headers, "scheme": b"https", "authority": b"h", "expect_continue": True,
    }  # fmt: skip
    assert events.request_received(5, **fields) == RequestReceived(stream_id=5, **fields)  # type: ignore[arg-type]
    assert fast.body_received(3, b"abc") == BodyReceived(stream_id=3, data=b"abc")
    assert fast.body_ended(3) == BodyEnded(stream_id=3)
    assert events.body_ended(3, headers) == BodyEnded(stream_id=3, trailers=headers)
    event = fast.body_ended(3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.stream_id = 4  # type: ignore[misc]


@PROPERTY_SETTINGS
@given(
    pool=st.lists(st.tuples(_FIELD_NAMES, _FIELD_VALUES), min_size=1, max_size=6),
    heads=st.lists(st.lists(st.integers(0, 5), max_size=4), min_size=2, max_size=6),
    method=st.sampled_from([b"GET", b"HEAD", b"POST"]),
)
def test_field_lines_repeated_over_a_connection_read_the_same(
    pool: list[tuple[bytes, bytes]], heads: list[list[int]], method: bytes
) -> None:
    # The fast path remembers the field lines it has read on a connection:
    # requests made again and again from a few lines (valid or not, Host or
    # not) must read as h11 reads them, each one.
    stream = b""
    for picks in heads:
        lines = [b"%s: %s\r\n" % pool[i % len(pool)] for i in picks]
        stream += b"%s / HTTP/1.1\r\n%s\r\n" % (method, b"".join(lines))
    same_transcripts([stream])


def test_the_line_cache_stays_bounded_and_correct() -> None:
    conn = HTTP1ServerConnection()
    for i in range(fast.LINE_CACHE_SIZE * 3):
        lines = b"Host: h\r\nX-N: %d\r\nAccept: */*\r\n" % (i % (fast.LINE_CACHE_SIZE + 5))
        events = conn.receive_data(b"GET / HTTP/1.1\r\n" + lines + b"\r\n")
        request_event = events[0]
        assert isinstance(request_event, RequestReceived)
        assert request_event.headers == (
            (b"host", b"h"),
            (b"x-n", b"%d" % (i % (fast.LINE_CACHE_SIZE + 5))),
            (b"accept", b"*/*"),
        )
        conn.send(ResponseHead(stream_id=conn.stream_id, status=204))
        conn.send(ResponseEnd(stream_id=conn.stream_id))
        conn.start_next_cycle()
    assert 0 < len(conn._lines_seen) <= fast.LINE_CACHE_SIZE
