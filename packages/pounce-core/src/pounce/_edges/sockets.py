"""Listening sockets: TCP host/port, a UNIX socket path, or an inherited fd."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat

from pounce._settings.config import ServerConfig

__all__ = ["BindError", "bind_sockets", "describe_socket"]


class BindError(Exception):
    """A listening socket could not be created; the message says why in one line."""


def _bind_unix(path: str, backlog: int) -> socket.socket:
    # A socket file left by a previous run would make bind() fail; remove it,
    # but never anything that is not a socket.
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        # Like a TCP port, the socket is for any local user to connect to.
        os.chmod(path, 0o666)  # noqa: S103
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(f"Cannot listen on UNIX socket {path}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


def _bind_tcp(host: str, port: int, backlog: int, *, reuse_port: bool) -> list[socket.socket]:
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise BindError(f"Cannot resolve host {host!r}: {exc.strerror}") from exc
    sockets: list[socket.socket] = []
    seen = set()
    for family, kind, proto, _, address in infos:
        if (family, address) in seen:
            continue
        seen.add((family, address))
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6 and len(infos) > 1:
                # Both families are bound separately; keep IPv6 to itself.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            for opened in sockets:
                opened.close()
            host_text = str(address[0])
            where = f"[{host_text}]:{port}" if family == socket.AF_INET6 else f"{host_text}:{port}"
            if exc.errno == errno.EADDRINUSE:
                raise BindError(f"Address {where} is already in use.") from exc
            raise BindError(f"Cannot listen on {where}: {exc.strerror}") from exc
        sock.setblocking(False)
        sockets.append(sock)
        if port == 0:
            # Every family must share the port the first one was given.
            port = sock.getsockname()[1]
    return sockets


def bind_sockets(config: ServerConfig, *, reuse_port: bool = False) -> list[socket.socket]:
    """The listening sockets ``config`` asks for, bound and listening."""
    if config.fd is not None:
        try:
            sock = socket.socket(fileno=config.fd)
        except OSError as exc:
            raise BindError(
                f"File descriptor {config.fd} is not a usable socket: {exc.strerror}"
            ) from exc
        if sock.type != socket.SOCK_STREAM:
            raise BindError(f"File descriptor {config.fd} is not a stream socket.")
        sock.setblocking(False)
        return [sock]
    if config.uds is not None:
        return [_bind_unix(config.uds, config.backlog)]
    return _bind_tcp(config.host, config.port, config.backlog, reuse_port=reuse_port)


def describe_socket(sock: socket.socket, *, scheme: str = "http") -> str:
    """A human-readable address such as ``http://127.0.0.1:8000``."""
    if sock.family == socket.AF_UNIX:
        return f"{scheme}+unix://{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
