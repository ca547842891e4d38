"""Static files on a real server: validators, ranges, siblings, sendfile, traversal."""

from __future__ import annotations

import gzip
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ServeFactory
from pounce.testing import LiveServer
from support.extras_apps import respond_with
from support.raw import RawConnection, RawResponse
from support.waiting import WAIT

CSS = b"body { color: #123456; margin: 0 auto; }\n" * 100  # compressible, 4100 bytes
PNG = bytes(range(256)) * 40  # 10240 bytes


def zstd_compress(data: bytes) -> bytes:
    if sys.version_info >= (3, 14):
        from compression import zstd

        return zstd.compress(data)
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


@pytest.fixture
def public(tmp_path: Path) -> Path:
    root = tmp_path / "public"
    (root / "css").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "empty-dir").mkdir()
    (root / "css" / "site.css").write_bytes(CSS)
    (root / "css" / "site.css.gz").write_bytes(gzip.compress(CSS))
    (root / "css" / "site.css.zst").write_bytes(zstd_compress(CSS))
    (root / "logo.png").write_bytes(PNG)
    (root / "app.js").write_bytes(b"console.log(1);\n")
    (root / "data.json").write_bytes(b'{"a": 1}')
    (root / "font.woff2").write_bytes(b"wOF2....")
    (root / "blob.unknownext").write_bytes(b"?")
    (root / "index.html").write_bytes(b"<h1>home</h1>")
    (root / "docs" / "index.html").write_bytes(b"<h1>docs</h1>")
    (root / ".env").write_bytes(b"SECRET=1")
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "escape-dir")
    os.symlink(root / "logo.png", root / "alias.png")
    return root


@pytest.fixture
def static(serve: ServeFactory, public: Path) -> Callable[..., LiveServer]:
    def start(**options: Any) -> LiveServer:
        options.setdefault("static", [f"/assets={public}"])
        return serve(respond_with(b"from the app"), **options)

    return start


def raw(server: LiveServer, target: str, *, method: str = "GET", **headers: str) -> RawResponse:
    with RawConnection(server.host, server.port) as conn:
        conn.send_request(
            method, target, headers=[(k.replace("_", "-"), v) for k, v in headers.items()]
        )
        return conn.read_response(method=method)


# ------------------------------------------------------------ what is served


def test_a_file_is_served_whole_with_validators(static: Callable[..., LiveServer]) -> None:
    server = static()
    response = raw(server, "/assets/logo.png")
    assert response.status == 200
    assert response.body == PNG
    assert response.header("content-type") == "image/png"
    assert response.header("content-length") == str(len(PNG))
    assert response.header("accept-ranges") == "bytes"
    assert (response.header("etag") or "").startswith('"')
    assert response.header("last-modified").endswith("GMT")


def test_outside_the_prefix_requests_reach_the_app(static: Callable[..., LiveServer]) -> None:
    server = static()
    assert raw(server, "/other").body == b"from the app"
    assert raw(server, "/assetsx/logo.png").body == b"from the app"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("font.woff2", "font/woff2"),
        ("index.html", "text/html; charset=utf-8"),
        ("blob.unknownext", "application/octet-stream"),
    ],
)
def test_content_types(static: Callable[..., LiveServer], name: str, content_type: str) -> None:
    response = raw(static(compression=False), f"/assets/{name}")
    assert response.header("content-type") == content_type


def test_index_files_and_directory_redirects(static: Callable[..., LiveServer]) -> None:
    server = static()
    assert raw(server, "/assets/").body == b"<h1>home</h1>"
    assert raw(server, "/assets/docs/").body == b"<h1>docs</h1>"
    redirect = raw(server, "/assets/docs?x=1")
    assert redirect.status == 301
    assert redirect.header("location") == "/assets/docs/?x=1"
    assert raw(server, "/assets").status == 301
    assert raw(server, "/assets/empty-dir/").status == 404  # no index, no listing


def test_custom_index_names(static: Callable[..., LiveServer], public: Path) -> None:
    (public / "docs" / "README.txt").write_bytes(b"readme")
    server = static(static_index=["missing.html", "README.txt"])
    assert raw(server, "/assets/docs/").body == b"readme"


def test_methods_other_than_get_and_head(static: Callable[..., LiveServer]) -> None:
    response = raw(static(), "/assets/logo.png", method="POST")
    assert response.status == 405
    assert response.header("allow") == "GET, HEAD"


def test_head_has_the_headers_and_no_body(static: Callable[..., LiveServer]) -> None:
    response = raw(static(), "/assets/logo.png", method="HEAD")
    assert response.status == 200
    assert response.header("content-length") == str(len(PNG))
    assert response.body == b""


def test_cache_control_from_max_age(static: Callable[..., LiveServer]) -> None:
    response = raw(static(static_max_age=3600), "/assets/logo.png")
    assert response.header("cache-control") == "public, max-age=3600"


def test_several_mounts_longest_prefix_first(serve: ServeFactory, public: Path) -> None:
    server = serve(respond_with(b"app"), static=[f"/={public}", f"/deep/css={public / 'css'}"])
    assert raw(server, "/logo.png").body == PNG
    assert raw(server, "/deep/css/site.css", accept_encoding="identity").body == CSS


# -------------------------------------------------------------- traversal


@pytest.mark.parametrize(
    "target",
    [
        "/assets/../secret.txt",
        "/assets/css/../../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/%2E%2E/secret.txt",
        "/assets/..%2fsecret.txt",
        "/assets/..%2Fsecret.txt",
        "/assets/css/..%2f..%2fsecret.txt",
        "/assets/..%5csecret.txt",
        "/assets/..\\secret.txt",
        "/assets/css\\..\\..\\secret.txt",
        "/assets/logo.png%00.txt",
        "/assets/%00",
        "/assets/.env",
        "/assets/escape.txt",
        "/assets/escape-dir/secret.txt",
        "/assets/%252e%252e/secret.txt",
    ],
)
def test_nothing_outside_the_directory_is_served(
    static: Callable[..., LiveServer], target: str
) -> None:
    response = raw(static(), target)
    assert response.status == 404, target
    assert b"TOP SECRET" not in response.body
    assert b"SECRET=1" not in response.body


def test_a_symlink_inside_the_directory_is_served(static: Callable[..., LiveServer]) -> None:
    assert raw(static(), "/assets/alias.png").body == PNG


# ------------------------------------------------------ conditional requests


def test_if_none_match_and_if_modified_since(static: Callable[..., LiveServer]) -> None:
    server = static()
    first = raw(server, "/assets/logo.png")
    etag, modified = first.header("etag"), first.header("last-modified")
    assert etag is not None
    assert modified is not None
    not_modified = raw(server, "/assets/logo.png", if_none_match=etag)
    assert not_modified.status == 304
    assert not_modified.body == b""
    assert not_modified.header("etag") == etag
    assert raw(server, "/assets/logo.png", if_modified_since=modified).status == 304
    assert raw(server, "/assets/logo.png", if_none_match='"stale"').status == 200
    old = "Thu, 01 Jan 1970 00:00:01 GMT"
    assert raw(server, "/assets/logo.png", if_modified_since=old).status == 200
    # If-None-Match wins over If-Modified-Since.
    assert (
        raw(server, "/assets/logo.png", if_none_match='"x"', if_modified_since=modified).status
        == 200
    )


def test_if_match_failure_is_412(static: Callable[..., LiveServer]) -> None:
    response = raw(static(), "/assets/logo.png", if_match='"something-else"')
    assert response.status == 412


def test_a_changed_file_gets_a_new_etag(static: Callable[..., LiveServer], public: Path) -> None:
    server = static()
    before = raw(server, "/assets/app.js").header("etag")
    (public / "app.js").write_bytes(b"console.log(2); // changed and longer\n")
    after = raw(server, "/assets/app.js", if_none_match=before or "")
    assert after.status == 200
    assert after.header("etag") != before


# ------------------------------------------------------------------ ranges


def test_a_single_range(static: Callable[..., LiveServer]) -> None:
    response = raw(static(), "/assets/logo.png", range="bytes=100-199")
    assert response.status == 206
    assert response.header("content-range") == f"bytes 100-199/{len(PNG)}"
    assert response.header("content-length") == "100"
    assert response.body == PNG[100:200]


def test_suffix_and_open_ranges(static: Callable[..., LiveServer]) -> None:
    server = static()
    assert raw(server, "/assets/logo.png", range="bytes=-10").body == PNG[-10:]
    assert raw(server, "/assets/logo.png", range="bytes=10000-").body == PNG[10000:]


def test_multiple_ranges_are_multipart_byteranges(static: Callable[..., LiveServer]) -> None:
    response = raw(static(), "/assets/logo.png", range="bytes=0-9, 500-509, -5")
    assert response.status == 206
    content_type = response.header("content-type") or ""
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    assert int(response.header("content-length") or 0) == len(response.body)
    parts = response.body.split(b"--" + boundary)
    assert parts[0] == b""
    assert parts[-1] == b"--\r\n"
    bodies = []
    for part in parts[1:-1]:
        head, _, data = part.strip(b"\r\n").partition(b"\r\n\r\n")
        assert b"content-type: image/png" in head
        bodies.append((head.split(b"content-range: ")[1], data))
    size = len(PNG)
    assert bodies == [
        (f"bytes 0-9/{size}".encode(), PNG[0:10]),
        (f"bytes 500-509/{size}".encode(), PNG[500:510]),
        (f"bytes {size - 5}-{size - 1}/{size}".encode(), PNG[-5:]),
    ]


def test_an_unsatisfiable_range_is_416(static: Callable[..., LiveServer]) -> None:
    response = raw(static(), "/assets/logo.png", range=f"bytes={len(PNG)}-")
    assert response.status == 416
    assert response.header("content-range") == f"bytes */{len(PNG)}"


@pytest.mark.parametrize("header", ["bytes=9-1", "lines=1-2", "bytes=abc"])
def test_a_malformed_range_is_ignored(static: Callable[..., LiveServer], header: str) -> None:
    response = raw(static(), "/assets/logo.png", range=header)
    assert response.status == 200
    assert response.body == PNG


def test_if_range_with_a_stale_validator_sends_everything(
    static: Callable[..., LiveServer],
) -> None:
    server = static()
    etag = raw(server, "/assets/logo.png").header("etag") or ""
    fresh = raw(server, "/assets/logo.png", range="bytes=0-1", if_range=etag)
    assert fresh.status == 206
    stale = raw(server, "/assets/logo.png", range="bytes=0-1", if_range='"old"')
    assert stale.status == 200
    assert stale.body == PNG


# --------------------------------------------------- precompressed siblings


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("zstd, gzip", "zstd"), ("gzip", "gzip"), ("zstd;q=0.1, gzip", "gzip")],
)
def test_a_precompressed_sibling_is_sent(
    static: Callable[..., LiveServer], public: Path, accept: str, encoding: str
) -> None:
    response = raw(static(), "/assets/css/site.css", accept_encoding=accept)
    suffix = ".zst" if encoding == "zstd" else ".gz"
    assert response.status == 200
    assert response.header("content-encoding") == encoding
    assert response.header("content-type") == "text/css; charset=utf-8"
    assert response.header("vary") == "Accept-Encoding"
    assert response.body == (public / "css" / f"site.css{suffix}").read_bytes()


def test_without_an_accepted_coding_the_original_is_sent(
    static: Callable[..., LiveServer],
) -> None:
    response = raw(static(), "/assets/css/site.css", accept_encoding="identity")
    assert response.header("content-encoding") is None
    assert response.header("vary") == "Accept-Encoding"
    assert response.body == CSS


def test_siblings_have_their_own_etags(static: Callable[..., LiveServer]) -> None:
    server = static()
    tags = {
        raw(server, "/assets/css/site.css", accept_encoding=accept).header("etag")
        for accept in ("zstd", "gzip", "identity")
    }
    assert len(tags) == 3


def test_httpx_reads_the_sibling(static: Callable[..., LiveServer]) -> None:
    server = static()
    assert httpx.get(server.url + "/assets/css/site.css").content == CSS


def test_a_file_without_a_sibling_is_compressed_on_the_fly(
    static: Callable[..., LiveServer], public: Path
) -> None:
    (public / "plain.txt").write_bytes(CSS)
    response = raw(static(), "/assets/plain.txt", accept_encoding="gzip")
    assert response.header("content-encoding") == "gzip"
    assert gzip.decompress(response.body) == CSS


# ------------------------------------------------------------------ sendfile


class SendfileSpy:
    """Counts the bytes given to the real os.sendfile."""

    def __init__(self) -> None:
        self.real = os.sendfile
        self.calls = 0
        self.bytes = 0
        self.lock = threading.Lock()

    def __call__(self, out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        sent = self.real(out_fd, in_fd, offset, count)
        with self.lock:
            self.calls += 1
            self.bytes += sent
        return sent


@pytest.fixture
def sendfile_spy(monkeypatch: pytest.MonkeyPatch) -> SendfileSpy:
    spy = SendfileSpy()
    monkeypatch.setattr(os, "sendfile", spy)
    return spy


def test_files_go_out_through_os_sendfile(
    static: Callable[..., LiveServer], sendfile_spy: SendfileSpy, public: Path
) -> None:
    big = os.urandom(3 * 1024 * 1024)
    (public / "big.bin").write_bytes(big)
    server = static(loop="asyncio")  # uvloop has no sendfile
    assert raw(server, "/assets/big.bin").body == big
    assert raw(server, "/assets/logo.png", range="bytes=5-10,20-30").status == 206
    assert sendfile_spy.calls > 0
    assert sendfile_spy.bytes >= len(big)


def test_sendfile_can_be_turned_off(
    static: Callable[..., LiveServer], sendfile_spy: SendfileSpy, public: Path
) -> None:
    big = os.urandom(1024 * 1024)
    (public / "big.bin").write_bytes(big)
    server = static(static_sendfile=False)
    assert raw(server, "/assets/big.bin").body == big
    assert sendfile_spy.calls == 0


def test_a_reader_that_pauses_gets_every_byte(
    static: Callable[..., LiveServer], public: Path, sendfile_spy: SendfileSpy
) -> None:
    # The socket buffers fill while the client sleeps; sendfile must wait for
    # the socket to drain (back-pressure) and carry on, not fail or buffer.
    big = os.urandom(16 * 1024 * 1024)
    (public / "big.bin").write_bytes(big)
    server = static(loop="asyncio")  # uvloop has no sendfile
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/assets/big.bin")
        head = conn.read_head()
        time.sleep(0.5)
        body = conn.read_exactly(int(head.header("content-length") or 0), time.monotonic() + WAIT)
    assert body == big
    assert sendfile_spy.calls > 1  # it had to stop and resume


def test_the_missing_file_is_404_in_the_clients_format(static: Callable[..., LiveServer]) -> None:
    server = static(loop="asyncio")  # uvloop has no sendfile
    html = raw(server, "/assets/nope.css", accept="text/html")
    assert html.status == 404
    assert html.header("content-type") == "text/html; charset=utf-8"
    assert b"404 Not Found" in html.body
    problem = raw(server, "/assets/nope.css", accept="application/json")
    assert problem.header("content-type") == "application/json"
