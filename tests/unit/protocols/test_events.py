"""Protocol-neutral events: validation on construction and the trusted path."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    InformationalResponse,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseHead,
    StreamReset,
    UpgradeRequested,
)
from pounce_protocols._websocket_events import (
    BytesReceived,
    TextReceived,
    bytes_received,
    text_received,
)


def request_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "stream_id": 1,
        "method": b"GET",
        "path": b"/",
        "query_string": b"",
        "http_version": "1.1",
        "headers": ((b"host", b"example.com"),),
    }
    fields.update(changes)
    return fields


# ------------------------------------------------------- valid construction


def test_request_received_defaults() -> None:
    event = RequestReceived(**request_fields())
    assert (event.scheme, event.authority, event.expect_continue) == (None, None, False)


@pytest.mark.parametrize("version", ["1.0", "1.1", "2", "3"])
def test_every_http_version_is_accepted(version: str) -> None:
    assert RequestReceived(**request_fields(http_version=version)).http_version == version


def test_events_are_frozen_slotted_and_keyword_only() -> None:
    event = BodyReceived(stream_id=1, data=b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = b"y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    with pytest.raises(TypeError):
        BodyReceived(1, b"x")  # type: ignore[call-arg]


def test_events_compare_by_value() -> None:
    assert BodyEnded(stream_id=3, trailers=((b"a", b"b"),)) == BodyEnded(
        stream_id=3, trailers=((b"a", b"b"),)
    )
    assert ConnectionLost() == ConnectionLost()
    assert StreamReset(stream_id=1) != StreamReset(stream_id=1, error_code=8)


def test_upgrade_requested_is_a_request() -> None:
    event = UpgradeRequested(**request_fields(), protocol=b"websocket")
    assert isinstance(event, RequestReceived)


def test_response_head_allows_101_and_app_statuses() -> None:
    assert ResponseHead(stream_id=1, status=101).status == 101
    assert ResponseHead(stream_id=1, status=999).status == 999
    assert ResponseHead(stream_id=1, status=200, headers=((b"X-Mixed-Case", b"v"),))


# ---------------------------------------------------------- invalid fields


@pytest.mark.parametrize(
    "stream_id",
    [-1, "1", 1.0, None, True],
    ids=["negative", "str", "float", "none", "bool"],
)
@pytest.mark.parametrize(
    "build",
    [
        lambda sid: RequestReceived(**request_fields(stream_id=sid)),
        lambda sid: BodyReceived(stream_id=sid, data=b""),
        lambda sid: BodyEnded(stream_id=sid),
        lambda sid: InformationalResponse(stream_id=sid, status=100),
        lambda sid: ResponseHead(stream_id=sid, status=200),
        lambda sid: ResponseBody(stream_id=sid, data=b""),
        lambda sid: ResponseEnd(stream_id=sid),
    ],
    ids=[
        "RequestReceived",
        "BodyReceived",
        "BodyEnded",
        "InformationalResponse",
        "ResponseHead",
        "ResponseBody",
        "ResponseEnd",
    ],
)
def test_bad_stream_id_is_refused(build: Any, stream_id: object) -> None:
    with pytest.raises(ValueError, match="stream_id must be a non-negative int"):
        build(stream_id)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        pytest.param({"method": b"G T"}, ValueError, "invalid method", id="method-space"),
        pytest.param({"method": b""}, ValueError, "invalid method", id="method-empty"),
        pytest.param({"method": b"GET\r\n"}, ValueError, "invalid method", id="method-crlf"),
        pytest.param({"method": "GET"}, ValueError, "invalid method", id="method-str"),
        pytest.param({"path": b""}, ValueError, "path must be non-empty", id="path-empty"),
        pytest.param({"path": "/"}, ValueError, "path must be non-empty", id="path-str"),
        pytest.param({"query_string": "a=1"}, TypeError, "query_string", id="query-str"),
        pytest.param({"http_version": "1.2"}, ValueError, "http_version", id="version-1.2"),
        pytest.param({"http_version": b"1.1"}, ValueError, "http_version", id="version-bytes"),
        pytest.param({"headers": [(b"a", b"b")]}, TypeError, "tuple", id="headers-list"),
        pytest.param({"headers": ((b"a",),)}, TypeError, "pair", id="header-not-pair"),
        pytest.param({"headers": (("a", b"b"),)}, TypeError, "pair", id="header-name-str"),
        pytest.param({"headers": ((b"a", "b"),)}, TypeError, "pair", id="header-value-str"),
        pytest.param({"headers": ((b"Host", b"x"),)}, ValueError, "lowercase", id="uppercase"),
        pytest.param({"headers": ((b"a b", b"x"),)}, ValueError, "header name", id="name-space"),
        pytest.param({"headers": ((b"", b"x"),)}, ValueError, "header name", id="name-empty"),
        pytest.param({"headers": ((b"a:", b"x"),)}, ValueError, "header name", id="name-colon"),
    ],
)
def test_invalid_request_fields(changes: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        RequestReceived(**request_fields(**changes))


@pytest.mark.parametrize(
    "protocol", [b"", b"web socket", "websocket"], ids=["empty", "space", "str"]
)
def test_invalid_upgrade_protocol(protocol: object) -> None:
    with pytest.raises(ValueError, match="invalid upgrade protocol"):
        UpgradeRequested(**request_fields(), protocol=protocol)  # type: ignore[arg-type]


def test_body_data_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="data must be bytes"):
        BodyReceived(stream_id=1, data="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="data must be bytes"):
        ResponseBody(stream_id=1, data=bytearray(b"x"))  # type: ignore[arg-type]


def test_trailers_must_be_lowercase_only_on_the_request_side() -> None:
    with pytest.raises(ValueError, match="lowercase"):
        BodyEnded(stream_id=1, trailers=((b"X-T", b"1"),))
    assert ResponseEnd(stream_id=1, trailers=((b"X-T", b"1"),)).trailers == ((b"X-T", b"1"),)


@pytest.mark.parametrize(
    "status", [99, 200, 101, 1000, True, 100.0], ids=["99", "200", "101", "1000", "bool", "float"]
)
def test_informational_status_out_of_range(status: object) -> None:
    with pytest.raises(ValueError, match=r"status|101"):
        InformationalResponse(stream_id=1, status=status)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [100, 103, 199, 1000, 0, -200, False, "200"], ids=str)
def test_response_status_out_of_range(status: object) -> None:
    with pytest.raises(ValueError, match=r"status|interim"):
        ResponseHead(stream_id=1, status=status)  # type: ignore[arg-type]


def test_response_header_name_must_be_a_token() -> None:
    with pytest.raises(ValueError, match="invalid header name"):
        ResponseHead(stream_id=1, status=200, headers=((b"x y", b"1"),))
    with pytest.raises(ValueError, match="invalid header name"):
        InformationalResponse(stream_id=1, status=103, headers=((b"li\nnk", b"1"),))


# ------------------------------------------------------------ trusted path


def test_trusted_request_skips_validation() -> None:
    # The parser builds its events with _trusted=True: nothing is re-checked.
    event = RequestReceived(
        **request_fields(stream_id=-1, method=b"G T", headers=[]), _trusted=True
    )
    assert event.stream_id == -1
    assert event.method == b"G T"


@pytest.mark.parametrize(
    "build",
    [
        lambda: UpgradeRequested(**request_fields(stream_id=-1), protocol=b"", _trusted=True),
        lambda: BodyReceived(stream_id=-1, data="not bytes", _trusted=True),  # type: ignore[arg-type]
        lambda: BodyEnded(stream_id=-1, trailers=((b"UPPER", b"x"),), _trusted=True),
        lambda: ResponseHead(stream_id=-1, status=42, _trusted=True),
        lambda: ResponseBody(stream_id=-1, data="not bytes", _trusted=True),  # type: ignore[arg-type]
    ],
    ids=["UpgradeRequested", "BodyReceived", "BodyEnded", "ResponseHead", "ResponseBody"],
)
def test_trusted_fast_path_skips_validation(build: Any) -> None:
    assert build().stream_id == -1


def test_trusted_flag_is_not_a_field() -> None:
    event = BodyReceived(stream_id=1, data=b"x", _trusted=True)
    assert "_trusted" not in {f.name for f in dataclasses.fields(event)}
    assert event == BodyReceived(stream_id=1, data=b"x")


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (text_received("héllo"), TextReceived(text="héllo")),
        (text_received(""), TextReceived(text="")),
        (bytes_received(b"\x00\xff"), BytesReceived(data=b"\x00\xff")),
    ],
)
def test_the_machines_message_events_are_ordinary_events(built: Any, expected: Any) -> None:
    """Built without ``__init__``, they compare, hash, print and stay frozen as usual."""
    assert type(built) is type(expected)
    assert built == expected
    assert hash(built) == hash(expected)
    assert repr(built) == repr(expected)
    assert dataclasses.astuple(built) == dataclasses.astuple(expected)
    (field,) = dataclasses.fields(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, field.name, getattr(built, field.name))
