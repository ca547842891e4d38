"""``http.response.pathsend`` from a real framework (Starlette's FileResponse).

Over HTTP/1.1 the file goes zero-copy (sendfile); over HTTP/2, HTTP/3 and
TLS it is read in pieces with the same back-pressure as any body. The
batteries treat it as a body: compression reads and encodes it, and
Server-Timing follows it with its trailer.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from conftest import PounceFactory, ServeFactory
from support.pathsend_apps import make_app
from support.tls import Certificates, certificates, client_context

__all__ = ["certificates"]  # the fixture, used by name below

APP = "support.pathsend_apps:app"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (tmp_path / "small.bin").write_bytes(b"tiny")
    (tmp_path / "empty.bin").write_bytes(b"")
    # Text that compresses, larger than a piece (256 KiB).
    (tmp_path / "words.txt").write_bytes(b"".join(b"line %d of words\n" % i for i in range(40_000)))
    return tmp_path


def _serve_files(pounce: PounceFactory, files: Path, *args: str) -> str:
    env = {**os.environ, "POUNCE_TEST_FILES": str(files)}
    return pounce(APP, "--no-access-log", *args, env=env).url


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_files_by_path_arrive_whole(pounce: PounceFactory, files: Path, http2: bool) -> None:
    url = _serve_files(pounce, files)
    with httpx.Client(http1=not http2, http2=http2, timeout=30) as client:
        assert client.get(url + "/offered").json() == {"pathsend": True}
        for name in ("big.bin", "small.bin", "empty.bin"):
            response = client.get(url + f"/files/{name}", headers={"accept-encoding": "identity"})
            assert response.status_code == 200
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            assert response.content == (files / name).read_bytes(), name
            assert response.headers["content-length"] == str((files / name).stat().st_size)
        head = client.head(url + "/files/big.bin")
        assert head.headers["content-length"] == str((files / "big.bin").stat().st_size)
        assert head.content == b""


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_compression_encodes_a_file_sent_by_path(
    pounce: PounceFactory, files: Path, http2: bool
) -> None:
    url = _serve_files(pounce, files)
    text = (files / "words.txt").read_bytes()
    with httpx.Client(http1=not http2, http2=http2, timeout=30) as client:
        with client.stream(
            "GET", url + "/files/words.txt", headers={"accept-encoding": "gzip"}
        ) as response:
            body = response.read()  # decoded by httpx
            on_the_wire = response.num_bytes_downloaded
        assert response.headers["content-encoding"] == "gzip"
        assert body == text
        assert on_the_wire < len(text) / 4
        # Binary types are left alone, and still sent whole.
        binary = client.get(url + "/files/big.bin", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in binary.headers
        assert binary.content == (files / "big.bin").read_bytes()


def test_server_timing_follows_a_file_sent_by_path(pounce: PounceFactory, files: Path) -> None:
    url = _serve_files(pounce, files, "--server-timing")
    response = httpx.get(url + "/files/big.bin", headers={"accept-encoding": "identity"})
    assert response.content == (files / "big.bin").read_bytes()
    assert "app;dur=" in response.headers["server-timing"]
    # A client that takes trailers gets the timing after the file.
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"GET /files/small.bin HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n"
            b"Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"trailer: server-timing" in head.lower()
    assert body.startswith(b"4\r\ntiny\r\n0\r\n")
    assert b"server-timing: " in body.lower()


def test_files_by_path_over_tls(
    serve: ServeFactory, files: Path, certificates: Certificates
) -> None:
    server = serve(make_app(files), **certificates.server_options())
    context = client_context(certificates)
    with httpx.Client(verify=context, timeout=30) as client:
        response = client.get(
            f"https://127.0.0.1:{server.port}/files/big.bin",
            headers={"accept-encoding": "identity"},
        )
    assert response.content == (files / "big.bin").read_bytes()


def test_files_by_path_over_http3(
    serve: ServeFactory, files: Path, certificates: Certificates
) -> None:
    pytest.importorskip("aioquic", reason="HTTP/3 needs aioquic (GIL builds only)")
    from support.h3client import H3Request, run_h3

    server = serve(make_app(files), http3=True, **certificates.server_options())
    result = run_h3(
        server.port,
        str(certificates.ca_file),
        [H3Request(path="/files/big.bin"), H3Request(path="/files/small.bin")],
    )
    big, small = result.responses
    assert big.status == 200
    assert big.body == (files / "big.bin").read_bytes()
    assert small.body == b"tiny"
