"""Times: the unit of an epoch number by magnitude, the accepted range, and rendering that
never fails; and integers as query text."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.api.errors import ApiError
from watchkeeper.api.params import parse_when
from watchkeeper.events.fields import MAX_INT, int_from_text
from watchkeeper.events.timefmt import (
    MAX_TIME,
    MIN_TIME,
    epoch_seconds,
    iso,
    parse_time,
    seconds_of,
    strftime,
)

MAY_1 = 1_714_557_600.0  # 2024-05-01T10:00:00Z


@pytest.mark.parametrize(
    "number",
    [MAY_1, MAY_1 * 1e3, MAY_1 * 1e6, MAY_1 * 1e9, int(MAY_1 * 1e3), int(MAY_1 * 1e9)],
    ids=["seconds", "milliseconds", "microseconds", "nanoseconds", "ms-int", "ns-int"],
)
def test_every_unit_means_the_same_moment(number):
    assert parse_time(number) == pytest.approx(MAY_1, abs=1e-3)
    assert iso(parse_time(number)) == "2024-05-01T10:00:00.000Z"


def test_unit_boundaries():
    assert epoch_seconds(99_999_999_999) == 99_999_999_999  # still seconds (out of range)
    assert epoch_seconds(100_000_000_000) == pytest.approx(1e8)  # milliseconds from here
    assert epoch_seconds(1e14) == pytest.approx(1e8)  # microseconds
    assert epoch_seconds(1e17) == pytest.approx(1e8)  # nanoseconds
    # 253402300800 is year 10000 in seconds, so it is read as milliseconds: 1978.
    as_ms = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=253_402_300_800)
    assert parse_time(253_402_300_800) == pytest.approx(as_ms.timestamp())
    assert iso(parse_time(253_402_300_800)).startswith("1978-01-11T")


@pytest.mark.parametrize(
    "value",
    [
        1e300,
        -1,
        MAX_TIME + 1,
        99_999_999_999,  # seconds, year 5138
        10**30,
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:01Z",
    ],
)
def test_times_outside_the_range_are_refused_with_the_value_and_the_range(value):
    with pytest.raises(ValueError) as caught:
        parse_time(value)
    reason = str(caught.value)
    assert repr(value) in reason
    assert "1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z" in reason


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, True, None, [1]])
def test_non_times_are_refused(value):
    with pytest.raises(ValueError):
        parse_time(value)


def test_the_range_ends_are_accepted():
    assert parse_time(0) == MIN_TIME
    assert parse_time("2200-01-01T00:00:00Z") == MAX_TIME


@pytest.mark.parametrize("stored", [1e300, -1e300, 1_714_557_600_000.0, -62_135_596_801.0])
def test_a_stored_time_no_date_can_show_is_rendered_raw(stored):
    shown = iso(stored)
    assert shown == repr(stored)
    assert strftime(stored, "%Y") == repr(stored)
    assert seconds_of(shown) == stored


@pytest.mark.parametrize("stored", [math.inf, math.nan])
def test_non_finite_stored_times_are_rendered_raw(stored):
    assert iso(stored) == repr(stored)


def test_seconds_of_reads_back_what_iso_wrote():
    assert seconds_of(iso(MAY_1)) == MAY_1


def test_query_times_follow_the_same_units_and_range():
    assert parse_when("since", str(MAY_1 * 1e3)) == pytest.approx(MAY_1)
    assert parse_when("since", str(int(MAY_1 * 1e9))) == pytest.approx(MAY_1)
    assert parse_when("since", "-1h", now=MAY_1) == MAY_1 - 3600
    for bad in ("1e300", "5e20", "-99999999999w", "nan", "inf", "0001-01-01T00:00:00+14:00"):
        with pytest.raises(ApiError) as caught:
            parse_when("since", bad, now=MAY_1)
        assert caught.value.status == 422
        assert caught.value.details[0]["path"] == "query.since"


@pytest.mark.parametrize(
    ("text", "low", "expected"),
    [
        ("0", 0, 0),
        (" 42 ", 0, 42),
        ("-3", -5, -3),
        (str(MAX_INT), 0, MAX_INT),
        (str(MAX_INT + 1), 0, None),
        ("9" * 5000, 0, None),
        ("-1", 0, None),
        ("²", 0, None),  # str.isdigit says yes, int() says no
        ("١٢", 0, None),  # int() says 12: not ASCII digits all the same
        ("1e3", 0, None),
        ("", 0, None),
    ],
)
def test_integers_as_text(text, low, expected):
    assert int_from_text(text, low=low) == expected
