"""RFC 9218 priorities against a real server, with h2 as a raw client.

The client spends the connection's flow-control window on a first response
and then gives it back a little at a time, so that the server, holding
large bodies for several streams, must choose whose bytes go first. The
order the DATA frames arrive in is the order the server chose. With the
windows wide open instead, a client that does not read fills the socket,
and the server must choose again once it drains.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import h2.events
import h2.settings

from pounce import Receive, Scope, Send
from support.h2client import H2Client, frame
from support.waiting import WAIT

PRIORITY_UPDATE = 0x10
STEP = 16_384


def make_app(handed_over: Callable[[str], None] | None = None) -> Any:
    """``/size/N``: N bytes in one message; ``handed_over(path)`` once they are
    with the server (called after the app's send has begun)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        size = int(path.rsplit("/", 1)[1])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(size).encode())],
            }
        )
        if handed_over is not None:
            asyncio.get_running_loop().call_soon(handed_over, path)
        await send({"type": "http.response.body", "body": b"x" * size})

    return app


app = make_app()


def starved_client(server: Any) -> H2Client:
    """A client whose connection window the server has used up.

    Stream windows are wide open, and nothing received is given back unless
    the test says so: only the connection window limits the server.
    """
    client = H2Client(
        server.host,
        server.port,
        auto_ack=False,
        settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24},
    )
    first = client.request("/size/65535")
    assert len(client.response(first).body) == 65_535
    return client


def open_streams(client: H2Client, *requests: tuple[int, str | None]) -> list[int]:
    """Request ``(size, priority)`` in order; wait until every response has begun."""
    streams = []
    for size, priority in requests:
        headers = [("priority", priority)] if priority is not None else []
        streams.append(client.request(f"/size/{size}", headers=headers))
    # An app hands over its head with its body: once the head is here, the
    # whole body is waiting in the server for window.
    client.read_until(
        lambda: all(client.responses[s].headers for s in streams), what="response heads"
    )
    return streams


def received(client: H2Client) -> int:
    return sum(len(r.body) for r in client.responses.values())


def give_window(client: H2Client, size: int, *, until_done: list[int] | None = None) -> None:
    """Open the connection window by ``size`` and read what it lets through."""
    target = received(client) + size
    client.conn.increment_flow_control_window(size)
    client.flush()
    streams = until_done or []
    client.read_until(
        lambda: (
            received(client) >= target
            or (bool(streams) and all(client.responses[s].done for s in streams))
        ),
        what="the data the window allows",
    )


def drain(client: H2Client, streams: list[int], *, step: int = STEP) -> None:
    while not all(client.responses[s].done for s in streams):
        give_window(client, step, until_done=streams)


def data_order(client: H2Client, streams: list[int]) -> list[int]:
    """The streams in the order their data arrived, runs collapsed.

    An app's end of body comes after its last bytes were sent, so it may
    follow another stream's data as an empty DATA frame: not data.
    """
    runs: list[int] = []
    for event in client.events:
        if not isinstance(event, h2.events.DataReceived) or not event.data:
            continue
        if event.stream_id in streams and (not runs or runs[-1] != event.stream_id):
            runs.append(event.stream_id)
    return runs


def end_order(client: H2Client) -> list[int]:
    return [e.stream_id or 0 for e in client.events if isinstance(e, h2.events.StreamEnded)]


def priority_update(stream_id: int, value: bytes) -> bytes:
    return frame(PRIORITY_UPDATE, 0, 0, stream_id.to_bytes(4, "big") + value)


def test_the_most_urgent_response_goes_first(serve: Any) -> None:
    server = serve(app)
    with starved_client(server) as client:
        assert client.conn.remote_settings[0x9] == 1  # SETTINGS_NO_RFC7540_PRIORITIES
        # Requested least urgent first.
        low, high, default = open_streams(
            client, (100_000, "u=7"), (100_000, "u=0"), (100_000, None)
        )
        drain(client, [low, high, default])
        for stream_id in (low, high, default):
            assert client.responses[stream_id].body == b"x" * 100_000
        assert data_order(client, [low, high, default]) == [high, default, low]
        assert end_order(client)[1:] == [high, default, low]


def test_a_priority_update_mid_flight_changes_the_order(serve: Any) -> None:
    server = serve(app)
    with starved_client(server) as client:
        first, second = open_streams(client, (100_000, "u=1"), (100_000, "u=5"))
        give_window(client, STEP)
        give_window(client, STEP)
        assert len(client.responses[first].body) == 2 * STEP
        assert client.responses[second].body == b""
        client.send_raw(priority_update(second, b"u=0, i=?0"))
        drain(client, [first, second])
        assert data_order(client, [first, second]) == [first, second, first]
        assert end_order(client)[1:] == [second, first]
        assert client.responses[first].body == b"x" * 100_000


def test_incremental_responses_of_one_urgency_take_turns(serve: Any) -> None:
    server = serve(app)
    with starved_client(server) as client:
        streams = open_streams(client, (64_000, "u=2, i"), (64_000, "u=2, i"))
        drain(client, streams)
        order = data_order(client, streams)
        # Turn by turn: each has had data many times before either is done.
        assert len(order) >= 6
        assert order[:4] == [streams[0], streams[1], streams[0], streams[1]]


def test_non_incremental_responses_of_one_urgency_go_one_at_a_time(serve: Any) -> None:
    server = serve(app)
    with starved_client(server) as client:
        streams = open_streams(client, (50_000, None), (50_000, None), (50_000, "u=3"))
        # Windows of several frames: taking turns would show.
        drain(client, streams, step=3 * STEP)
        assert data_order(client, streams) == streams
        assert end_order(client)[1:] == streams


def test_a_stream_waiting_its_turn_is_not_reset_as_stalled(serve: Any) -> None:
    # The stall timer (1 s here) resets a stream whose window a client keeps
    # shut; one that waits behind more urgent streams that are moving is not.
    server = serve(app, timeout_flow_control=1.0)
    with starved_client(server) as client:
        urgent, patient = open_streams(client, (400_000, "u=0"), (20_000, "u=7"))
        started = time.monotonic()
        while not client.responses[urgent].done:
            give_window(client, 8_192, until_done=[urgent])
            time.sleep(0.05)  # pace the client: the urgent stream takes seconds
        assert time.monotonic() - started > 2.0  # the patient one waited that long
        drain(client, [urgent, patient])
        assert data_order(client, [urgent, patient]) == [urgent, patient]
        assert client.responses[patient].reset is None
        assert client.responses[patient].body == b"x" * 20_000
        assert client.responses[urgent].body == b"x" * 400_000


def test_a_socket_that_cannot_take_everything_takes_the_most_urgent_first(serve: Any) -> None:
    handed: dict[str, threading.Event] = defaultdict(threading.Event)
    server = serve(make_app(lambda path: handed[path].set()))
    wide = 1 << 30
    client = H2Client(
        server.host, server.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: wide}
    )
    with client:
        # No flow-control window limits the server, only the socket: a small
        # receive buffer, and nothing read until every body is with it.
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
        client.conn.increment_flow_control_window(wide)
        # One write: the server stops reading from a client that does not
        # read, so all three requests must be in before the filler is out.
        filler, low, high = 1, 3, 5
        for stream_id, size, urgency in (
            (filler, 12_000_000, 7),
            (low, 600_000, 5),
            (high, 500_000, 0),
        ):
            fields = [
                (b":method", b"GET"),
                (b":path", b"/size/%d" % size),
                (b":scheme", b"http"),
                (b":authority", b"localhost"),
                (b"priority", b"u=%d" % urgency),
            ]
            client.conn.send_headers(stream_id, fields, end_stream=True)
        client.flush()
        for path in ("/size/12000000", "/size/600000", "/size/500000"):
            assert handed[path].wait(WAIT)
        for stream_id in (filler, low, high):
            client.response(stream_id)
        assert len(client.responses[filler].body) == 12_000_000
        assert len(client.responses[low].body) == 600_000
        assert len(client.responses[high].body) == 500_000
        # The filler went out at once, filling the socket; of the two that
        # waited for it to drain, the more urgent came first, although asked
        # for last.
        assert data_order(client, [low, high]) == [high, low]
