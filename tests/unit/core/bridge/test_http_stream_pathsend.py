"""``http.response.pathsend``: a body sent as a file's path (HTTPStream._on_path)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from pounce._bridge.http_stream import HTTPStream
from pounce_protocols import ResponseBody, ResponseEnd, ResponseHead
from support.sinks import FakeSink


class FileWritingSink(FakeSink):
    """A sink that, like HTTP/1.1 without TLS, writes files itself."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[bytes, int, int]] = []

    async def send_file(self, stream_id: int, file: Any, offset: int, count: int) -> None:
        self.files.append((os.pread(file.fileno(), count, offset), offset, count))


def _serve(
    sink: FakeSink, messages: list[dict[str, Any]], *, method: str = "GET", file_sink: bool = False
) -> HTTPStream:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)

    async def main() -> HTTPStream:
        stream = HTTPStream(
            sink=sink,
            stream_id=1,
            scope={"type": "http", "method": method, "headers": []},
            default_headers=list,
            expect_continue=False,
            body_limit=1024,
            file_sink=sink if file_sink else None,  # type: ignore[arg-type]
        )
        stream.feed_end()
        await stream.run(app)
        return stream

    return asyncio.run(main())


def _start(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": list(headers)}


def _path(file: Path) -> dict[str, Any]:
    return {"type": "http.response.pathsend", "path": str(file)}


def _body(sink: FakeSink) -> bytes:
    return b"".join(e.data for e in sink.events if isinstance(e, ResponseBody))


def _head(sink: FakeSink) -> dict[bytes, bytes]:
    heads = [e for e in sink.events if isinstance(e, ResponseHead)]
    assert len(heads) == 1
    return dict(heads[0].headers)


@pytest.mark.parametrize("size", [0, 1, 5000, 256 * 1024, 256 * 1024 + 1, 700_001])
def test_a_file_by_path_is_the_whole_body_with_its_length(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    file = tmp_path / "f.bin"
    file.write_bytes(data)
    sink = FakeSink()
    stream = _serve(sink, [_start(), _path(file)])
    assert _body(sink) == data
    assert _head(sink)[b"content-length"] == b"%d" % size
    assert isinstance(sink.events[-1], ResponseEnd)
    assert stream.response_complete
    assert stream.bytes_sent == size
    # Pieces, never the whole of a large file at once.
    pieces = [e for e in sink.events if isinstance(e, ResponseBody) and e.data]
    assert all(len(piece.data) <= 256 * 1024 for piece in pieces)


def test_a_length_the_app_gave_is_kept(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_bytes(b"hello")
    sink = FakeSink()
    _serve(sink, [_start((b"content-length", b"5")), _path(file)])
    assert list(_head(sink)).count(b"content-length") == 1
    assert _body(sink) == b"hello"


def test_head_gets_the_length_and_no_body(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_bytes(b"x" * 3000)
    sink = FakeSink()
    _serve(sink, [_start(), _path(file)], method="HEAD")
    assert _head(sink)[b"content-length"] == b"3000"
    assert _body(sink) == b""


def test_a_connection_that_writes_files_gets_it_zero_copy(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_bytes(b"abc" * 1000)
    sink = FileWritingSink()
    _serve(sink, [_start(), _path(file)], file_sink=True)
    assert sink.files == [(b"abc" * 1000, 0, 3000)]
    assert _head(sink)[b"content-length"] == b"3000"
    assert isinstance(sink.events[-1], ResponseEnd)


@pytest.mark.parametrize("path", ["relative/file.txt", 42])
def test_a_path_that_is_not_absolute_is_an_app_error(
    path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeSink()
    stream = _serve(sink, [_start(), {"type": "http.response.pathsend", "path": path}])
    assert stream.status == 500
    assert sink.calls == [("error_response", 500)]
    assert "'path' must be an absolute path" in caplog.text


def test_a_missing_file_is_a_500_that_names_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeSink()
    stream = _serve(sink, [_start(), _path(tmp_path / "gone.txt")])
    assert stream.status == 500
    assert "cannot open" in caplog.text
    assert "gone.txt" in caplog.text


def test_pathsend_after_a_body_has_begun_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "f.txt"
    file.write_bytes(b"x")
    sink = FakeSink()
    body = {"type": "http.response.body", "body": b"a", "more_body": True}
    stream = _serve(sink, [_start(), body, _path(file)])
    assert ("abort", 1) in sink.calls
    assert not stream.response_complete or stream.bytes_sent == 1
    assert "Unexpected ASGI message 'http.response.pathsend'" in caplog.text
