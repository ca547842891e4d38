"""An HTTP server on plain sockets and pounce-protocols: one thread per connection.

    python examples/protocols-threaded/server.py [--host 127.0.0.1] [--port 8000]

The Sans-IO machines of ``pounce_protocols`` do all of the HTTP; this file
only moves bytes between a socket and a machine and decides what to answer.
It serves

* HTTP/1.1, with keep-alive and pipelining: ``curl http://127.0.0.1:8000/``
* HTTP/2 over cleartext by prior knowledge (h2c), on the same port:
  ``curl --http2-prior-knowledge http://127.0.0.1:8000/``

``/`` says hello and which stream of the connection asked (HTTP/1.1 numbers
its requests 1, 2, 3...); ``POST /echo`` answers with the request body;
anything else is 404.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    Event,
    Headers,
    HTTP1ServerConnection,
    HTTP2ServerConnection,
    InformationalResponse,
    RemoteProtocolError,
    RequestReceived,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    StreamReset,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # how an HTTP/2 client opens (RFC 9113 §3.4)
MAX_BODY = 1024 * 1024  # the machines frame bodies; how much to accept is ours to say
IDLE_TIMEOUT = 30.0


def app(request: RequestReceived, body: bytes) -> tuple[int, bytes]:
    """The whole "application": a request in, a status and a body out."""
    if request.path == b"/":
        version, stream = request.http_version, request.stream_id
        return 200, f"Hello over HTTP/{version}, stream {stream}\n".encode()
    if request.path == b"/echo" and request.method == b"POST":
        return 200, body
    return 404, b"Not Found\n"


def response(stream_id: int, method: bytes, status: int, body: bytes) -> list[ResponseEvent]:
    """The events of a whole response: every HTTP version speaks this vocabulary."""
    headers: Headers = (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    )
    head = ResponseHead(stream_id=stream_id, status=status, headers=headers)
    events: list[ResponseEvent] = [head]
    if method != b"HEAD":  # a response to HEAD has the length of a body, not the body
        events.append(ResponseBody(stream_id=stream_id, data=body))
    events.append(ResponseEnd(stream_id=stream_id))
    return events


# ---------------------------------------------------------------- HTTP/1.1


def read_request(
    sock: socket.socket, conn: HTTP1ServerConnection, events: list[Event]
) -> tuple[RequestReceived | None, bytes]:
    """Act on events, reading more bytes as needed, until a request is complete.

    Returns its head and body, or ``(None, b"")`` if the client closed first.
    """
    request, body = None, bytearray()
    while True:
        for event in events:
            # UpgradeRequested is a RequestReceived too: it is served as the plain
            # request it also is (see examples/protocols-anyio for a WebSocket).
            if isinstance(event, RequestReceived):
                request = event
                if event.expect_continue:  # the client waits for this before its body
                    status = InformationalResponse(stream_id=event.stream_id, status=100)
                    sock.sendall(conn.send(status))
            elif isinstance(event, BodyReceived):
                body += event.data
                if len(body) > MAX_BODY:  # an error carries the status it implies
                    raise RemoteProtocolError("request body too large", status_hint=413)
            elif isinstance(event, BodyEnded) and request is not None:
                return request, bytes(body)
            elif isinstance(event, ConnectionLost):
                return None, b""
        events = conn.receive_data(sock.recv(65536))  # b"" at the end: ConnectionLost


def serve_http1(sock: socket.socket, data: bytes) -> None:
    conn = HTTP1ServerConnection()
    try:
        events = conn.receive_data(data)
        while True:
            request, body = read_request(sock, conn, events)
            if request is None:
                return
            status, content = app(request, body)
            events_out = response(request.stream_id, request.method, status, content)
            sock.sendall(b"".join(conn.send(event) for event in events_out))
            if not conn.keep_alive:  # Connection: close, HTTP/1.0, ...
                return
            # Requests pipelined behind this one wait unparsed in the machine;
            # they come out now, one cycle at a time, so responses stay in order.
            events = conn.start_next_cycle()
    except RemoteProtocolError as exc:
        # A broken request or a limit: answer with the status it carries and close.
        sock.sendall(conn.reject(exc.status_hint, body=f"{exc}\n".encode()))
    except TimeoutError:
        if conn.has_partial_request:  # a head that never finished arriving
            sock.sendall(conn.reject(408))


# ------------------------------------------------------------------ HTTP/2


def serve_http2(sock: socket.socket, data: bytes) -> None:
    conn = HTTP2ServerConnection()
    conn.initiate()  # our SETTINGS, written with the first data_to_send()
    requests: dict[int, tuple[RequestReceived, bytearray]] = {}

    def respond(stream_id: int, method: bytes, status: int, body: bytes) -> None:
        requests.pop(stream_id, None)
        for event in response(stream_id, method, status, body):
            conn.send(event)  # queued: frames leave as flow control allows

    try:
        while True:
            for event in conn.receive_data(data):
                if isinstance(event, RequestReceived):
                    requests[event.stream_id] = (event, bytearray())
                elif isinstance(event, BodyReceived) and event.stream_id in requests:
                    request, body = requests[event.stream_id]
                    body += event.data
                    # The stream's window reopens only as its body is consumed.
                    conn.acknowledge_received_data(event.stream_id, len(event.data))
                    if len(body) > MAX_BODY:  # answering early resets the rest of the upload
                        respond(event.stream_id, request.method, 413, b"Too Large\n")
                elif isinstance(event, BodyEnded) and event.stream_id in requests:
                    request, body = requests[event.stream_id]
                    respond(event.stream_id, request.method, *app(request, bytes(body)))
                elif isinstance(event, RequestRejected):
                    # One bad request (431, 400...); the connection and its other streams go on.
                    reason = f"{event.reason}\n".encode()
                    respond(event.stream_id, b"GET", event.status_hint, reason)
                elif isinstance(event, StreamReset):
                    requests.pop(event.stream_id, None)  # the client gave up on this one
            sock.sendall(conn.data_to_send())  # responses, window updates, pings answered
            if conn.closed:  # the client closed (ConnectionLost) or sent a GOAWAY on error
                return
            data = sock.recv(65536)
    except RemoteProtocolError:
        # The client broke HTTP/2: a GOAWAY carrying the error code is queued.
        sock.sendall(conn.data_to_send())


# -------------------------------------------------------------- connections


def read_start(sock: socket.socket) -> bytes:
    """The first bytes, enough to tell the HTTP/2 preface from an HTTP/1.1 request."""
    data = b""
    while len(data) < len(PREFACE) and PREFACE.startswith(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def handle(sock: socket.socket) -> None:
    with sock, contextlib.suppress(OSError):  # a reset, a timeout: the connection is over
        sock.settimeout(IDLE_TIMEOUT)
        data = read_start(sock)
        if data.startswith(PREFACE):
            serve_http2(sock, data)
        elif data:
            serve_http1(sock, data)
        # Half-close and read what the client still sends for a moment: closing
        # with unread bytes would reset the connection and lose the last response.
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        for _ in range(16):
            if not sock.recv(65536):
                break


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP/1.1 and h2c on pounce-protocols")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with socket.create_server((args.host, args.port)) as listener:
        host, port = listener.getsockname()[:2]
        print(f"serving on http://{host}:{port} (Ctrl+C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                sock, _ = listener.accept()
                threading.Thread(target=handle, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
