"""The streaming compressors: every chunk is flushed, so it decodes on arrival."""

from __future__ import annotations

import sys
import zlib
from typing import Any

import pytest

from pounce import ServerConfig
from pounce_extras._compression import available_encodings, new_encoder

CONFIG = ServerConfig()


def decoder(encoding: str) -> Any:
    if encoding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if sys.version_info >= (3, 14):
        from compression import zstd

        return zstd.ZstdDecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def test_zstd_is_available_in_the_test_environment() -> None:
    # 3.14 has it in the standard library; older Pythons get pounce-extras[zstd].
    assert available_encodings() == ("zstd", "gzip")


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_each_flushed_chunk_decodes_to_what_was_sent_so_far(encoding: str) -> None:
    encoder = new_encoder(encoding, CONFIG)
    stream = decoder(encoding)
    pieces = [b"data: event %d\n\n" % n for n in range(5)]
    for piece in pieces:
        out = encoder.chunk(piece)
        assert out, "a flushed chunk is never empty"
        assert stream.decompress(out) == piece
    stream.decompress(encoder.finish(b""))


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_whole_body_round_trip(encoding: str) -> None:
    body = b"The quick brown fox. " * 500
    compressed = new_encoder(encoding, CONFIG).finish(body)
    assert len(compressed) < len(body) // 10
    stream = decoder(encoding)
    assert stream.decompress(compressed) == body


def test_levels_are_used() -> None:
    body = bytes(range(256)) * 64 + b"abc" * 5000
    fast = new_encoder("gzip", ServerConfig(compression_gzip_level=1)).finish(body)
    small = new_encoder("gzip", ServerConfig(compression_gzip_level=9)).finish(body)
    assert len(small) < len(fast)
