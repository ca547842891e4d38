"""Extended CONNECT (RFC 8441): WebSocket streams in the HTTP/2 machine."""

from __future__ import annotations

import h2.events
import h2.settings
import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    HTTP2Limits,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    UpgradeRequested,
)

from ._http2_helpers import Pair, client_events

ENABLE = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL


def websocket_headers(
    protocol: bytes = b"websocket", path: bytes = b"/chat?room=1"
) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"CONNECT"),
        (b":protocol", protocol),
        (b":scheme", b"https"),
        (b":path", path),
        (b":authority", b"example.com"),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-protocol", b"chat"),
    ]


def enabled_pair() -> Pair:
    return Pair(HTTP2Limits(enable_connect_protocol=True))


@pytest.mark.parametrize("enabled", [True, False])
def test_setting_follows_the_limits(enabled: bool) -> None:
    pair = Pair(HTTP2Limits(enable_connect_protocol=enabled))
    assert pair.client.remote_settings[ENABLE] == int(enabled)


def test_websocket_stream_is_an_upgrade_request() -> None:
    pair = enabled_pair()
    pair.client.send_headers(1, websocket_headers())
    (event,) = pair.to_server()
    assert isinstance(event, UpgradeRequested)
    assert event.protocol == b"websocket"
    assert event.method == b"CONNECT"
    assert event.http_version == "2"
    assert event.path == b"/chat"
    assert event.query_string == b"room=1"
    assert (b"sec-websocket-protocol", b"chat") in event.headers
    assert event.headers[0] == (b"host", b"example.com")


def test_frames_both_ways_and_close_by_end_stream() -> None:
    pair = enabled_pair()
    pair.client.send_headers(1, websocket_headers())
    pair.to_server()
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=b"\x81\x02hi"))
    received = pair.to_client()
    assert client_events(received, h2.events.ResponseReceived)
    (data,) = client_events(received, h2.events.DataReceived)
    assert isinstance(data, h2.events.DataReceived)
    assert data.data == b"\x81\x02hi"
    pair.client.send_data(1, b"\x81\x82abcd\x00\x00")
    assert pair.to_server() == [BodyReceived(stream_id=1, data=b"\x81\x82abcd\x00\x00")]
    # Our END_STREAM closes our half only: no RST_STREAM, the client may answer.
    pair.server.send(ResponseEnd(stream_id=1))
    received = pair.to_client()
    assert client_events(received, h2.events.StreamEnded)
    assert not client_events(received, h2.events.StreamReset)
    pair.client.send_data(1, b"\x88\x80", end_stream=True)
    assert pair.to_server() == [
        BodyReceived(stream_id=1, data=b"\x88\x80"),
        BodyEnded(stream_id=1),
    ]
    assert pair.server.open_streams == 0


@pytest.mark.parametrize(
    ("limits", "protocol", "status"),
    [
        (HTTP2Limits(enable_connect_protocol=True), b"chat-tunnel", 501),
        (HTTP2Limits(enable_connect_protocol=False), b"websocket", 400),
    ],
)
def test_refused_extended_connect(limits: HTTP2Limits, protocol: bytes, status: int) -> None:
    pair = Pair(limits)
    if not limits.enable_connect_protocol:
        # A client that ignores our SETTINGS (h2 would not let it otherwise).
        pair.client.remote_settings[ENABLE] = 1
        pair.client.remote_settings.acknowledge()
    pair.client.send_headers(1, websocket_headers(protocol))
    (event,) = pair.to_server()
    assert isinstance(event, RequestRejected)
    assert event.status_hint == status


def test_plain_connect_is_still_501() -> None:
    pair = enabled_pair()
    pair.client.send_headers(1, [(b":method", b"CONNECT"), (b":authority", b"example.com:443")])
    (event,) = pair.to_server()
    assert isinstance(event, RequestRejected)
    assert event.status_hint == 501
