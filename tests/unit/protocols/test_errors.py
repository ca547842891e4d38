"""Protocol errors carry the response they imply."""

from __future__ import annotations

import pytest

from pounce_protocols import LocalProtocolError, ProtocolError, RemoteProtocolError


def test_remote_error_defaults_to_400_and_local_to_500() -> None:
    assert RemoteProtocolError("x").status_hint == 400
    assert LocalProtocolError("x").status_hint == 500
    assert RemoteProtocolError("x").error_code is None


def test_both_families_share_one_base() -> None:
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(LocalProtocolError, ProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)


def test_error_keeps_message_status_and_code() -> None:
    exc = RemoteProtocolError("too big", status_hint=431, error_code=7)
    assert (str(exc), exc.status_hint, exc.error_code) == ("too big", 431, 7)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "Bad Request"), (505, "HTTP Version Not Supported"), (599, "Error")],
    ids=str,
)
def test_reason_phrase(status: int, reason: str) -> None:
    assert RemoteProtocolError("x", status_hint=status).reason == reason


@pytest.mark.parametrize("status", [200, 399, 600, 101], ids=str)
@pytest.mark.parametrize("cls", [RemoteProtocolError, LocalProtocolError])
def test_status_hint_must_be_an_error_status(cls: type[ProtocolError], status: int) -> None:
    with pytest.raises(ValueError, match="status_hint must be a 4xx or 5xx"):
        cls("x", status_hint=status)
