"""HTTP/2 over a plain blocking socket, with ``h2`` as the client.

httpx and curl hide what the HTTP/2 suites must see and do: several streams
at once on one connection, the order responses arrive in, resets, GOAWAY,
flow-control windows held shut, and frames no well-behaved client would
send. :class:`H2Client` drives an ``h2`` client connection over a real
socket (TLS with ALPN ``h2`` when given a context) and keeps every event it
has seen, per stream.

Every wait has a deadline; a server that stops answering fails the test with
:class:`TimeoutError` instead of hanging it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

import h2.config
import h2.connection
import h2.events
import h2.exceptions

__all__ = ["H2Client", "Response", "frame"]

DEFAULT_TIMEOUT = 30.0


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One raw HTTP/2 frame."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


@dataclass
class Response:
    """What one stream received."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    informational: list[list[tuple[bytes, bytes]]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    ended: bool = False
    reset: int | None = None  # the error code of a RST_STREAM

    @property
    def status(self) -> int:
        return int(dict(self.headers)[b":status"])

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def done(self) -> bool:
        return self.ended or self.reset is not None


class H2Client:
    """One HTTP/2 client connection; ``auto_ack`` gives back flow-control
    window for every DATA byte received (turn it off to hold windows shut).

    ``preface=False`` connects without saying anything; ``upgrade=PATH``
    starts with an HTTP/1.1 ``GET PATH`` asking for ``Upgrade: h2c``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str = "localhost",
        timeout: float = DEFAULT_TIMEOUT,
        auto_ack: bool = True,
        settings: dict[int, int] | None = None,
        preface: bool = True,
        upgrade: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.auto_ack = auto_ack
        raw = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            raw = tls.wrap_socket(raw, server_hostname=server_hostname)
        self.sock = raw
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.responses: dict[int, Response] = defaultdict(Response)
        # (last stream id, error code) of the server's GOAWAY frames. They are
        # kept from h2, which would stop processing the responses that RFC
        # 9113 lets the server still complete.
        self.goaways: list[tuple[int, int]] = []
        self._incoming = bytearray()
        self.closed = False  # the server closed the connection
        self.events: list[h2.events.Event] = []
        self.upgrade_status: bytes | None = None
        if upgrade is not None:
            self._upgrade(upgrade, host, port)
        elif preface:
            self.conn.initiate_connection()
            if settings:
                self.conn.update_settings(settings)
            self.flush()

    def _upgrade(self, path: str, host: str, port: int) -> None:
        """``Upgrade: h2c`` (RFC 7540 §3.2): the request becomes stream 1."""
        settings = self.conn.initiate_upgrade_connection()
        assert settings is not None
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            f"HTTP2-Settings: {settings.decode('ascii')}\r\n\r\n"
        )
        preface = self.conn.data_to_send()
        self.sock.sendall(request.encode("ascii"))
        head = b""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in head:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        self.upgrade_status = head.partition(b"\r\n")[0]
        self.sock.sendall(preface)
        if rest:
            for event in self.conn.receive_data(self._without_goaway(rest)):
                self._on_event(event)
            self.flush()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -------------------------------------------------------------- sending

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data: bytes) -> None:
        self.flush()
        self.sock.sendall(data)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        end: bool = True,
        authority: str = "localhost",
        scheme: str = "http",
    ) -> int:
        """Open a stream; return its id."""
        stream_id = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":path", path.encode()),
            (b":scheme", scheme.encode()),
            (b":authority", authority.encode()),
            *((k.encode(), v.encode()) for k, v in headers),
        ]
        self.conn.send_headers(stream_id, fields, end_stream=end and body is None)
        if body is not None:
            self.send_body(stream_id, body, end=end)
        self.flush()
        return stream_id

    def send_body(self, stream_id: int, body: bytes, *, end: bool = True) -> None:
        """Send ``body`` as the windows allow (reading the server meanwhile)."""
        view = memoryview(body)
        while view:
            window = self.conn.local_flow_control_window(stream_id)
            size = min(window, self.conn.max_outbound_frame_size, len(view))
            if size <= 0:
                self.flush()
                self.read_until(
                    lambda: self.conn.local_flow_control_window(stream_id) > 0,
                    what=f"window on stream {stream_id}",
                )
                continue
            self.conn.send_data(stream_id, view[:size].tobytes())
            view = view[size:]
        if end:
            self.conn.end_stream(stream_id)
        self.flush()

    def reset(self, stream_id: int, error_code: int = 0x8) -> None:
        self.conn.reset_stream(stream_id, error_code)
        self.flush()

    # ------------------------------------------------------------ receiving

    def receive_once(self, deadline: float) -> bool:
        """Read once and process; False when the server has closed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server did not answer in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("the server did not answer in time") from None
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(self._without_goaway(data))
        except h2.exceptions.ProtocolError:
            events = []
        for event in events:
            self._on_event(event)
        with contextlib.suppress(OSError):  # the server may be closing; we still read
            self.flush()
        return True

    def _without_goaway(self, data: bytes) -> bytes:
        """Whole frames of ``data`` (and earlier reads), GOAWAY frames removed."""
        buffer = self._incoming
        buffer += data
        out = bytearray()
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            if buffer[3] == 0x7:  # GOAWAY
                payload = buffer[9 : 9 + length]
                last = int.from_bytes(payload[:4], "big") & 0x7FFF_FFFF
                self.goaways.append((last, int.from_bytes(payload[4:8], "big")))
            else:
                out += buffer[: 9 + length]
            del buffer[: 9 + length]
        return bytes(out)

    @property
    def goaway(self) -> tuple[int, int] | None:
        """The last GOAWAY received, as (last stream id, error code)."""
        return self.goaways[-1] if self.goaways else None

    def _on_event(self, event: h2.events.Event) -> None:
        self.events.append(event)
        if isinstance(event, h2.events.ResponseReceived):
            self.responses[event.stream_id or 0].headers = list(event.headers or ())  # type: ignore[arg-type]
        elif isinstance(event, h2.events.InformationalResponseReceived):
            self.responses[event.stream_id or 0].informational.append(list(event.headers or ()))  # type: ignore[arg-type]
        elif isinstance(event, h2.events.DataReceived):
            response = self.responses[event.stream_id or 0]
            response.body += event.data or b""
            if self.auto_ack:
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length or 0, event.stream_id or 0
                )
        elif isinstance(event, h2.events.TrailersReceived):
            self.responses[event.stream_id or 0].trailers = list(event.headers or ())  # type: ignore[arg-type]
        elif isinstance(event, h2.events.StreamEnded):
            self.responses[event.stream_id or 0].ended = True
        elif isinstance(event, h2.events.StreamReset):
            self.responses[event.stream_id or 0].reset = int(event.error_code or 0)

    def read_until(
        self, predicate: Callable[[], object], *, timeout: float | None = None, what: str = ""
    ) -> None:
        """Read until ``predicate()`` is true; fail if the server closes first."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not predicate():
            if not self.receive_once(deadline):
                if predicate():
                    return
                raise ConnectionError(f"the server closed the connection before {what}")

    def read_until_closed(self, timeout: float | None = None) -> None:
        """Read (and process) until the server closes the connection."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while self.receive_once(deadline):
            pass

    def response(self, stream_id: int, timeout: float | None = None) -> Response:
        """Wait for the stream to end (or be reset) and return what it got."""
        self.read_until(
            lambda: self.responses[stream_id].done, timeout=timeout, what=f"stream {stream_id}"
        )
        return self.responses[stream_id]
