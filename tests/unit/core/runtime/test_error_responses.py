"""The plain-text body of responses the server writes itself."""

from __future__ import annotations

import pytest

from pounce._runtime.error_responses import plain_text_error


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, b"400 Bad Request\n"),
        (408, b"408 Request Timeout\n"),
        (500, b"500 Internal Server Error\n"),
        (599, b"599 Error\n"),
    ],
    ids=str,
)
def test_plain_text_error(status: int, body: bytes) -> None:
    headers, rendered = plain_text_error(status, [(b"accept", b"text/html")])
    assert headers == [(b"content-type", b"text/plain; charset=utf-8")]
    assert rendered == body
