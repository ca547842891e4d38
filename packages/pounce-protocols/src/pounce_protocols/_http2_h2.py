"""The reference wire core: the ``h2`` library behind the :mod:`._http2_wire` contract.

``h2`` frames, decodes HPACK, keeps the stream states and windows. This
adapter changes three things about how it answers the peer, each to follow
RFC 9113 where ``h2`` reads it otherwise:

* **The stream limit is ours to apply.** ``h2`` treats a HEADERS frame over
  our SETTINGS_MAX_CONCURRENT_STREAMS as a connection error, before it has
  decoded the header block, even in a client's first flight, sent before it
  could see our SETTINGS (§6.5.2). The limit goes out in our SETTINGS as
  configured, but ``h2`` is told none; the machine refuses the stream over it
  (RST_STREAM REFUSED_STREAM, §5.1.2) and serves the others.
* **Frames in flight on a stream we reset are ignored** (§5.1): ``h2``
  answers each with RST_STREAM(STREAM_CLOSED). Those answers are taken out of
  what it queued; ``h2`` still decodes their header blocks (HPACK state) and
  credits their DATA to the connection window.
* **Errors say what was wrong**: ``h2``'s exception for a frame on a closed
  stream prints as the bare stream id.
"""

from __future__ import annotations

import base64
import contextlib
import re
from typing import cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

from pounce_protocols._errors import RemoteProtocolError
from pounce_protocols._http2_gate import HTTP2ErrorCode
from pounce_protocols._http2_limits import HTTP2Limits
from pounce_protocols._http2_wire import (
    DATA,
    PRIORITY,
    REQUEST,
    RESET,
    SETTINGS,
    TRAILERS,
    WINDOW,
    CoreEvent,
    WireError,
    reset_memory,
)

__all__ = ["H2Core", "local_settings"]

_DEFAULT_WINDOW = 65_535
_PRIORITY_UPDATE = 0x10  # RFC 9218 §7.1
_NO_RFC7540_PRIORITIES = 0x9  # RFC 9218 §2.1
_RST_STREAM = 0x3
_STREAM_CLOSED = HTTP2ErrorCode.STREAM_CLOSED
# What h2 is told about the stream limit (see the module docstring).
_UNLIMITED = 2**31 - 1


def local_settings(limits: HTTP2Limits) -> dict[int, int]:
    """Our SETTINGS, in the order they are sent (``h2``'s defaults first)."""
    codes = h2.settings.SettingCodes
    values = {
        codes.HEADER_TABLE_SIZE: 4096,
        codes.ENABLE_PUSH: 0,
        codes.INITIAL_WINDOW_SIZE: limits.initial_window_size,
        codes.MAX_FRAME_SIZE: 16_384,
        codes.ENABLE_CONNECT_PROTOCOL: int(limits.enable_connect_protocol),
        codes.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
        codes.MAX_HEADER_LIST_SIZE: limits.max_header_list_size,
        _NO_RFC7540_PRIORITIES: 1,
    }
    return {int(code): value for code, value in values.items()}


# h2's stream state machine names the input and a state number.
_STATE_MACHINE = re.compile(r"Invalid input StreamInputs\.(RECV|SEND)_(\w+) in state (\d+)")
_STATES = ("idle", "reserved", "reserved", "open", "half-closed", "half-closed", "closed")


def _describe(exc: h2.exceptions.ProtocolError) -> str:
    """What the peer did wrong, in words (some of h2's errors print as a number)."""
    if isinstance(exc, h2.exceptions.StreamClosedError):
        return f"frame on stream {exc.stream_id}, which is closed"
    if isinstance(exc, h2.exceptions.NoSuchStreamError):
        return f"frame on stream {exc.stream_id}, which was never opened"
    if isinstance(exc, h2.exceptions.StreamIDTooLowError):
        return (
            f"frame opening stream {exc.stream_id}, lower than stream "
            f"{exc.max_stream_id} already opened"
        )
    message = str(exc)
    found = _STATE_MACHINE.fullmatch(message)
    if found is not None:
        what = found[2].replace("_", " ").replace("INFORMATIONAL HEADERS", "1xx HEADERS")
        state = _STATES[int(found[3])] if int(found[3]) < len(_STATES) else found[3]
        verb = "received" if found[1] == "RECV" else "sent"
        return f"{what} frame {verb} on a stream that is {state}"
    return message or type(exc).__name__


class H2Core:
    """:class:`~._http2_wire.WireCore` over ``h2`` (see the module docstring)."""

    __slots__ = ("_h2", "_limits", "_queued", "_reset_by_us", "_reset_limit")

    def __init__(self, limits: HTTP2Limits) -> None:
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            # What we send is checked and lowercased by the machine (and
            # :status is ours): h2 checking it again costs every response.
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self._h2 = h2.connection.H2Connection(config)
        self._limits = limits
        self._queued = bytearray()  # what receive() let through of h2's output
        self._reset_by_us: dict[int, None] = {}
        self._reset_limit = reset_memory(limits.max_concurrent_streams)

    # ------------------------------------------------------------ queries

    @property
    def highest_stream_id(self) -> int:
        return self._h2.highest_inbound_stream_id

    @property
    def max_frame_size(self) -> int:
        return self._h2.max_outbound_frame_size

    @property
    def connection_window(self) -> int:
        return self._h2.outbound_flow_control_window

    def send_window(self, stream_id: int) -> int:
        return self._h2.local_flow_control_window(stream_id)

    def stream_window(self, stream_id: int) -> int | None:
        stream = self._h2.streams.get(stream_id)
        return None if stream is None else stream.outbound_flow_control_window

    # ----------------------------------------------------------- starting

    def _configure(self) -> None:
        limits = self._limits
        values = cast("dict[h2.settings.SettingCodes, int]", local_settings(limits))
        # h2's Settings take (and send) any code, though annotated for its own.
        self._h2.local_settings = h2.settings.Settings(client=False, initial_values=values)
        # The advertised list size is answered with 431 per stream; the
        # decoder itself stops at twice that, before a bomb has gone off.
        self._h2.decoder.max_header_list_size = limits.decoded_header_limit

    def _started(self) -> None:
        settings = self._h2.local_settings
        settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = _UNLIMITED
        settings.acknowledge()  # in force at once: the peer never hears of it
        increment = self._limits.connection_window_size - _DEFAULT_WINDOW
        if increment > 0:
            self._h2.increment_flow_control_window(increment)

    def initiate(self) -> None:
        self._configure()
        self._h2.initiate_connection()
        self._started()

    def initiate_upgrade(self, settings: bytes) -> None:
        self._configure()
        try:
            self._h2.initiate_upgrade_connection(base64.urlsafe_b64encode(settings))
        except (h2.exceptions.H2Error, ValueError) as exc:
            raise WireError(str(exc)) from None
        self._started()

    # ---------------------------------------------------------- receiving

    def receive(self, data: bytes) -> list[CoreEvent]:
        conn = self._h2
        self._queued += conn.data_to_send()  # keep what the machine queued in front
        try:
            h2_events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued its GOAWAY already.
            raise RemoteProtocolError(_describe(exc), error_code=int(exc.error_code)) from None
        except Exception as exc:  # noqa: BLE001 - hostile input must not crash the server
            self.close(HTTP2ErrorCode.PROTOCOL_ERROR)
            raise RemoteProtocolError(f"undecodable HTTP/2 input: {exc!r}") from None
        events: list[CoreEvent] = []
        reset_now: list[int] = []
        for event in h2_events:
            kind = type(event)
            if kind is h2.events.DataReceived:
                assert isinstance(event, h2.events.DataReceived)
                events.append(
                    (
                        DATA,
                        event.stream_id or 0,
                        event.data or b"",
                        event.flow_controlled_length or 0,
                        event.stream_ended is not None,
                    )
                )
            elif kind is h2.events.RequestReceived:
                assert isinstance(event, h2.events.RequestReceived)
                fields = cast("list[tuple[bytes, bytes]]", event.headers or [])
                events.append(
                    (REQUEST, event.stream_id or 0, tuple(fields), event.stream_ended is not None)
                )
            elif kind is h2.events.TrailersReceived:
                assert isinstance(event, h2.events.TrailersReceived)
                fields = cast("list[tuple[bytes, bytes]]", event.headers or [])
                events.append(
                    (TRAILERS, event.stream_id or 0, tuple(fields), event.stream_ended is not None)
                )
            elif kind is h2.events.StreamReset:
                assert isinstance(event, h2.events.StreamReset)
                stream_id = event.stream_id or 0
                if not event.remote_reset:
                    reset_now.append(stream_id)
                events.append((RESET, stream_id, int(event.error_code or 0)))
            elif kind is h2.events.WindowUpdated:
                assert isinstance(event, h2.events.WindowUpdated)
                events.append((WINDOW, event.stream_id or 0))
            elif kind is h2.events.RemoteSettingsChanged:
                events.append((SETTINGS,))
            elif kind is h2.events.UnknownFrameReceived:
                assert isinstance(event, h2.events.UnknownFrameReceived)
                frame = event.frame
                if (
                    isinstance(frame, hyperframe.frame.ExtensionFrame)
                    and frame.type == _PRIORITY_UPDATE
                ):
                    events.append((PRIORITY, frame.body))
            # PING, SETTINGS acknowledgements, PRIORITY and other unknown
            # frames need nothing from the machine: h2 answers what must be.
        self._queued += self._without_late_resets(conn.data_to_send(), reset_now)
        for stream_id in reset_now:
            self._remember_reset(stream_id)
        return events

    def _without_late_resets(self, out: bytes, reset_now: list[int]) -> bytes:
        """``out`` without the RST_STREAM(STREAM_CLOSED) frames h2 sent for
        frames in flight on streams we had reset (see the module docstring).

        A stream h2 reset in this very read keeps its first RST_STREAM: that
        one is the reset."""
        known = self._reset_by_us
        if not (known or reset_now) or b"\x00\x00\x04\x03" not in out:
            return out
        first = set(reset_now)
        kept = bytearray()
        pos = 0
        size = len(out)
        while pos + 9 <= size:
            length = int.from_bytes(out[pos : pos + 3], "big")
            end = pos + 9 + length
            if out[pos + 3] == _RST_STREAM and length == 4:
                stream_id = int.from_bytes(out[pos + 5 : pos + 9], "big") & 0x7FFF_FFFF
                if stream_id in first:
                    first.discard(stream_id)  # the reset itself
                elif (stream_id in known or stream_id in reset_now) and int.from_bytes(
                    out[pos + 9 : end], "big"
                ) == _STREAM_CLOSED:
                    pos = end
                    continue
            kept += out[pos:end]
            pos = end
        kept += out[pos:]
        return bytes(kept)

    def _remember_reset(self, stream_id: int) -> None:
        known = self._reset_by_us
        known[stream_id] = None
        if len(known) > self._reset_limit:
            del known[next(iter(known))]

    # ------------------------------------------------------------ sending

    def send_headers(
        self, stream_id: int, fields: list[tuple[bytes, bytes]], end_stream: bool
    ) -> None:
        try:
            self._h2.send_headers(stream_id, fields, end_stream=end_stream)
        except h2.exceptions.H2Error as exc:
            raise WireError(str(exc)) from None

    def send_data(self, stream_id: int, data: bytes | memoryview, end_stream: bool) -> None:
        try:
            self._h2.send_data(stream_id, data, end_stream=end_stream)
        except h2.exceptions.H2Error as exc:
            raise WireError(str(exc)) from None

    def end_stream(self, stream_id: int) -> None:
        try:
            self._h2.end_stream(stream_id)
        except h2.exceptions.H2Error as exc:
            raise WireError(str(exc)) from None

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        try:
            self._h2.reset_stream(stream_id, error_code)
        except h2.exceptions.H2Error as exc:
            raise WireError(str(exc)) from None
        self._remember_reset(stream_id)

    def increment_window(self, increment: int, stream_id: int = 0) -> None:
        try:
            self._h2.increment_flow_control_window(increment, stream_id=stream_id or None)
        except (h2.exceptions.H2Error, KeyError) as exc:
            raise WireError(str(exc)) from None

    def close(self, error_code: int, last_stream_id: int | None = None) -> None:
        with contextlib.suppress(h2.exceptions.H2Error):  # h2 may have closed already
            self._h2.close_connection(error_code=error_code, last_stream_id=last_stream_id)

    def data_to_send(self) -> bytes:
        queued = self._queued
        if queued:
            queued += self._h2.data_to_send()
            data = bytes(queued)
            queued.clear()
            return data
        return self._h2.data_to_send()
