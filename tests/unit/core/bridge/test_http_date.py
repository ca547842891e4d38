"""``HTTPDateCache``: IMF-fixdate, formatted once per second."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from pounce._bridge import http_date as _http_date
from pounce._bridge.http_date import HTTPDateCache

IMF_FIXDATE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    rb"\d{4} \d\d:\d\d:\d\d GMT"
)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    fake = SimpleNamespace(now=0.0)
    monkeypatch.setattr(_http_date, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


def test_format_matches_rfc_9110_example(clock: SimpleNamespace) -> None:
    clock.now = 784111777.0  # RFC 9110 §5.6.7: Sun, 06 Nov 1994 08:49:37 GMT
    assert HTTPDateCache().value() == b"Sun, 06 Nov 1994 08:49:37 GMT"


def test_real_clock_gives_an_imf_fixdate() -> None:
    assert IMF_FIXDATE.fullmatch(HTTPDateCache().value())


def test_value_is_reused_within_a_second(clock: SimpleNamespace) -> None:
    cache = HTTPDateCache()
    clock.now = 1_700_000_000.1
    first = cache.value()
    clock.now = 1_700_000_000.9
    assert cache.value() is first
    clock.now = 1_700_000_001.0
    second = cache.value()
    assert second == b"Tue, 14 Nov 2023 22:13:21 GMT"
    assert first == b"Tue, 14 Nov 2023 22:13:20 GMT"


def test_single_digit_day_is_zero_padded(clock: SimpleNamespace) -> None:
    clock.now = 1_704_153_600.0  # 2024-01-02 00:00:00 UTC
    assert HTTPDateCache().value() == b"Tue, 02 Jan 2024 00:00:00 GMT"
