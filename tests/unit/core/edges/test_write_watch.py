"""--timeout-write's watch: a peer that takes nothing is reported, a slow one never."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from pounce._edges.write_watch import WriteWatch


class BufferTransport(asyncio.WriteTransport):
    """A transport whose write buffer the test fills and drains by hand."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        super().__init__()
        self.buffered = 0
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


class _ManualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when the test moves it."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def time(self) -> float:
        return self.now


class Clock:
    """The watch on a loop whose time the test moves: however busy the
    machine, a period is exactly as long as the test says."""

    _STEP = 0.001

    def __init__(self) -> None:
        self.loop = _ManualTimeLoop()
        self.stalls = 0

    def stalled(self) -> None:
        self.stalls += 1

    def run(self, seconds: float) -> None:
        # In steps of a millisecond, each running what has come due.
        for _ in range(round(seconds / self._STEP)):
            self.loop.now += self._STEP
            self.loop.run_until_complete(asyncio.sleep(0))

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def clock() -> Any:
    c = Clock()
    yield c
    c.close()


def test_a_peer_that_takes_nothing_is_reported_once(clock: Clock) -> None:
    transport = BufferTransport()
    transport.buffered = 100_000
    watch = WriteWatch(clock.loop, 0.05, clock.stalled)
    watch.paused(transport)
    clock.run(0.04)
    assert clock.stalls == 0
    clock.run(0.03)
    assert clock.stalls == 1
    clock.run(0.2)
    assert clock.stalls == 1


def test_a_slow_reader_that_takes_a_little_each_period_is_never_reported(clock: Clock) -> None:
    transport = BufferTransport()
    transport.buffered = 100_000
    watch = WriteWatch(clock.loop, 0.05, clock.stalled)
    watch.paused(transport)
    for _ in range(15):  # twelve periods, still paused: a byte taken in each
        clock.run(0.02)
        transport.buffered -= 1
        clock.run(0.02)
    assert clock.stalls == 0


def test_what_is_written_while_paused_is_not_progress(clock: Clock) -> None:
    transport = BufferTransport()
    transport.buffered = 100_000
    watch = WriteWatch(clock.loop, 0.05, clock.stalled)
    watch.paused(transport)
    clock.run(0.02)
    # 500 bytes taken by the peer, 500 more written by us: still progress.
    transport.buffered += 500 - 500
    watch.wrote(500)
    clock.run(0.04)
    assert clock.stalls == 0
    # Now 100 more written and nothing taken: a stall.
    transport.buffered += 100
    watch.wrote(100)
    clock.run(0.06)
    assert clock.stalls == 1


def test_resuming_stops_the_watch(clock: Clock) -> None:
    transport = BufferTransport()
    transport.buffered = 100_000
    watch = WriteWatch(clock.loop, 0.05, clock.stalled)
    watch.paused(transport)
    clock.run(0.03)
    watch.resumed()
    clock.run(0.1)
    assert clock.stalls == 0
    # Pausing again starts a fresh period.
    watch.paused(transport)
    clock.run(0.03)
    assert clock.stalls == 0
    clock.run(0.04)
    assert clock.stalls == 1


def test_no_timeout_means_no_watch(clock: Clock) -> None:
    transport = BufferTransport()
    transport.buffered = 100_000
    watch = WriteWatch(clock.loop, None, clock.stalled)
    watch.paused(transport)
    clock.run(0.1)
    assert clock.stalls == 0


def test_the_kernel_send_queue_counts_as_undelivered(clock: Clock) -> None:
    # A real socket pair: what our side has sent and the other side has not
    # read stays in the kernel's queues, and taking it is progress even while
    # the transport's own buffer does not move.
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    listener = socket.create_server(("127.0.0.1", 0))
    tcp_ours = socket.create_connection(listener.getsockname())
    tcp_theirs, _ = listener.accept()
    try:
        tcp_theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        tcp_ours.setblocking(False)
        sent = 0
        try:
            while True:
                sent += tcp_ours.send(b"x" * 65536)
        except BlockingIOError:
            pass
        transport = BufferTransport(tcp_ours)
        transport.buffered = 100_000  # the transport's buffer never moves here
        watch = WriteWatch(clock.loop, 0.1, clock.stalled)
        watch.paused(transport)
        for _ in range(20):  # eight periods, the peer reading what arrives
            tcp_theirs.recv(65536)
            clock.run(0.04)
        assert clock.stalls == 0, "reading through the kernel's queue was not seen"
        clock.run(0.25)
        assert clock.stalls == 1
    finally:
        for s in (ours, theirs, listener, tcp_ours, tcp_theirs):
            s.close()
