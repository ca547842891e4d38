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
    "HeadGate",
    "HeadLimits",
    "RequestTarget",
    "check_content_length",
    "check_host",
    "check_transfer_encoding",
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


# A whole head that passes every byte check at once: lines of anything but
# CR, LF and the control characters above (HTAB allowed), each ended by CRLF;
# no field line starting with SP or HTAB (obs-fold); the blank line last. One
# match costs a third of the separate scans below on a small head; a head it
# refuses is looked at again by those, which say what is wrong with it.
_CLEAN_HEAD = re.compile(
    rb"[^\x00-\x08\x0a-\x1f\x7f]*\r\n(?:[^\x00-\x20\x7f][^\x00-\x08\x0a-\x1f\x7f]*\r\n)*\r\n"
)


def _reject(message: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(message, status_hint=status)


class HeadGate:
    """Checks the request head at the start of a buffer, as its bytes arrive.

    :meth:`scan` is called each time bytes were added. Each byte is checked
    once, however the head was split: the gate remembers how much of the head
    it has already passed and what it counted there, and reads only the bytes
    after it (less the three that may begin the blank line). A head dribbled
    one byte per read therefore costs what it costs in one read, not the
    square of its length. The verdict is the same as if the whole head so far
    were checked at once: every check is a property of single bytes or pairs
    of bytes, or a count that adds up across the pieces.
    """

    __slots__ = ("_checked", "_crlf", "_limits", "_line_done")

    def __init__(self, limits: HeadLimits) -> None:
        self._limits = limits
        self._checked = 0  # bytes of the head passed so far; never ends between CR and LF
        self._crlf = 0  # CRLFs in them
        self._line_done = False  # whether they hold the whole request line

    @property
    def fresh(self) -> bool:
        """True while no byte of the next head has been passed."""
        return not self._checked

    def reset(self) -> None:
        """Forget the head in progress (the next scan starts a new one)."""
        self._checked = 0
        self._crlf = 0
        self._line_done = False

    def scan(self, buf: bytes | bytearray, start: int) -> int:
        """Check the head that begins at ``start`` of ``buf``.

        Returns the length of the complete head, blank line included (the
        gate is then ready for the next head), or 0 while it is incomplete.
        Raises :class:`RemoteProtocolError` as soon as the bytes so far cannot
        become an acceptable head. Between two calls, bytes may only be added
        after the ones already given.
        """
        if not self._checked:
            # The common case: a whole head in one read. When it is clean and
            # within every limit, the verdict of the exact checks is its length.
            end = buf.find(b"\r\n\r\n", start)
            if end >= 0:
                high = end + 4
                limits = self._limits
                if (
                    high - start <= limits.max_header_bytes
                    and buf.find(b"\r\n", start, high) - start <= limits.max_request_line
                    and buf.count(b"\r\n", start, high) - 2 <= limits.max_header_count
                    and _CLEAN_HEAD.fullmatch(buf, start, high) is not None
                ):
                    return high - start
        return self._scan_exact(buf, start)

    def _scan_exact(self, buf: bytes | bytearray, start: int) -> int:
        """:meth:`scan`, each property checked on its own (the reference of
        its fast case, and the path of every head that arrives in pieces)."""
        limits = self._limits
        checked = self._checked
        size = len(buf) - start
        if size <= 0:
            return 0
        low = start + checked
        # The blank line may have begun in the last bytes passed before.
        end = buf.find(b"\r\n\r\n", low - 3 if checked > 3 else start)
        length = size if end < 0 else end + 4 - start
        high = start + length
        # A CR as the very last byte of an incomplete head may be half of a CRLF.
        pending_cr = end < 0 and buf[high - 1] == _CR

        line_done = self._line_done
        if not line_done:
            line_end = buf.find(b"\r\n", low, high)
            line_done = line_end >= 0
            line_length = line_end - start if line_done else length - pending_cr
            if line_length > limits.max_request_line:
                raise _reject("request line too long", 414)
        if length > limits.max_header_bytes:
            raise _reject("request header section too large", 431)

        crlf = buf.count(b"\r\n", low, high)
        if buf.count(b"\n", low, high) != crlf:
            raise _reject("bare LF in request head")
        if buf.count(b"\r", low, high) != crlf + pending_cr:
            raise _reject("bare CR in request head")
        # A fold is a CRLF then SP or HTAB: its CRLF may be in the bytes passed before.
        fold_from = low - 2 if checked > 1 else start
        if buf.find(b"\r\n ", fold_from, high) >= 0 or buf.find(b"\r\n\t", fold_from, high) >= 0:
            raise _reject("obsolete line folding in request head")
        if _CONTROL.search(buf, low, high) is not None:
            raise _reject("control character in request head")
        if checked:
            crlf += self._crlf
        # CRLFs: one ends the request line, one each field line, one the blank line.
        if crlf - (2 if end >= 0 else 1) > limits.max_header_count:
            raise _reject("too many header fields", 431)
        if end < 0:
            self._checked = length - pending_cr
            self._crlf = crlf
            self._line_done = line_done
            return 0
        if checked:
            self.reset()
        return length


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
    if len(values) > 1 or (values and 0x2C in values[0]):  # 0x2C: ","
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
    if 0x23 in target:  # "#" (a byte as an integer: see _http1_fast)
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
