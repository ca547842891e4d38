"""Response compression: zstd, else gzip, else identity, chosen per request.

Negotiation reads ``Accept-Encoding`` with its q-values (RFC 9110 §12.5.3):
the coding with the highest q wins, zstd before gzip on a tie, and a q of 0
refuses a coding (``*`` stands for codings not listed). zstd comes from the
standard library's ``compression.zstd`` on Python 3.14 and from the
``zstandard`` package before (``pounce-extras[zstd]``); without either, only
gzip is offered.

A response is compressed only when all of these hold: the request is not
HEAD (which gets the headers of an uncompressed GET); the status is not 1xx,
204, 206 or 304; the app did not set ``Content-Encoding`` or
``Cache-Control: no-transform``; the content type is one that compresses
(text, JSON, JavaScript, XML, SVG, wasm, fonts...); and the body is at
least ``--compression-min-size`` bytes. Compressible responses get
``Vary: Accept-Encoding`` whatever the client accepted, so a cache keeps the
encodings apart.

A body given whole is compressed whole and gets an exact ``Content-Length``
(sent uncompressed when compressing did not make it smaller). A streamed body
is compressed message by message, each one flushed (gzip ``Z_SYNC_FLUSH``,
zstd ``FLUSH_BLOCK``) so that what the app sends reaches the client now:
server-sent events keep working. Each piece goes through the ASGI ``send``,
so a slow client slows the app down instead of filling memory. Files the app
sends with zero-copy (``http.response.zerocopysend``) are read and compressed
in slices when they are compressed, and passed through untouched otherwise.
A compressed response's strong ``ETag`` becomes weak, and ``Accept-Ranges``
is dropped: ranges would address the compressed bytes.

What it costs: the layer judges a response at its start, through the
server (``pounce.on_response_start``, or, where nothing outside the layer
wraps ``send``, as the default stack has it, its ``http_start_hook``, which
the server runs for each response without calling the layer at all for
HTTP requests): when the request accepts no coding on
offer (or is HEAD), nothing will be compressed, and its only part is the
``Vary`` of a compressible response. When it accepts one, a response whose
fields rule compression out (its type, its coding, a Content-Length under
the minimum) is left alone from its start too; the body goes by untouched,
with no call of ours per message. For one that may be compressed, the start
hook hands the server a relay, which sees the first body message: a body
sent whole and too small is left alone there; any other response is followed
further through this layer's ``send`` (a body that does not shrink goes out
as it is; from then on, such a response costs one plain call per message,
without an await). Behind another layer's wrapper, where the server's hooks
cannot reach, the layer follows every response of a request that accepts a
coding in the same way, from its first message. The coding chosen for an
``Accept-Encoding`` value is remembered (a few hundred distinct values at
most), as clients send the same few values over and over.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import zlib
from collections.abc import Awaitable, Iterable
from typing import Protocol

from pounce import (
    ASGIApp,
    Message,
    Receive,
    ResponseRelay,
    Scope,
    Send,
    ServerConfig,
    StartHook,
    on_response_start,
)
from pounce_extras._http import add_vary, parse_qlist, preferred, without_headers

if sys.version_info >= (3, 14):
    from compression import zstd as _stdlib_zstd

# Before 3.14, zstd needs the zstandard package (pounce-extras[zstd]).
_HAS_ZSTD = sys.version_info >= (3, 14) or importlib.util.find_spec("zstandard") is not None

__all__ = [
    "CompressionLayer",
    "available_encodings",
    "choose_encoding",
    "compressible",
    "new_encoder",
]

# The server's scope extension that says a response was asked to end as its
# worker drains (see pounce's docs/workers.md).
_DRAIN = "pounce.drain"

# Slices in which a zero-copy file is read when it must be compressed.
_FILE_SLICE = 256 * 1024

_COMPRESSIBLE_TYPES = frozenset(
    {
        "application/javascript",
        "application/ecmascript",
        "application/json",
        "application/xml",
        "application/wasm",
        "application/x-ndjson",
        "application/x-javascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/vnd.ms-fontobject",
        "font/ttf",
        "font/otf",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "image/bmp",
    }
)
_NEVER = frozenset({204, 206, 304})
_VARY = (b"vary", b"Accept-Encoding")
# Content-Type values seen on most responses, known to be compressible: one
# lookup instead of reading the value (held to compressible() by a test).
_COMPRESSIBLE_VALUES = frozenset(
    value + params
    for value in (
        b"text/plain",
        b"text/html",
        b"text/css",
        b"text/csv",
        b"text/javascript",
        b"text/markdown",
        b"text/xml",
        b"application/javascript",
        b"application/json",
        b"application/xml",
        b"image/svg+xml",
    )
    for params in (b"", b"; charset=utf-8", b";charset=utf-8", b"; charset=UTF-8")
)
# Fields after which the start of a response needs a full reading.
_DECIDING = frozenset({b"content-encoding", b"cache-control", b"vary"})
# How many distinct Accept-Encoding values a layer remembers the choice for.
_CHOICES_KEPT = 512
# Not a coding, nor None: an Accept-Encoding value not seen before.
_UNSEEN = "unseen"
_ACCEPT_ENCODING = b"accept-encoding"


def compressible(content_type: bytes | None) -> bool:
    """Whether a body of this content type is worth compressing."""
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    return (
        media.startswith("text/")
        or media in _COMPRESSIBLE_TYPES
        or media.endswith(("+json", "+xml"))
    )


def _read_fields(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[bytes | None, bytes | None, bytes | None, bytes | None]:
    """Content-Type, Content-Encoding, Cache-Control and Content-Length of a
    response's fields (names in any case; the last of each)."""
    content_type = content_encoding = cache_control = length = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-type":
            content_type = value
        elif lowered == b"content-encoding":
            content_encoding = value
        elif lowered == b"cache-control":
            cache_control = value
        elif lowered == b"content-length":
            length = value
    return content_type, content_encoding, cache_control, length


def _eligible(
    status: object,
    content_type: bytes | None,
    content_encoding: bytes | None,
    cache_control: bytes | None,
) -> bool:
    """Whether a response with these fields may be compressed."""
    return (
        isinstance(status, int)
        and status >= 200
        and status not in _NEVER
        and content_encoding is None
        and not (cache_control and b"no-transform" in cache_control.lower())
        and compressible(content_type)
    )


# What _judge returns for a response that may not be compressed.
_INELIGIBLE = b"ineligible"


def _judge(status: int, fields: list[tuple[bytes, bytes]]) -> bytes | None:
    """Judge a response by its start: :data:`_INELIGIBLE` when it may not be
    compressed, else its Content-Length (None without one), once
    ``Vary: Accept-Encoding`` is among its fields."""
    # Every response comes here. The usual fields (of those that matter, a
    # Content-Type and a Content-Length) are judged in a few steps; any other
    # that decides means a full reading.
    content_type = length = None
    for name, value in fields:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
        elif name in _DECIDING:
            content_type, content_encoding, cache_control, length = _read_fields(fields)
            if not _eligible(status, content_type, content_encoding, cache_control):
                return _INELIGIBLE
            add_vary(fields, b"Accept-Encoding")
            return length
    if (
        content_type is None
        or status < 200
        or status in _NEVER
        or not (content_type in _COMPRESSIBLE_VALUES or compressible(content_type))
    ):
        return _INELIGIBLE
    fields.append(_VARY)
    return length


def _under(length: bytes | None, min_size: int) -> bool:
    """Whether a Content-Length says the body is under ``min_size``."""
    return length is not None and length.isdigit() and int(length) < min_size


def _vary_hook(status: int, fields: list[tuple[bytes, bytes]]) -> None:
    """The start of a response this request does not get compressed: a Vary
    when another request's could be."""
    _judge(status, fields)


def _start_judge(min_size: int, relay: ResponseRelay) -> StartHook:
    """The start hook for a request that accepts a coding: the Vary of
    :func:`_judge`, and ``relay`` for a response that may be compressed
    unless its Content-Length is under ``min_size``."""

    def judge(status: int, fields: list[tuple[bytes, bytes]]) -> ResponseRelay | None:
        length = _judge(status, fields)
        if length is _INELIGIBLE or _under(length, min_size):
            return None
        return relay

    return judge


def available_encodings() -> tuple[str, ...]:
    """The codings this interpreter can produce, in order of preference."""
    if _HAS_ZSTD:
        return ("zstd", "gzip")
    return ("gzip",)


def choose_encoding(accept_encoding: list[bytes], offers: tuple[str, ...]) -> str | None:
    """The coding to use for ``Accept-Encoding`` values; ``None``: identity."""
    if not accept_encoding:
        return None
    accepted = parse_qlist(accept_encoding)
    if "x-gzip" in accepted and "gzip" not in accepted:
        accepted["gzip"] = accepted["x-gzip"]  # RFC 9110 §8.4.1.3
    return preferred(offers, accepted, wildcard="*")


class Encoder(Protocol):
    """A streaming compressor: every ``chunk`` is flushed, ``finish`` ends it."""

    def chunk(self, data: bytes) -> bytes: ...

    def finish(self, data: bytes) -> bytes: ...


class _Gzip:
    __slots__ = ("_z",)

    def __init__(self, level: int) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def chunk(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_FINISH)


if sys.version_info >= (3, 14):

    class _StdlibZstd:
        __slots__ = ("_c",)

        def __init__(self, level: int) -> None:
            self._c = _stdlib_zstd.ZstdCompressor(level=level)

        def chunk(self, data: bytes) -> bytes:
            return self._c.compress(data, mode=_stdlib_zstd.ZstdCompressor.FLUSH_BLOCK)

        def finish(self, data: bytes) -> bytes:
            return self._c.compress(data, mode=_stdlib_zstd.ZstdCompressor.FLUSH_FRAME)


class _Zstandard:
    __slots__ = ("_c", "_zstandard")

    def __init__(self, level: int) -> None:
        import zstandard  # noqa: PLC0415 - optional; available_encodings() checked it is there

        self._zstandard = zstandard
        self._c = zstandard.ZstdCompressor(level=level).compressobj()

    def chunk(self, data: bytes) -> bytes:
        return self._c.compress(data) + self._c.flush(self._zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self, data: bytes) -> bytes:
        return self._c.compress(data) + self._c.flush(self._zstandard.COMPRESSOBJ_FLUSH_FINISH)


def new_encoder(encoding: str, config: ServerConfig) -> Encoder:
    """A fresh compressor for one response."""
    if encoding == "gzip":
        return _Gzip(config.compression_gzip_level)
    if sys.version_info >= (3, 14):
        return _StdlibZstd(config.compression_zstd_level)
    return _Zstandard(config.compression_zstd_level)


class CompressionLayer:
    """The ASGI layer; one instance serves every request of every worker
    (its state is immutable; each response gets its own :class:`_Response`)."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.offers = available_encodings()
        self.min_size = config.compression_min_size
        # The relay and the start hook of each coding on offer, made once;
        # None (identity) gets the Vary alone.
        self._relays = {encoding: self._relay(encoding) for encoding in self.offers}
        self._start_hooks: dict[str | None, StartHook] = {
            encoding: _start_judge(self.min_size, relay) for encoding, relay in self._relays.items()
        }
        self._start_hooks[None] = _vary_hook
        # The coding chosen for an Accept-Encoding value (None: identity).
        # Shared by the worker threads; a dict's own operations are atomic
        # on every build, and a lost insertion only costs a later choice.
        self._choices: dict[bytes, str | None] = {}

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function returning the awaitable to run: a request that
        # will not be compressed runs the app's own, without a coroutine of
        # this layer around it (a frame and an await level per request).
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        encoding = self._encoding(scope)
        hooked = on_response_start(send, self._start_hooks[encoding])
        if encoding is None or hooked is send:
            # Nothing will be compressed (at most the start needs a Vary),
            # or the server judges the start with our hook, which relays the
            # responses that may be compressed to a _Response.
            return self.app(scope, receive, hooked)
        # Behind a wrapper: follow the response from its first message.
        return self._compressed(scope, receive, send, encoding)

    def http_start_hook(
        self, scope: Scope, status: int, fields: list[tuple[bytes, bytes]]
    ) -> ResponseRelay | None:
        """The hook :meth:`__call__` registers for an ``http`` request, with
        its scope: when no layer outside this one wraps ``send``, the server
        runs it for each response itself and never calls this layer for HTTP
        (see pounce's app stack), which saves a response left alone the
        call, the registration and the list of hooks."""
        # The response first: the request's coding matters only for one
        # that may be compressed and is not known to be too small (a JSON
        # answer of a few dozen bytes never reads the request's fields).
        length = _judge(status, fields)
        if length is _INELIGIBLE or _under(length, self.min_size):
            return None
        encoding = self._encoding(scope)
        if encoding is None:
            return None
        return self._relays[encoding]

    def _encoding(self, scope: Scope) -> str | None:
        """The coding this request's responses may be compressed with."""
        # HEAD is never compressed, but gets the Vary that GET would have.
        if scope["method"] == "HEAD":
            return None
        accepted = None
        for name, value in scope["headers"]:
            if name == _ACCEPT_ENCODING:
                # Field lines of a list field combine with commas (RFC 9110
                # §5.3).
                accepted = value if accepted is None else accepted + b"," + value
        if accepted is None:
            return None
        encoding = self._choices.get(accepted, _UNSEEN)
        if encoding is _UNSEEN:
            encoding = self._choose(accepted)
        return encoding

    def _choose(self, accepted: bytes) -> str | None:
        """The coding for an Accept-Encoding value, remembered."""
        encoding = choose_encoding([accepted], self.offers)
        if len(self._choices) < _CHOICES_KEPT:
            self._choices[accepted] = encoding
        return encoding

    def _relay(self, encoding: str) -> ResponseRelay:
        """The relay of a response that may be compressed with ``encoding``:
        left alone at its first message, or followed by a _Response."""
        min_size = self.min_size

        def relay(downstream: Send, first: Message) -> Send | None:
            # A body sent whole and too small is left alone here, without
            # following the response (what _Response would do with it).
            if first.get("type") == "http.response.body" and not first.get("more_body", False):
                body = first.get("body", b"")
                if type(body) is bytes and len(body) < min_size:
                    return None
            return _Response(self, encoding, downstream, judged=True).send

        return relay

    async def _compressed(self, scope: Scope, receive: Receive, send: Send, encoding: str) -> None:
        """Run the app for a request whose response may be compressed."""
        response = _Response(self, encoding, send)
        try:
            await self.app(scope, receive, response.send)
        except asyncio.CancelledError:
            # An app that did not end when asked is cancelled by the server;
            # the response still ends cleanly, so the encoding ends too.
            if _asked_to_end(scope, response):
                await response.end_stream()
            raise
        if _asked_to_end(scope, response):
            # The server asked this response to end as its worker drains (an
            # event stream), and the app did: end the encoding too, so that
            # what the client has decodes and the response ends cleanly.
            await response.end_stream()


def _asked_to_end(scope: Scope, response: _Response) -> bool:
    if response.mode != "stream":
        return False
    drain = scope.get("extensions", {}).get(_DRAIN)
    return bool(drain and drain.get("ending"))


class _Response:
    """Compression of one response: a small state machine over its messages."""

    __slots__ = ("_encoder", "_layer", "_send", "_start", "encoding", "mode")

    def __init__(
        self, layer: CompressionLayer, encoding: str | None, send: Send, *, judged: bool = False
    ) -> None:
        self._layer = layer
        self._send = send
        self.encoding = encoding
        # start -> pass | pending -> pass | stream; "judged": the start comes
        # judged by the layer's start hook (eligible, its Vary added).
        self.mode = "judged" if judged else "start"
        self._start: Message | None = None
        self._encoder: Encoder | None = None

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function: a response left alone hands the app the next
        # layer's awaitable, without a coroutine of its own.
        mode = self.mode
        if mode == "pass":
            return self._send(message)
        if mode == "pending":
            return self._on_first_body(message)
        if mode == "judged":
            return self._hold_start(message)
        if mode == "start":
            return self._on_start(message)
        return self._on_stream_body(message)

    async def _hold_start(self, message: Message) -> None:
        # The start, judged eligible: the first body message settles it.
        self._start = message
        self.mode = "pending"

    async def _on_start(self, message: Message) -> None:
        if message.get("type") != "http.response.start":
            self.mode = "pass"
            await self._send(message)
            return
        status = message.get("status", 200)
        raw = message.get("headers", ())
        headers = list(raw)
        content_type, content_encoding, cache_control, length = _read_fields(headers)
        if not _eligible(status, content_type, content_encoding, cache_control):
            self.mode = "pass"
            # Fields that could be read only once are passed on as read.
            kept = isinstance(raw, list | tuple)
            await self._send(message if kept else {**message, "headers": headers})
            return
        headers = add_vary(headers, b"Accept-Encoding")
        too_small = length is not None and length.isdigit() and int(length) < self._layer.min_size
        if self.encoding is None or too_small:
            self.mode = "pass"
            await self._send({**message, "headers": headers})
            return
        self._start = {**message, "headers": headers}
        self.mode = "pending"

    async def _on_first_body(self, message: Message) -> None:
        kind = message.get("type")
        start = self._start
        assert start is not None
        assert self.encoding is not None
        if kind == "http.response.zerocopysend":
            await self._compress_file(message, first=True)
            return
        if kind == "http.response.pathsend":
            await self._compress_path(message)
            return
        if kind != "http.response.body":
            self.mode = "pass"
            await self._send(start)
            await self._send(message)
            return
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if not more:
            if len(body) < self._layer.min_size:
                self.mode = "pass"
                await self._send(start)
                await self._send(message)
                return
            compressed = new_encoder(self.encoding, self._layer.config).finish(body)
            if len(compressed) >= len(body):
                self.mode = "pass"  # incompressible after all
                await self._send(start)
                await self._send(message)
                return
            self.mode = "pass"
            await self._send(self._encoded_start(start, len(compressed)))
            await self._send({"type": "http.response.body", "body": compressed})
            return
        self._begin_stream()
        await self._send(self._encoded_start(start, None))
        await self._stream(body, more=True)

    async def _on_stream_body(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.body":
            body = bytes(message.get("body", b""))
            await self._stream(body, more=bool(message.get("more_body", False)))
        elif kind == "http.response.zerocopysend":
            await self._compress_file(message, first=False)
        else:
            await self._send(message)

    def _begin_stream(self) -> None:
        assert self.encoding is not None
        self._encoder = new_encoder(self.encoding, self._layer.config)
        self.mode = "stream"

    async def end_stream(self) -> None:
        """End a compressed stream the app left unfinished."""
        await self._stream(b"", more=False)

    async def _stream(self, body: bytes, *, more: bool) -> None:
        encoder = self._encoder
        assert encoder is not None
        if not more:
            self.mode = "pass"  # complete: the server judges anything after
        data = encoder.chunk(body) if more else encoder.finish(body)
        if more and not data:
            return  # nothing to say yet; an empty message would only cost a call
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def _compress_file(self, message: Message, *, first: bool) -> None:
        """A zero-copy file, read in slices and compressed as a stream."""
        if first:
            await self._begin_file_stream()
        fd = message["file"].fileno()
        offset = message.get("offset")
        if offset is None:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        count = message.get("count")
        if count is None:
            count = max(0, os.fstat(fd).st_size - offset)
        await self._compress_range(fd, offset, count, more=bool(message.get("more_body", False)))

    async def _compress_path(self, message: Message) -> None:
        """A file sent by path (the whole body), read and compressed as a stream."""
        path = message.get("path")
        if type(path) is not str or not os.path.isabs(path):
            raise RuntimeError(f"http.response.pathsend 'path' must be absolute, got {path!r}")
        with open(path, "rb") as file:  # noqa: ASYNC230 (as the server opens it)
            await self._begin_file_stream()
            size = os.fstat(file.fileno()).st_size
            await self._compress_range(file.fileno(), 0, size, more=False)

    async def _begin_file_stream(self) -> None:
        start = self._start
        assert start is not None
        self._begin_stream()
        await self._send(self._encoded_start(start, None))

    async def _compress_range(self, fd: int, offset: int, count: int, *, more: bool) -> None:
        end = offset + count
        while offset < end:
            data = os.pread(fd, min(_FILE_SLICE, end - offset), offset)
            if not data:
                raise RuntimeError("the file is shorter than the body it was sent as")
            offset += len(data)
            await self._stream(data, more=True)
        if not more:
            await self._stream(b"", more=False)

    def _encoded_start(self, start: Message, length: int | None) -> Message:
        assert self.encoding is not None
        headers = without_headers(start["headers"], b"content-length", b"accept-ranges")
        for index, (name, value) in enumerate(headers):
            if name.lower() == b"etag" and not value.startswith(b"W/"):
                headers[index] = (name, b"W/" + value)
        headers.append((b"content-encoding", self.encoding.encode("ascii")))
        if length is not None:
            headers.append((b"content-length", str(length).encode("ascii")))
        return {**start, "headers": headers}
