"""Shared by the differential tests of the HTTP/1.1 fast path.

The fast path is held to its reference, h11, by feeding the same bytes and the
same response events to two machines, one with ``fast_path=True`` and one
forced through h11 (``fast_path=False``), and comparing *transcripts*: every
event, every byte serialized, every public query after every step, and the
status of any rejection. Two machines that agree on all of that are the same
machine as far as anything above them can tell.

The hostile inputs come from the rest of this directory: every byte string in
the parametrize tables and module constants of the other HTTP/1.1 test modules
is harvested and embedded in requests in several ways (as a request line, a
field line, a target, a body...), so a case added there is covered here too.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from _pytest.mark.structures import ParameterSet

from pounce_protocols import (
    HTTP1Limits,
    HTTP1ServerConnection,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

from ._helpers import chunked, request

Transcript = list[tuple[Any, ...]]
Responder = Callable[[HTTP1ServerConnection], bytes]

NEXT = b"GET /next?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"


def state(conn: HTTP1ServerConnection) -> tuple[Any, ...]:
    """Everything the machine answers about itself."""
    return (
        conn.stream_id,
        conn.awaiting_request,
        conn.has_partial_request,
        conn.request_complete,
        conn.response_started,
        conn.buffered_bytes,
        conn.keep_alive,
    )


def attempt(action: Callable[[], Any]) -> tuple[Any, ...]:
    """The result of ``action``, or the kind and status of the protocol error it raised."""
    try:
        return ("ok", action())
    except RemoteProtocolError as exc:
        return ("remote", exc.status_hint)
    except LocalProtocolError as exc:
        return ("local", exc.status_hint)


def default_responder(conn: HTTP1ServerConnection) -> bytes:
    """Answer the current request: odd cycles with a length, even ones chunked."""
    stream_id = conn.stream_id
    if stream_id % 2:
        head = ResponseHead(
            stream_id=stream_id,
            status=200,
            headers=((b"content-type", b"text/plain"), (b"content-length", b"2")),
        )
        out = conn.send(head)
        out += conn.send(ResponseBody(stream_id=stream_id, data=b"ok"))
    else:
        out = conn.send(ResponseHead(stream_id=stream_id, status=404, headers=((b"x-a", b"1"),)))
        out += conn.send(ResponseBody(stream_id=stream_id, data=b"not found"))
    return out + conn.send(ResponseEnd(stream_id=stream_id))


def transcript(
    chunks: Iterable[bytes],
    *,
    fast_path: bool,
    limits: HTTP1Limits | None = None,
    responder: Responder = default_responder,
) -> Transcript:
    """Serve ``chunks`` like a keep-alive server, then end of input; the record."""
    conn = HTTP1ServerConnection(limits, fast_path=fast_path)
    log: Transcript = []
    for chunk in [*chunks, b""]:
        result = attempt(lambda chunk=chunk: conn.receive_data(chunk))
        log.append(("receive", result, state(conn)))
        if result[0] == "remote":
            status = result[1]
            log.append(("reject", conn.reject(status, (), b"refused"), state(conn)))
            log.append(("after", conn.receive_data(NEXT), state(conn)))
            return log
        while conn.request_complete and not conn.response_started:
            log.append(("respond", attempt(lambda: responder(conn)), state(conn)))
            if not conn.keep_alive:
                log.append(("closed", attempt(conn.start_next_cycle), state(conn)))
                return log
            log.append(("next", attempt(conn.start_next_cycle), state(conn)))
    return log


def same_transcripts(
    chunks: list[bytes],
    *,
    limits: HTTP1Limits | None = None,
    responder: Responder = default_responder,
) -> Transcript:
    """Assert the fast path and the reference agree on ``chunks``; the transcript."""
    fast = transcript(chunks, fast_path=True, limits=limits, responder=responder)
    reference = transcript(chunks, fast_path=False, limits=limits, responder=responder)
    assert fast == reference, f"input {chunks!r}"
    return fast


def splits_of(data: bytes) -> list[list[bytes]]:
    """``data`` whole, byte by byte (when short), and cut in three."""
    ways = [[data]]
    if len(data) <= 400:
        ways.append([data[i : i + 1] for i in range(len(data))])
    third = max(len(data) // 3, 1)
    ways.append([data[:third], data[third : 2 * third], data[2 * third :]])
    return [[piece for piece in way if piece] for way in ways if any(way)]


# ----------------------------------------------------------- the corpus


def _leaves(value: Any) -> Iterator[bytes]:
    if isinstance(value, bytes):
        yield value
    elif isinstance(value, ParameterSet):
        yield from _leaves(value.values)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)


def harvested_bytes() -> list[bytes]:
    """Every byte string in the tables and constants of this directory's
    other HTTP/1.1 test modules, deduplicated, in a stable order."""
    package = importlib.import_module(__package__ or "")
    found: dict[bytes, None] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("test_http1") or "fastpath" in info.name:
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        for name, value in sorted(vars(module).items()):
            if name.lstrip("_").isupper():
                found.update(dict.fromkeys(_leaves(value)))
            for mark in getattr(value, "pytestmark", ()):
                if mark.name == "parametrize":
                    found.update(dict.fromkeys(_leaves(mark.args[1])))
    return list(found)


def _host_headers(*fields: bytes) -> list[bytes]:
    return [b"Host: example.com", *fields]


#: How a harvested byte string is put into a request, by name.
EMBEDDINGS: dict[str, Callable[[bytes], bytes]] = {
    "raw": lambda x: x,
    "raw-then-next": lambda x: x + NEXT,
    "request-line": lambda x: x + b"\r\nHost: example.com\r\n\r\n" + NEXT,
    "field-line": lambda x: request(headers=_host_headers(x)) + NEXT,
    "target": lambda x: request(x) + NEXT,
    "method": lambda x: request(method=x) + NEXT,
    "content-length-value": lambda x: (
        request(method=b"POST", headers=_host_headers(b"Content-Length: " + x), body=b"hello")
        + NEXT
    ),
    "connection-value": lambda x: request(headers=_host_headers(b"Connection: " + x)) + NEXT,
    "length-body": lambda x: (
        request(method=b"POST", headers=_host_headers(b"Content-Length: %d" % len(x)), body=x)
        + NEXT
    ),
    "chunked-body": lambda x: (
        request(method=b"POST", headers=_host_headers(b"Transfer-Encoding: chunked"), body=x) + NEXT
    ),
    "chunked-data": lambda x: (
        request(
            method=b"POST", headers=_host_headers(b"Transfer-Encoding: chunked"), body=chunked(x)
        )
        + NEXT
    ),
}
