"""Resource exhaustion: slow heads, idle connections, too many connections.

* A thousand connections dribbling a request head do not starve a normal
  client, and each is answered 408 and closed once its head timeout is up,
  not before.
* Idle keep-alive connections are closed when their timeout is up, not before.
* The memory an idle keep-alive connection costs is measured (RSS of a real
  server process) and bounded.
* ``--limit-connections``: past the bound a new connection gets 503 and is
  closed; once connections go away new ones are served again.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from dataclasses import dataclass

import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.raw import RawConnection
from support.waiting import wait_for


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await read_body(receive)
        await respond(send, b"ok")


def _served(server) -> None:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"ok")


@dataclass
class _Peer:
    sock: socket.socket
    opened: float
    received: bytes = b""
    closed: float | None = None


def _open(server, count: int) -> list[_Peer]:
    peers = []
    for _ in range(count):
        sock = socket.create_connection((server.host, server.port), timeout=30)
        sock.setblocking(False)
        peers.append(_Peer(sock, time.monotonic()))
    return peers


def _read_ready(selector: selectors.BaseSelector, timeout: float) -> None:
    for key, _ in selector.select(timeout):
        peer: _Peer = key.data
        try:
            data = peer.sock.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            data = b""
        if data:
            peer.received += data
        else:
            peer.closed = time.monotonic()
            selector.unregister(peer.sock)


@pytest.mark.slow
def test_a_thousand_slowloris_connections_do_not_starve_a_client(serve):
    timeout = 3.0
    server = serve(app, timeout_request_header=timeout)
    head = b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: " + b"z" * 10_000
    peers = _open(server, 1000)
    selector = selectors.DefaultSelector()
    try:
        for peer in peers:
            selector.register(peer.sock, selectors.EVENT_READ, peer)
        sent = 0
        served = 0
        deadline = time.monotonic() + 90
        while any(p.closed is None for p in peers) and time.monotonic() < deadline:
            for peer in peers:
                if peer.closed is None:
                    with contextlib.suppress(BlockingIOError, BrokenPipeError, ConnectionError):
                        peer.sock.send(head[sent : sent + 1])
            sent += 1
            # While they dribble, a normal client is served.
            if served < 5:
                _served(server)
                served += 1
            _read_ready(selector, 0.2)
        assert served == 5
        still_open = sum(1 for p in peers if p.closed is None)
        assert still_open == 0, f"{still_open} dribbling connections were never closed"
        early = [p.closed - p.opened for p in peers if p.closed - p.opened < timeout - 0.05]
        assert not early, f"closed before the head timeout: {early[:5]}"
        not_408 = [p.received[:40] for p in peers if not p.received.startswith(b"HTTP/1.1 408 ")]
        assert not not_408, f"{len(not_408)} got no 408, e.g. {not_408[:3]}"
        assert sent < len(head)
    finally:
        selector.close()
        for peer in peers:
            peer.sock.close()
    _served(server)


def test_idle_keep_alive_connections_are_closed_on_time(serve):
    timeout = 1.0
    server = serve(app, timeout_keep_alive=timeout)
    conns = [RawConnection(server.host, server.port) for _ in range(100)]
    try:
        for conn in conns:
            conn.send_request("GET", "/")
        for conn in conns:
            assert conn.read_response().keeps_alive
        answered = time.monotonic()
        for conn in conns:
            conn.assert_closed(timeout=30)
        # Every connection lived at least its timeout after its response.
        assert time.monotonic() - answered >= timeout - 0.05
        _served(server)
    finally:
        for conn in conns:
            conn.close()


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


#: The bound on what one idle keep-alive connection may cost the server
#: process in resident memory (kernel socket buffers are not counted in RSS).
IDLE_CONNECTION_BOUND_KIB = 32


@pytest.mark.slow
def test_memory_per_idle_connection_is_bounded(pounce):
    count = 1000
    server = pounce("support.apps:app", "--workers", "1", "--timeout-keep-alive", "120")
    pid = server.proc.pid

    def open_idle(n: int) -> list[RawConnection]:
        conns = []
        for _ in range(n):
            conn = RawConnection("127.0.0.1", server.port)
            conns.append(conn)
            conn.send_request("GET", "/")
        for conn in conns:
            assert conn.read_response().body == b"hello"
        return conns

    # Warm up: the first connections pay for imports, caches and arenas.
    for conn in open_idle(200):
        conn.close()
    time.sleep(0.5)
    before = _rss_kib(pid)
    conns = open_idle(count)
    try:
        time.sleep(0.5)
        after = _rss_kib(pid)
    finally:
        for conn in conns:
            conn.close()
    per_connection = (after - before) / count
    print(
        f"\nRSS {before} KiB -> {after} KiB with {count} idle connections: "
        f"{per_connection:.1f} KiB each"
    )
    assert per_connection < IDLE_CONNECTION_BOUND_KIB


# --------------------------------------------------------- --limit-connections


def test_connections_past_the_limit_get_503_and_are_closed(serve, caplog):
    server = serve(app, limit_connections=3, workers=1)
    held = [RawConnection(server.host, server.port) for _ in range(3)]
    try:
        for conn in held:  # each is admitted and served
            conn.send_request("GET", "/")
            assert conn.read_response().keeps_alive
        with RawConnection(server.host, server.port) as extra:
            extra.send_request("GET", "/")
            response = extra.read_response()
            assert (response.status, response.header("connection")) == (503, "close")
            assert response.header("retry-after") == "1"
            assert response.body == b"503 Service Unavailable\n"
            extra.read_until_close()
        # The held ones are untouched.
        for conn in held:
            conn.send_request("GET", "/")
            assert conn.read_response().body == b"ok"
        assert any("Connection limit (3) reached" in r.getMessage() for r in caplog.records)
    finally:
        for conn in held:
            conn.close()

    # Once they are gone, new connections are admitted again.
    def admitted() -> bool:
        with RawConnection(server.host, server.port) as conn:
            conn.send_request("GET", "/")
            return conn.read_response().status == 200

    wait_for(admitted, what="a new connection admitted after the held ones closed")


def test_a_refused_client_that_sends_nothing_still_reads_its_503(serve):
    server = serve(app, limit_connections=1, workers=1)
    with RawConnection(server.host, server.port) as held:
        held.send_request("GET", "/")
        held.read_response()
        with RawConnection(server.host, server.port) as extra:
            assert extra.read_response().status == 503
            extra.assert_closed()


def test_a_flood_past_the_limit_is_shed_not_collapsed(serve):
    limit = 20
    server = serve(app, limit_connections=limit, workers=1)
    conns = [RawConnection(server.host, server.port) for _ in range(200)]
    statuses: dict[int, int] = {}
    try:
        for conn in conns:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.send_request("GET", "/")
        for conn in conns:
            try:
                status = conn.read_response().status
            except ConnectionResetError:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        for conn in conns:
            conn.close()
    assert statuses.get(200, 0) == limit
    assert statuses.get(503, 0) == 200 - limit, statuses
    _served(server)


@pytest.mark.parametrize("value", [0, -5])
def test_limit_connections_must_be_positive(value):
    from pounce import ServerConfig

    with pytest.raises(ValueError, match="limit_connections"):
        ServerConfig(limit_connections=value)


def test_limit_connections_can_be_off():
    from pounce import ServerConfig

    assert ServerConfig(limit_connections=None).limit_connections is None
    assert ServerConfig().limit_connections == 10000
