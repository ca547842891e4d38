"""The supervisor's plumbing: per-slot listening sockets and the control
channel between a supervisor and a worker process."""

from __future__ import annotations

import pickle
import socket
import struct
import sys

import pytest

from pounce import ServerConfig
from pounce._edges.listeners import bind_listeners, reuse_port_available
from pounce._edges.sockets import BindError
from pounce._workers.child_process import Channel, ChildSpec, receive_spec

linux_only = pytest.mark.skipif(not reuse_port_available(), reason="SO_REUSEPORT balancing")


@linux_only
def test_each_slot_gets_its_own_socket_on_one_port() -> None:
    listeners = bind_listeners(ServerConfig(port=0), 3)
    try:
        assert not listeners.shared
        socks = [listeners.for_slot(i)[0] for i in range(3)]
        assert len({s.fileno() for s in socks}) == 3
        assert len({s.getsockname() for s in socks}) == 1
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in socks)
        assert listeners.primary == [socks[0]]
    finally:
        listeners.close()
    assert all(s.fileno() == -1 for s in socks)
    listeners.close()  # idempotent


def test_one_slot_or_a_unix_socket_shares_one_socket(tmp_path) -> None:
    for config, slots in ((ServerConfig(port=0), 1), (ServerConfig(uds=str(tmp_path / "s")), 3)):
        listeners = bind_listeners(config, slots)
        try:
            assert listeners.shared
            assert {listeners.for_slot(i)[0] for i in range(slots)} == {listeners.primary[0]}
        finally:
            listeners.close()


@linux_only
def test_a_port_in_use_is_reported_even_with_reuse_port() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(BindError, match=rf"127\.0\.0\.1:{port} is already in use"):
            bind_listeners(ServerConfig(port=port), 2)
    finally:
        taken.close()


@linux_only
def test_a_second_server_cannot_join_the_first_ones_port() -> None:
    first = bind_listeners(ServerConfig(port=0), 2)
    try:
        port = first.primary[0].getsockname()[1]
        with pytest.raises(BindError, match="already in use"):
            bind_listeners(ServerConfig(port=port), 2)
    finally:
        first.close()


def test_channel_carries_messages_split_anywhere() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours)
    try:
        theirs.sendall(b'{"type":"ready"}\n{"type":"be')
        assert channel.receive() == [{"type": "ready"}]
        assert channel.receive() == []  # nothing more yet, and it does not block
        theirs.sendall(b'at"}\nnot json\n[1]\n')
        assert channel.receive() == [{"type": "beat"}]  # junk lines are skipped
        assert Channel(theirs).send({"type": "stop", "force": True})
        assert channel.receive() == [{"type": "stop", "force": True}]
        theirs.close()
        assert channel.receive() is None  # end of file
    finally:
        ours.close()


def test_channel_send_reports_a_gone_peer() -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    assert Channel(ours).send({"type": "beat"}) is False
    ours.close()


def test_spec_is_read_exactly_leaving_later_messages() -> None:
    ours, theirs = socket.socketpair()
    spec = ChildSpec(config=ServerConfig(workers=2), app="m:a", listen_fds=(5,), sys_path=("x",))
    blob = pickle.dumps(spec)
    ours.sendall(struct.pack("!I", len(blob)) + blob + b'{"type":"stop"}\n')
    try:
        assert receive_spec(theirs) == spec
        assert Channel(theirs).receive() == [{"type": "stop"}]
    finally:
        ours.close()
        theirs.close()


def test_interpreter_flags_are_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from pounce._workers.child_process import interpreter_args

    monkeypatch.setattr(sys, "_xoptions", {"gil": "0", "dev": True})
    monkeypatch.setattr(sys, "warnoptions", ["error"])
    args = interpreter_args()
    assert args[-6:] == ["-W", "error", "-X", "gil=0", "-X", "dev"]
