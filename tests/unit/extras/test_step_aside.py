"""Batteries that step aside: what a layer does through the server's start
hook is what it does as a wrapper, and a layer that does not act leaves the
app the server's own ``send``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pounce import ASGIApp, HTTPStartHook, Message, ServerConfig
from pounce._bridge.app_stack import build_app, split_hook_layers
from pounce._bridge.http_stream import HTTPStream
from pounce._bridge.plugins import load_plugins
from pounce_extras import _compression as compression
from pounce_extras._compression import (
    _COMPRESSIBLE_VALUES,
    CompressionLayer,
    _eligible,
    _read_fields,
    _vary_hook,
    available_encodings,
    choose_encoding,
    compressible,
)
from pounce_extras._http import add_vary
from pounce_protocols import ResponseHead
from support.apps import behind_a_wrapper
from support.sinks import FakeSink

PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)

# Every battery that adjusts the start of a response, switched on.
CONFIG = ServerConfig(
    cors_allow_origins=("https://a.example",),
    cors_expose_headers=("x-total",),
    security_headers=True,
    request_id=True,
    rate_limit=1000.0,
    compression_min_size=100,
)
TEXT = b"Compressible text, repeated. " * 80


def test_the_known_compressible_values_are_compressible() -> None:
    for value in _COMPRESSIBLE_VALUES:
        assert compressible(value), value


# ------------------------------------------------- the Vary hook, judged fast

FIELD_POOL = [
    (b"content-type", b"text/plain"),
    (b"content-type", b"TEXT/HTML; charset=utf-8"),
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-type", b"application/json"),
    (b"content-type", b"application/vnd.api+json"),
    (b"content-type", b"image/png"),
    (b"content-type", b""),
    (b"content-encoding", b"br"),
    (b"cache-control", b"No-Transform"),
    (b"cache-control", b"max-age=60"),
    (b"vary", b"Cookie"),
    (b"vary", b"accept-encoding"),
    (b"vary", b"*"),
    (b"content-length", b"12"),
    (b"etag", b'"v1"'),
    (b"x-other", b"1"),
]


def reference_vary(status: int, fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The Vary decision read in full: every field, every rule."""
    content_type, content_encoding, cache_control, _ = _read_fields(fields)
    if _eligible(status, content_type, content_encoding, cache_control):
        return add_vary(list(fields), b"Accept-Encoding")
    return list(fields)


@PROPERTY_SETTINGS
@given(
    status=st.sampled_from([100, 200, 201, 204, 206, 299, 304, 404, 500]),
    fields=st.lists(st.sampled_from(FIELD_POOL), max_size=6),
)
def test_the_vary_hook_agrees_with_the_full_reading(
    status: int, fields: list[tuple[bytes, bytes]]
) -> None:
    adjusted = list(fields)
    _vary_hook(status, adjusted)
    assert adjusted == reference_vary(status, fields)


JUDGING = CompressionLayer(lambda scope, receive, send: None, CONFIG)  # type: ignore[arg-type, return-value]


@PROPERTY_SETTINGS
@given(
    status=st.sampled_from([100, 200, 201, 204, 206, 299, 304, 404, 500]),
    fields=st.lists(
        st.sampled_from([*FIELD_POOL, (b"content-length", b"1000"), (b"content-length", b"x")]),
        max_size=6,
    ),
)
@example(status=200, fields=[(b"content-type", b"text/plain"), (b"content-length", b"12")])
@example(status=200, fields=[(b"content-length", b"1000"), (b"content-type", b"text/plain")])
@example(status=200, fields=[(b"content-type", b"application/json"), (b"content-length", b"x")])
def test_the_start_judge_agrees_with_the_full_reading(
    status: int, fields: list[tuple[bytes, bytes]]
) -> None:
    # The hook for a request that accepts gzip: the Vary as the full reading
    # has it, and the response followed (a relay) when it may be compressed
    # and no Content-Length under the minimum rules it out.
    adjusted = list(fields)
    relay = JUDGING._start_hooks["gzip"](status, adjusted)
    assert adjusted == reference_vary(status, fields)
    content_type, content_encoding, cache_control, length = _read_fields(fields)
    small = length is not None and length.isdigit() and int(length) < CONFIG.compression_min_size
    expected = _eligible(status, content_type, content_encoding, cache_control) and not small
    assert (relay is not None) == expected


# --------------------------------------- through the server, or as wrappers

RESPONSE_FIELDS = [
    (b"content-type", b"text/plain"),
    (b"Content-Type", b"TEXT/HTML; charset=utf-8"),
    (b"content-type", b"image/png"),
    (b"Content-Encoding", b"br"),
    (b"cache-control", b"no-transform"),
    (b"Vary", b"Cookie"),
    (b"vary", b"Origin"),
    (b"access-control-allow-origin", b"https://b.example"),
    (b"X-Frame-Options", b"DENY"),
    (b"x-request-id", b"from-the-app"),
    (b"etag", b'"v1"'),
    (b"accept-ranges", b"bytes"),
]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    headers = [(b"host", b"h"), (b"x-request-id", draw(st.sampled_from([b"r-1", b"r.2:3"])))]
    accept = draw(st.sampled_from([None, b"gzip", b"identity", b"zstd;q=0, gzip;q=0", b"*"]))
    if accept is not None:
        headers.append((b"accept-encoding", accept))
    origin = draw(st.sampled_from([None, b"https://a.example", b"https://b.example"]))
    if origin is not None:
        headers.append((b"origin", origin))
    return {
        "type": "http",
        "method": draw(st.sampled_from(["GET", "HEAD"])),
        "scheme": draw(st.sampled_from(["http", "https"])),
        "path": "/",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "headers": headers,
    }


def response(
    status: int,
    fields: list[tuple[bytes, bytes]],
    data: bytes,
    *,
    length: bool = False,
    streamed: bool = False,
) -> list[Message]:
    """A response's messages: its body whole, or in two halves."""
    if length:
        fields = [*fields, (b"content-length", str(len(data)).encode())]
    start = {"type": "http.response.start", "status": status, "headers": fields}
    if streamed and data:
        half = len(data) // 2
        return [
            start,
            {"type": "http.response.body", "body": data[:half], "more_body": True},
            {"type": "http.response.body", "body": data[half:]},
        ]
    return [start, {"type": "http.response.body", "body": data}]


@st.composite
def responses(draw: st.DrawFn) -> list[Message]:
    status = draw(st.sampled_from([200, 201, 204, 304, 404, 500]))
    fields = draw(st.lists(st.sampled_from(RESPONSE_FIELDS), max_size=5))
    # Bodies around the minimum size (100) as well: each side of the line.
    data = draw(st.sampled_from([b"", b"short", b"a" * 99, b"a" * 100, b"a" * 101, TEXT]))
    return response(status, fields, data, length=draw(st.booleans()), streamed=draw(st.booleans()))


def replaying(messages: list[Message], sends: list[Any]) -> ASGIApp:
    """An app that sends ``messages`` and records the ``send`` it was given."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        sends.append(send)
        for message in messages:
            await send(dict(message))

    return app


def serve(
    app: ASGIApp, scope: dict[str, Any], layer_hooks: tuple[HTTPStartHook, ...] = ()
) -> tuple[FakeSink, HTTPStream]:
    async def main() -> tuple[FakeSink, HTTPStream]:
        sink = FakeSink()
        stream = HTTPStream(
            sink=sink,
            stream_id=1,
            scope=scope,
            default_headers=lambda: [(b"server", b"pounce")],
            expect_continue=False,
            body_limit=1024,
            layer_hooks=layer_hooks,
        )
        stream.feed_end()
        await stream.run(app)
        return sink, stream

    return asyncio.run(main())


def stack(app: ASGIApp) -> ASGIApp:
    """``app`` in every layer CONFIG turns on, as the server builds it."""
    return build_app(app, CONFIG, load_plugins(CONFIG))


@PROPERTY_SETTINGS
@given(scope=requests(), messages=responses())
def test_every_battery_does_through_the_server_what_it_does_as_a_wrapper(
    scope: dict[str, Any], messages: list[Message]
) -> None:
    hooked, _ = serve(stack(replaying(messages, [])), dict(scope))
    wrapped, _ = serve(behind_a_wrapper(stack(replaying(messages, []))), dict(scope))
    assert hooked.events == wrapped.events
    assert hooked.calls == wrapped.calls


# What a user who installs pounce-extras gets without choosing anything:
# compression alone, which says that it only hooks the start for HTTP.
DEFAULTS = ServerConfig(compression_min_size=100)


def serve_split(app: ASGIApp, scope: dict[str, Any]) -> tuple[FakeSink, HTTPStream]:
    """Serve as a worker does: the app inside the outermost layers that only
    hook the start, their hooks run by the stream."""
    inner, hooks = split_hook_layers(app)
    return serve(inner, scope, hooks)


def test_the_default_stack_is_served_without_its_layer() -> None:
    app = replaying([], [])
    layer = build_app(app, DEFAULTS, load_plugins(DEFAULTS))
    assert isinstance(layer, compression.CompressionLayer)
    assert split_hook_layers(layer) == (app, (layer.http_start_hook,))
    # With a battery outside compression that does more than hook the start,
    # nothing is split: compression is called as a layer.
    everything = build_app(app, CONFIG, load_plugins(CONFIG))
    assert split_hook_layers(everything) == (everything, ())


def _request(method: str = "GET", accept: bytes | None = b"gzip") -> dict[str, Any]:
    headers = [(b"host", b"h")]
    if accept is not None:
        headers.append((b"accept-encoding", accept))
    return {
        "type": "http",
        "method": method,
        "scheme": "https",
        "path": "/",
        "client": ("127.0.0.1", 5000),
        "headers": headers,
    }


def _text(data: bytes, *, streamed: bool = False, length: bool = False) -> list[Message]:
    return response(200, [(b"content-type", b"text/plain")], data, length=length, streamed=streamed)


# Few random requests and responses are compressed (most lack a coding, a
# type that compresses or the size): these are, every way.
@example(scope=_request(), messages=_text(TEXT), wrapped_app=False)
@example(scope=_request(), messages=_text(TEXT, streamed=True), wrapped_app=False)
@example(scope=_request(accept=b"*"), messages=_text(TEXT, length=True), wrapped_app=True)
@example(scope=_request(accept=b"zstd;q=0, gzip"), messages=_text(TEXT), wrapped_app=True)
@example(scope=_request(), messages=_text(b"short"), wrapped_app=False)
@example(scope=_request("HEAD"), messages=_text(TEXT, length=True), wrapped_app=False)
@example(scope=_request(accept=None), messages=_text(TEXT), wrapped_app=False)
@PROPERTY_SETTINGS
@given(scope=requests(), messages=responses(), wrapped_app=st.booleans())
def test_compression_does_through_its_declared_hook_what_it_does_as_a_layer(
    scope: dict[str, Any], messages: list[Message], wrapped_app: bool
) -> None:
    def app() -> ASGIApp:
        inner = replaying(messages, [])
        # An app that wraps send itself (as middleware does) meets the hook
        # on the start its wrapper passes on, either way.
        return build_app(behind_a_wrapper(inner) if wrapped_app else inner, DEFAULTS)

    split, _ = serve_split(app(), dict(scope))
    called, _ = serve(app(), dict(scope))
    wrapped, _ = serve(behind_a_wrapper(app()), dict(scope))
    assert split.events == called.events == wrapped.events
    assert split.calls == called.calls == wrapped.calls


def served_send(scope: dict[str, Any]) -> tuple[Any, HTTPStream, dict[bytes, bytes]]:
    """The ``send`` a text response's app was handed, its stream, and the
    fields of the head that reached the connection."""
    sends: list[Any] = []
    messages = [
        {"type": "http.response.start", "status": 200, "headers": [RESPONSE_FIELDS[0]]},
        {"type": "http.response.body", "body": b"hi"},
    ]
    sink, stream = serve(stack(replaying(messages, sends)), scope)
    head = sink.events[0]
    assert isinstance(head, ResponseHead)
    return sends[0], stream, dict(head.headers)


def scope_with(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"h"), *headers],
    }


def test_batteries_that_only_adjust_the_start_leave_the_app_the_servers_send() -> None:
    # Compression for a client that accepts no coding, CORS for an allowed
    # origin, security headers, the request ID, the rate limit: all act on
    # the head, none stands between the app and the server.
    send, stream, fields = served_send(scope_with((b"origin", b"https://a.example")))
    assert getattr(send, "__self__", None) is stream
    assert fields[b"vary"] == b"Accept-Encoding, Origin"
    assert fields[b"access-control-allow-origin"] == b"https://a.example"
    assert fields[b"x-content-type-options"] == b"nosniff"
    assert b"strict-transport-security" in fields
    assert b"x-request-id" in fields
    assert b"ratelimit" in fields


def followed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The responses the compression layer follows past their start."""
    made: list[object] = []

    class Counted(compression._Response):
        __slots__ = ()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(compression, "_Response", Counted)
    return made


def test_compression_that_may_act_is_judged_with_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A text response of unknown length to a client that accepts gzip may be
    # compressed: the app still gets the server's send, and the layer's relay
    # sees the first body, too short to compress: the response is not followed.
    made = followed(monkeypatch)
    send, stream, fields = served_send(scope_with((b"accept-encoding", b"gzip")))
    assert getattr(send, "__self__", None) is stream
    assert made == []
    assert fields[b"vary"] == b"Accept-Encoding"  # too short to compress


def test_compression_ruled_out_by_the_start_is_not_relayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A client that accepts gzip, a response whose fields rule compression
    # out (its type, its coding, a length under the minimum): the layer is
    # done at the start, and the body goes straight to the server.
    made = followed(monkeypatch)
    gzip = scope_with((b"accept-encoding", b"gzip"))
    for fields in (
        [(b"content-type", b"image/png")],
        [(b"content-type", b"text/plain"), (b"content-encoding", b"br")],
        [(b"content-type", b"text/plain"), (b"content-length", b"2")],
    ):
        sends: list[Any] = []
        messages = [
            {"type": "http.response.start", "status": 200, "headers": fields},
            {"type": "http.response.body", "body": b"hi"},
        ]
        sink, stream = serve(stack(replaying(messages, sends)), dict(gzip))
        assert getattr(sends[0], "__self__", None) is stream
        assert made == [], fields
        head = sink.events[0]
        assert isinstance(head, ResponseHead)
        assert (b"content-encoding", b"gzip") not in head.headers


def test_a_relayed_response_that_compresses_is_compressed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = followed(monkeypatch)
    sends: list[Any] = []
    messages = [
        {"type": "http.response.start", "status": 200, "headers": [RESPONSE_FIELDS[0]]},
        {"type": "http.response.body", "body": TEXT},
    ]
    sink, stream = serve(
        stack(replaying(messages, sends)), scope_with((b"accept-encoding", b"gzip"))
    )
    assert len(made) == 1
    assert getattr(sends[0], "__self__", None) is stream
    head = sink.events[0]
    assert isinstance(head, ResponseHead)
    fields = dict(head.headers)
    assert fields[b"content-encoding"] == b"gzip"
    assert fields[b"vary"] == b"Accept-Encoding"
    assert int(fields[b"content-length"]) < len(TEXT)


@pytest.mark.parametrize("size", [0, 99, 100, 101])
@pytest.mark.parametrize("length", [False, True], ids=["unknown-length", "content-length"])
def test_a_body_at_the_minimum_size_is_judged_alike_both_ways(size: int, length: bool) -> None:
    # CONFIG's minimum is 100 bytes: a body of at least that is compressed,
    # a shorter one is not, whether the layer judges it through the server
    # (its relay, or the start's Content-Length) or behind a wrapper.
    fields = [(b"content-type", b"text/plain")]
    if length:
        fields.append((b"content-length", str(size).encode()))
    messages = [
        {"type": "http.response.start", "status": 200, "headers": fields},
        {"type": "http.response.body", "body": b"a" * size},
    ]
    gzip = scope_with((b"accept-encoding", b"gzip"), (b"x-request-id", b"r-1"))
    hooked, _ = serve(stack(replaying(messages, [])), dict(gzip))
    wrapped, _ = serve(behind_a_wrapper(stack(replaying(messages, []))), dict(gzip))
    assert hooked.events == wrapped.events
    head = hooked.events[0]
    assert isinstance(head, ResponseHead)
    assert ((b"content-encoding", b"gzip") in head.headers) == (size >= 100)


ACCEPT_POOL = [b"gzip", b"zstd", b"gzip;q=0", b"zstd;q=0", b"*", b"identity", b"x-gzip", b"br;q=1"]


@PROPERTY_SETTINGS
@given(lines=st.lists(st.lists(st.sampled_from(ACCEPT_POOL), min_size=1, max_size=3), max_size=3))
def test_the_coding_is_chosen_from_every_field_line_and_remembered_alike(
    lines: list[list[bytes]],
) -> None:
    # Accept-Encoding in zero to three field lines: the layer combines them
    # (RFC 9110 §5.3) and remembers its choice per value; a response to the
    # same request, asked twice of one stack, is compressed with the coding
    # that choose_encoding gives for the lines as they came.
    values = [b", ".join(line) for line in lines]
    expected = choose_encoding(values, available_encodings())
    scope = scope_with(*[(b"accept-encoding", value) for value in values])
    messages = [
        {"type": "http.response.start", "status": 200, "headers": [RESPONSE_FIELDS[0]]},
        {"type": "http.response.body", "body": TEXT},
    ]
    app = stack(replaying(messages, []))
    for _ in range(2):
        sink, _ = serve(app, dict(scope))
        head = sink.events[0]
        assert isinstance(head, ResponseHead)
        coding = dict(head.headers).get(b"content-encoding")
        assert coding == (None if expected is None else expected.encode())


class UnreadFields(list[tuple[bytes, bytes]]):
    """A request's fields that fail the test if anything reads them."""

    def __iter__(self) -> Any:
        raise AssertionError("the request's fields were read")


@pytest.mark.parametrize(
    ("fields", "vary"),
    [
        ([(b"content-type", b"application/json"), (b"content-length", b"48")], True),
        ([(b"content-type", b"image/png"), (b"content-length", b"5000")], False),
        ([(b"content-type", b"text/plain"), (b"content-encoding", b"br")], False),
    ],
    ids=["under the minimum", "a type that is not compressed", "already encoded"],
)
def test_a_response_the_start_rules_out_never_reads_the_request(
    fields: list[tuple[bytes, bytes]], vary: bool
) -> None:
    # The declared hook judges the response before the request: one that
    # cannot be compressed whatever the client accepts (a small JSON answer,
    # an image, a body already encoded) costs no pass over the request's
    # fields; a type that compresses still says it varies, as a larger body
    # of it would be compressed for some requests.
    layer = build_app(replaying([], []), DEFAULTS, load_plugins(DEFAULTS))
    assert isinstance(layer, compression.CompressionLayer)
    scope = {**_request(), "headers": UnreadFields([(b"accept-encoding", b"gzip")])}
    start = list(fields)
    assert layer.http_start_hook(scope, 200, start) is None
    assert start == [*fields, (b"vary", b"Accept-Encoding")] if vary else start == fields
    # A response that may be compressed does read them (the test's check).
    with pytest.raises(AssertionError, match="were read"):
        layer.http_start_hook(scope, 200, [(b"content-type", b"text/plain")])
