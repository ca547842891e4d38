"""The fast path writes responses exactly as the h11 reference does.

For requests of every shape the fast path serves (and some it hands on), the
same response events (valid, invalid, out of order) go to a fast-path machine
and to one forced through h11; each step must give the same bytes or the same
kind of error, and the machines must agree on every public query after it,
through the next request on the connection.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import (
    HTTP1ServerConnection,
    InformationalResponse,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
)
from pounce_protocols._http1_fast import FIELD_CACHE_SIZE, HEAD_CACHE_SIZE

from ._fastpath import NEXT, attempt, harvested_bytes, state
from ._helpers import INTERESTING, PROPERTY_SETTINGS, request

#: Requests the response plans are played against.
REQUESTS = {
    "get": request(),
    "head": request(method=b"HEAD"),
    "close": request(headers=[b"Host: h", b"Connection: close"]),
    "keep-alive-list": request(headers=[b"Host: h", b"Connection: Keep-Alive, foo"]),
    "post-whole": request(method=b"POST", headers=[b"Host: h", b"Content-Length: 3"], body=b"abc"),
    # The body arrives after the response has started (an early response).
    "post-partial": request(method=b"POST", headers=[b"Host: h", b"Content-Length: 3"]),
    # Not fast-path shapes: both machines use h11 (a sanity check of the harness).
    "http10": request(version=b"HTTP/1.0", headers=[]),
    "chunked": request(
        method=b"POST", headers=[b"Host: h", b"Transfer-Encoding: chunked"], body=b"0\r\n\r\n"
    ),
    "expect": request(
        method=b"POST",
        headers=[b"Host: h", b"Expect: 100-continue", b"Content-Length: 3"],
        body=b"abc",
    ),
}

Step = tuple[Any, ...]


def event_of(step: Step, stream_id: int) -> ResponseEvent:
    kind = step[0]
    if kind == "head":
        return ResponseHead(stream_id=stream_id, status=step[1], headers=step[2], _trusted=True)
    if kind == "info":
        return InformationalResponse(stream_id=stream_id, status=step[1], headers=step[2])
    if kind == "body":
        return ResponseBody(stream_id=stream_id, data=step[1], _trusted=True)
    return ResponseEnd(stream_id=stream_id, trailers=step[1], _trusted=True)


def send_whole(conn: HTTP1ServerConnection, status: int, headers: Any, body: bytes) -> bytes:
    """A one-message response as HTTP1Connection sends it: in one call when
    the machine takes it, else as the events it stands for."""
    stream_id = conn.stream_id
    head = ResponseHead(stream_id=stream_id, status=status, headers=headers, _trusted=True)
    data = conn.send_whole_response(stream_id, status, headers, len(body))
    if data is not None:
        return data + body
    data = conn.send(head)
    if body:
        data += conn.send(ResponseBody(stream_id=stream_id, data=body, _trusted=True))
    return data + conn.send(ResponseEnd(stream_id=stream_id, _trusted=True))


def apply(conn: HTTP1ServerConnection, step: Step) -> bytes:
    if step[0] == "whole":
        return send_whole(conn, *step[1:])
    if step[0] == "data":
        # A body piece without the event (as HTTPStream streams one).
        return conn.send_body(conn.stream_id, step[1])
    return conn.send(event_of(step, conn.stream_id))


def play(data: bytes, plan: list[Step], *, fast_path: bool) -> list[Any]:
    """Receive ``data``, play ``plan`` on its cycle, finish the request, go on."""
    conn = HTTP1ServerConnection(fast_path=fast_path)
    log: list[Any] = [attempt(lambda: conn.receive_data(data)), state(conn)]
    for step in plan:
        log.append(attempt(lambda step=step: apply(conn, step)))
        log.append(state(conn))
    if not conn.request_complete:
        log.append(attempt(lambda: conn.receive_data(b"abc")))  # the rest of a partial body
        log.append(state(conn))
    log.append(attempt(lambda: conn.reject(500, (), b"oops")))
    return log


def play_then_continue(data: bytes, plan: list[Step], *, fast_path: bool) -> list[Any]:
    """``play``, but without the final reject: start the next cycle when allowed
    and serve a plain request on it."""
    conn = HTTP1ServerConnection(fast_path=fast_path)
    log: list[Any] = [attempt(lambda: conn.receive_data(data + NEXT)), state(conn)]
    for step in plan:
        log.append(attempt(lambda step=step: apply(conn, step)))
        log.append(state(conn))
    if not conn.request_complete:
        log.append(attempt(lambda: conn.receive_data(b"abc")))
    log.append(attempt(conn.start_next_cycle))
    log.append(state(conn))
    if conn.request_complete:
        for step in [("head", 200, ((b"content-length", b"1"),)), ("body", b"x"), ("end", ())]:
            log.append(attempt(lambda step=step: conn.send(event_of(step, conn.stream_id))))
        log.append(state(conn))
    return log


def assert_same(data: bytes, plan: list[Step]) -> None:
    fast = play(data, plan, fast_path=True)
    reference = play(data, plan, fast_path=False)
    assert fast == reference, f"request {data!r}, plan {plan!r}"
    fast = play_then_continue(data, plan, fast_path=True)
    reference = play_then_continue(data, plan, fast_path=False)
    assert fast == reference, f"request {data!r}, plan {plan!r} (then the next request)"


# ------------------------------------------------------------ generators

_NAMES = st.one_of(
    st.sampled_from(
        [b"content-type", b"Content-Type", b"CONTENT-TYPE", b"server", b"date", b"x-custom",
         b"set-cookie", b"content-length", b"Content-Length", b"transfer-encoding",
         b"Transfer-Encoding", b"connection", b"Connection", b"host", b"Host", b"vary",
         b"x y", b"x:", b"", b"x\r\ny", b"\xff", b"a(b", b"x-\x00"]
    ),
    st.binary(max_size=6),
)  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(
        [b"", b"text/plain", b"0", b"1", b"3", b"10", b"005", b"3, 3", b"3,4", b" 3", b"3 ",
         b"+3", b"9" * 21, b"9" * 19, b"chunked", b"Chunked", b"gzip", b"close", b"Close",
         b"keep-alive", b"keep-alive, close", b"upgrade", b"a\tb", b"a  b", b"a:  b",
         b"a\r\nInjected: 1", b"a\nb", b"a\x00b", b"a\x01b", b"\x7f", b"caf\xc3\xa9",
         b"\tx", b"x\t", b"a\x0bb", b"a\x0cb"]
    ),
    st.binary(max_size=8),
)  # fmt: skip
_HEADERS = st.lists(st.tuples(_NAMES, _VALUES), max_size=5).map(tuple)
_STATUSES = st.sampled_from([200, 201, 204, 299, 304, 404, 418, 500, 599, 999, 101, 100, 150])
_TRAILERS = st.one_of(
    st.just(()),
    st.lists(st.tuples(_NAMES, _VALUES), min_size=1, max_size=3).map(tuple),
)


@st.composite
def plans(draw: st.DrawFn) -> list[Step]:
    """A response as events: mostly in order, sometimes not."""
    plan: list[Step] = []
    for _ in range(draw(st.integers(0, 1))):
        plan.append(("info", draw(st.sampled_from([100, 103, 150])), ()))
    plan.append(("head", draw(_STATUSES), draw(_HEADERS)))
    for _ in range(draw(st.integers(0, 3))):
        pieces = st.sampled_from([b"", b"abc", b"x" * 10]) | st.binary(max_size=5)
        plan.append((draw(st.sampled_from(["body", "data"])), draw(pieces)))
    plan.append(("end", draw(_TRAILERS)))
    if draw(st.booleans()):
        # Shuffle a little: a step repeated, moved or dropped.
        at = draw(st.integers(0, len(plan) - 1))
        kind = draw(st.sampled_from(["repeat", "move", "drop"]))
        step = plan[at]
        if kind == "repeat":
            plan.insert(draw(st.integers(0, len(plan))), step)
        elif kind == "move":
            del plan[at]
            plan.insert(draw(st.integers(0, len(plan))), step)
        else:
            del plan[at]
    return plan


# ----------------------------------------------------------------- tests


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(REQUESTS)), plans())
def test_generated_responses_are_written_the_same(name: str, plan: list[Step]) -> None:
    assert_same(REQUESTS[name], plan)


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(REQUESTS)), _STATUSES, _HEADERS, st.binary(max_size=12))
def test_whole_responses_are_written_the_same(
    name: str, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes
) -> None:
    # The shape HTTPStream sends: head, the body in one piece, end; the body
    # as an event or without one.
    assert_same(REQUESTS[name], [("head", status, headers), ("body", body), ("end", ())])
    assert_same(REQUESTS[name], [("head", status, headers), ("data", body), ("end", ())])


@PROPERTY_SETTINGS
@given(
    st.sampled_from(sorted(REQUESTS)),
    _STATUSES,
    _HEADERS,
    st.sampled_from([b"", b"abc", b"x" * 10]) | st.binary(max_size=12),
    st.booleans(),
)
def test_whole_responses_in_one_call_are_written_the_same(
    name: str,
    status: int,
    headers: tuple[tuple[bytes, bytes], ...],
    body: bytes,
    exact_length: bool,
) -> None:
    # send_whole_response on the fast path against the three events on h11;
    # with a Content-Length of the body's own length (what HTTPStream sends)
    # or whatever the generated fields say.
    if exact_length:
        headers = (*headers, (b"content-length", b"%d" % len(body)))
    assert_same(REQUESTS[name], [("whole", status, headers, body)])


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "taken"),
    [
        ("get", 200, ((b"content-length", b"5"),), b"hello", True),
        ("get", 204, (), b"", True),
        ("head", 200, ((b"content-length", b"5"),), b"", True),
        ("get", 200, (), b"hello", False),  # chunked framing: event by event
        ("get", 200, ((b"content-length", b"9"),), b"hello", False),  # a length mismatch
        ("http10", 200, ((b"content-length", b"5"),), b"hello", False),  # the reference route
    ],
)
def test_which_whole_responses_take_one_call(
    name: str, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, taken: bool
) -> None:
    conn = HTTP1ServerConnection()
    conn.receive_data(REQUESTS[name])
    data = conn.send_whole_response(conn.stream_id, status, headers, len(body))
    assert (data is not None) is taken
    if data is not None:
        assert data.startswith(b"HTTP/1.1 %d " % status)
        assert data.endswith(b"\r\n\r\n")
        assert conn.keep_alive
    else:
        assert not conn.response_started  # nothing was sent: the events follow


HARVESTED = harvested_bytes()


@pytest.mark.parametrize("request_name", sorted(REQUESTS))
def test_harvested_bytes_as_field_names_and_values(request_name: str) -> None:
    # Every byte string of the other tests, as a response field name and value
    # (the invalid-response-head tables of test_http1_send among them).
    data = REQUESTS[request_name]
    for leaf in HARVESTED:
        for headers in [((leaf, b"v"),), ((b"x", leaf),), ((b"content-length", leaf),)]:
            assert_same(data, [("head", 200, headers), ("body", b"abc"), ("end", ())])


@pytest.mark.parametrize("piece", INTERESTING, ids=repr)
def test_interesting_pieces_in_field_values(piece: bytes) -> None:
    for value in [piece, b"a" + piece, piece + b"a", b"a" + piece + b"b"]:
        for name in sorted(REQUESTS):
            assert_same(REQUESTS[name], [("head", 200, ((b"x", value),)), ("end", ())])
            assert_same(REQUESTS[name], [("head", 200, ()), ("end", ((b"x", value),))])


def test_events_for_another_stream_are_refused_the_same() -> None:
    for stream_id in (0, 2, 5):
        for kind in [("head", 200, ()), ("body", b"x"), ("end", ())]:
            fast = HTTP1ServerConnection()
            reference = HTTP1ServerConnection(fast_path=False)
            for conn in (fast, reference):
                conn.receive_data(request())
            event = event_of(kind, stream_id)
            results = [attempt(lambda c=conn, e=event: c.send(e)) for conn in (fast, reference)]
            assert results[0] == results[1]
            assert results[0][0] == "local"


def test_the_field_cache_stays_bounded_and_correct() -> None:
    # Many distinct fields over one connection: the cache is cleared when it
    # fills, and every response is still written as h11 writes it.
    fast = HTTP1ServerConnection()
    reference = HTTP1ServerConnection(fast_path=False)
    for i in range(FIELD_CACHE_SIZE * 3):
        headers = ((b"x-n", b"%d" % i), (b"x-fixed", b"1"), (b"content-length", b"0"))
        outputs = []
        for conn in (fast, reference):
            conn.receive_data(request())
            out = conn.send(ResponseHead(stream_id=conn.stream_id, status=200, headers=headers))
            out += conn.send(ResponseEnd(stream_id=conn.stream_id))
            conn.start_next_cycle()
            outputs.append(out)
        assert outputs[0] == outputs[1]
    assert len(fast._field_cache) <= FIELD_CACHE_SIZE


# Heads as apps send them: a status with or without a body, a length or none.
_TYPICAL_HEADS = st.tuples(
    st.sampled_from([200, 204, 304, 404]),
    st.lists(
        st.sampled_from(
            [(b"content-type", b"text/plain"), (b"content-length", b"0"),
             (b"content-length", b"5"), (b"connection", b"close"), (b"server", b"app")]
        ),
        max_size=3,
        unique=True,
    ).map(tuple),
)  # fmt: skip


@PROPERTY_SETTINGS
@given(
    st.lists(_TYPICAL_HEADS | st.tuples(_STATUSES, _HEADERS), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["get", "head", "close"]), st.booleans()),
        min_size=1,
        max_size=12,
    ),
)
def test_heads_repeated_on_one_connection_are_written_the_same(
    pool: list[tuple[int, tuple[tuple[bytes, bytes], ...]]],
    responses: list[tuple[int, str, bool]],
) -> None:
    # A keep-alive connection answering again and again from a few heads (the
    # fast path remembers whole heads): GET, HEAD or a last request, in one
    # call or as events, each response as h11 writes it, until one of them
    # ends the connection.
    fast = HTTP1ServerConnection()
    reference = HTTP1ServerConnection(fast_path=False)
    for index, kind, whole in responses:
        status, headers = pool[index % len(pool)]
        data = REQUESTS[kind]
        plan: list[Step] = (
            [("whole", status, headers, b"")] if whole else [("head", status, headers), ("end", ())]
        )
        logs = []
        for conn in (fast, reference):
            log: list[Any] = [attempt(lambda conn=conn, data=data: conn.receive_data(data))]
            for step in plan:
                log.append(attempt(lambda conn=conn, step=step: apply(conn, step)))
            log.append(state(conn))
            log.append(attempt(conn.start_next_cycle))
            logs.append(log)
        assert logs[0] == logs[1], f"pool {pool!r}, responses {responses!r}"
        if logs[0][-1][0] != "ok":
            break  # the connection cannot carry another request
    assert len(fast._head_cache) <= HEAD_CACHE_SIZE


def test_the_head_cache_stays_bounded_and_correct() -> None:
    fast = HTTP1ServerConnection()
    reference = HTTP1ServerConnection(fast_path=False)
    for i in range(HEAD_CACHE_SIZE * 3):
        headers = ((b"x-n", b"%d" % (i % (HEAD_CACHE_SIZE + 3))), (b"content-length", b"0"))
        outputs = []
        for conn in (fast, reference):
            conn.receive_data(request())
            out = conn.send_whole_response(conn.stream_id, 200, headers, 0)
            if out is None:
                out = conn.send(ResponseHead(stream_id=conn.stream_id, status=200, headers=headers))
                out += conn.send(ResponseEnd(stream_id=conn.stream_id))
            conn.start_next_cycle()
            outputs.append(out)
        assert outputs[0] == outputs[1]
    assert 0 < len(fast._head_cache) <= HEAD_CACHE_SIZE


def test_body_pieces_for_another_stream_are_refused_the_same() -> None:
    results = []
    for fast_path in (True, False):
        conn = HTTP1ServerConnection(fast_path=fast_path)
        conn.receive_data(REQUESTS["get"])
        conn.send(ResponseHead(stream_id=conn.stream_id, status=200, headers=()))
        results.append(attempt(lambda conn=conn: conn.send_body(conn.stream_id + 1, b"x")))
        results.append(attempt(lambda conn=conn: conn.send_body(conn.stream_id, b"abc")))
    assert results[0] == results[2]
    assert results[1] == results[3] == ("ok", b"3\r\nabc\r\n")
    assert results[0][0] == "local"
