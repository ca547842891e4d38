"""Every pounce_protocols machine driven by scripted bytes, with no Pounce server around.

Run by ``tests/integration/test_protocols_standalone.py`` with the interpreter
of a fresh virtual environment holding the ``pounce-protocols`` wheel (and
h11, h2, wsproto, and aioquic for ``--http3``) and nothing else of Pounce. It
imports nothing from the test suite: only the standard library, the package
and, for HTTP/3, aioquic's client. Each check prints one ``ok`` line; any
failure is an exception and a non-zero exit.

    python -I protocols_alone.py [--http3 CERT KEY CA]
"""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pounce_protocols
from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    BytesReceived,
    CloseReceived,
    ConnectionLost,
    Event,
    HTTP1ServerConnection,
    HTTP2ErrorCode,
    HTTP2ServerConnection,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    TextReceived,
    UpgradeRequested,
    WebSocketMachine,
    accept_token,
    handshake_response_headers,
    negotiate_deflate,
    parse_websocket_request,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, HEADERS, DATA, GOAWAY = 0x4, 0x1, 0x0, 0x7
END_STREAM, END_HEADERS = 0x1, 0x4


def check_alone() -> None:
    for name in ("pounce", "pounce_cli", "pounce_extras"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable here"
    # The installed wheel, not a checkout's source that leaked onto the path.
    assert Path(pounce_protocols.__file__).is_relative_to(sys.prefix), pounce_protocols.__file__
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        # Nothing imported (h11, h2, wsproto) switched the GIL back on.
        assert not sys._is_gil_enabled()
    print("ok: pounce-protocols alone", pounce_protocols.__version__, sys.version.split()[0])


def _refused(receive: Callable[[bytes], object], data: bytes) -> RemoteProtocolError:
    """The error receiving ``data`` raises (there is no pytest in this environment)."""
    try:
        receive(data)
    except RemoteProtocolError as exc:
        return exc
    raise AssertionError(f"{data!r} was accepted")


def http1() -> None:
    request = b"POST /echo?x=1 HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n\r\nhello"
    pipelined = b"GET /next HTTP/1.1\r\nHost: example\r\n\r\n"
    for fast_path in (True, False):
        conn = HTTP1ServerConnection(fast_path=fast_path)
        events = conn.receive_data(request + pipelined)
        head, *body, end = events
        assert head == RequestReceived(
            stream_id=1,
            method=b"POST",
            path=b"/echo",
            query_string=b"x=1",
            http_version="1.1",
            headers=((b"host", b"example"), (b"content-length", b"5")),
        ), head
        assert b"".join(e.data for e in body if isinstance(e, BodyReceived)) == b"hello"
        assert end == BodyEnded(stream_id=1), end
        fields = ((b"content-type", b"text/plain"), (b"content-length", b"5"))
        out = conn.send(ResponseHead(stream_id=1, status=200, headers=fields))
        out += conn.send(ResponseBody(stream_id=1, data=b"hello"))
        out += conn.send(ResponseEnd(stream_id=1))
        expected = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello"
        assert out == expected, out
        assert conn.keep_alive
        following = conn.start_next_cycle()  # the pipelined request, parsed only now
        assert [type(e) for e in following] == [RequestReceived, BodyEnded], following
        assert following[0].stream_id == 2
        assert conn.receive_data(b"") == [ConnectionLost()]

        broken = HTTP1ServerConnection(fast_path=fast_path)
        error = _refused(broken.receive_data, b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n")
        assert error.status_hint == 400, error.status_hint  # a bare LF
        assert broken.reject(error.status_hint).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    print("ok: HTTP/1.1 request, response, pipelining and a rejected request")


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes((kind, flags))
        + stream_id.to_bytes(4, "big")
        + payload
    )


def _frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    frames = []
    while data:
        length = int.from_bytes(data[:3], "big")
        stream_id = int.from_bytes(data[5:9], "big") & 0x7FFF_FFFF
        frames.append((data[3], data[4], stream_id, data[9 : 9 + length]))
        data = data[9 + length :]
    return frames


def http2() -> None:
    conn = HTTP2ServerConnection()
    conn.initiate()
    # :method GET, :path /, :scheme http (HPACK static table), :authority localhost.
    block = b"\x82\x84\x86\x41\x09localhost"
    flight = PREFACE + _frame(SETTINGS, 0, 0) + _frame(HEADERS, END_HEADERS | END_STREAM, 1, block)
    events = conn.receive_data(flight)
    assert events == [
        RequestReceived(
            stream_id=1,
            method=b"GET",
            path=b"/",
            query_string=b"",
            http_version="2",
            headers=((b"host", b"localhost"),),
            scheme=b"http",
            authority=b"localhost",
        ),
        BodyEnded(stream_id=1),
    ], events
    preface = _frames(conn.data_to_send())
    assert preface[0][:2] == (SETTINGS, 0), preface  # our SETTINGS first
    assert (SETTINGS, 0x1, 0, b"") in preface, preface  # and the ACK of theirs

    conn.send(ResponseHead(stream_id=1, status=200, headers=((b"content-length", b"5"),)))
    conn.send(ResponseBody(stream_id=1, data=b"hello"))
    conn.send(ResponseEnd(stream_id=1))
    response = _frames(conn.data_to_send())
    assert response[0][:3] == (HEADERS, END_HEADERS, 1), response
    # :status 200, indexed (the first block gives up the dynamic table first:
    # the encoder uses the static table alone).
    assert response[0][3][:2] == b"\x20\x88", response
    assert b"".join(f[3] for f in response if f[0] == DATA) == b"hello", response
    assert response[-1][:2] == (DATA, END_STREAM), response
    assert conn.open_streams == 0

    error = _refused(conn.receive_data, _frame(DATA, END_STREAM, 0, b"x"))  # no stream named
    assert error.error_code == HTTP2ErrorCode.PROTOCOL_ERROR, error.error_code
    ((kind, _, _, payload),) = _frames(conn.data_to_send())
    assert kind == GOAWAY, kind
    assert int.from_bytes(payload[4:8], "big") == HTTP2ErrorCode.PROTOCOL_ERROR, payload
    assert conn.closed
    print("ok: HTTP/2 preface, request, response frames and GOAWAY")


def websocket() -> None:
    key = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's own example
    handshake = (
        b"GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    hello = bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 §5.7: a masked "Hello"
    conn = HTTP1ServerConnection()
    events: list[Event] = conn.receive_data(handshake + hello)
    request = events[0]
    assert isinstance(request, UpgradeRequested), events
    assert request.protocol == b"websocket", request
    offer = parse_websocket_request(
        method=request.method, http_version=request.http_version, headers=request.headers
    )
    assert offer.key == key
    deflate = negotiate_deflate(offer.extensions)
    headers = handshake_response_headers(offer, subprotocol=None, deflate=deflate)
    answer = conn.send(ResponseHead(stream_id=request.stream_id, status=101, headers=headers))
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in answer, answer
    assert accept_token(key) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    ws = WebSocketMachine(deflate=deflate)
    assert ws.receive_data(conn.take_upgraded_data()) == [TextReceived(text="Hello")]
    assert ws.send_text("Hello") == b"\x81\x05Hello"
    binary = bytes.fromhex("8283") + b"\x00\x00\x00\x00" + b"\x01\x02\x03"  # masked by zeros
    assert ws.receive_data(binary) == [BytesReceived(data=b"\x01\x02\x03")]
    close = bytes.fromhex("8882") + b"\x00\x00\x00\x00" + (1000).to_bytes(2, "big")
    assert ws.receive_data(close) == [CloseReceived(code=1000)]
    assert ws.data_to_send() == b"\x88\x02\x03\xe8"  # the answering Close
    print("ok: WebSocket handshake, masked frames and the close handshake")


def http3(cert: str, key: str, ca: str) -> None:
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    from pounce_protocols import HTTP3Endpoint, HTTP3Limits

    now = 1000.0
    endpoint = HTTP3Endpoint(certfile=cert, keyfile=key, limits=HTTP3Limits())
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    config.load_verify_locations(ca)
    client = QuicConnection(configuration=config)
    client.connect(("127.0.0.1", 443), now=now)
    h3 = H3Connection(client)
    client_addr = ("127.0.0.1", 50000)
    events: list[Event] = []
    answer: dict[str, object] = {"body": b""}
    server = None

    def exchange() -> None:
        nonlocal server, now
        for _ in range(6):
            now += 0.001
            for data, _ in client.datagrams_to_send(now):
                conn, new, _stateless = endpoint.receive_datagram(data, client_addr, now)
                server = conn or server
                events.extend(new)
            if server is None:
                continue
            for data, _ in server.datagrams_to_send(now):
                client.receive_datagram(data, ("127.0.0.1", 443), now)
            while (quic_event := client.next_event()) is not None:
                for h3_event in h3.handle_event(quic_event):
                    if isinstance(h3_event, HeadersReceived):
                        answer["headers"] = dict(h3_event.headers)
                    elif isinstance(h3_event, DataReceived):
                        answer["body"] = answer["body"] + h3_event.data  # type: ignore[operator]

    exchange()  # the handshake
    stream_id = client.get_next_available_stream_id()
    fields = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"localhost")]
    h3.send_headers(stream_id, [*fields, (b":path", b"/h3?q")], end_stream=True)
    exchange()
    requests = [e for e in events if isinstance(e, RequestReceived)]
    assert len(requests) == 1, events
    assert (requests[0].http_version, requests[0].path, requests[0].query_string) == (
        "3",
        b"/h3",
        b"q",
    ), requests
    assert server is not None
    server.send(ResponseHead(stream_id=stream_id, status=200, headers=((b"x-h3", b"yes"),)))
    server.send(ResponseBody(stream_id=stream_id, data=b"over quic"))
    server.send(ResponseEnd(stream_id=stream_id))
    exchange()
    assert answer.get("headers", {}).get(b":status") == b"200", answer  # type: ignore[union-attr]
    assert answer["body"] == b"over quic", answer
    print("ok: HTTP/3 handshake, request and response")


def main(argv: list[str]) -> None:
    check_alone()
    http1()
    http2()
    websocket()
    if argv[:1] == ["--http3"]:
        http3(*argv[1:4])


if __name__ == "__main__":
    main(sys.argv[1:])
