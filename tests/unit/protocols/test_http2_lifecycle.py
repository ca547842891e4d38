"""Streams and the connection ending: resets, GOAWAY both ways, h2c upgrade."""

from __future__ import annotations

import base64

import h2.config
import h2.connection
import h2.events
import pytest

from pounce_protocols import (
    BodyEnded,
    ConnectionLost,
    HTTP2ErrorCode,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    StreamReset,
    UpgradeRequested,
)

from ._http2_helpers import (
    GOAWAY,
    HEADERS,
    RST_STREAM,
    Pair,
    client_events,
    frame,
    goaway_of,
    make_server,
    parse_frames,
)


def test_client_reset_ends_that_stream_only() -> None:
    pair = Pair()
    pair.request(1, end=False)
    pair.request(3, end=False)
    pair.client.reset_stream(1, HTTP2ErrorCode.CANCEL)
    assert pair.to_server() == [StreamReset(stream_id=1, error_code=HTTP2ErrorCode.CANCEL)]
    assert pair.server.open_streams == 1
    pair.client.send_data(3, b"still here", end_stream=True)
    events = pair.to_server()
    assert BodyEnded(stream_id=3) in events


def test_graceful_shutdown_completes_streams_in_flight_and_refuses_newer_ones() -> None:
    pair = Pair()
    pair.request(1)
    pair.server.start_graceful_shutdown()
    assert not pair.server.accepting_streams
    assert goaway_of(pair.server.data_to_send()) == (1, HTTP2ErrorCode.NO_ERROR)
    # A request the client sent before it saw the GOAWAY is refused unprocessed.
    assert pair.request(3) == []
    refused = [
        (stream, int.from_bytes(payload, "big"))
        for kind, _, stream, payload in parse_frames(pair.server.data_to_send())
        if kind == RST_STREAM
    ]
    assert refused == [(3, HTTP2ErrorCode.REFUSED_STREAM)]
    # Stream 1 still gets its whole response.
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseBody(stream_id=1, data=b"done"))
    pair.server.send(ResponseEnd(stream_id=1))
    kinds = [(kind, stream) for kind, _, stream, _ in parse_frames(pair.server.data_to_send())]
    assert (HEADERS, 1) in kinds
    assert pair.server.open_streams == 0
    pair.server.close()
    assert goaway_of(pair.server.data_to_send()) == (1, HTTP2ErrorCode.NO_ERROR)
    assert pair.server.closed


def test_graceful_shutdown_keeps_frames_queued_before_it_in_order() -> None:
    pair = Pair()
    pair.request(1)
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.start_graceful_shutdown()
    kinds = [kind for kind, _, _, _ in parse_frames(pair.server.data_to_send())]
    assert kinds == [HEADERS, GOAWAY]


def test_a_client_goaway_lets_its_open_streams_complete() -> None:
    pair = Pair()
    pair.request(1)
    # GOAWAY(last stream 0, NO_ERROR): the client will open nothing more.
    assert pair.to_server(frame(GOAWAY, 0, 0, bytes(8))) == []
    assert not pair.server.accepting_streams
    pair.server.send(ResponseHead(stream_id=1, status=200))
    pair.server.send(ResponseEnd(stream_id=1))
    kinds = [(kind, stream) for kind, _, stream, _ in parse_frames(pair.server.data_to_send())]
    assert (HEADERS, 1) in kinds


def test_a_client_goaway_with_an_error_is_connection_lost() -> None:
    pair = Pair()
    pair.request(1)
    payload = bytes(4) + HTTP2ErrorCode.PROTOCOL_ERROR.to_bytes(4, "big")
    assert pair.to_server(frame(GOAWAY, 0, 0, payload)) == [ConnectionLost()]
    assert pair.server.closed


def test_a_goaway_split_across_reads_is_still_seen() -> None:
    pair = Pair()
    pair.request(1)
    goaway = frame(GOAWAY, 0, 0, bytes(4) + (2).to_bytes(4, "big"))
    for byte in goaway[:-1]:
        assert pair.server.receive_data(bytes([byte])) == []
    assert pair.server.receive_data(goaway[-1:]) == [ConnectionLost()]


@pytest.mark.parametrize(
    ("goaway", "code"),
    [
        (frame(GOAWAY, 0, 1, bytes(8)), HTTP2ErrorCode.PROTOCOL_ERROR),
        (frame(GOAWAY, 0, 0, bytes(4)), HTTP2ErrorCode.FRAME_SIZE_ERROR),
    ],
    ids=["on-a-stream", "too-short"],
)
def test_a_malformed_goaway_is_a_connection_error(goaway: bytes, code: int) -> None:
    pair = Pair()
    with pytest.raises(RemoteProtocolError) as caught:
        pair.to_server(goaway)
    assert caught.value.error_code == code
    assert goaway_of(pair.server.data_to_send())[1] == code


def test_close_sends_a_final_goaway() -> None:
    pair = Pair()
    pair.request(1)
    pair.server.close(HTTP2ErrorCode.NO_ERROR)
    (terminated,) = client_events(pair.to_client(), h2.events.ConnectionTerminated)
    assert terminated.error_code == HTTP2ErrorCode.NO_ERROR  # type: ignore[attr-defined]
    assert terminated.last_stream_id == 1  # type: ignore[attr-defined]


# ------------------------------------------------------------------ h2c


def upgrade_request(**changes: object) -> UpgradeRequested:
    fields: dict[str, object] = {
        "stream_id": 1,
        "method": b"GET",
        "path": b"/up",
        "query_string": b"q=1",
        "http_version": "1.1",
        "headers": (
            (b"host", b"example.com"),
            (b"connection", b"Upgrade, HTTP2-Settings"),
            (b"upgrade", b"h2c"),
            (b"http2-settings", b"AAMAAABkAAQAAP__"),
            (b"accept", b"*/*"),
        ),
        "protocol": b"h2c",
    }
    fields.update(changes)
    return UpgradeRequested(**fields)  # type: ignore[arg-type]


def test_h2c_upgrade_makes_the_request_stream_1() -> None:
    server = make_server()
    # The client's SETTINGS, base64url without padding as curl sends them.
    header = base64.urlsafe_b64encode(
        (3).to_bytes(2, "big") + (100).to_bytes(4, "big")  # MAX_CONCURRENT_STREAMS 100
    ).rstrip(b"=")
    events = server.initiate_upgrade(header, upgrade_request())
    assert events == [
        RequestReceived(
            stream_id=1,
            method=b"GET",
            path=b"/up",
            query_string=b"q=1",
            http_version="2",
            headers=((b"host", b"example.com"), (b"accept", b"*/*")),
            scheme=b"http",
        ),
        BodyEnded(stream_id=1),
    ]
    # The server preface goes first; the client now sends its own preface.
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    client.initiate_upgrade_connection()
    server.receive_data(client.data_to_send())
    server.send(ResponseHead(stream_id=1, status=200))
    server.send(ResponseBody(stream_id=1, data=b"over h2"))
    server.send(ResponseEnd(stream_id=1))
    received = client.receive_data(server.data_to_send())
    data = b"".join(e.data for e in client_events(received, h2.events.DataReceived))  # type: ignore[attr-defined]
    assert data == b"over h2"
    assert client_events(received, h2.events.StreamEnded)


@pytest.mark.parametrize(
    "header",
    [b"not base64!", b"AAMAAA", b"A"],  # junk, a partial setting, a lone sextet
    ids=["junk", "partial", "lone-character"],
)
def test_h2c_upgrade_with_unusable_settings_queues_nothing(header: bytes) -> None:
    server = make_server()
    with pytest.raises(RemoteProtocolError):
        server.initiate_upgrade(header, upgrade_request())
    assert server.data_to_send() == b""


def test_h2c_upgrade_with_an_invalid_setting_value_is_refused() -> None:
    # INITIAL_WINDOW_SIZE over 2^31-1.
    header = base64.urlsafe_b64encode((4).to_bytes(2, "big") + (2**31).to_bytes(4, "big"))
    server = make_server()
    with pytest.raises(RemoteProtocolError, match="HTTP2-Settings"):
        server.initiate_upgrade(header, upgrade_request())
