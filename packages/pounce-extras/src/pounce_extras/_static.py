"""Static files: ``--static /assets=./public`` serves a directory under a prefix.

A request whose path is the prefix or below it belongs to the mount: it gets
a file or an error from here and never reaches the app. Everything else goes
to the app untouched.

Which file
----------
The scope's ``path`` is already percent-decoded, so ``%2e%2e`` and ``..%2f``
arrive as ``..`` and ``../``. Below the prefix, a path is refused (404, the
same answer as a missing file, so nothing is revealed) when it contains a NUL
or a backslash, or a segment that is ``.``, ``..`` or hidden (``.git``,
``.env``; ``.well-known`` is allowed). The remaining path is joined to the
directory and resolved with :func:`os.path.realpath`, and the result must still
lie inside the directory: a symlink pointing out of it is refused too. A
directory is redirected to its path with a trailing ``/`` (301) and then
served by its first index file (``--static-index``); there are no listings.

How it is sent
--------------
Validators come from the file's stat: a strong ``ETag`` (mtime and size) and
``Last-Modified``. Preconditions are evaluated in RFC 9110 §13.2.2 order:
``If-Match`` / ``If-Unmodified-Since`` (412), then ``If-None-Match`` /
``If-Modified-Since`` (304). ``Range`` on GET gives 206 with one range or a
``multipart/byteranges`` body for several, 416 when none is satisfiable, and
is ignored when malformed, when ``If-Range`` does not match, or when it asks
for more than 16 ranges. A ``.zst`` or ``.gz`` sibling of the file is sent
instead (with ``Content-Encoding``) to a client that accepts that coding;
files with siblings always carry ``Vary: Accept-Encoding``.

The bytes go through the ASGI ``send`` with back-pressure: on a plain TCP
connection as ``http.response.zerocopysend`` messages, which the server turns
into ``os.sendfile`` (no copy through Python); otherwise in 64 KiB slices.
File reads happen on the event loop: files are expected to be on a local
disk, mostly in the page cache.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
import stat
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from pounce import ASGIApp, Receive, Scope, Send, ServerConfig
from pounce_extras._compression import choose_encoding
from pounce_extras._error_pages import send_error
from pounce_extras._http import app_path, get_header, get_headers

__all__ = [
    "Mount",
    "StaticFiles",
    "parse_mounts",
    "parse_ranges",
    "resolve_path",
]

_SLICE = 64 * 1024
_MAX_RANGES = 16
_ZERO_COPY = "http.response.zerocopysend"
# Precompressed siblings, in order of preference.
_SIBLINGS = (("zstd", ".zst"), ("gzip", ".gz"))
# Modern types the interpreter's built-in table lacks or gets wrong
# (JavaScript is text/javascript since RFC 9239).
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}


@dataclass(frozen=True, slots=True)
class Mount:
    """A URL prefix served from a directory (``root`` is its real path)."""

    prefix: str
    root: str

    def relative(self, path: str) -> str | None:
        """The part of ``path`` below this mount, or ``None`` if not below it."""
        if self.prefix == "/":
            return path
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :]
        return None


def parse_mounts(entries: tuple[str, ...]) -> tuple[Mount, ...]:
    """``/prefix=dir`` entries as mounts, longest prefix first; checks the
    directories exist."""
    mounts = []
    for entry in entries:
        prefix, _, directory = entry.partition("=")
        path = Path(directory.strip()).expanduser()
        if not path.is_dir():
            raise ValueError(f"--static {entry}: {directory.strip()!r} is not a directory")
        mounts.append(Mount(prefix.strip(), os.path.realpath(path)))
    return tuple(sorted(mounts, key=lambda m: len(m.prefix), reverse=True))


def resolve_path(root: str, relative: str) -> str | None:
    """The real path of ``relative`` below ``root``, or ``None`` if refused."""
    if "\x00" in relative or "\\" in relative:
        return None
    parts = [part for part in relative.split("/") if part]
    for part in parts:
        if part in (".", "..") or (part.startswith(".") and part != ".well-known"):
            return None
    return _inside(root, os.path.join(root, *parts))


def _inside(root: str, path: str) -> str | None:
    """The real path of ``path`` if it lies in ``root`` (itself a real path)."""
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        return None  # a symlink led out of the directory
    return real


def parse_ranges(header: bytes, size: int) -> list[tuple[int, int]] | None:
    """The byte ranges (first, last inclusive) a ``Range`` header asks for.

    ``None``: the header is to be ignored (not bytes, malformed, too many
    ranges). ``[]``: no range is satisfiable (416).
    """
    unit, sep, specs = header.decode("latin-1").partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    items = [item.strip() for item in specs.split(",")]
    if not items or len(items) > _MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for item in items:
        first_text, dash, last_text = item.partition("-")
        first_text, last_text = first_text.strip(), last_text.strip()
        if not dash or not (first_text.isdigit() or (not first_text and last_text.isdigit())):
            return None
        if last_text and not last_text.isdigit():
            return None
        if not first_text:  # suffix: the last N bytes
            suffix = int(last_text)
            if suffix > 0 and size > 0:
                ranges.append((max(0, size - suffix), size - 1))
            continue
        first = int(first_text)
        if last_text and int(last_text) < first:
            return None
        if first < size:
            last = int(last_text) if last_text else size - 1
            ranges.append((first, min(last, size - 1)))
    return ranges


def _etag(st: os.stat_result, suffix: str = "") -> bytes:
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}{suffix}"'.encode("ascii")


def _etag_matches(header: bytes, etag: bytes, *, weak: bool) -> bool:
    if header.strip() == b"*":
        return True
    opaque = etag.removeprefix(b"W/")
    for item in header.split(b","):
        candidate = item.strip()
        if candidate.startswith(b"W/"):
            if not weak:
                continue  # strong comparison: a weak tag never matches
            candidate = candidate[2:]
        if candidate == opaque:
            return True
    return False


def _http_date_seconds(header: bytes) -> int | None:
    try:
        return int(parsedate_to_datetime(header.decode("latin-1")).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class StaticFiles:
    """The ASGI layer serving the mounts; immutable, shared by every worker."""

    def __init__(self, app: ASGIApp, config: ServerConfig, mounts: tuple[Mount, ...]) -> None:
        self.app = app
        self.config = config
        self.mounts = mounts
        # Our own table: the process-wide one reads whatever the system's
        # mime.types says, and is not safe to initialise from several threads.
        self._types = mimetypes.MimeTypes()
        self._cache_control = (
            f"public, max-age={config.static_max_age}".encode("ascii")
            if config.static_max_age is not None
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = app_path(scope)
        for mount in self.mounts:
            relative = mount.relative(path)
            if relative is not None:
                await self._serve(mount, relative, scope, send)
                return
        await self.app(scope, receive, send)

    def content_type(self, name: str) -> bytes:
        """The content type of a file name (text types get charset=utf-8)."""
        suffix = os.path.splitext(name)[1].lower()
        media = _TYPES.get(suffix) or self._types.guess_type(name, strict=False)[0]
        if media is None:
            return b"application/octet-stream"
        if media.startswith("text/") or media in ("application/json", "application/xml"):
            media += "; charset=utf-8"
        return media.encode("ascii")

    async def _serve(self, mount: Mount, relative: str, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await send_error(send, self.config, 405, scope, headers=[(b"allow", b"GET, HEAD")])
            return
        real = resolve_path(mount.root, relative)
        try:
            st = os.stat(real) if real is not None else None
        except OSError:
            st = None
        if real is None or st is None:
            await send_error(send, self.config, 404, scope)
            return
        if stat.S_ISDIR(st.st_mode):
            if not relative.endswith("/"):
                await self._redirect_to_directory(scope, send)
                return
            real, st = self._index(mount, real)
            if real is None or st is None:
                await send_error(send, self.config, 404, scope)
                return
        if not stat.S_ISREG(st.st_mode):
            await send_error(send, self.config, 404, scope)
            return
        await self._send_file(mount, real, st, scope, send)

    def _index(self, mount: Mount, directory: str) -> tuple[str | None, os.stat_result | None]:
        for name in self.config.static_index:
            candidate = _inside(mount.root, os.path.join(directory, name))
            if candidate is None:
                continue
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                return candidate, st
        return None, None

    async def _redirect_to_directory(self, scope: Scope, send: Send) -> None:
        location = scope.get("raw_path") or scope["path"].encode("utf-8")
        location += b"/"
        if scope.get("query_string"):
            location += b"?" + scope["query_string"]
        headers = [(b"location", location), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 301, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _sibling(
        self, mount: Mount, real: str, st: os.stat_result, scope: Scope
    ) -> tuple[str, os.stat_result, str | None, bool]:
        """The file to send (maybe a precompressed sibling), its stat, its coding,
        and whether any sibling exists (the response then varies)."""
        found: list[tuple[str, str, os.stat_result]] = []
        for coding, suffix in _SIBLINGS:
            resolved = _inside(mount.root, real + suffix)
            if resolved is None:
                continue
            try:
                sibling = os.stat(resolved)
            except OSError:
                continue
            if stat.S_ISREG(sibling.st_mode):
                found.append((coding, resolved, sibling))
        if not found:
            return real, st, None, False
        offers = tuple(coding for coding, _, _ in found)
        chosen = choose_encoding(get_headers(scope["headers"], b"accept-encoding"), offers)
        for coding, resolved, sibling in found:
            if coding == chosen:
                return resolved, sibling, coding, True
        return real, st, None, True

    async def _send_file(
        self, mount: Mount, real: str, st: os.stat_result, scope: Scope, send: Send
    ) -> None:
        path, st, coding, varies = self._sibling(mount, real, st, scope)
        etag = _etag(st, "-" + coding if coding else "")
        mtime = int(st.st_mtime)
        headers = [
            (b"content-type", self.content_type(real)),
            (b"etag", etag),
            (b"last-modified", formatdate(mtime, usegmt=True).encode("ascii")),
            (b"accept-ranges", b"bytes"),
        ]
        if coding:
            headers.append((b"content-encoding", coding.encode("ascii")))
        if varies:
            headers.append((b"vary", b"Accept-Encoding"))
        if self._cache_control:
            headers.append((b"cache-control", self._cache_control))
        request = scope["headers"]
        status = self._preconditions(request, etag, mtime)
        if status == 412:
            await send_error(send, self.config, 412, scope)
            return
        if status == 304:
            kept = [h for h in headers if h[0] != b"content-type" and h[0] != b"accept-ranges"]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        size = st.st_size
        ranges = None
        range_header = get_header(request, b"range")
        if range_header is not None and scope["method"] == "GET":
            if_range = get_header(request, b"if-range")
            if if_range is None or self._if_range_matches(if_range, etag, mtime):
                ranges = parse_ranges(range_header, size)
        if ranges is not None and not ranges:
            await send_error(
                send,
                self.config,
                416,
                scope,
                headers=[(b"content-range", f"bytes */{size}".encode("ascii"))],
            )
            return
        try:
            # Local files, mostly in the page cache: opening them on the loop is
            # cheaper than a trip to a thread. Closed after the last send.
            file = open(path, "rb")  # noqa: ASYNC230, SIM115
        except OSError:
            await send_error(send, self.config, 404, scope)
            return
        with file:
            body_only = scope["method"] == "HEAD"
            zero_copy = (
                self.config.static_sendfile and _ZERO_COPY in scope.get("extensions", {})
            ) and not body_only
            sender = _Sender(send, file, zero_copy)
            if not ranges:
                headers.append((b"content-length", str(size).encode("ascii")))
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await sender.file_part(0, 0 if body_only else size, last=True)
            elif len(ranges) == 1:
                first, last = ranges[0]
                headers.append((b"content-range", f"bytes {first}-{last}/{size}".encode()))
                headers.append((b"content-length", str(last - first + 1).encode("ascii")))
                await send({"type": "http.response.start", "status": 206, "headers": headers})
                await sender.file_part(first, last - first + 1, last=True)
            else:
                await self._send_multipart(sender, headers, ranges, size, real)

    async def _send_multipart(
        self,
        sender: _Sender,
        headers: list[tuple[bytes, bytes]],
        ranges: list[tuple[int, int]],
        size: int,
        real: str,
    ) -> None:
        boundary = secrets.token_hex(16).encode("ascii")
        content_type = self.content_type(real)
        heads = []
        for index, (first, last) in enumerate(ranges):
            heads.append(
                (b"\r\n" if index else b"")
                + b"--"
                + boundary
                + b"\r\ncontent-type: "
                + content_type
                + f"\r\ncontent-range: bytes {first}-{last}/{size}\r\n\r\n".encode("ascii")
            )
        tail = b"\r\n--" + boundary + b"--\r\n"
        length = sum(map(len, heads)) + sum(last - first + 1 for first, last in ranges) + len(tail)
        headers = [h for h in headers if h[0] != b"content-type"]
        headers.append((b"content-type", b"multipart/byteranges; boundary=" + boundary))
        headers.append((b"content-length", str(length).encode("ascii")))
        await sender.send({"type": "http.response.start", "status": 206, "headers": headers})
        for head, (first, last) in zip(heads, ranges, strict=True):
            await sender.send({"type": "http.response.body", "body": head, "more_body": True})
            await sender.file_part(first, last - first + 1, last=False)
        await sender.send({"type": "http.response.body", "body": tail})

    @staticmethod
    def _preconditions(request: Any, etag: bytes, mtime: int) -> int | None:
        """412, 304 or ``None`` (go on), per RFC 9110 §13.2.2."""
        if_match = get_header(request, b"if-match")
        if if_match is not None:
            if not _etag_matches(if_match, etag, weak=False):
                return 412
        else:
            since = get_header(request, b"if-unmodified-since")
            if since is not None:
                seconds = _http_date_seconds(since)
                if seconds is not None and mtime > seconds:
                    return 412
        if_none_match = get_header(request, b"if-none-match")
        if if_none_match is not None:
            return 304 if _etag_matches(if_none_match, etag, weak=True) else None
        modified_since = get_header(request, b"if-modified-since")
        if modified_since is not None:
            seconds = _http_date_seconds(modified_since)
            if seconds is not None and mtime <= seconds:
                return 304
        return None

    @staticmethod
    def _if_range_matches(if_range: bytes, etag: bytes, mtime: int) -> bool:
        if if_range.startswith((b'"', b"W/")):
            return _etag_matches(if_range, etag, weak=False)
        seconds = _http_date_seconds(if_range)
        return seconds is not None and seconds == mtime


class _Sender:
    """Sends parts of one open file, zero-copy when the connection allows."""

    __slots__ = ("_file", "_zero_copy", "send")

    def __init__(self, send: Send, file: IO[bytes], zero_copy: bool) -> None:
        self.send = send
        self._file = file
        self._zero_copy = zero_copy

    async def file_part(self, offset: int, count: int, *, last: bool) -> None:
        if self._zero_copy and count:
            await self.send(
                {
                    "type": _ZERO_COPY,
                    "file": self._file,
                    "offset": offset,
                    "count": count,
                    "more_body": not last,
                }
            )
            return
        fd = self._file.fileno()
        end = offset + count
        while offset < end:
            data = os.pread(fd, min(_SLICE, end - offset), offset)
            if not data:
                raise RuntimeError("file shrank while it was being sent")
            offset += len(data)
            more = offset < end or not last
            await self.send({"type": "http.response.body", "body": data, "more_body": more})
        if not count:
            await self.send({"type": "http.response.body", "body": b"", "more_body": not last})
