"""Which HTTP/1.1 requests may become HTTP/2 by ``Upgrade: h2c``."""

from __future__ import annotations

import pytest

from pounce._edges.http1.h2c import h2c_settings
from pounce_protocols import Headers, UpgradeRequested

UPGRADE: Headers = (
    (b"host", b"example.com"),
    (b"connection", b"Upgrade, HTTP2-Settings"),
    (b"upgrade", b"h2c"),
    (b"http2-settings", b" AAMAAABk "),
)


def request(headers: Headers = UPGRADE, **changes: object) -> UpgradeRequested:
    fields: dict[str, object] = {
        "stream_id": 1,
        "method": b"GET",
        "path": b"/",
        "query_string": b"",
        "http_version": "1.1",
        "headers": headers,
        "protocol": b"h2c",
    }
    fields.update(changes)
    return UpgradeRequested(**fields)  # type: ignore[arg-type]


def test_a_proper_upgrade_gives_its_settings() -> None:
    assert h2c_settings(request()) == b"AAMAAABk"


def test_an_empty_body_is_no_body() -> None:
    assert h2c_settings(request((*UPGRADE, (b"content-length", b"0")))) == b"AAMAAABk"


@pytest.mark.parametrize(
    "req",
    [
        request(protocol=b"websocket"),
        request(http_version="1.0"),
        request((*UPGRADE, (b"content-length", b"3"))),
        request((*UPGRADE, (b"transfer-encoding", b"chunked"))),
        request(UPGRADE[:3]),
        request((*UPGRADE, (b"http2-settings", b"AAMAAABk"))),
        request(((b"connection", b"Upgrade"), *UPGRADE[2:])),
    ],
    ids=[
        "websocket",
        "http-1.0",
        "with-a-body",
        "chunked",
        "no-settings",
        "two-settings",
        "settings-not-in-connection",
    ],
)
def test_what_is_not_upgraded(req: UpgradeRequested) -> None:
    assert h2c_settings(req) is None
