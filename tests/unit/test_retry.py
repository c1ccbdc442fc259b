"""The shared retry policy: full jitter, Retry-After honoured and capped."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from watchkeeper.retry import Backoff, retry_after

NOW = 1_714_557_600.0  # 2024-05-01T10:00:00Z


def fixed(value: float) -> Backoff:
    return Backoff(base=0.5, cap=8.0, random=lambda: value, clock=lambda: NOW)


@pytest.mark.parametrize(
    ("attempt", "window"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (10**6, 8.0)],
)
def test_the_delay_is_drawn_over_the_whole_capped_window(attempt, window):
    assert fixed(0.0).delay(attempt) == 0.0
    assert fixed(0.5).delay(attempt) == pytest.approx(window / 2)
    assert fixed(0.999999).delay(attempt) == pytest.approx(window, rel=1e-5)
    assert fixed(0.999999).delay(attempt) < window


def test_senders_told_the_same_thing_spread_out():
    """Exact doubling would give every sender the same instant; full jitter does not."""
    senders = [Backoff(base=1.0, cap=30.0, random=random.Random(i).random) for i in range(50)]
    for attempt in range(4):
        delays = [s.delay(attempt) for s in senders]
        window = min(30.0, 2.0**attempt)
        assert all(0 <= d < window for d in delays)
        assert len({round(d, 6) for d in delays}) == len(delays)
        # spread over the window, not bunched at one end
        assert min(delays) < window / 4 and max(delays) > 3 * window / 4


def test_retry_after_is_a_floor_with_jitter_on_top_and_capped():
    assert fixed(0.0).delay(0, retry_after=3.0) == 3.0
    assert fixed(0.5).delay(0, retry_after=3.0) == pytest.approx(3.25)
    assert fixed(0.5).delay(2, retry_after=3.0) == pytest.approx(4.0)
    # a server asking for an hour does not park the sender beyond the cap
    assert fixed(0.0).delay(0, retry_after=3600.0) == 8.0
    assert fixed(0.9).delay(9, retry_after=7.9) == 8.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2 ", 2.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        ("Wed, 01 May 2024 10:02:00 GMT", 120.0),
        ("Wed, 01 May 2024 09:00:00 GMT", 0.0),  # already past: no wait
        (None, None),
        ("", None),
        ("-3", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_header_forms(header, seconds):
    assert retry_after(header, NOW) == seconds


def test_after_reads_the_answer():
    policy = fixed(0.0)
    assert policy.after(3, None) == 0.0
    assert policy.after(0, httpx.Response(503, headers={"Retry-After": "5"})) == 5.0
    dated = httpx.Response(429, headers={"Retry-After": "Wed, 01 May 2024 10:00:06 GMT"})
    assert policy.after(0, dated) == 6.0
    assert fixed(0.5).after(1, httpx.Response(502)) == pytest.approx(0.5)


def test_each_delay_draws_afresh():
    draws = itertools.cycle([0.1, 0.9])
    policy = Backoff(base=1.0, cap=10.0, random=lambda: next(draws))
    assert [policy.delay(3) for _ in range(4)] == pytest.approx([0.8, 7.2, 0.8, 7.2])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(cap=-1)
