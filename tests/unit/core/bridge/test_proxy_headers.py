"""``TrustedProxies``: whose X-Forwarded-* headers are believed, and how far."""

from __future__ import annotations

import pytest

from pounce._bridge.proxy_headers import TrustedProxies

Headers = list[tuple[bytes, bytes]]


def xff(*values: bytes, proto: bytes | None = None) -> Headers:
    headers = [(b"x-forwarded-for", v) for v in values]
    if proto is not None:
        headers.append((b"x-forwarded-proto", proto))
    return headers


LOCAL = TrustedProxies(["127.0.0.1", "::1"])
PROXY = ("127.0.0.1", 50000)


# ---------------------------------------------------------------- trusts


@pytest.mark.parametrize(
    ("entries", "host", "trusted"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.1/8"], "10.9.9.9", True),  # host bits are ignored
        (["::1"], "::1", True),
        (["::1"], "0:0:0:0:0:0:0:1", True),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "2001:db9::5", False),
        (["127.0.0.1"], "::1", False),
        (["127.0.0.1"], "localhost", False),
        (["127.0.0.1"], "", False),
        (["*"], "203.0.113.9", True),
        (["*"], "not-an-ip", True),
        (["*"], None, True),
        (["unix:"], None, True),
        (["127.0.0.1"], None, False),
        ([], "127.0.0.1", False),
    ],
)
def test_trusts(entries: list[str], host: str | None, trusted: bool) -> None:
    assert TrustedProxies(entries).trusts(host) is trusted


def test_invalid_entry_is_refused() -> None:
    with pytest.raises(ValueError, match=r"proxy\.example"):
        TrustedProxies(["proxy.example"])


# --------------------------------------------------------------- resolve


def test_untrusted_peer_is_not_believed() -> None:
    peer = ("203.0.113.7", 4000)
    assert LOCAL.resolve(peer, "http", xff(b"1.2.3.4", proto=b"https")) == (peer, "http")


def test_no_headers_changes_nothing() -> None:
    assert LOCAL.resolve(PROXY, "http", []) == (PROXY, "http")


def test_trusted_peer_sets_client_and_scheme() -> None:
    assert LOCAL.resolve(PROXY, "http", xff(b"203.0.113.7", proto=b"https")) == (
        ("203.0.113.7", 0),
        "https",
    )


def test_spoofed_left_part_of_the_chain_is_ignored() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    headers = xff(b"6.6.6.6, 203.0.113.7, 10.0.0.2, 10.0.0.3")
    # The client claimed 6.6.6.6; the first untrusted hop from the right is
    # the address our own proxies saw.
    assert proxies.resolve(PROXY, "http", headers)[0] == ("203.0.113.7", 0)


def test_chain_of_only_trusted_hops_takes_the_leftmost() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert proxies.resolve(PROXY, "http", xff(b"10.0.0.5, 10.0.0.6"))[0] == ("10.0.0.5", 0)


def test_several_fields_form_one_chain_in_order() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    headers = xff(b"6.6.6.6", b"203.0.113.7", b"10.0.0.2")
    assert proxies.resolve(PROXY, "http", headers)[0] == ("203.0.113.7", 0)


def test_empty_and_padded_entries_are_skipped() -> None:
    assert LOCAL.resolve(PROXY, "http", xff(b" , 203.0.113.7 ,, "))[0] == ("203.0.113.7", 0)


def test_ipv6_client_and_proxy() -> None:
    proxies = TrustedProxies(["::1", "2001:db8::/32"])
    headers = xff(b"2001:db8:ffff::1, 2001:db8::10")
    assert proxies.resolve(("::1", 1), "http", headers)[0] == ("2001:db8:ffff::1", 0)
    assert proxies.resolve(("::1", 1), "http", xff(b"2600::1, 2001:db8::10"))[0] == ("2600::1", 0)


def test_star_trusts_every_hop() -> None:
    proxies = TrustedProxies(["*"])
    peer = ("198.51.100.1", 1)
    assert proxies.resolve(peer, "http", xff(b"1.1.1.1, 2.2.2.2", proto=b"https")) == (
        ("1.1.1.1", 0),
        "https",
    )


def test_unix_socket_peer() -> None:
    proxies = TrustedProxies(["unix:"])
    assert proxies.resolve(None, "http", xff(b"203.0.113.7")) == (("203.0.113.7", 0), "http")
    assert LOCAL.resolve(None, "http", xff(b"203.0.113.7")) == (None, "http")


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [
        (b"https", "https"),
        (b"HTTPS", "https"),
        (b" https ", "https"),
        (b"http", "http"),
        (b"https, http", "https"),
        (b"ftp", "http"),
        (b"wss", "http"),
        (b"", "http"),
    ],
)
def test_forwarded_proto(proto: bytes, scheme: str) -> None:
    assert LOCAL.resolve(PROXY, "http", xff(proto=proto))[1] == scheme


def test_first_forwarded_proto_field_wins() -> None:
    headers = [(b"x-forwarded-proto", b"https"), (b"x-forwarded-proto", b"http")]
    assert LOCAL.resolve(PROXY, "http", headers)[1] == "https"


def test_forwarded_proto_alone_keeps_the_client() -> None:
    assert LOCAL.resolve(PROXY, "http", xff(proto=b"https")) == (PROXY, "https")


def test_non_latin1_garbage_does_not_raise() -> None:
    headers = xff(b"\xff\xfe, 203.0.113.7", proto=b"\xff")
    assert LOCAL.resolve(PROXY, "http", headers) == (("203.0.113.7", 0), "http")
