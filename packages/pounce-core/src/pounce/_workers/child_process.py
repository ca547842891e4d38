"""Start a fresh interpreter that runs part of the server, and talk to it.

Worker processes and the ``--reload`` server process are new interpreters
(``python -c ...``), never forks: forking a process that runs threads
copies locks in whatever state those threads left them, and a fresh
interpreter imports the app from the files on disk. The child gets:

* its listening sockets as inherited file descriptors (``pass_fds``);
* one end of a UNIX socket pair as its control channel, on which the parent
  first sends a :class:`ChildSpec` (a length-prefixed pickle: both ends are
  this code, over a private socket pair) and then both sides exchange
  newline-delimited JSON messages (:class:`Channel`);
* the parent's interpreter flags (``-X gil=0``, ``-W``, ``-O``...) and
  ``sys.path``, so it imports what the parent would.

When the parent dies, the child reads end-of-file on the channel and stops:
a child never outlives its parent for long.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pounce._settings.config import ServerConfig

__all__ = [
    "Channel",
    "ChildSpec",
    "interpreter_args",
    "receive_spec",
    "send_spec",
    "start_child",
]

_LENGTH = struct.Struct("!I")
# Sends are tiny and the peer reads promptly; this only bounds a dead peer.
_SEND_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    """What a child needs to know to start; sent once, at its start."""

    config: ServerConfig
    app: str
    listen_fds: tuple[int, ...]
    sys_path: tuple[str, ...]
    worker_id: int = 0
    slot: int = 0
    generation: int = 0
    retire_after: int | None = None


def interpreter_args() -> list[str]:
    """Command-line flags that make a child interpreter behave like this one."""
    flags = sys.flags
    args: list[str] = []
    if flags.optimize:
        args.append("-" + "O" * flags.optimize)
    if flags.dont_write_bytecode:
        args.append("-B")
    if flags.no_user_site:
        args.append("-s")
    if flags.ignore_environment:
        args.append("-E")
    if flags.isolated:
        args.append("-I")
    if getattr(flags, "safe_path", False):
        args.append("-P")
    for option in sys.warnoptions:
        args += ["-W", option]
    for key, value in sys._xoptions.items():
        args += ["-X", key if value is True else f"{key}={value}"]
    return args


def start_child(
    code: str, spec: ChildSpec, sockets: Sequence[socket.socket]
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Run ``python -c code CONTROL_FD`` with ``sockets`` inherited; send ``spec``.

    Returns the process and the parent's end of the control channel. The
    child's stdout and stderr are the parent's; its stdin is empty.
    """
    ours, theirs = socket.socketpair()
    try:
        fds = [theirs.fileno(), *(sock.fileno() for sock in sockets)]
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, *interpreter_args(), "-c", code, str(theirs.fileno())],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    # If the child died at once, its exit status will say why.
    with contextlib.suppress(OSError):
        send_spec(ours, spec)
    return process, ours


def send_spec(sock: socket.socket, spec: ChildSpec) -> None:
    """Send ``spec`` on a fresh control channel (read by :func:`receive_spec`)."""
    blob = pickle.dumps(spec)
    sock.settimeout(_SEND_TIMEOUT)
    sock.sendall(_LENGTH.pack(len(blob)) + blob)


def receive_spec(sock: socket.socket) -> ChildSpec:
    """The child's side of :func:`start_child`: read the spec (blocking)."""
    header = _receive_exactly(sock, _LENGTH.size)
    spec = pickle.loads(_receive_exactly(sock, _LENGTH.unpack(header)[0]))  # noqa: S301 - our own parent, over a private socket pair
    if not isinstance(spec, ChildSpec):
        raise TypeError(f"expected a ChildSpec, got {type(spec).__name__}")
    return spec


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    # Exactly: anything after the spec is a message for the Channel.
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise EOFError("the parent closed the control channel")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class Channel:
    """Newline-delimited JSON messages over a control socket.

    :meth:`receive` is meant to be called when the socket is readable (from
    an event loop's reader callback); it returns the complete messages that
    arrived, or ``None`` at end of file.
    """

    __slots__ = ("_buffer", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)  # a reader called on readiness must never wait
        self._sock = sock
        self._buffer = b""

    @property
    def sock(self) -> socket.socket:
        return self._sock

    def send(self, message: dict[str, Any]) -> bool:
        """Send one message; False if the peer is gone."""
        data = memoryview(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
        deadline = time.monotonic() + _SEND_TIMEOUT
        while data:
            try:
                data = data[self._sock.send(data) :]
            except (BlockingIOError, InterruptedError):
                # The peer's buffer is full: it is not reading. Wait a little
                # for room, within a bound, rather than spin.
                if time.monotonic() > deadline:
                    return False
                select.select([], [self._sock], [], 0.05)
            except OSError:
                return False
        return True

    def receive(self) -> list[dict[str, Any]] | None:
        try:
            data = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not data:
            return None
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for line in lines:
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict):
                    messages.append(message)
        return messages

    def close(self) -> None:
        self._sock.close()
