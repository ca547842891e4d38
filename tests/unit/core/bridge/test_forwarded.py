"""RFC 7239 ``Forwarded`` and ``X-Forwarded-Host`` from trusted proxies."""

from __future__ import annotations

import pytest

from pounce._bridge.proxy_headers import ForwardedRequest, TrustedProxies, parse_forwarded

LOCAL = TrustedProxies(["127.0.0.1", "::1", "10.0.0.0/8"])
PROXY = ("127.0.0.1", 50000)


def fwd(*values: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"forwarded", v) for v in values]


@pytest.mark.parametrize(
    ("values", "elements"),
    [
        (["for=192.0.2.60"], [{"for": "192.0.2.60"}]),
        (["For=192.0.2.60;Proto=HTTPS"], [{"for": "192.0.2.60", "proto": "HTTPS"}]),
        (
            ['for="[2001:db8:cafe::17]:4711";proto=https;host="example.com"'],
            [{"for": "[2001:db8:cafe::17]:4711", "proto": "https", "host": "example.com"}],
        ),
        (["for=192.0.2.43, for=198.51.100.17"], [{"for": "192.0.2.43"}, {"for": "198.51.100.17"}]),
        (["for=a", "for=b"], [{"for": "a"}, {"for": "b"}]),
        (['for="quoted \\"x\\""'], [{"for": 'quoted "x"'}]),
        (["for=1.2.3.4;for=5.6.7.8"], [{"for": "1.2.3.4"}]),  # the first value wins
        (["for=1.2.3.4, garbage here, for=5.6.7.8"], [{"for": "1.2.3.4"}]),
        ([""], []),
    ],
)
def test_parse_forwarded(values: list[str], elements: list[dict[str, str]]) -> None:
    assert parse_forwarded(values) == elements


def test_forwarded_gives_client_scheme_and_host() -> None:
    headers = fwd(b'for=203.0.113.7:4000;proto=https;host="shop.example:8443"')
    assert LOCAL.resolve_forwarded(PROXY, "http", headers) == ForwardedRequest(
        ("203.0.113.7", 4000), "https", b"shop.example:8443"
    )


def test_forwarded_chain_stops_at_the_first_untrusted_hop_from_the_right() -> None:
    # The client claims to be 6.6.6.6; 203.0.113.7 is who reached our proxy.
    headers = fwd(b"for=6.6.6.6;proto=http, for=203.0.113.7;proto=https, for=10.1.2.3")
    resolved = LOCAL.resolve_forwarded(PROXY, "http", headers)
    assert resolved.client == ("203.0.113.7", 0)
    assert resolved.scheme == "https"


def test_forwarded_ipv6_node() -> None:
    headers = fwd(b'for="[2001:db8::5]:8080"')
    assert LOCAL.resolve_forwarded(PROXY, "http", headers).client == ("2001:db8::5", 8080)


def test_forwarded_obfuscated_node_is_kept_as_is() -> None:
    headers = fwd(b"for=_hidden;proto=https")
    assert LOCAL.resolve_forwarded(PROXY, "http", headers).client == ("_hidden", 0)


def test_forwarded_wins_over_x_forwarded() -> None:
    headers = [
        (b"x-forwarded-for", b"198.51.100.1"),
        (b"x-forwarded-proto", b"http"),
        (b"forwarded", b"for=203.0.113.7;proto=https"),
    ]
    resolved = LOCAL.resolve_forwarded(PROXY, "http", headers)
    assert resolved.client == ("203.0.113.7", 0)
    assert resolved.scheme == "https"


def test_untrusted_peer_is_ignored_entirely() -> None:
    peer = ("198.51.100.9", 1234)
    headers = [*fwd(b"for=1.2.3.4;proto=https;host=evil"), (b"x-forwarded-host", b"evil")]
    assert LOCAL.resolve_forwarded(peer, "http", headers) == ForwardedRequest(peer, "http", None)


@pytest.mark.parametrize(
    ("value", "host"),
    [
        (b"example.com", b"example.com"),
        (b"example.com:8080", b"example.com:8080"),
        (b"[::1]:8080", b"[::1]:8080"),
        (b"a.example, b.example", b"a.example"),  # the first (client-facing) proxy's
        (b"bad host", None),
        (b"evil/path", None),
        (b"x" * 300, None),
        (b"", None),
    ],
)
def test_x_forwarded_host(value: bytes, host: bytes | None) -> None:
    headers = [(b"x-forwarded-host", value)]
    assert LOCAL.resolve_forwarded(PROXY, "http", headers).host == host


def test_forwarded_scheme_other_than_http_or_https_is_ignored() -> None:
    headers = fwd(b"for=203.0.113.7;proto=gopher")
    assert LOCAL.resolve_forwarded(PROXY, "http", headers).scheme == "http"


def test_forwarded_without_for_keeps_the_peer() -> None:
    headers = fwd(b"proto=https;host=x.example")
    assert LOCAL.resolve_forwarded(PROXY, "http", headers) == ForwardedRequest(PROXY, "http", None)


def test_resolve_keeps_its_two_value_form() -> None:
    headers = fwd(b"for=203.0.113.7;proto=https")
    assert LOCAL.resolve(PROXY, "http", headers) == (("203.0.113.7", 0), "https")
