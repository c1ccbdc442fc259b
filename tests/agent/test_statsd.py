"""The per-program statsd aggregator against the original's vectors."""

from __future__ import annotations

import pytest

from watchkeeper.statsd import Statsd


def pairs(series) -> dict[str, float]:
    assert all(tags is None for _, _, tags in series)
    return {name: value for name, value, _ in series}


def flushed(*lines: str, prefix: str = "1.7.d.n") -> dict[str, float]:
    agg = Statsd(prefix)
    for line in lines:
        assert agg.feed_line(line) is None, line
    return pairs(agg.flush())


def test_gauges_move_with_signed_deltas():
    assert flushed("test:+1|g", "test:+4|g", "test:-2|g", "test:+4.5|g") == {"1.7.d.n.test": 7.5}


def test_counters_sum():
    assert flushed("test:1|c", "test:2|c", "test:1|c", "test:0.5|c") == {"1.7.d.n.test": 4.5}


def test_counters_scale_by_sample_rate():
    assert flushed("hits:1|c|@0.1", "hits:2|c") == {"1.7.d.n.hits": 12.0}


def test_kv_keeps_the_last_value():
    assert flushed("test:1|kv", "test:2|kv", "test:0.5|kv") == {"1.7.d.n.test": 0.5}


def test_sets_count_distinct_values():
    lines = [f"test:{v}|s" for v in ("azmy", "yahia", "yahia", "yahia", "azmy")]
    assert flushed(*lines) == {"1.7.d.n.test": 2}


def test_timers():
    series = flushed(*(f"test:{v}|ms" for v in (100, 150, 90, 122, 70)))
    assert series == {
        "1.7.d.n.test.count": 5,
        "1.7.d.n.test.mean": pytest.approx(106.4),
        "1.7.d.n.test.lower": 70,
        "1.7.d.n.test.upper": 150,
        "1.7.d.n.test.sum": 532,
        "1.7.d.n.test.upper_90": 150,
    }


def test_upper_90_of_ten_values_drops_the_largest():
    series = flushed(*(f"t:{v}|ms" for v in range(1, 11)))
    assert series["1.7.d.n.t.upper_90"] == 9


def test_mixed_and_flush_resets_all_but_gauges():
    agg = Statsd("p")
    errors = agg.feed("a:1|c\nb:+2|g\nc:x|s\nd:5|ms\nb:-1|g\n")
    assert errors == []
    assert pairs(agg.flush()) == {
        "p.a": 1,
        "p.b": 1,
        "p.c": 1,
        "p.d.count": 1,
        "p.d.mean": 5,
        "p.d.lower": 5,
        "p.d.upper": 5,
        "p.d.sum": 5,
        "p.d.upper_90": 5,
    }
    assert pairs(agg.flush()) == {"p.b": 1}


@pytest.mark.parametrize(
    "line", ["nothing", "k:1", "k:abc|c", "k:1|zz", "k:1|c|@2", "k:nan|g", ":1|c"]
)
def test_bad_lines_are_reported_not_counted(line):
    agg = Statsd("p")
    assert agg.feed_line(line) is not None
    assert agg.flush() == []
