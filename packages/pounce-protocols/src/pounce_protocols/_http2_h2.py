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
from pounce_protocols._http2_gate import PREFACE, HTTP2ErrorCode
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
    Fields,
    ResetStreams,
    WireError,
    local_settings,
)

__all__ = ["H2Core"]

_DEFAULT_WINDOW = 65_535
_PRIORITY_UPDATE = 0x10  # RFC 9218 §7.1
_RST_STREAM = 0x3
_STREAM_CLOSED = HTTP2ErrorCode.STREAM_CLOSED
# What h2 is told about the stream limit (see the module docstring).
_UNLIMITED = 2**31 - 1


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

    __slots__ = (
        "_h2",
        "_held",
        "_limits",
        "_preface_left",
        "_queued",
        "_reset_by_us",
    )

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
        self._preface_left = len(PREFACE)
        self._held = b""
        self._reset_by_us = ResetStreams(limits.max_concurrent_streams)

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
            # Nothing goes out: the request is still answered in HTTP/1.1.
            self._h2.clear_outbound_data_buffer()
            raise WireError(str(exc)) from None
        self._started()

    # ---------------------------------------------------------- receiving

    def receive(self, data: bytes) -> list[CoreEvent]:
        conn = self._h2
        self._queued += conn.data_to_send()  # keep what the machine queued in front
        events: list[CoreEvent] = []
        try:
            # One frame at a time, so that each RST_STREAM h2 queues is known
            # to answer that frame (see _without_late_resets).
            for piece in self._pieces(data):
                reset_now = self._translate(conn.receive_data(piece), events)
                self._queued += self._without_late_resets(conn.data_to_send())
                for stream_id in reset_now:
                    self._reset_by_us.add(stream_id)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued its GOAWAY already; the events of this read are lost.
            self._queued += self._without_late_resets(conn.data_to_send())
            raise RemoteProtocolError(_describe(exc), error_code=int(exc.error_code)) from None
        except Exception as exc:  # noqa: BLE001 - hostile input must not crash the server
            self.close(HTTP2ErrorCode.PROTOCOL_ERROR)
            raise RemoteProtocolError(f"undecodable HTTP/2 input: {exc!r}") from None
        return events

    def _pieces(self, data: bytes) -> list[bytes]:
        """``data`` cut where its frames end (the preface apart), for h2 to
        take one by one; a frame's first bytes go to h2 as they come."""
        pieces = []
        if self._preface_left:
            taken = min(self._preface_left, len(data))
            pieces.append(data[:taken])
            data = data[taken:]
            self._preface_left -= taken
        held = self._held  # the start of a frame that h2 has already
        buffer = held + data
        fed = len(held)
        pos = 0
        size = len(buffer)
        while size - pos >= 9:
            end = pos + 9 + int.from_bytes(buffer[pos : pos + 3], "big")
            if end > size:
                break
            if end > fed:
                pieces.append(buffer[max(pos, fed) : end])
            pos = end
        if size > max(pos, fed):
            pieces.append(buffer[max(pos, fed) :])
        self._held = buffer[pos:]
        return pieces

    def _translate(self, h2_events: list[h2.events.Event], events: list[CoreEvent]) -> list[int]:
        """h2's events as the core's; the streams h2 reset on its own."""
        reset_now = []
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
        return reset_now

    def _without_late_resets(self, out: bytes) -> bytes:
        """h2's answer to one frame, without the RST_STREAM(STREAM_CLOSED) it
        sends for a frame in flight on a stream we had reset (see the module
        docstring)."""
        known = self._reset_by_us
        if not known or b"\x00\x00\x04\x03" not in out:
            return out
        kept = bytearray()
        pos = 0
        size = len(out)
        while pos + 9 <= size:
            length = int.from_bytes(out[pos : pos + 3], "big")
            end = pos + 9 + length
            if (
                out[pos + 3] == _RST_STREAM
                and int.from_bytes(out[pos + 5 : pos + 9], "big") in known
                and int.from_bytes(out[pos + 9 : end], "big") == _STREAM_CLOSED
            ):
                pos = end
                continue
            kept += out[pos:end]
            pos = end
        kept += out[pos:]
        return bytes(kept)

    # ------------------------------------------------------------ sending

    def send_headers(
        self, stream_id: int, status: int | None, fields: Fields, end_stream: bool
    ) -> None:
        block = list(fields) if status is None else [(b":status", b"%d" % status), *fields]
        try:
            self._h2.send_headers(stream_id, block, end_stream=end_stream)
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
        self._reset_by_us.add(stream_id)

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
