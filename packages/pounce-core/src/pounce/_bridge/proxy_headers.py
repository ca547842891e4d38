"""Client address, scheme and host from trusted proxies' forwarding headers.

Only a peer listed in ``--forwarded-allow-ips`` may speak for the client. Two
vocabularies are understood:

* RFC 7239 ``Forwarded: for=203.0.113.7;proto=https;host=example.com``, one
  element per proxy hop. When a trusted peer sends it, it is used and the
  ``X-Forwarded-*`` headers are ignored.
* ``X-Forwarded-For`` (a list of addresses), ``X-Forwarded-Proto`` and
  ``X-Forwarded-Host``.

Each proxy appends what it saw, so the chain is read from the right: the
client is the rightmost hop that is not itself a trusted proxy, and
everything left of it could have been written by the client and is ignored.
With ``Forwarded`` the scheme and host come from that same element, since the
proxy that wrote it is the one the client talked to. The scheme is taken only
when it is ``http`` or ``https``, the host only when it looks like a host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["ForwardedRequest", "TrustedProxies", "carries_forwarding", "parse_forwarded"]

# The fields a proxy forwards its client's address, scheme and host in
# (those TrustedProxies.forwarded reads).
_FORWARDING_FIELDS = frozenset(
    {b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
)


def carries_forwarding(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request carries any field a proxy forwards its client in."""
    # A loop rather than any(): no generator to build on every request.
    for name, _ in headers:  # noqa: SIM110
        if name in _FORWARDING_FIELDS:
            return True
    return False


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Client = tuple[str, int] | None

# A host (reg-name, IPv4 or [IPv6]) with an optional port; nothing a header
# could smuggle (spaces, commas, slashes, control characters).
_HOST = re.compile(rb"(?:[A-Za-z0-9._~!$&'()*+;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
# RFC 7239 §4: pair = token "=" ( token / quoted-string )
_PAIR = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


class ForwardedRequest(NamedTuple):
    """Where a request really came from: client, scheme, and the Host to use."""

    client: Client
    scheme: str
    host: bytes | None


def parse_forwarded(values: Iterable[str]) -> list[dict[str, str]]:
    """The elements of ``Forwarded`` header values, left to right.

    Parameter names are lowercased and quoted values unquoted. A malformed
    element ends the list: what follows cannot be attributed to a hop.
    """
    elements: list[dict[str, str]] = []
    for value in values:
        position = 0
        element: dict[str, str] = {}
        while position < len(value):
            match = _PAIR.match(value, position)
            if match is None:
                if element:
                    elements.append(element)
                return elements
            name, raw = match.group(1).lower(), match.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            element.setdefault(name, raw)
            position = match.end()
            if position < len(value):
                separator = value[position]
                position += 1
                if separator == ",":
                    elements.append(element)
                    element = {}
                elif separator != ";":
                    if element:
                        elements.append(element)
                    return elements
        if element:
            elements.append(element)
    return elements


def _node(text: str) -> tuple[str, int]:
    """Split an RFC 7239 node (``1.2.3.4:80``, ``[2001:db8::1]:80``, ``unknown``)."""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        address, _, port = text.partition(":")
    else:
        address, port = text, ""
    return address, int(port) if port.isdigit() and len(port) <= 5 else 0


class TrustedProxies:
    """The set of peers whose forwarding headers are believed. Immutable."""

    __slots__ = ("_all", "_networks", "_unix")

    def __init__(self, entries: Iterable[str]) -> None:
        entries = tuple(entries)
        self._all = "*" in entries
        self._unix = "unix:" in entries
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(e, strict=False) for e in entries if e not in ("*", "unix:")
        )

    def trusts(self, host: str | None) -> bool:
        """Whether a peer at ``host`` (``None`` for a UNIX socket peer) is trusted."""
        if self._all:
            return True
        if host is None:
            return self._unix
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def resolve(
        self,
        client: Client,
        scheme: str,
        headers: Iterable[tuple[bytes, bytes]],
    ) -> tuple[Client, str]:
        """The (client, scheme) a request really came from."""
        forwarded = self.resolve_forwarded(client, scheme, headers)
        return forwarded.client, forwarded.scheme

    def resolve_forwarded(
        self,
        client: Client,
        scheme: str,
        headers: Iterable[tuple[bytes, bytes]],
    ) -> ForwardedRequest:
        """The client, scheme and forwarded host (``None``: keep Host) of a request."""
        if not self.trusts(client[0] if client else None):
            return ForwardedRequest(client, scheme, None)
        return self.forwarded(client, scheme, headers)

    def forwarded(
        self,
        client: Client,
        scheme: str,
        headers: Iterable[tuple[bytes, bytes]],
    ) -> ForwardedRequest:
        """What a *trusted* peer's forwarding headers say (:meth:`resolve_forwarded`
        without the trust check, for a caller that knows the peer)."""
        forwarded: list[str] = []
        forwarded_for: list[str] = []
        proto: str | None = None
        host: bytes | None = None
        for name, value in headers:
            if name == b"forwarded":
                forwarded.append(value.decode("latin-1"))
            elif name == b"x-forwarded-for":
                forwarded_for.extend(
                    part.strip() for part in value.decode("latin-1").split(",") if part.strip()
                )
            elif name == b"x-forwarded-proto" and proto is None:
                proto = value.decode("latin-1").split(",")[0].strip().lower()
            elif name == b"x-forwarded-host" and host is None:
                host = value.split(b",")[0].strip()
        if forwarded:
            return self._from_forwarded(client, scheme, parse_forwarded(forwarded))
        if proto in ("http", "https"):
            scheme = proto
        if forwarded_for:
            chosen = forwarded_for[0]
            for hop in reversed(forwarded_for):
                if not self.trusts(hop):
                    chosen = hop
                    break
            client = (chosen, 0)
        return ForwardedRequest(client, scheme, _valid_host(host))

    def _from_forwarded(
        self, client: Client, scheme: str, elements: list[dict[str, str]]
    ) -> ForwardedRequest:
        hops = [e for e in elements if "for" in e]
        if not hops:
            return ForwardedRequest(client, scheme, None)
        chosen = hops[0]
        for element in reversed(hops):
            if not self.trusts(_node(element["for"])[0]):
                chosen = element
                break
        client = _node(chosen["for"])
        proto = chosen.get("proto", "").lower()
        if proto in ("http", "https"):
            scheme = proto
        host = chosen.get("host")
        return ForwardedRequest(
            client, scheme, _valid_host(host.encode("latin-1") if host else None)
        )


def _valid_host(host: bytes | None) -> bytes | None:
    if host and len(host) <= 255 and _HOST.fullmatch(host):
        return host
    return None
