"""The WebSocket opening handshake, without I/O (RFC 6455 §4, RFC 7692, RFC 8441).

A WebSocket starts as an HTTP request. Over HTTP/1.1 it is a ``GET`` asking to
``Upgrade`` with a ``Sec-WebSocket-Key`` that the ``101`` answer proves it
read (``Sec-WebSocket-Accept``). Over HTTP/2 and HTTP/3 (RFC 8441, RFC 9220)
it is an extended ``CONNECT`` with ``:protocol: websocket``, no key and a
``200`` answer. What both share, and all this module decides:

* :func:`parse_websocket_request` checks the request head and extracts what
  the client offered: its key (HTTP/1.1 only), subprotocols and extensions.
  A request that is not a valid opening handshake raises
  :class:`WebSocketHandshakeError`, whose ``status_hint`` and ``headers`` are
  the response to give (400, or 426 with the version we speak).
* :func:`negotiate_deflate` picks the first acceptable ``permessage-deflate``
  offer (RFC 7692 §5): an offer with an unknown, repeated or invalid parameter
  is declined, and so is ``server_max_window_bits=8``, which zlib cannot honour
  when compressing (it silently uses 9).
* :func:`handshake_response_headers` builds the fields of the accepting
  response.

Nothing here needs wsproto: a server without the ``websocket`` extra can still
tell a WebSocket request from an ordinary one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from pounce_protocols._errors import LocalProtocolError, RemoteProtocolError
from pounce_protocols._events import Headers

__all__ = [
    "DeflateParams",
    "ExtensionOffer",
    "WebSocketHandshakeError",
    "WebSocketRequest",
    "accept_token",
    "handshake_response_headers",
    "negotiate_deflate",
    "parse_websocket_request",
]

_VERSION = b"13"
# RFC 6455 §1.3: appended to the client's key before hashing.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_QUOTED_PAIR = re.compile(r"\\(.)")
# RFC 7692 §7.1.2: window bits are 8..15 written without leading zeros.
_WINDOW_BITS = re.compile(r"[89]|1[0-5]")


class WebSocketHandshakeError(RemoteProtocolError):
    """The request is not a valid WebSocket opening handshake.

    ``headers`` are fields the error response should carry (a ``426`` names
    the protocol version the server speaks, RFC 6455 §4.4).
    """

    headers: Headers

    def __init__(self, message: str, *, status_hint: int = 400, headers: Headers = ()) -> None:
        super().__init__(message, status_hint=status_hint)
        self.headers = headers


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtensionOffer:
    """One extension the client offered, with its parameters in order.

    A parameter without a value (``client_no_context_takeover``) has ``None``.
    """

    name: str
    params: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketRequest:
    """What a valid opening handshake asked for.

    ``key`` is the ``Sec-WebSocket-Key`` of an HTTP/1.1 handshake and ``None``
    over HTTP/2 and HTTP/3, which have none.
    """

    key: bytes | None
    subprotocols: tuple[str, ...] = ()
    extensions: tuple[ExtensionOffer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeflateParams:
    """The agreed ``permessage-deflate`` parameters (RFC 7692 §7.1).

    ``server_max_window_bits`` is the window our compressor must stay within
    (``None``: the default, 15). The client's window needs no agreement from
    us: our decompressor always accepts the largest one.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None

    def __post_init__(self) -> None:
        bits = self.server_max_window_bits
        if bits is not None and not (isinstance(bits, int) and 9 <= bits <= 15):
            raise ValueError(f"server_max_window_bits must be in 9..15, got {bits!r}")

    def response_value(self) -> bytes:
        """The ``Sec-WebSocket-Extensions`` value accepting these parameters."""
        parts = ["permessage-deflate"]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits is not None:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        return "; ".join(parts).encode("ascii")


def _tokens(headers: Headers, name: bytes) -> list[bytes]:
    values: list[bytes] = []
    for key, value in headers:
        if key == name:
            values.extend(part.strip().lower() for part in value.split(b","))
    return [v for v in values if v]


def _single(headers: Headers, name: bytes) -> bytes | None:
    found = [value for key, value in headers if key == name]
    if len(found) > 1:
        raise WebSocketHandshakeError(f"more than one {name.decode('ascii')} field")
    return found[0].strip() if found else None


def parse_websocket_request(
    *, method: bytes, http_version: str, headers: Headers
) -> WebSocketRequest:
    """Check an opening handshake request; return what it offered.

    ``headers`` are the request's fields with lowercased names (pseudo-header
    fields excluded). HTTP/1.1 needs ``GET`` with ``Upgrade: websocket``,
    ``Connection: upgrade`` and a key; HTTP/2 and HTTP/3 need ``CONNECT`` (the
    ``:protocol`` pseudo-header is their machine's to check). Both need
    ``Sec-WebSocket-Version: 13``.
    """
    key: bytes | None = None
    if http_version == "1.1":
        if method != b"GET":
            raise WebSocketHandshakeError("a WebSocket handshake must be a GET request")
        if b"websocket" not in _tokens(headers, b"upgrade"):
            raise WebSocketHandshakeError("Upgrade does not name websocket")
        if b"upgrade" not in _tokens(headers, b"connection"):
            raise WebSocketHandshakeError("Connection does not include upgrade")
        for name, value in headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                raise WebSocketHandshakeError("a WebSocket handshake cannot carry a body")
        key = _single(headers, b"sec-websocket-key")
        if key is None:
            raise WebSocketHandshakeError("Sec-WebSocket-Key is missing")
        try:
            decoded = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 16:
            raise WebSocketHandshakeError("Sec-WebSocket-Key is not 16 bytes in base64")
    elif http_version in ("2", "3"):
        if method != b"CONNECT":
            raise WebSocketHandshakeError("a WebSocket over HTTP/2 or 3 must be a CONNECT request")
    else:
        raise WebSocketHandshakeError(f"no WebSocket over HTTP/{http_version}")
    version = _single(headers, b"sec-websocket-version")
    if version != _VERSION:
        raise WebSocketHandshakeError(
            "unsupported Sec-WebSocket-Version" if version else "Sec-WebSocket-Version is missing",
            status_hint=426,
            headers=((b"sec-websocket-version", _VERSION),),
        )
    return WebSocketRequest(
        key=key,
        subprotocols=_subprotocols(headers),
        extensions=parse_extensions(headers),
    )


def _subprotocols(headers: Headers) -> tuple[str, ...]:
    offered: list[str] = []
    for name, value in headers:
        if name != b"sec-websocket-protocol":
            continue
        for raw in value.decode("latin-1").split(","):
            part = raw.strip(" \t")
            if not part:
                continue
            if not _TOKEN.fullmatch(part):
                raise WebSocketHandshakeError(f"invalid subprotocol {part!r}")
            offered.append(part)
    return tuple(offered)


def parse_extensions(headers: Headers) -> tuple[ExtensionOffer, ...]:
    """Every ``Sec-WebSocket-Extensions`` offer (RFC 6455 §9.1), in order.

    An offer that does not follow the grammar is dropped, not fatal: declining
    an extension is always a valid answer.
    """
    offers: list[ExtensionOffer] = []
    for name, value in headers:
        if name == b"sec-websocket-extensions":
            offers.extend(_parse_extension_list(value.decode("latin-1")))
    return tuple(offers)


def _skip_ows(text: str, pos: int) -> int:
    end = len(text)
    while pos < end and text[pos] in " \t":
        pos += 1
    return pos


def _parse_extension_list(text: str) -> list[ExtensionOffer]:
    offers: list[ExtensionOffer] = []
    pos = 0
    end = len(text)
    while pos < end:
        pos = _skip_ows(text, pos)
        if pos < end and text[pos] == ",":
            pos += 1  # empty list element (RFC 9110 §5.6.1 allows them)
            continue
        offer, pos, valid = _parse_extension(text, pos)
        if valid and offer is not None:
            offers.append(offer)
        # Skip to the next element, whatever happened to this one.
        while pos < end and text[pos] != ",":
            quoted = _QUOTED.match(text, pos)
            pos = quoted.end() if quoted else pos + 1
        pos += 1
    return offers


def _parse_extension(text: str, pos: int) -> tuple[ExtensionOffer | None, int, bool]:
    """One ``extension`` at ``pos``: (offer, position after it, whether well formed)."""
    match = _TOKEN.match(text, pos)
    if match is None:
        return None, pos, False
    name = match.group()
    pos = match.end()
    params: list[tuple[str, str | None]] = []
    end = len(text)
    while True:
        pos = _skip_ows(text, pos)
        if pos >= end or text[pos] == ",":
            return ExtensionOffer(name=name, params=tuple(params)), pos, True
        if text[pos] != ";":
            return None, pos, False
        pos = _skip_ows(text, pos + 1)
        match = _TOKEN.match(text, pos)
        if match is None:
            return None, pos, False
        param = match.group()
        pos = _skip_ows(text, match.end())
        value: str | None = None
        if pos < end and text[pos] == "=":
            pos = _skip_ows(text, pos + 1)
            token = _TOKEN.match(text, pos)
            quoted = _QUOTED.match(text, pos)
            if token is not None:
                value = token.group()
                pos = token.end()
            elif quoted is not None:
                value = _QUOTED_PAIR.sub(r"\1", quoted.group(1))
                pos = quoted.end()
                # RFC 6455 §9.1: a quoted value must still be a token.
                if not _TOKEN.fullmatch(value):
                    return None, pos, False
            else:
                return None, pos, False
        params.append((param, value))


def negotiate_deflate(offers: tuple[ExtensionOffer, ...]) -> DeflateParams | None:
    """The parameters of the first acceptable ``permessage-deflate`` offer, if any."""
    for offer in offers:
        if offer.name.lower() != "permessage-deflate":
            continue
        agreed = _accept_deflate_offer(offer)
        if agreed is not None:
            return agreed
    return None


def _accept_deflate_offer(offer: ExtensionOffer) -> DeflateParams | None:
    seen: set[str] = set()
    server_nct = client_nct = False
    server_bits: int | None = None
    for raw_name, value in offer.params:
        name = raw_name.lower()
        if name in seen:
            return None  # RFC 7692 §7: a repeated parameter declines the offer
        seen.add(name)
        if name == "server_no_context_takeover" and value is None:
            server_nct = True
        elif name == "client_no_context_takeover" and value is None:
            client_nct = True
        elif name == "server_max_window_bits" and value is not None:
            if not _WINDOW_BITS.fullmatch(value) or value == "8":
                return None
            server_bits = int(value)
        elif name == "client_max_window_bits":
            # The client tells us it can stay within a window; our
            # decompressor takes any, so there is nothing to answer.
            if value is not None and not _WINDOW_BITS.fullmatch(value):
                return None
        else:
            return None
    return DeflateParams(
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct,
        server_max_window_bits=server_bits,
    )


def accept_token(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value proving we read ``key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key + _ACCEPT_GUID, usedforsecurity=False).digest()
    return base64.b64encode(digest)


def handshake_response_headers(
    request: WebSocketRequest,
    *,
    subprotocol: str | None,
    deflate: DeflateParams | None,
) -> Headers:
    """The fields that accept ``request`` (a ``101`` over HTTP/1.1, a ``200`` otherwise).

    ``subprotocol`` must be one the client offered (RFC 6455 §4.2.2): a client
    fails a handshake that names any other, so a server must not send it.
    """
    headers: list[tuple[bytes, bytes]] = []
    if request.key is not None:
        headers += [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_token(request.key)),
        ]
    if subprotocol is not None:
        if subprotocol not in request.subprotocols:
            offered = ", ".join(request.subprotocols) or "none"
            raise LocalProtocolError(
                f"subprotocol {subprotocol!r} was not offered by the client (offered: {offered})"
            )
        headers.append((b"sec-websocket-protocol", subprotocol.encode("ascii")))
    if deflate is not None:
        headers.append((b"sec-websocket-extensions", deflate.response_value()))
    return tuple(headers)
