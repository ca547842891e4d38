"""``decode_path``: the scope's ``path``, held to the percent-decoding it shortcuts.

A path without ``%`` that is ASCII is its own decoding; every other path goes
through ``unquote_to_bytes`` and UTF-8 (with replacement). The shortcut must
never change the answer.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from hypothesis import given
from hypothesis import strategies as st

from pounce._bridge.http_scope import decode_path


def reference(raw: bytes) -> str:
    return unquote_to_bytes(raw).decode("utf-8", "replace")


def test_plain_and_encoded_paths() -> None:
    assert decode_path(b"/items/5") == "/items/5"
    assert decode_path(b"/a%20b") == "/a b"
    assert decode_path(b"/%") == "/%"
    assert decode_path(b"/caf%C3%A9") == "/café"
    assert decode_path(b"/caf\xc3\xa9") == "/café"
    assert decode_path(b"/%ff") == "/\ufffd"


@given(
    st.lists(
        st.sampled_from([b"/", b"a", b"%", b"%2", b"%20", b"%C3%A9", b"\xc3", b"\xa9", b"?", b"#"])
    )
)
def test_same_as_the_reference_on_likely_pieces(pieces: list[bytes]) -> None:
    raw = b"/" + b"".join(pieces)
    assert decode_path(raw) == reference(raw)


@given(st.binary(max_size=40))
def test_same_as_the_reference_on_any_bytes(raw: bytes) -> None:
    assert decode_path(raw) == reference(raw)
