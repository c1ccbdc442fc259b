"""The statsd line protocol of the shared aggregator, as the server's input configures it:
tags, several values and lines per packet, percentiles, sample rates, malformed lines."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.statsd import MAX_KEYS, Statsd


def server(percentiles=(90,)) -> Statsd:
    return Statsd("", percentiles=percentiles, percentile_stats=("upper", "mean"))


def flushed(agg: Statsd) -> dict[tuple[str, tuple], float]:
    return {(n, tuple(sorted((t or {}).items()))): v for n, v, t in agg.flush()}


def test_seed_vectors_hold_on_the_server_too():
    agg = server()
    text = "\n".join(
        [
            *(f"g:{v}|g" for v in ("+1", "+4", "-2", "+4.5")),
            *(f"c:{v}|c" for v in (1, 2, 1, 0.5)),
            *(f"s:{v}|s" for v in ("azmy", "yahia", "yahia", "yahia", "azmy")),
            *(f"t:{v}|ms" for v in (100, 150, 90, 122, 70)),
        ]
    )
    assert agg.feed(text) == []
    got = {n: v for (n, _), v in flushed(agg).items()}
    assert got == {
        "g": 7.5,
        "c": 4.5,
        "s": 2,
        "t.count": 5,
        "t.mean": pytest.approx(106.4),
        "t.lower": 70,
        "t.upper": 150,
        "t.sum": 532,
        "t.upper_90": 150,
        "t.mean_90": pytest.approx(106.4),
    }


def reference(values: list[float], pct: float) -> tuple[float, float] | None:
    """upper_N and mean_N as statsd defines them: of the lowest round(N% of n) values."""
    ordered = sorted(values)
    n = len(ordered)
    keep = n if n == 1 else int(pct * n / 100 + 0.5)
    if keep == 0:
        return None
    lowest = ordered[:keep]
    return lowest[-1], sum(lowest) / keep


@given(
    st.lists(st.integers(-10_000, 10_000), min_size=1, max_size=200),
    st.sampled_from([50, 75, 90, 95, 99, 99.9, 10]),
)
def test_percentiles_against_a_reference(values, pct):
    agg = server(percentiles=(pct,))
    agg.feed("\n".join(f"lat:{v}|ms" for v in values))
    got = {n: v for (n, _), v in flushed(agg).items()}
    suffix = f"{pct:g}".replace(".", "_")
    expected = reference(values, pct)
    if expected is None:
        assert f"lat.upper_{suffix}" not in got
    else:
        assert got[f"lat.upper_{suffix}"] == expected[0]
        assert got[f"lat.mean_{suffix}"] == pytest.approx(expected[1])
    assert got["lat.count"] == len(values)


def test_sample_rates_scale_counters_and_timer_counts_only():
    agg = server()
    agg.feed("hits:1|c|@0.1\nhits:3|c|@0.5\nlat:10|ms|@0.25\nlat:20|ms|@0.25")
    got = {n: v for (n, _), v in flushed(agg).items()}
    assert got["hits"] == pytest.approx(16)
    assert got["lat.count"] == 8
    assert got["lat.sum"] == 30 and got["lat.mean"] == 15


def test_dogstatsd_tags_are_labels_and_series_of_their_own():
    agg = server()
    agg.feed(
        "req:1|c|#code:200,host:a\nreq:2|c|#host:a,code:200\nreq:5|c|#code:500\nreq:7|c\n"
        "up:1|g|#role,zone:eu"
    )
    assert flushed(agg) == {
        ("req", (("code", "200"), ("host", "a"))): 3,
        ("req", (("code", "500"),)): 5,
        ("req", ()): 7,
        ("up", (("role", ""), ("zone", "eu"))): 1,
    }


def test_several_values_per_line_and_lines_per_packet():
    agg = server()
    assert agg.feed("a:1|c:2|c|@0.5\r\nb:3|ms:5|ms\n\nc:4|g") == []
    got = {n: v for (n, _), v in flushed(agg).items()}
    assert got["a"] == 5 and got["b.count"] == 2 and got["b.upper"] == 5 and got["c"] == 4


@pytest.mark.parametrize(
    "line",
    [
        "nothing",
        "k:1",
        "k:abc|c",
        "k:1|zz",
        "k:1|c|@2",
        "k:1|c|@x",
        "k:nan|g",
        ":1|c",
        "k:1|c|#:v",
        "k:1|c:x|c",
        "k" * 151 + ":1|c",
    ],
)
def test_malformed_lines_are_counted_and_sampled_never_fatal(line):
    agg = server()
    errors = agg.feed(f"ok:1|c\n{line}\nok:2|c")
    assert len(errors) == 1 and agg.malformed == 1 and agg.lines == 2
    assert agg.take_samples()[0].startswith(repr(line[:100]))
    assert agg.take_samples() == []
    got = {n: v for (n, _), v in flushed(agg).items()}
    assert got.get("ok") == 3


def test_samples_are_bounded():
    agg = server()
    agg.feed("\n".join(f"bad{i}" for i in range(1000)))
    assert agg.malformed == 1000 and len(agg.take_samples()) == 20


def test_keys_per_flush_are_bounded():
    agg = server()
    agg.feed("\n".join(f"k{i}:1|c" for i in range(MAX_KEYS + 10)))
    agg.feed("k0:1|c")  # a key already held still counts
    assert agg.dropped == 10
    series = agg.flush()
    assert len(series) == MAX_KEYS and ("k0", 2.0, None) in series


def test_gauges_survive_flushes_and_others_reset():
    agg = server()
    agg.feed("g:5|g\ng:-2|g\nc:1|c\nt:1|ms\ns:a|s")
    assert len(agg.flush()) == 3 + 7  # counter, gauge, set; a timer of seven statistics
    assert agg.flush() == [("g", 3.0, None)]


def test_random_packets_never_raise():
    rng = random.Random(5)
    agg = server()
    alphabet = "ab:|@#,.-+0123456789csgm\n"
    for _ in range(2000):
        agg.feed("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
    agg.flush()
