"""A WebSocket echo server on anyio and pounce-protocols.

    python examples/protocols-anyio/server.py [--host 127.0.0.1] [--port 8000]

One task per connection; the Sans-IO machines of ``pounce_protocols`` do the
protocols. Each connection speaks HTTP/1.1 (with keep-alive) until a request
for ``/ws`` asks to upgrade; from then on its bytes are WebSocket frames, and
every message comes back as it went. Open http://127.0.0.1:8000/ in a browser
for a page that talks to it, or use any WebSocket client on
``ws://127.0.0.1:8000/ws``. The text message ``bye`` makes the server close
the WebSocket (code 1000); the subprotocol ``echo`` is accepted when offered;
permessage-deflate is used when the client offers it.
"""

from __future__ import annotations

import argparse
import contextlib

import anyio
from anyio.abc import SocketAttribute, SocketStream

from pounce_protocols import (
    BodyEnded,
    BytesReceived,
    CloseReceived,
    ConnectionLost,
    Event,
    HTTP1ServerConnection,
    ProtocolFailed,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    TextReceived,
    UpgradeRequested,
    WebSocketHandshakeError,
    WebSocketMachine,
    handshake_response_headers,
    negotiate_deflate,
    parse_websocket_request,
)

IDLE_TIMEOUT = 30.0  # between HTTP requests; a WebSocket may stay quiet for as long as it likes
PAGE = b"""<!doctype html><title>echo</title><input id=m autofocus> <pre id=log></pre>
<script>const ws = new WebSocket(`ws://${location.host}/ws`, "echo");
ws.onmessage = e => log.textContent += e.data + "\\n";
ws.onclose = e => log.textContent += `closed ${e.code} ${e.reason}\\n`;
m.onchange = () => { ws.send(m.value); m.value = ""; };</script>
"""


async def receive(stream: SocketStream) -> bytes:
    """The next bytes from the peer, or ``b""`` (the machines' "end of input") if none come."""
    try:
        return await stream.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError):
        return b""


async def next_request(
    stream: SocketStream, conn: HTTP1ServerConnection, events: list[Event]
) -> RequestReceived | None:
    """The next complete request (its body, if any, is read and dropped), or None at the end."""
    request = None
    while True:
        for event in events:
            if isinstance(event, RequestReceived):  # UpgradeRequested too
                request = event
            elif isinstance(event, BodyEnded):
                return request
            elif isinstance(event, ConnectionLost):
                return None
        data = b""  # no request within the timeout: treated as the end of the connection
        with anyio.move_on_after(IDLE_TIMEOUT):
            data = await receive(stream)
        events = conn.receive_data(data)


def http_response(conn: HTTP1ServerConnection, request: RequestReceived) -> bytes:
    if request.path == b"/":
        status, kind, body = 200, b"text/html; charset=utf-8", PAGE
    else:
        status, kind, body = 404, b"text/plain", b"Not Found\n"
    stream_id = request.stream_id
    headers = ((b"content-type", kind), (b"content-length", str(len(body)).encode()))
    data = conn.send(ResponseHead(stream_id=stream_id, status=status, headers=headers))
    if request.method != b"HEAD":
        data += conn.send(ResponseBody(stream_id=stream_id, data=body))
    return data + conn.send(ResponseEnd(stream_id=stream_id))


async def websocket(
    stream: SocketStream, conn: HTTP1ServerConnection, request: RequestReceived
) -> None:
    # A bad handshake raises WebSocketHandshakeError (400, or 426 naming our version).
    offer = parse_websocket_request(
        method=request.method, http_version=request.http_version, headers=request.headers
    )
    deflate = negotiate_deflate(offer.extensions)  # None unless the client offered it
    subprotocol = "echo" if "echo" in offer.subprotocols else None
    headers = handshake_response_headers(offer, subprotocol=subprotocol, deflate=deflate)
    await stream.send(
        conn.send(ResponseHead(stream_id=request.stream_id, status=101, headers=headers))
    )

    # From here on the bytes are WebSocket frames; some may have come with the request.
    ws = WebSocketMachine(deflate=deflate, max_message_size=1024 * 1024)
    leftover = conn.take_upgraded_data()
    events = ws.receive_data(leftover) if leftover else []
    while True:
        out = bytearray()
        for event in events:
            if isinstance(event, TextReceived) and ws.can_send:
                # Our Close starts the close handshake; the peer's Close ends it.
                out += (
                    ws.send_close(1000, "bye") if event.text == "bye" else ws.send_text(event.text)
                )
            elif isinstance(event, BytesReceived) and ws.can_send:
                out += ws.send_bytes(event.data)
        # What the machine queued by itself: pongs, the answer to a Close, the
        # Close frame of a failure (ProtocolFailed: 1002, 1007, 1009).
        out += ws.data_to_send()
        if out:
            await stream.send(bytes(out))
        if any(isinstance(e, CloseReceived | ProtocolFailed | ConnectionLost) for e in events):
            return  # the close handshake is over (or failed): the server closes the TCP connection
        events = ws.receive_data(await receive(stream))


async def handle(stream: SocketStream) -> None:
    conn = HTTP1ServerConnection()
    async with stream:
        try:
            events: list[Event] = []
            while (request := await next_request(stream, conn, events)) is not None:
                if isinstance(request, UpgradeRequested) and request.path == b"/ws":
                    await websocket(stream, conn, request)
                    return
                await stream.send(http_response(conn, request))
                if not conn.keep_alive:
                    return
                events = conn.start_next_cycle()  # pipelined requests come out now
        except RemoteProtocolError as exc:
            # The peer broke HTTP/1.1, or the handshake: the error names the response.
            headers = exc.headers if isinstance(exc, WebSocketHandshakeError) else ()
            await stream.send(conn.reject(exc.status_hint, headers, f"{exc}\n".encode()))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the peer went away while we were writing


async def main(host: str, port: int) -> None:
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    bound = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio's, not Django's
    print(f"serving on http://{host}:{bound} (Ctrl+C to stop)", flush=True)
    await listener.serve(handle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A WebSocket echo server on pounce-protocols")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main, args.host, args.port)
