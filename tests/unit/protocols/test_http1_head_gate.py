"""The head gate reads each byte once, and says what a fresh look would say.

:class:`HeadGate` remembers how much of a head it has passed and reads only
what was added since. Its reference is the same gate with nothing remembered:
for every prefix of every input, however the prefix arrived, the incremental
gate's answer (a length, "not yet", or the error) must be the one a fresh gate
gives for that prefix seen whole.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import HTTP1Limits, RemoteProtocolError
from pounce_protocols._http1_head import HeadGate

from ._helpers import INTERESTING, PROPERTY_SETTINGS, request

SMALL = HTTP1Limits(max_request_line=40, max_header_bytes=120, max_header_count=4)


def _verdict(gate: HeadGate, buf: bytes, start: int) -> tuple[str, object]:
    try:
        return ("length", gate.scan(buf, start))
    except RemoteProtocolError as exc:
        return ("error", (exc.status_hint, str(exc)))


def _compare(data: bytes, cuts: list[int], limits: HTTP1Limits, offset: int = 0) -> None:
    """Feed ``data`` in pieces cut at ``cuts``, the head starting ``offset``
    bytes into the buffer; after each piece the incremental gate agrees with
    a fresh one."""
    before = b"#" * offset  # consumed bytes before the head
    incremental = HeadGate(limits)
    for cut in [*sorted(set(cuts)), len(data)]:
        buf = before + data[:cut]
        expected = _verdict(HeadGate(limits), buf, offset)
        got = _verdict(incremental, buf, offset)
        assert got == expected, (data, cut)
        if got[0] == "error" or got[1]:
            return  # a verdict is final: the caller starts over (or closes)


HEADS = st.lists(
    st.sampled_from(
        [
            *INTERESTING,
            b"X-A: b\r\n",
            b"x" * 30,
            b"\r\n ",
            b"\r\n\t",
            b"\r\r\n",
            b"\x01",
        ]
    ),
    max_size=12,
).map(lambda parts: request(headers=[b"Host: x"]).replace(b"\r\n\r\n", b"\r\n") + b"".join(parts))


@PROPERTY_SETTINGS
@given(data=st.data(), head=HEADS, small=st.booleans(), offset=st.sampled_from([0, 4]))
def test_incremental_gate_agrees_with_a_fresh_look(
    data: st.DataObject, head: bytes, small: bool, offset: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(head)), max_size=8))
    _compare(head, cuts, SMALL if small else HTTP1Limits(), offset)


@PROPERTY_SETTINGS
@given(junk=st.binary(max_size=200), small=st.booleans())
def test_incremental_gate_agrees_on_any_bytes_fed_one_at_a_time(junk: bytes, small: bool) -> None:
    _compare(junk, list(range(len(junk))), SMALL if small else HTTP1Limits())


def test_a_head_ending_across_pieces_is_found() -> None:
    head = request()
    for cut in range(1, len(head)):
        gate = HeadGate(HTTP1Limits())
        assert gate.scan(head[:cut], 0) == 0
        assert gate.scan(head, 0) == len(head)
        assert gate.fresh  # ready for the next head


def test_the_gate_looks_only_at_the_head_not_what_follows() -> None:
    head = request()
    backlog = head + b"\x00" * 100_000  # what follows is not the gate's business
    assert HeadGate(HTTP1Limits()).scan(backlog, 0) == len(head)


DRIBBLED = [
    b"GET /" + b"a" * 60 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # request line over the limit: 414
    request(headers=[b"Host: x", *[b"X-%d: y" % i for i in range(6)]]),  # too many fields: 431
    request(headers=[b"Host: x", b"X-Long: " + b"y" * 150]),  # head over the limit: 431
    request(headers=[b"Host: x", b"X-Fold: a", b" folded"]),  # obs-fold: 400
    request(headers=[b"Host: x", b"X-A: b\rc"]),  # bare CR: 400
]


def test_limits_and_errors_hold_for_heads_dribbled_a_byte_at_a_time() -> None:
    for data in DRIBBLED:
        _compare(data, list(range(len(data))), SMALL)
        fresh = _verdict(HeadGate(SMALL), data, 0)
        assert fresh[0] == "error", data  # each is refused, whole or dribbled
