"""The level filter syntax: ``*``, ``1,2,3``, ``1-5`` and mixes."""

from __future__ import annotations

import pytest

from watchkeeper.agent.levels import STATSD, parse_levels


def test_star_takes_every_level_but_statsd():
    every = parse_levels("*")
    assert all(level in every for level in (1, 2, 9, 20, 30, 42))
    assert STATSD not in every


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("1,2,3", {1, 2, 3}, {4, 10, 20}),
        ("1-5", {1, 3, 5}, {0, 6, 10}),
        ("1,2,6-9", {1, 2, 6, 9}, {3, 5, 10}),
        ("10", {10}, {1, 9}),
        (7, {7}, {1}),
        ([20, 30], {20, 30}, {21}),
    ],
)
def test_lists_and_ranges(spec, inside, outside):
    levels = parse_levels(spec)
    assert all(level in levels for level in inside)
    assert not any(level in levels for level in outside)


@pytest.mark.parametrize("spec", ["5-1", "a", "1,,2", "1-", "100", True, [1, "2"]])
def test_bad_filters_are_refused(spec):
    with pytest.raises(ValueError):
        parse_levels(spec)
