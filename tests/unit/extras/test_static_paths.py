"""Static files, the pure parts: which file a path names, ranges, validators."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pounce_extras._static import Mount, StaticFiles, parse_ranges, resolve_path


@pytest.fixture
def root(tmp_path: Path) -> str:
    public = tmp_path / "public"
    (public / "css").mkdir(parents=True)
    (public / "css" / "site.css").write_text("body{}")
    (public / ".well-known").mkdir()
    (public / ".well-known" / "security.txt").write_text("x")
    (public / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("secret")
    return os.path.realpath(public)


@pytest.mark.parametrize(
    "relative",
    [
        "/../secret.txt",
        "/css/../../secret.txt",
        "/..",
        "/./css/site.css",
        "/css/./site.css",
        "/..\\secret.txt",
        "/css\\site.css",
        "/css/site.css\x00.png",
        "/.env",
        "/.git/config",
        "/css/.hidden",
    ],
)
def test_refused_paths(root: str, relative: str) -> None:
    assert resolve_path(root, relative) is None


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("/css/site.css", "css/site.css"),
        ("//css//site.css", "css/site.css"),
        ("/css/", "css"),
        ("", ""),
        ("/", ""),
        ("/.well-known/security.txt", ".well-known/security.txt"),
        ("/missing.txt", "missing.txt"),  # resolved; the caller finds it is not there
    ],
)
def test_accepted_paths(root: str, relative: str, expected: str) -> None:
    assert resolve_path(root, relative) == os.path.join(root, expected).rstrip("/")


def test_symlink_out_of_the_directory_is_refused(root: str, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", os.path.join(root, "link.txt"))
    os.symlink(tmp_path, os.path.join(root, "up"))
    assert resolve_path(root, "/link.txt") is None
    assert resolve_path(root, "/up/secret.txt") is None


def test_symlink_inside_the_directory_is_followed(root: str) -> None:
    os.symlink(os.path.join(root, "css", "site.css"), os.path.join(root, "alias.css"))
    assert resolve_path(root, "/alias.css") == os.path.join(root, "css", "site.css")


def test_a_sibling_directory_sharing_the_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    (tmp_path / "public-other").mkdir()
    (tmp_path / "public-other" / "x").write_text("x")
    os.symlink(tmp_path / "public-other" / "x", tmp_path / "pub" / "x")
    root = os.path.realpath(tmp_path / "pub")
    assert resolve_path(root, "/x") is None


@pytest.mark.parametrize(
    ("prefix", "path", "relative"),
    [
        ("/assets", "/assets", ""),
        ("/assets", "/assets/", "/"),
        ("/assets", "/assets/a.css", "/a.css"),
        ("/assets", "/assetsx/a.css", None),
        ("/assets", "/other", None),
        ("/", "/anything", "/anything"),
    ],
)
def test_mount_matching(prefix: str, path: str, relative: str | None) -> None:
    assert Mount(prefix, "/srv").relative(path) == relative


SIZE = 10_000


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        (b"bytes=0-499", [(0, 499)]),
        (b"bytes=500-999", [(500, 999)]),
        (b"bytes=-500", [(9500, 9999)]),
        (b"bytes=9500-", [(9500, 9999)]),
        (b"bytes=0-0,-1", [(0, 0), (9999, 9999)]),
        (b"bytes=500-600,601-999", [(500, 600), (601, 999)]),
        (b"bytes=0-99999", [(0, 9999)]),  # clipped to the end
        (b"bytes=-99999", [(0, 9999)]),
        (b"Bytes = 1-2 , 4-5", [(1, 2), (4, 5)]),
        (b"bytes=10000-", []),  # unsatisfiable: 416
        (b"bytes=20000-30000", []),
        (b"bytes=-0", []),
        (b"bytes=10000-,20000-", []),
        (b"bytes=10000-, 0-1", [(0, 1)]),  # one satisfiable range is enough
        (b"items=0-5", None),  # not a unit we know: ignored
        (b"bytes=5-1", None),  # malformed: ignored
        (b"bytes=abc", None),
        (b"bytes=1-2-3", None),
        (b"bytes=", None),
        (b"bytes", None),
        (b"bytes=-", None),
        (b"bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(17)), None),  # too many
    ],
)
def test_parse_ranges(header: bytes, ranges: list[tuple[int, int]] | None) -> None:
    assert parse_ranges(header, SIZE) == ranges


def test_ranges_of_an_empty_file_are_unsatisfiable() -> None:
    assert parse_ranges(b"bytes=0-", 0) == []
    assert parse_ranges(b"bytes=-5", 0) == []


ETAG = b'"abc-10"'
MTIME = 1_700_000_000
DATE = b"Tue, 14 Nov 2023 22:13:20 GMT"  # MTIME
LATER = b"Wed, 15 Nov 2023 22:13:20 GMT"
EARLIER = b"Mon, 13 Nov 2023 22:13:20 GMT"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([], None),
        ([(b"if-none-match", ETAG)], 304),
        ([(b"if-none-match", b'W/"abc-10"')], 304),  # weak comparison
        ([(b"if-none-match", b'"other", "abc-10"')], 304),
        ([(b"if-none-match", b"*")], 304),
        ([(b"if-none-match", b'"other"')], None),
        ([(b"if-modified-since", DATE)], 304),
        ([(b"if-modified-since", LATER)], 304),
        ([(b"if-modified-since", EARLIER)], None),
        ([(b"if-modified-since", b"not a date")], None),
        # If-None-Match takes precedence over If-Modified-Since.
        ([(b"if-none-match", b'"other"'), (b"if-modified-since", LATER)], None),
        ([(b"if-match", ETAG)], None),
        ([(b"if-match", b'W/"abc-10"')], 412),  # strong comparison
        ([(b"if-match", b'"other"')], 412),
        ([(b"if-match", b"*")], None),
        ([(b"if-unmodified-since", EARLIER)], 412),
        ([(b"if-unmodified-since", DATE)], None),
        ([(b"if-match", ETAG), (b"if-unmodified-since", EARLIER)], None),
    ],
)
def test_preconditions(headers: list[tuple[bytes, bytes]], status: int | None) -> None:
    assert StaticFiles._preconditions(headers, ETAG, MTIME) == status


@pytest.mark.parametrize(
    ("if_range", "matches"),
    [
        (ETAG, True),
        (b'W/"abc-10"', False),
        (b'"other"', False),
        (DATE, True),
        (LATER, False),  # a date must match exactly
        (b"garbage", False),
    ],
)
def test_if_range(if_range: bytes, matches: bool) -> None:
    assert StaticFiles._if_range_matches(if_range, ETAG, MTIME) is matches
