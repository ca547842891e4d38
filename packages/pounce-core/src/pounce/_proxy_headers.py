"""Client address and scheme from trusted proxies' ``X-Forwarded-*`` headers.

Only a peer listed in ``--forwarded-allow-ips`` may speak for the client. From
``X-Forwarded-For`` we take the rightmost address that is not itself a trusted
proxy: each proxy appends the address it saw, so everything left of the first
untrusted hop could have been written by the client and is ignored.
``X-Forwarded-Proto`` sets the scheme when it is ``http`` or ``https``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["TrustedProxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
        client: tuple[str, int] | None,
        scheme: str,
        headers: Iterable[tuple[bytes, bytes]],
    ) -> tuple[tuple[str, int] | None, str]:
        """The (client, scheme) a request really came from."""
        if not self.trusts(client[0] if client else None):
            return client, scheme
        return self.forwarded(client, scheme, headers)

    def forwarded(
        self,
        client: tuple[str, int] | None,
        scheme: str,
        headers: Iterable[tuple[bytes, bytes]],
    ) -> tuple[tuple[str, int] | None, str]:
        """What a *trusted* peer's forwarding headers say (:meth:`resolve`
        without the trust check, for a caller that knows the peer)."""
        forwarded_for: list[str] = []
        proto: str | None = None
        for name, value in headers:
            if name == b"x-forwarded-for":
                forwarded_for.extend(
                    part.strip() for part in value.decode("latin-1").split(",") if part.strip()
                )
            elif name == b"x-forwarded-proto" and proto is None:
                proto = value.decode("latin-1").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            scheme = proto
        if forwarded_for:
            chosen = forwarded_for[0]
            for hop in reversed(forwarded_for):
                if not self.trusts(hop):
                    chosen = hop
                    break
            client = (chosen, 0)
        return client, scheme
