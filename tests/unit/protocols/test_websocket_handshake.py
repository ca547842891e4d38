"""The WebSocket opening handshake: request checks, accept token, negotiation."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import (
    DeflateParams,
    ExtensionOffer,
    Headers,
    LocalProtocolError,
    RemoteProtocolError,
    WebSocketHandshakeError,
    WebSocketRequest,
    accept_token,
    handshake_response_headers,
    negotiate_deflate,
    parse_websocket_request,
)
from pounce_protocols._websocket_handshake import parse_extensions

from ._helpers import PROPERTY_SETTINGS

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # the example of RFC 6455 §1.3


def h1_headers(*extra: tuple[bytes, bytes], drop: tuple[bytes, ...] = ()) -> Headers:
    base = [
        (b"host", b"example.com"),
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", KEY),
        (b"sec-websocket-version", b"13"),
    ]
    return tuple([h for h in base if h[0] not in drop] + list(extra))


def parse(headers: Headers, method: bytes = b"GET", version: str = "1.1") -> WebSocketRequest:
    return parse_websocket_request(method=method, http_version=version, headers=headers)


# ------------------------------------------------------------ the request


def test_valid_http1_handshake() -> None:
    request = parse(
        h1_headers(
            (b"sec-websocket-protocol", b"chat, superchat"),
            (b"sec-websocket-protocol", b"v2"),
            (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
        )
    )
    assert request.key == KEY
    assert request.subprotocols == ("chat", "superchat", "v2")
    assert request.extensions == (
        ExtensionOffer(name="permessage-deflate", params=(("client_max_window_bits", None),)),
    )


def test_header_tokens_are_case_insensitive_lists() -> None:
    headers = (
        *h1_headers(drop=(b"upgrade", b"connection")),
        (b"upgrade", b"WebSocket"),
        (b"connection", b"keep-alive, UPGRADE"),
    )
    assert parse(headers).key == KEY


@pytest.mark.parametrize(
    ("headers", "method", "message"),
    [
        (h1_headers(), b"POST", "must be a GET"),
        ((*h1_headers(drop=(b"upgrade",)), (b"upgrade", b"h2c")), b"GET", "Upgrade"),
        ((*h1_headers(drop=(b"connection",)), (b"connection", b"close")), b"GET", "Connection"),
        (h1_headers(drop=(b"sec-websocket-key",)), b"GET", "missing"),
        (
            (*h1_headers(drop=(b"sec-websocket-key",)), (b"sec-websocket-key", b"c2hvcnQ=")),
            b"GET",
            "16 bytes",
        ),
        (
            (*h1_headers(drop=(b"sec-websocket-key",)), (b"sec-websocket-key", b"%%%%")),
            b"GET",
            "16 bytes",
        ),
        (h1_headers((b"sec-websocket-key", KEY)), b"GET", "more than one"),
        (h1_headers((b"content-length", b"5")), b"GET", "body"),
        (h1_headers((b"transfer-encoding", b"chunked")), b"GET", "body"),
        (h1_headers((b"sec-websocket-protocol", b"a b")), b"GET", "subprotocol"),
    ],
)
def test_invalid_http1_handshake_is_400(headers: Headers, method: bytes, message: str) -> None:
    with pytest.raises(WebSocketHandshakeError, match=message) as caught:
        parse(headers, method)
    assert caught.value.status_hint == 400
    assert isinstance(caught.value, RemoteProtocolError)


@pytest.mark.parametrize("version", [None, b"8", b"13, 8"])
def test_unsupported_version_is_426_naming_ours(version: bytes | None) -> None:
    headers = h1_headers(drop=(b"sec-websocket-version",))
    if version is not None:
        headers += ((b"sec-websocket-version", version),)
    with pytest.raises(WebSocketHandshakeError) as caught:
        parse(headers)
    assert caught.value.status_hint == 426
    assert caught.value.headers == ((b"sec-websocket-version", b"13"),)


def test_empty_content_length_is_allowed() -> None:
    assert parse(h1_headers((b"content-length", b"0"))).key == KEY


def test_http2_handshake_is_a_connect_without_key() -> None:
    headers = ((b"sec-websocket-version", b"13"), (b"sec-websocket-protocol", b"chat"))
    request = parse(headers, b"CONNECT", "2")
    assert request == WebSocketRequest(key=None, subprotocols=("chat",))
    with pytest.raises(WebSocketHandshakeError, match="CONNECT"):
        parse(headers, b"GET", "2")


def test_http10_cannot_upgrade() -> None:
    with pytest.raises(WebSocketHandshakeError, match=r"HTTP/1\.0"):
        parse(h1_headers(), version="1.0")


# ------------------------------------------------------------ the answer


def test_accept_token_matches_rfc_6455_example() -> None:
    assert accept_token(KEY) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    expected = base64.b64encode(
        hashlib.sha1(KEY + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11", usedforsecurity=False).digest()
    )
    assert accept_token(KEY) == expected


def test_response_headers_http1() -> None:
    request = WebSocketRequest(key=KEY, subprotocols=("chat", "v2"))
    headers = handshake_response_headers(
        request, subprotocol="v2", deflate=DeflateParams(server_no_context_takeover=True)
    )
    assert headers == (
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        (b"sec-websocket-protocol", b"v2"),
        (b"sec-websocket-extensions", b"permessage-deflate; server_no_context_takeover"),
    )


def test_response_headers_http2_have_no_upgrade_fields() -> None:
    assert (
        handshake_response_headers(WebSocketRequest(key=None), subprotocol=None, deflate=None) == ()
    )


def test_subprotocol_must_have_been_offered() -> None:
    with pytest.raises(LocalProtocolError, match=r"'x' was not offered.*chat"):
        handshake_response_headers(
            WebSocketRequest(key=KEY, subprotocols=("chat",)), subprotocol="x", deflate=None
        )


# ------------------------------------------------------- extension offers


def offers(value: bytes) -> tuple[ExtensionOffer, ...]:
    return parse_extensions(((b"sec-websocket-extensions", value),))


def test_extension_grammar() -> None:
    assert offers(b'a; x=1; y="2", b ,, c;z') == (
        ExtensionOffer(name="a", params=(("x", "1"), ("y", "2"))),
        ExtensionOffer(name="b"),
        ExtensionOffer(name="c", params=(("z", None),)),
    )


@pytest.mark.parametrize(
    "value",
    [b"a; =1", b"a;; x", b"a x", b'a; x="1 2"', b"a; x=", b"@", b'a; x="unterminated'],
)
def test_malformed_offer_is_dropped_not_fatal(value: bytes) -> None:
    assert offers(value + b", permessage-deflate") == (ExtensionOffer(name="permessage-deflate"),)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"permessage-deflate", DeflateParams()),
        (b"permessage-deflate; client_max_window_bits", DeflateParams()),
        (b"permessage-deflate; client_max_window_bits=10", DeflateParams()),
        (
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True),
        ),
        (
            b'permessage-deflate; server_max_window_bits="12"',
            DeflateParams(server_max_window_bits=12),
        ),
        (b"PerMessage-Deflate", DeflateParams()),
        # The first acceptable offer wins; unacceptable ones are skipped.
        (
            b"permessage-deflate; server_max_window_bits=8, permessage-deflate; "
            b"server_max_window_bits=9",
            DeflateParams(server_max_window_bits=9),
        ),
        (b"x-webkit-deflate-frame, permessage-deflate", DeflateParams()),
    ],
)
def test_deflate_negotiation(value: bytes, expected: DeflateParams) -> None:
    assert negotiate_deflate(offers(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        b"permessage-deflate; server_max_window_bits=8",  # zlib cannot honour 8
        b"permessage-deflate; server_max_window_bits=16",
        b"permessage-deflate; server_max_window_bits=08",
        b"permessage-deflate; server_max_window_bits",
        b"permessage-deflate; client_max_window_bits=7",
        b"permessage-deflate; server_no_context_takeover=1",
        b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        b"permessage-deflate; unknown_parameter",
        b"x-webkit-deflate-frame",
        b"",
    ],
)
def test_unacceptable_deflate_offers_are_declined(value: bytes) -> None:
    assert negotiate_deflate(offers(value)) is None


def test_deflate_response_value() -> None:
    params = DeflateParams(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
    )
    assert params.response_value() == (
        b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        b"server_max_window_bits=10"
    )
    with pytest.raises(ValueError, match=r"9\.\.15"):
        DeflateParams(server_max_window_bits=8)


@PROPERTY_SETTINGS
@given(st.binary(max_size=200))
def test_any_extension_header_parses_or_is_dropped(value: bytes) -> None:
    parsed = offers(value)
    assert all(isinstance(offer, ExtensionOffer) for offer in parsed)
    result = negotiate_deflate(parsed)
    assert result is None or isinstance(result, DeflateParams)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    b"sec-websocket-key",
                    b"sec-websocket-version",
                    b"sec-websocket-protocol",
                    b"upgrade",
                    b"connection",
                    b"content-length",
                ]
            ),
            st.binary(max_size=40),
        )
    )
)
def test_any_request_parses_or_raises_a_handshake_error(pairs: list[tuple[bytes, bytes]]) -> None:
    status = 0
    try:
        request = parse(tuple(pairs))
    except WebSocketHandshakeError as exc:
        status = exc.status_hint
    else:
        assert request.key is not None
    assert status in (0, 400, 426)
