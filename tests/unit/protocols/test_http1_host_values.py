"""``valid_host``'s shortcut for the usual Host values agrees with the grammar."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce_protocols._http1_head import _HOST, valid_host

from ._helpers import PROPERTY_SETTINGS

_PIECES = st.sampled_from(
    [b"a", b"Z", b"0", b"9", b"-", b".", b"_", b"~", b"!", b"'", b"=", b":", b"%", b"%41",
     b"%4", b"[", b"]", b"::1", b"v1.x", b"@", b"/", b"?", b"#", b" ", b"\t", b",", b"\xff",
     b"\x00", b"example.com", b"127.0.0.1", b"8000"]
)  # fmt: skip


def by_grammar(value: bytes) -> bool:
    return _HOST.fullmatch(value) is not None


@PROPERTY_SETTINGS
@given(st.lists(_PIECES, max_size=8).map(b"".join) | st.binary(max_size=12))
def test_valid_host_is_the_grammar(value: bytes) -> None:
    assert valid_host(value) is by_grammar(value)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (b"example.com", True),
        (b"127.0.0.1:8000", True),
        (b"example.com:", True),  # an empty port is allowed
        (b"", True),  # so is an empty reg-name (absolute-form requests)
        (b"[::1]:443", True),
        (b"caf%C3%A9.example", True),
        (b"a:b:80", False),
        (b"example.com:80a", False),
        (b"user@example.com", False),
        (b"example.com/path", False),
        (b"exa mple.com", False),
        (b"example.com:\xd9\xa1", False),  # a non-ASCII digit is no port
    ],
)
def test_host_values(value: bytes, valid: bool) -> None:
    assert valid_host(value) is valid
    assert by_grammar(value) is valid
