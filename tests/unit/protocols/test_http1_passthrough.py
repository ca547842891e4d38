"""Body bytes written by the caller (sendfile): the machine frames them.

Every test runs on the fast path and forced through h11: both must frame (and
refuse) alike.
"""

from __future__ import annotations

import pytest

from pounce_protocols import (
    HTTP1ServerConnection,
    LocalProtocolError,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
)

from ._helpers import request


@pytest.fixture(params=[True, False], ids=["fast", "h11"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def started(fast_path: bool, *headers: tuple[bytes, bytes]) -> HTTP1ServerConnection:
    conn = HTTP1ServerConnection(fast_path=fast_path)
    conn.receive_data(request())
    conn.send(ResponseHead(stream_id=1, status=200, headers=headers))
    return conn


def test_with_content_length_the_bytes_go_unframed(fast_path: bool) -> None:
    conn = started(fast_path, (b"content-length", b"10"))
    assert conn.send_body_passthrough(1, 6) == (b"", b"")
    assert conn.send(ResponseBody(stream_id=1, data=b"tail")) == b"tail"
    assert conn.send(ResponseEnd(stream_id=1)) == b""


def test_passthrough_counts_against_content_length(fast_path: bool) -> None:
    conn = started(fast_path, (b"content-length", b"4"))
    conn.send_body_passthrough(1, 4)
    with pytest.raises(LocalProtocolError):
        conn.send(ResponseBody(stream_id=1, data=b"x"))


def test_chunked_bytes_get_a_chunk_frame_around_them(fast_path: bool) -> None:
    conn = started(fast_path)
    assert conn.send_body_passthrough(1, 26) == (b"1a\r\n", b"\r\n")
    assert conn.send(ResponseEnd(stream_id=1)) == b"0\r\n\r\n"


def test_zero_bytes_need_no_frame(fast_path: bool) -> None:
    conn = started(fast_path)
    assert conn.send_body_passthrough(1, 0) == (b"", b"")


def test_only_the_current_stream(fast_path: bool) -> None:
    conn = started(fast_path)
    with pytest.raises(LocalProtocolError):
        conn.send_body_passthrough(2, 5)


def test_before_the_head_is_an_error(fast_path: bool) -> None:
    conn = HTTP1ServerConnection(fast_path=fast_path)
    conn.receive_data(request())
    with pytest.raises(LocalProtocolError):
        conn.send_body_passthrough(1, 5)


def test_more_than_content_length_is_an_error(fast_path: bool) -> None:
    conn = started(fast_path, (b"content-length", b"4"))
    with pytest.raises(LocalProtocolError):
        conn.send_body_passthrough(1, 5)


def test_after_the_end_is_an_error(fast_path: bool) -> None:
    conn = started(fast_path, (b"content-length", b"0"))
    conn.send(ResponseEnd(stream_id=1))
    with pytest.raises(LocalProtocolError):
        conn.send_body_passthrough(1, 5)
