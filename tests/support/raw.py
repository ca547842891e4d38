"""HTTP/1.1 over a plain blocking socket, byte for byte.

httpx hides the things these suites must see: whether a connection was
reused, interim ``100 Continue`` responses, pipelined responses and their
order, and what a server does with bytes no well-behaved client would send.
:class:`RawConnection` writes exactly what it is given and parses responses
itself (Content-Length, chunked, or read-until-close framing).

Every wait has a deadline; a server that stops answering fails the test with
:class:`TimeoutError` instead of hanging it.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from types import TracebackType

__all__ = ["RawConnection", "RawResponse", "request_bytes"]

DEFAULT_TIMEOUT = 30.0


def request_bytes(
    method: str = "GET",
    target: str = "/",
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """A request head (plus ``body``); ``host`` is added unless given.

    No ``content-length`` is added: framing is the caller's decision, since
    getting it wrong on purpose is half of what these tests do.
    """
    fields = list(headers or [])
    if not any(name.lower() == "host" for name, _ in fields):
        fields.insert(0, ("host", "testserver"))
    lines = [f"{method} {target} {version}", *(f"{name}: {value}" for name, value in fields)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class RawResponse:
    """One parsed response. Header names are lowercased; order is kept."""

    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)  # wire chunks, when chunked

    def header(self, name: str) -> str | None:
        """The value of the first ``name`` field, or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def header_names(self) -> list[str]:
        return [key for key, _ in self.headers]

    @property
    def keeps_alive(self) -> bool:
        """Whether the server said it keeps the connection open."""
        tokens = ",".join(self.header_values("connection")).lower()
        if self.http_version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class RawConnection:
    """A blocking client socket with a read buffer and deadlines."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        uds: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        receive_buffer: int | None = None,
    ) -> None:
        self.timeout = timeout
        if uds is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: str | tuple[str, int] = uds
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (host, port)
        self.sock.settimeout(timeout)
        if receive_buffer is not None:
            # Before connecting, so that the window the server sees is small too.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        try:
            self.sock.connect(target)
        except OSError:
            self.sock.close()
            raise
        self._buffer = bytearray()
        self.eof = False
        self.reset = False  # the server reset the connection instead of closing it

    def __enter__(self) -> RawConnection:
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

    @property
    def local_port(self) -> int:
        """The client-side port: the same value means the same connection."""
        return int(self.sock.getsockname()[1])

    # ------------------------------------------------------------ writing

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_request(
        self,
        method: str = "GET",
        target: str = "/",
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
    ) -> None:
        self.send(request_bytes(method, target, headers=headers, body=body, version=version))

    def shutdown_write(self) -> None:
        """Half-close: tell the server no more bytes are coming."""
        self.sock.shutdown(socket.SHUT_WR)

    # ------------------------------------------------------------ reading

    def _fill(self, deadline: float) -> bool:
        """Read more bytes into the buffer; False at end of stream."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server sent nothing more in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("the server sent nothing more in time") from None
        except ConnectionResetError:
            self.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        self._buffer += data
        return True

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def read_line(self, deadline: float) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            if not self._fill(deadline):
                raise ConnectionError(
                    f"connection closed mid-line (buffered {bytes(self._buffer)!r})"
                )

    def read_exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            if not self._fill(deadline):
                raise ConnectionError(
                    f"connection closed after {len(self._buffer)} of {size} bytes"
                )
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_some(self, timeout: float | None = None) -> bytes:
        """Whatever is buffered, or the next bytes to arrive (b"" at end of stream)."""
        if not self._buffer:
            self._fill(self._deadline(timeout))
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def read_until_close(self, timeout: float | None = None) -> bytes:
        """Everything until the server closes the connection."""
        deadline = self._deadline(timeout)
        while self._fill(deadline):
            pass
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def assert_closed(self, timeout: float | None = None) -> None:
        """The server closes the connection without sending anything more."""
        rest = self.read_until_close(timeout)
        assert rest == b"", f"unexpected bytes before close: {rest!r}"

    def read_head(self, timeout: float | None = None) -> RawResponse:
        """The next response head (interim or final), body not read."""
        deadline = self._deadline(timeout)
        while True:
            line = self.read_line(deadline)
            if line:
                break
        version, _, rest = line.decode("latin-1").partition(" ")
        status_text, _, reason = rest.partition(" ")
        headers = []
        while True:
            field_line = self.read_line(deadline)
            if not field_line:
                break
            name, _, value = field_line.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return RawResponse(
            status=int(status_text), reason=reason, http_version=version, headers=headers
        )

    def read_response(
        self, *, method: str = "GET", timeout: float | None = None, skip_interim: bool = True
    ) -> RawResponse:
        """The next complete response (interim ones skipped unless asked for)."""
        deadline = self._deadline(timeout)
        while True:
            response = self.read_head(max(deadline - time.monotonic(), 0.001))
            if response.status >= 200 or not skip_interim:
                break
        if response.status < 200:
            return response
        self._read_body(response, method, deadline)
        return response

    def _read_body(self, response: RawResponse, method: str, deadline: float) -> None:
        if method == "HEAD" or response.status in (204, 304):
            return
        encoding = ",".join(response.header_values("transfer-encoding")).lower()
        length = response.header("content-length")
        if "chunked" in encoding:
            body = bytearray()
            while True:
                size_line = self.read_line(deadline)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self.read_line(deadline):  # trailers, then the blank line
                        pass
                    break
                chunk = self.read_exactly(size, deadline)
                if self.read_exactly(2, deadline) != b"\r\n":
                    raise ConnectionError("chunk not followed by CRLF")
                response.chunks.append(chunk)
                body += chunk
            response.body = bytes(body)
        elif length is not None:
            response.body = self.read_exactly(int(length), deadline)
        else:
            while self._fill(deadline):
                pass
            response.body = bytes(self._buffer)
            self._buffer.clear()

    def read_chunk(self, timeout: float | None = None) -> bytes:
        """One chunk of a chunked body whose head was read with :meth:`read_head`.

        Returns b"" for the last chunk (trailers are consumed).
        """
        deadline = self._deadline(timeout)
        size = int(self.read_line(deadline).split(b";")[0], 16)
        if size == 0:
            while self.read_line(deadline):
                pass
            return b""
        chunk = self.read_exactly(size, deadline)
        if self.read_exactly(2, deadline) != b"\r\n":
            raise ConnectionError("chunk not followed by CRLF")
        return chunk
