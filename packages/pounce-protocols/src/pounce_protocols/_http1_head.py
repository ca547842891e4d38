"""The gate every HTTP/1.1 request head passes before it is parsed.

These checks run on the raw bytes, so they see exactly what a proxy in front of
us saw, and they hold no matter which parser runs next:

* framing: lines end in CRLF only. A bare LF or CR is rejected (RFC 9112 §2.2
  allows a server to accept a bare LF, but two parsers that disagree on it is
  how requests get smuggled, so we do not);
* obs-fold (a line starting with SP or HTAB) is rejected (RFC 9112 §5.2);
* control characters other than HTAB (NUL, DEL...) are rejected anywhere in
  the head (RFC 9110 §5.5);
* sizes: the request line (414), the whole head and the number of fields (431),
  enforced while the head is still arriving so a slow or endless head never
  grows past the limit.

:func:`split_target` then splits the request target (RFC 9112 §3.2) into the
pieces a server needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pounce_protocols._errors import RemoteProtocolError

__all__ = [
    "HeadLimits",
    "RequestTarget",
    "check_content_length",
    "check_head",
    "check_host",
    "check_transfer_encoding",
    "head_length",
    "split_target",
    "valid_host",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadLimits:
    """Size limits of a request head.

    Defaults: an 8 KiB request line (as nginx and gunicorn), a 16 KiB head (as
    Uvicorn's h11 default) and 100 header fields (as gunicorn).
    """

    max_request_line: int = 8190
    max_header_bytes: int = 16384
    max_header_count: int = 100

    def __post_init__(self) -> None:
        for name in ("max_request_line", "max_header_bytes", "max_header_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.max_request_line > self.max_header_bytes:
            raise ValueError("max_request_line cannot exceed max_header_bytes")


_CR = 0x0D
# Control characters other than HTAB, CR and LF (which have rules of their own).
# RFC 9110 §5.5 makes them invalid in field values; NUL, DEL and the rest are
# read differently by different parsers, so none of them passes the gate.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _reject(message: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(message, status_hint=status)


def check_head(buf: bytearray, limits: HeadLimits) -> int:
    """Check the request head at the start of ``buf``.

    Empty lines before the request line are removed from ``buf`` (RFC 9112 §2.2
    asks servers to ignore them). Returns the length of the complete head,
    blank line included, or 0 while it is incomplete. Raises
    :class:`RemoteProtocolError` as soon as the bytes so far cannot become an
    acceptable head.
    """
    while buf.startswith(b"\r\n"):
        del buf[:2]
    return head_length(buf, limits)


def head_length(buf: bytes | bytearray, limits: HeadLimits) -> int:
    """:func:`check_head` for bytes that start with the request line.

    It reads ``buf`` without changing it, so it also takes the ``bytes`` just
    received when nothing is buffered: no copy into a buffer first.
    """
    if not buf:
        return 0
    end = buf.find(b"\r\n\r\n")
    length = len(buf) if end < 0 else end + 4

    # A CR as the very last byte of an incomplete head may be half of a CRLF.
    pending_cr = end < 0 and buf[length - 1] == _CR

    line_end = buf.find(b"\r\n", 0, length)
    line_length = line_end if line_end >= 0 else length - pending_cr
    if line_length > limits.max_request_line:
        raise _reject("request line too long", 414)
    if length > limits.max_header_bytes:
        raise _reject("request header section too large", 431)

    crlf = buf.count(b"\r\n", 0, length)
    if buf.count(b"\n", 0, length) != crlf:
        raise _reject("bare LF in request head")
    if buf.count(b"\r", 0, length) != crlf + pending_cr:
        raise _reject("bare CR in request head")
    if buf.find(b"\r\n ", 0, length) >= 0 or buf.find(b"\r\n\t", 0, length) >= 0:
        raise _reject("obsolete line folding in request head")
    if _CONTROL.search(buf, 0, length) is not None:
        raise _reject("control character in request head")
    # CRLFs: one ends the request line, one each field line, one the blank line.
    fields = crlf - (2 if end >= 0 else 1)
    if fields > limits.max_header_count:
        raise _reject("too many header fields", 431)
    return 0 if end < 0 else length


_MAX_CONTENT_LENGTH = 2**63 - 1
_CONTENT_LENGTH_FIELD = re.compile(rb"\r\ncontent-length[ \t]*:([^\r]*)", re.IGNORECASE)


def check_content_length(head: bytes) -> None:
    """Reject a head with more than one Content-Length value, or a huge one.

    RFC 9110 §8.6 lets a recipient collapse identical repeated values, and some
    parsers do while others take the first or the last; a request whose length
    depends on which rule applies is the root of CL.CL smuggling, so any
    repetition, as a second field or as a list, is answered with 400.
    """
    values = _CONTENT_LENGTH_FIELD.findall(head)
    if len(values) > 1 or (values and b"," in values[0]):
        raise _reject("more than one Content-Length value")
    if values:
        # A length past what a signed 64-bit integer holds is no real body,
        # and parsers that wrap or saturate would each read a different one.
        digits = values[0].strip(b" \t").lstrip(b"0")
        if digits.isdigit() and (len(digits) > 19 or int(digits) > _MAX_CONTENT_LENGTH):
            raise _reject("Content-Length too large")


_TRANSFER_ENCODING_FIELD = re.compile(rb"\r\ntransfer-encoding[ \t]*:([^\r]*)", re.IGNORECASE)


def check_transfer_encoding(head: bytes) -> None:
    """Reject a head whose transfer codings leave the body length unknown.

    RFC 9112 §6.3: when ``chunked`` is present but not the final coding the
    length of a request body cannot be determined, and the server MUST answer
    400 and close; applying ``chunked`` twice (RFC 9112 §6.1) is as broken.
    Codings are gathered across every Transfer-Encoding field, as a list is
    read (RFC 9110 §5.3). Only a lone ``chunked`` is then accepted further on;
    any other coding we do not implement gets 501 (RFC 9112 §6.1).
    """
    codings = [
        coding.strip(b" \t").lower()
        for value in _TRANSFER_ENCODING_FIELD.findall(head)
        for coding in value.split(b",")
    ]
    codings = [coding for coding in codings if coding]  # empty list elements are allowed
    if b"chunked" in codings and (codings[-1] != b"chunked" or codings.count(b"chunked") > 1):
        raise _reject("chunked is not the final transfer coding exactly once")


# RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ]. An IP-literal is
# bracketed; a reg-name is unreserved, pct-encoded and sub-delims characters.
_HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]"
    rb"|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)"
    rb"(?::[0-9]*)?"
)


def check_host(value: bytes) -> None:
    """Reject a Host field value that is not ``uri-host [":" port]``.

    RFC 9112 §3.2: a server MUST answer 400 to a Host field with an invalid
    value. Routing, virtual hosting and the ASGI ``server`` all read this
    value; one with spaces, a path, userinfo or a list would be read
    differently by each of them.
    """
    if not valid_host(value):
        raise _reject("invalid Host header value")


# reg-name characters but pct-encoded ones (RFC 3986 §3.2.2): a host made of
# these alone, with an optional all-digit port, matches _HOST.
_PLAIN_HOST_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;="


def valid_host(value: bytes) -> bool:
    """Whether a Host field value is ``uri-host [":" port]`` (see ``check_host``)."""
    # The usual values ("example.com", "127.0.0.1:8000") are decided with two
    # bytes methods; the expression decides the rest (IP literals, %XX).
    host, colon, port = value.rpartition(b":")
    if colon:
        if not host.translate(None, _PLAIN_HOST_CHARS) and (not port or port.isdigit()):
            return True
    elif not port.translate(None, _PLAIN_HOST_CHARS):
        return True
    return _HOST.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """A request target split into path, query and, for absolute form, the rest."""

    path: bytes
    query_string: bytes
    scheme: bytes | None = None
    authority: bytes | None = None


_ABSOLUTE_FORM = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)", re.DOTALL)


def split_target(method: bytes, target: bytes) -> RequestTarget:
    """Split a request target (origin, absolute, asterisk or authority form)."""
    if method == b"CONNECT":
        raise _reject("CONNECT tunnels are not supported", 501)
    if b"#" in target:
        raise _reject("fragment in request target")
    if target[:1] == b"/":
        path, _, query = target.partition(b"?")
        return RequestTarget(path, query)
    if target == b"*":
        if method != b"OPTIONS":
            raise _reject("asterisk-form target is only allowed with OPTIONS")
        return RequestTarget(b"*", b"")
    match = _ABSOLUTE_FORM.fullmatch(target)
    if match is None:
        raise _reject("invalid request target")
    scheme, authority, rest = match.groups()
    scheme = scheme.lower()
    if scheme not in (b"http", b"https"):
        raise _reject("absolute-form target with a scheme other than http or https")
    if not authority:
        raise _reject("absolute-form target without an authority")
    path, _, query = rest.partition(b"?")
    return RequestTarget(path or b"/", query, scheme, authority)
