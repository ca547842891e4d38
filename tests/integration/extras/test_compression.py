"""Compression on a real server: negotiation, framing, streaming, what is skipped."""

from __future__ import annotations

import random
import sys
import threading
import time
import zlib
from typing import Any

import httpx
import pytest

from conftest import ServeFactory
from support.extras_apps import respond_with, streaming
from support.raw import RawConnection
from support.waiting import WAIT

TEXT = b"Compressible text, repeated. " * 200  # 5800 bytes


def decompress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if sys.version_info >= (3, 14):
        from compression import zstd

        return zstd.decompress(data)
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def get(url: str, accept_encoding: str | None, method: str = "GET") -> Any:
    host_port = url.removeprefix("http://")
    host, port = host_port.rsplit(":", 1)
    headers = [] if accept_encoding is None else [("accept-encoding", accept_encoding)]
    with RawConnection(host, int(port)) as conn:
        conn.send_request(method, "/", headers=headers)
        return conn.read_response(method=method)


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip", "gzip"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "zstd"),
        ("zstd;q=0.5, gzip", "gzip"),
        ("zstd;q=0, gzip;q=0.1", "gzip"),
    ],
)
def test_whole_body_is_compressed_with_an_exact_length(
    serve: ServeFactory, accept: str, encoding: str
) -> None:
    server = serve(respond_with(TEXT))
    response = get(server.url, accept)
    assert response.status == 200
    assert response.header("content-encoding") == encoding
    assert response.header("vary") == "Accept-Encoding"
    assert response.header("transfer-encoding") is None
    assert int(response.header("content-length")) == len(response.body) < len(TEXT)
    assert decompress(encoding, response.body) == TEXT


@pytest.mark.parametrize("accept", [None, "identity", "br", "gzip;q=0, zstd;q=0", "*;q=0"])
def test_identity_when_nothing_acceptable_is_offered(
    serve: ServeFactory, accept: str | None
) -> None:
    response = get(serve(respond_with(TEXT)).url, accept)
    assert response.header("content-encoding") is None
    assert response.header("vary") == "Accept-Encoding"  # caches must still key on it
    assert response.body == TEXT


def test_httpx_decodes_what_it_asked_for(serve: ServeFactory) -> None:
    server = serve(respond_with(TEXT))
    response = httpx.get(server.url + "/")
    assert response.headers["content-encoding"] in ("zstd", "gzip")
    assert response.content == TEXT


def test_a_streamed_body_is_compressed_and_flushed_chunk_by_chunk(serve: ServeFactory) -> None:
    release = threading.Event()
    server = serve(streaming(release))
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/", headers=[("accept-encoding", "gzip")])
        head = conn.read_head()
        assert head.header("content-encoding") == "gzip"
        assert head.header("transfer-encoding") == "chunked"
        assert head.header("content-length") is None
        # The first event must arrive, decodable, while the app is still
        # waiting for us: a compressor that buffered would hang here.
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        received = b""
        while b"data: first" not in received:
            received += stream.decompress(read_chunk(conn))
        assert received == b"data: first\n\n"
        release.set()
        rest = b""
        while (chunk := read_chunk(conn)) != b"":
            rest += stream.decompress(chunk)
        rest += stream.flush()
        assert rest == b"data: second\n\n"


def read_chunk(conn: RawConnection) -> bytes:
    """One chunk of a chunked body (b"" for the last one, trailers consumed)."""
    deadline = time.monotonic() + WAIT
    size = int(conn.read_line(deadline).split(b";")[0], 16)
    if size == 0:
        while conn.read_line(deadline):
            pass
        return b""
    data = conn.read_exactly(size, deadline)
    conn.read_line(deadline)
    return data


@pytest.mark.parametrize(
    ("app_kwargs", "reason"),
    [
        ({"body": b"tiny"}, "smaller than --compression-min-size"),
        ({"content_type": b"image/png"}, "not a compressible type"),
        ({"content_type": None}, "no content type"),
        ({"headers": [(b"content-encoding", b"br")]}, "already encoded"),
        ({"headers": [(b"cache-control", b"no-transform")]}, "no-transform"),
        ({"status": 206, "headers": [(b"content-range", b"bytes 0-5799/9000")]}, "a range"),
        ({"body": random.Random(5).randbytes(6000), "content_type": b"text/plain"}, "noise"),
    ],
)
def test_skipped_responses_are_sent_as_given(
    serve: ServeFactory, app_kwargs: dict[str, Any], reason: str
) -> None:
    app_kwargs.setdefault("body", TEXT)
    server = serve(respond_with(**app_kwargs))
    response = get(server.url, "gzip, zstd")
    encoding = response.header("content-encoding")
    assert encoding in (None, "br"), reason
    assert response.body == app_kwargs["body"], reason
    assert int(response.header("content-length")) == len(app_kwargs["body"])


def test_a_declared_small_length_is_not_compressed(serve: ServeFactory) -> None:
    server = serve(respond_with(b"x" * 10, headers=[(b"content-length", b"10")]))
    response = get(server.url, "gzip")
    assert response.header("content-encoding") is None
    assert response.body == b"x" * 10


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_are_left_alone(serve: ServeFactory, status: int) -> None:
    server = serve(respond_with(b"", status=status))
    response = get(server.url, "gzip")
    assert response.status == status
    assert response.header("content-encoding") is None
    assert response.body == b""


def test_head_gets_the_headers_of_an_uncompressed_get(serve: ServeFactory) -> None:
    server = serve(respond_with(TEXT))
    response = get(server.url, "gzip", method="HEAD")
    assert response.header("content-encoding") is None
    assert response.header("vary") == "Accept-Encoding"
    assert response.header("content-length") == str(len(TEXT))
    assert response.body == b""


def test_existing_vary_is_extended_and_strong_etag_weakened(serve: ServeFactory) -> None:
    server = serve(respond_with(TEXT, headers=[(b"vary", b"Cookie"), (b"etag", b'"v1"')]))
    response = get(server.url, "gzip")
    assert response.header("vary") == "Cookie, Accept-Encoding"
    assert response.header("etag") == 'W/"v1"'


def test_no_compression_turns_it_off(serve: ServeFactory) -> None:
    server = serve(respond_with(TEXT), compression=False)
    response = get(server.url, "gzip, zstd")
    assert response.header("content-encoding") is None
    assert response.header("vary") is None
    assert response.body == TEXT


def test_min_size_and_level_options(serve: ServeFactory) -> None:
    server = serve(respond_with(b"y" * 100), compression_min_size=50, compression_gzip_level=9)
    response = get(server.url, "gzip")
    assert response.header("content-encoding") == "gzip"
    assert decompress("gzip", response.body) == b"y" * 100
