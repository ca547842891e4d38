"""The HTTP/1.1 fast path: the common request and response shapes without h11.

Theory of operation
-------------------
Most requests a server sees look alike: an origin-form target, ``HTTP/1.1``,
one Host field, a handful of ordinary fields and either no body or a
Content-Length one. Most responses do too: a status, ordinary fields, maybe a
Content-Length. For those shapes, h11's generality (an event object per step,
a state machine fired per event, header normalization twice per response)
costs far more than the work itself. This module does that work directly.

It is a *subset* of h11, never a variant of it. Every function here either
returns exactly what the h11 route of :class:`~._http1.HTTP1ServerConnection`
would have produced, or ``None``, meaning "not a shape I know": the machine then
takes the h11 route for that request (or, on the response side, that head),
which gives the answer or the error. So anything unusual (Transfer-Encoding,
Expect, Upgrade, absolute or asterisk form, another HTTP version, a missing or
repeated Host, a response that h11 would rewrite) is decided by the reference,
and a differential test (``tests/unit/protocols/test_http1_fastpath_*``) feeds
both routes the same bytes and events to hold them to it.

The fast path runs *behind* the head gate (:mod:`._http1_head`): by the time
:func:`parse_request_head` sees a head, its framing, sizes and characters have
been checked, so the grammar below only has to decide "common or not".
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from pounce_protocols._events import Headers, RequestReceived
from pounce_protocols._fast_events import (
    BODY_ENDED_SLOTS,
    BODY_RECEIVED_SLOTS,
    REQUEST_RECEIVED_SLOTS,
    body_ended,
    body_received,
    http1_request_received,
)
from pounce_protocols._http1_head import valid_host

__all__ = [
    "BODY_ENDED_SLOTS",
    "BODY_RECEIVED_SLOTS",
    "CHUNKED_END",
    "FIELD_CACHE_SIZE",
    "HEAD_CACHE_SIZE",
    "LINE_CACHE_SIZE",
    "REQUEST_RECEIVED_SLOTS",
    "body_ended",
    "body_received",
    "encode_chunk",
    "field_line",
    "parse_request_head",
    "serialize_fields",
    "serialize_response_head",
]

# --------------------------------------------------------------- grammar
# h11's ABNF (h11/_abnf.py) is the rule: what passes here is exactly what h11
# accepts, narrowed further. Regular expressions scan bytes one at a time, so
# the checks below lean on the gate and on C-speed bytes methods instead.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")

# Read-only tables of the names most messages use, each mapped to its lowercase
# form: a hit is a token by construction and needs no regular expression.
_COMMON_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"})
_COMMON_REQUEST_FIELDS = (
    "accept accept-encoding accept-language authorization cache-control connection "
    "content-length content-type cookie dnt host if-modified-since if-none-match origin "
    "pragma priority referer sec-ch-ua sec-ch-ua-mobile sec-ch-ua-platform sec-fetch-dest "
    "sec-fetch-mode sec-fetch-site sec-fetch-user te upgrade-insecure-requests user-agent "
    "x-forwarded-for x-forwarded-proto x-real-ip x-request-id"
)
_COMMON_RESPONSE_FIELDS = (
    "accept-ranges access-control-allow-credentials access-control-allow-headers "
    "access-control-allow-methods access-control-allow-origin access-control-expose-headers "
    "access-control-max-age age cache-control content-disposition content-encoding "
    "content-language content-length content-location content-range "
    "content-security-policy content-type date etag expires last-modified link location "
    "pragma referrer-policy retry-after server set-cookie strict-transport-security vary "
    "www-authenticate x-content-type-options x-frame-options x-request-id"
)


def _lowercase_table(names: str) -> dict[bytes, bytes]:
    table: dict[bytes, bytes] = {}
    for name in names.split():
        lowered = name.encode("ascii")
        for spelling in (name, name.title(), name.upper()):
            table[spelling.encode("ascii")] = lowered
    return table


_REQUEST_FIELDS = _lowercase_table(_COMMON_REQUEST_FIELDS)
_RESPONSE_FIELDS = _lowercase_table(_COMMON_RESPONSE_FIELDS)

# Request fields with a meaning of their own; every other one is passed through.
_SPECIAL_REQUEST_FIELDS = frozenset(
    {b"host", b"content-length", b"connection", b"transfer-encoding", b"expect", b"upgrade"}
)
# Response fields h11 reads or rewrites.
_SPECIAL_RESPONSE_FIELDS = frozenset(
    {b"content-length", b"connection", b"host", b"transfer-encoding"}
)

# Single bytes looked for in a bytes object are given as their integer values:
# ``0x23 in target`` is one memchr, while ``b"#" in target`` first tries the
# needle as an integer, and the TypeError it raises and clears costs CPython
# ten times the search itself (about 230 ns a test on 3.14).
_NUL, _HTAB, _LF, _VT, _FF, _CR, _HASH = 0x00, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x23

# A Content-Length of at most 18 digits always fits the gate's 2**63 - 1; a
# longer one (valid or not) is left to the reference.
_MAX_LENGTH_DIGITS = 18


def _has_close(value: bytes) -> bool:
    """Whether a Connection field value holds the ``close`` option (as h11 reads it)."""
    return b"close" in [token.strip() for token in value.lower().split(b",")]


#: How many distinct request field lines a connection remembers.
LINE_CACHE_SIZE = 32


def parse_request_head(
    head: bytes, stream_id: int, lines_seen: dict[bytes, tuple[bytes, bytes]] | None = None
) -> tuple[RequestReceived, int, bool] | None:
    """Parse a complete request head that passed the gate.

    Returns the event, the body length (0 for none) and whether the client
    allows keep-alive; or ``None`` when the head is not a common shape.

    The gate has already refused bare CR and LF, obs-fold and every control
    character but HTAB, so a field value that h11 accepts is any line remainder
    with its SP/HTAB ends stripped; only names and the request line need checks.

    ``lines_seen`` belongs to the caller's connection: it maps field lines
    already read (ordinary fields and a valid Host) to their field. A client
    sends the same lines (Host, User-Agent, Accept, cookies...) request after
    request on a keep-alive connection; each is read once, then looked up.
    Reading a line depends on nothing but its bytes. It is cleared when full.
    """
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if (
        version != b"HTTP/1.1"
        or target[:1] != b"/"
        or not target.isascii()  # h11: the target is visible ASCII
        or _HTAB in target
        or _HASH in target  # a fragment: the reference refuses it
        or (
            method not in _COMMON_METHODS
            and (_TOKEN.fullmatch(method) is None or method == b"CONNECT")
        )
    ):
        return None
    headers = []
    hosts = 0
    length = 0
    keep_alive = True
    for line in lines[1:-2]:
        if lines_seen is not None:
            field = lines_seen.get(line)
            if field is not None:
                headers.append(field)
                if field[0] == b"host":
                    hosts += 1
                continue
        name, colon, value = line.partition(b":")
        lowered = _REQUEST_FIELDS.get(name)
        if lowered is None:
            if _TOKEN.fullmatch(name) is None:
                return None
            lowered = name.lower()
        if not colon:
            return None
        value = value.strip(b" \t")
        field = (lowered, value)
        headers.append(field)
        if lowered in _SPECIAL_REQUEST_FIELDS:
            if lowered == b"host":
                hosts += 1
                if not valid_host(value):
                    return None  # the reference answers 400
                _remember(lines_seen, line, field, LINE_CACHE_SIZE)
            elif lowered == b"content-length":
                if length or not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                    return None  # repeated, a list or out of range: the reference decides
                length = int(value) or -1  # -1 marks a zero length as seen
            elif lowered == b"connection":
                if _has_close(value):
                    keep_alive = False
            else:
                return None  # transfer-encoding, expect, upgrade
        else:
            _remember(lines_seen, line, field, LINE_CACHE_SIZE)
    if hosts != 1:
        return None  # missing or repeated: the reference says which error
    path, _, query = target.partition(b"?")
    event = http1_request_received(stream_id, method, path, query, tuple(headers))
    return event, max(length, 0), keep_alive


def _remember(cache: dict[Any, Any] | None, key: Any, value: Any, size: int) -> None:
    """Keep ``key -> value`` in one of a connection's caches, which is cleared
    when it holds ``size`` entries (a cache only saves work; a miss redoes it)."""
    if cache is not None:
        if len(cache) >= size:
            cache.clear()
        cache[key] = value


# ------------------------------------------------------------- responses


def _status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        reason = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, reason)


# Built once: the status line of every final status h11 accepts.
_STATUS_LINES: dict[int, bytes] = {status: _status_line(status) for status in range(200, 1000)}

_CHUNKED_FIELD = b"Transfer-Encoding: chunked\r\n"
_CLOSE_FIELD = b"Connection: close\r\n"
_CRLF = b"\r\n"

#: The last chunk of a chunked body without trailers.
CHUNKED_END = b"0\r\n\r\n"


def _valid_value(value: bytes) -> bool:
    """Whether h11 accepts ``value`` as a field value: no NUL, CR, LF, VT or
    FF (the rest of its "whitespace"), and no SP or HTAB at either end."""
    if _CR in value or _LF in value or _NUL in value or _VT in value or _FF in value:
        return False
    return not value or (value[0] not in (0x20, 0x09) and value[-1] not in (0x20, 0x09))


def field_line(name: object, value: object) -> tuple[bytes, bytes] | None:
    """``(lowercased name, "name: value" CRLF)`` for one field h11 would write
    as given; ``None`` when it would refuse the field or convert it."""
    if type(name) is not bytes or type(value) is not bytes:
        return None
    lowered = _RESPONSE_FIELDS.get(name)
    if lowered is None:
        if _TOKEN.fullmatch(name) is None:
            return None
        lowered = name.lower()
    if not _valid_value(value):
        return None
    return lowered, b"%s: %s\r\n" % (name, value)


#: How many distinct ordinary field lines a connection remembers.
FIELD_CACHE_SIZE = 16
#: How many distinct whole response heads a connection remembers.
HEAD_CACHE_SIZE = 8


def serialize_fields(headers: Headers) -> bytes | None:
    """Field lines for ordinary ``headers`` (the trailer section of a chunked
    body), blank line included; ``None`` when one needs h11's normalization."""
    parts = []
    for name, value in headers:
        field = field_line(name, value)
        if field is None or field[0] in {b"host", b"content-length", b"transfer-encoding"}:
            return None
        parts.append(field[1])
    parts.append(_CRLF)
    return b"".join(parts)


def serialize_response_head(
    status: int,
    headers: Headers,
    *,
    head_request: bool,
    keep_alive: bool,
    cache: dict[tuple[bytes, bytes], bytes],
    heads: dict[tuple[int, Headers, bool, bool], tuple[bytes, int, bool]] | None = None,
) -> tuple[bytes, int, bool] | None:
    """The bytes of a final response head, as h11 writes it to an HTTP/1.1 client.

    ``head_request`` says the request was HEAD; ``keep_alive`` whether the
    client allows another request. Returns the head, the body budget (the
    exact number of body bytes still allowed, or -1 for chunked framing) and
    whether the connection stays open afterwards; ``None`` when the head needs
    something only the reference does (an error to raise, a field to rewrite).

    ``cache`` belongs to the caller's connection: it maps ordinary fields
    already checked to their line. The same few fields (server, date, content
    type...) head response after response on a keep-alive connection; each is
    checked once, and then only looked up. It is cleared when it fills.

    ``heads``, when given, does the same for whole heads: a route answers with
    the same fields response after response (the date changes once a second),
    so a head seen before is one lookup. Only heads that serialize are kept,
    and the result depends on nothing but the key.
    """
    if heads is None:
        return _serialize_head(status, headers, head_request, keep_alive, cache)
    key = (status, headers, head_request, keep_alive)
    try:
        known = heads.get(key)
    except TypeError:  # an unhashable field: the serializer refuses it
        return _serialize_head(status, headers, head_request, keep_alive, cache)
    if known is None:
        known = _serialize_head(status, headers, head_request, keep_alive, cache)
        if known is not None:
            _remember(heads, key, known, HEAD_CACHE_SIZE)
    return known


def _serialize_head(
    status: int,
    headers: Headers,
    head_request: bool,
    keep_alive: bool,
    cache: dict[tuple[bytes, bytes], bytes],
) -> tuple[bytes, int, bool] | None:
    """:func:`serialize_response_head` without the whole-head cache."""
    line = _STATUS_LINES.get(status)
    if line is None:
        return None
    parts = [line]
    length = -1
    close = False
    try:
        for pair in headers:
            known = cache.get(pair)
            if known is not None:
                parts.append(known)
                continue
            name, value = pair
            if name == b"content-length" and type(value) is bytes and value.isdigit():
                # The common special field, in the form HTTPStream writes it.
                if length >= 0 or len(value) > _MAX_LENGTH_DIGITS:
                    return None  # repeated (h11 merges or refuses), or out of range
                length = int(value)
                parts.append(b"content-length: %s\r\n" % value)
                continue
            field = field_line(name, value)
            if field is None:
                return None  # the reference raises the right LocalProtocolError
            lowered, text = field
            if lowered in _SPECIAL_RESPONSE_FIELDS:
                if lowered == b"content-length":
                    if length >= 0 or not value.isdigit() or len(value) > 20:
                        return None  # repeated (h11 merges or refuses), a list, or invalid
                    length = int(value)
                elif lowered == b"connection" and keep_alive:
                    close = _has_close(value)
                else:
                    return None  # h11 moves Host first, rewrites Connection; we own framing
            else:
                _remember(cache, pair, text, FIELD_CACHE_SIZE)
            parts.append(text)
    except (TypeError, ValueError):
        return None  # a field that is no (bytes, bytes) pair: the reference refuses it
    if status in {204, 304}:
        budget = 0
    elif head_request:
        budget = 0
        if length < 0:
            # h11 frames a HEAD response's fields as the GET response's would be.
            parts.append(_CHUNKED_FIELD)
    elif length >= 0:
        budget = length
    else:
        budget = -1
        parts.append(_CHUNKED_FIELD)
    if not keep_alive:
        parts.append(_CLOSE_FIELD)
    parts.append(_CRLF)
    return b"".join(parts), budget, keep_alive and not close


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (``data`` is not empty)."""
    return b"%x\r\n%s\r\n" % (len(data), data)
