"""The limits of the HTTP/2 machine, and what each one answers.

Kept apart from :mod:`._http2` so that the limits can be built and validated
(by a server's configuration, say) without the optional ``h2`` package.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HTTP2Limits"]

# RFC 9113 §6.5.2 and §6.9.1.
_DEFAULT_WINDOW = 65_535
_MAX_WINDOW = 2**31 - 1


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def _check_rate(name: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTP2Limits:
    """Bounds on what one HTTP/2 peer may make the server hold or do.

    ``max_concurrent_streams``, ``initial_window_size`` and
    ``max_header_list_size`` are advertised in our SETTINGS.

    * Streams: at most ``max_concurrent_streams`` open at once.
    * Request bodies: each stream may have ``initial_window_size`` bytes in
      flight that the application has not read yet; the window is reopened
      only as the application consumes the body, so the memory one connection
      can pin is bounded by ``max_concurrent_streams * initial_window_size``.
      The connection window (``connection_window_size``) is reopened as data
      arrives: per-stream windows already bound it, and a slow reader must not
      stall the other streams.
    * Header sections: a decoded list (RFC 9113 accounting: name + value + 32
      per field) over ``max_header_list_size``, or more than
      ``max_header_count`` fields, is answered with 431 on that stream. One
      that decodes to more than twice the list size is an HPACK bomb and ends
      the connection (GOAWAY ENHANCE_YOUR_CALM), as does an encoded header
      block (HEADERS + CONTINUATION) over :attr:`header_block_limit` bytes or
      spread over more than ``max_continuation_frames`` CONTINUATION frames.
    * Frame rates, as token buckets (a burst, then a steady rate per second):
      client RST_STREAM frames (``reset_burst``/``reset_rate``, against rapid
      reset) and frames that force a reply or do nothing (PING and SETTINGS
      without ACK, empty DATA without END_STREAM: ``control_burst``/
      ``control_rate``). Going over either ends the connection with GOAWAY
      ENHANCE_YOUR_CALM.
    """

    max_concurrent_streams: int = 100
    initial_window_size: int = _DEFAULT_WINDOW
    connection_window_size: int = 1024 * 1024
    max_header_list_size: int = 16_384
    max_header_count: int = 100
    max_continuation_frames: int = 32
    reset_burst: int = 200
    reset_rate: float = 100.0
    control_burst: int = 100
    control_rate: float = 20.0

    def __post_init__(self) -> None:
        _check_int("max_concurrent_streams", self.max_concurrent_streams, 1, 2**31 - 1)
        # Below the protocol default, a client that sends before our SETTINGS
        # arrive would overrun a window it could not know about.
        _check_int("initial_window_size", self.initial_window_size, _DEFAULT_WINDOW, _MAX_WINDOW)
        _check_int(
            "connection_window_size",
            self.connection_window_size,
            self.initial_window_size,
            _MAX_WINDOW,
        )
        _check_int("max_header_list_size", self.max_header_list_size, 1, 2**30)
        _check_int("max_header_count", self.max_header_count, 1, 2**31 - 1)
        _check_int("max_continuation_frames", self.max_continuation_frames, 1, 1024)
        _check_int("reset_burst", self.reset_burst, 1, 2**31 - 1)
        _check_int("control_burst", self.control_burst, 1, 2**31 - 1)
        _check_rate("reset_rate", self.reset_rate)
        _check_rate("control_rate", self.control_rate)

    @property
    def header_block_limit(self) -> int:
        """Most bytes of one encoded header block (HEADERS plus CONTINUATION)."""
        return 2 * self.max_header_list_size

    @property
    def decoded_header_limit(self) -> int:
        """Most bytes a header block may decode to before it counts as an HPACK bomb."""
        return 2 * self.max_header_list_size
