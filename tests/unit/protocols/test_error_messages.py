"""Protocol errors read as what arrived: byte reprs from the libraries become quoted text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols import HTTP1Limits, HTTP1ServerConnection, RemoteProtocolError
from pounce_protocols._errors import readable_message


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("illegal request line: bytearray(b'GARBAGE')", 'illegal request line: "GARBAGE"'),
        ("illegal header line: bytearray(b'Bad Header')", 'illegal header line: "Bad Header"'),
        ("bad b'\\x16\\x03\\x01' start", 'bad "\\x16\\x03\\x01" start'),
        ("quote b'say \"hi\"' here", 'quote "say \\"hi\\"" here'),
        ("no bytes here", "no bytes here"),
        ("a word ending in b'x': hb'x'", "a word ending in \"x\": hb'x'"),
    ],
)
def test_bytes_reprs_are_shown_as_text(message: str, shown: str) -> None:
    assert readable_message(message) == shown


@given(st.binary(max_size=64), st.sampled_from([bytes, bytearray]))
def test_any_bytes_repr_becomes_quoted_printable_text(data: bytes, kind: type) -> None:
    shown = readable_message(f"illegal request line: {kind(data)!r}")
    text = shown.removeprefix("illegal request line: ")
    assert text.startswith('"')
    assert text.endswith('"')
    assert text.isprintable()
    assert "bytearray" not in shown
    # Nothing is lost: the escapes read back as the same bytes.
    assert text[1:-1].encode("latin-1").decode("unicode_escape").encode("latin-1") == data


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_garbage_request_line_is_reported_as_text(fast_path: bool) -> None:
    conn = HTTP1ServerConnection(HTTP1Limits(), fast_path=fast_path)
    with pytest.raises(RemoteProtocolError) as raised:
        conn.receive_data(b"GARBAGE\r\n\r\n")
    assert "bytearray" not in str(raised.value)
    assert "b'" not in str(raised.value)
    assert '"GARBAGE"' in str(raised.value)
