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


# Heads built line by line from pieces that break one rule each, so that clean
# heads (the fast case) and heads off by one byte are both common.
LINE_PIECES = st.one_of(
    st.sampled_from([b"GET / HTTP/1.1", b"Host: x", b"a", b"X-A: b c", b" ", b"\t", b"\r", b"\n"]),
    st.integers(0, 255).map(lambda byte: bytes([byte])),  # every control byte, DEL, obs-text
)
LINES = st.lists(st.lists(LINE_PIECES, max_size=4).map(b"".join), max_size=8)
ENDINGS = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\n "])


@st.composite
def _heads_by_line(draw: st.DrawFn) -> bytes:
    lines = draw(LINES)
    head = b"".join(line + draw(ENDINGS) for line in lines)
    return head + draw(st.sampled_from([b"\r\n", b"", b"\r\nGET / HTTP/1.1\r\n"]))


def _exact(limits: HTTP1Limits, buf: bytes, start: int) -> tuple[str, object]:
    gate = HeadGate(limits)
    try:
        return ("length", gate._scan_exact(buf, start))
    except RemoteProtocolError as exc:
        return ("error", (exc.status_hint, str(exc)))


@PROPERTY_SETTINGS
@given(
    head=st.one_of(_heads_by_line(), HEADS, st.binary(max_size=120)),
    small=st.booleans(),
    offset=st.sampled_from([0, 3]),
)
def test_the_whole_head_check_agrees_with_the_exact_checks(
    head: bytes, small: bool, offset: int
) -> None:
    """A head seen whole gets one combined check first; its verdict (a
    length, "not yet" or the error and its message) is the exact checks'."""
    limits = SMALL if small else HTTP1Limits()
    buf = b"#" * offset + head
    assert _verdict(HeadGate(limits), buf, offset) == _exact(limits, buf, offset), head


def test_clean_heads_near_each_limit_get_the_exact_verdict() -> None:
    """Just within and just past the request line, size and field limits."""
    limits = HTTP1Limits(max_request_line=20, max_header_bytes=60, max_header_count=2)
    cases = [
        b"GET /" + b"a" * 6 + b" HTTP/1.1\r\n\r\n",  # a 20-byte request line
        b"GET /" + b"a" * 7 + b" HTTP/1.1\r\n\r\n",  # 21: 414
        b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n",  # 2 fields
        b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\nE: f\r\n\r\n",  # 3: 431
        b"GET / HTTP/1.1\r\nA: " + b"b" * 37 + b"\r\n\r\n",  # 60 bytes
        b"GET / HTTP/1.1\r\nA: " + b"b" * 38 + b"\r\n\r\n",  # 61: 431
    ]
    verdicts = [_verdict(HeadGate(limits), case, 0) for case in cases]
    assert verdicts == [_exact(limits, case, 0) for case in cases]
    assert [v[0] for v in verdicts] == ["length", "error", "length", "error", "length", "error"]


def test_every_byte_in_every_place_of_a_head_gets_the_exact_verdict() -> None:
    """Each of the 256 byte values in the request line, a field name, a field
    value and at the start of a field line: the combined check passes only
    heads the exact checks pass."""
    templates = [
        b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHo%sst: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x%sy\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n%sA: b\r\n\r\n",
        b"%sGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    limits = HTTP1Limits()
    for template in templates:
        for byte in range(256):
            head = template % bytes([byte])
            assert _verdict(HeadGate(limits), head, 0) == _exact(limits, head, 0), head
