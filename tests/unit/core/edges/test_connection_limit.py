"""``ConnectionLimit``: the count behind ``--limit-connections``."""

from __future__ import annotations

import asyncio

from pounce._edges.connection_limit import ConnectionLimit


class FakeTransport(asyncio.BaseTransport):
    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing


def test_admits_up_to_the_limit_then_refuses() -> None:
    limit = ConnectionLimit(3)
    transports = [FakeTransport() for _ in range(4)]
    assert [limit.admit(t) for t in transports] == [True, True, True, False]
    assert limit.refused == 1
    transports[0].closing = True
    assert limit.admit(FakeTransport())
    assert limit.open == 3


def test_closed_transports_are_not_kept_however_many_come_and_go() -> None:
    # A closed transport still holds its socket object: remembering every one
    # until the limit is reached was a leak of ~1 KiB per connection.
    limit = ConnectionLimit(10_000)
    live = [FakeTransport() for _ in range(10)]
    for transport in live:
        assert limit.admit(transport)
    for _ in range(5000):
        transport = FakeTransport()
        assert limit.admit(transport)
        transport.closing = True
    assert limit.remembered <= 2 * len(live) + 64
    assert limit.open == len(live)
