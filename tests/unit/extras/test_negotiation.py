"""Content negotiation: Accept-Encoding for compression, Accept for error pages."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pounce_extras._compression import choose_encoding, compressible
from pounce_extras._error_pages import choose_format
from pounce_extras._http import parse_qlist

PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)

BOTH = ("zstd", "gzip")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, None),
        ("gzip", "gzip"),
        ("zstd", "zstd"),
        ("gzip, zstd", "zstd"),  # a tie: zstd is preferred
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip;q=1.0, zstd;q=0.5", "gzip"),
        ("zstd;q=0, gzip", "gzip"),
        ("zstd;q=0, gzip;q=0", None),
        ("*", "zstd"),
        ("*;q=0.5, gzip", "gzip"),
        ("*;q=0", None),
        ("identity", None),
        ("br", None),
        ("x-gzip", "gzip"),
        ("GZIP", "gzip"),
        ("gzip;q=abc", None),  # a malformed q refuses
        ("gzip;q=2", None),
        ("gzip ; q=0.8 , zstd ; q=0.9", "zstd"),
        ("", None),
    ],
)
def test_choose_encoding(accept: str | None, chosen: str | None) -> None:
    values = [] if accept is None else [accept.encode()]
    assert choose_encoding(values, BOTH) == chosen


def test_without_zstd_only_gzip_is_offered() -> None:
    assert choose_encoding([b"zstd, gzip;q=0.1"], ("gzip",)) == "gzip"
    assert choose_encoding([b"zstd"], ("gzip",)) is None


_CODING = st.sampled_from(["gzip", "zstd", "br", "deflate", "*", "identity"])
_Q = st.sampled_from(["", ";q=0", ";q=0.1", ";q=0.5", ";q=1", ";q=1.000"])


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(_CODING, _Q), max_size=6))
def test_the_choice_is_never_refused_and_never_beaten(items: list[tuple[str, str]]) -> None:
    header = ", ".join(coding + q for coding, q in items).encode()
    chosen = choose_encoding([header], BOTH)
    accepted = parse_qlist([header])

    def q_of(coding: str) -> float:
        return accepted.get(coding, accepted.get("*", 0.0))

    if chosen is None:
        assert all(q_of(c) == 0 for c in BOTH)
    else:
        assert q_of(chosen) > 0
        assert all(q_of(other) <= q_of(chosen) for other in BOTH)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"text/html; charset=utf-8", True),
        (b"text/event-stream", True),
        (b"application/json", True),
        (b"application/problem+json", True),
        (b"application/atom+xml", True),
        (b"image/svg+xml", True),
        (b"text/javascript", True),
        (b"application/wasm", True),
        (b"APPLICATION/JSON", True),
        (b"image/png", False),
        (b"image/jpeg", False),
        (b"video/mp4", False),
        (b"application/zip", False),
        (b"application/gzip", False),
        (b"application/octet-stream", False),
        (b"font/woff2", False),
        (b"", False),
        (None, False),
    ],
)
def test_compressible(content_type: bytes | None, expected: bool) -> None:
    assert compressible(content_type) is expected


@pytest.mark.parametrize(
    ("accept", "form", "content_type"),
    [
        (None, "text", b"text/plain; charset=utf-8"),
        ("*/*", "text", b"text/plain; charset=utf-8"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html", None),
        ("application/json", "json", b"application/json"),
        ("application/problem+json", "json", b"application/problem+json"),
        ("application/json, application/problem+json", "json", b"application/problem+json"),
        ("application/json, text/html;q=0.5", "json", b"application/json"),
        ("text/html;q=0.5, application/json;q=0.9", "json", None),
        ("text/html, application/json", "html", None),
        ("text/plain, text/html;q=0.1", "text", None),
        ("text/html;q=0", "text", None),
        ("image/png", "text", None),
    ],
)
def test_error_page_format(accept: str | None, form: str, content_type: bytes | None) -> None:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    chosen, chosen_type = choose_format(headers)
    assert chosen == form
    if content_type is not None:
        assert chosen_type == content_type
