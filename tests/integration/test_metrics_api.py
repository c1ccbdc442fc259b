"""Metric series through the ingest API and ``/api/v1/metrics``, on SQLite and PostgreSQL:
downsampling keeps sum, count, min and max; the resolution follows the window; retention."""

from __future__ import annotations

import random
import time

import pytest
import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.store import db, rebuild
from watchkeeper.views import ALL_VIEWS
from watchkeeper.views import metrics as mv

#: A start aligned on the hour, recent enough that every resolution still holds it.
T0 = (time.time() // 3600 - 3) * 3600


def series_event(ts: float, series: list, agent: str | None = "1.7") -> dict:
    event = {"kind": "metric.series", "ts": ts, "interval": 10, "series": series}
    if agent is not None:
        event["agent"] = agent
    return event


def post(client, events) -> None:
    r = client.post("/api/v1/events", json=events)
    assert r.status_code == 202, r.text


def get_series(client, **params) -> dict:
    r = client.get("/api/v1/metrics/series", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def stats(values: list[float]) -> dict:
    return {
        "sum": pytest.approx(sum(values)),
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "avg": pytest.approx(sum(values) / len(values)),
    }


def test_every_resolution_keeps_sum_count_min_and_max(client):
    rng = random.Random(17)
    # Two hours of samples every 7 s: neither minutes nor hours hold a whole number of them.
    samples = [(T0 + i * 7.0, rng.uniform(-50, 50)) for i in range(2 * 3600 // 7)]
    post(client, [series_event(ts, [["1.7.d.n.cpu", v]]) for ts, v in samples])
    window = {"name": "1.7.d.n.cpu", "since": T0, "until": T0 + 7200}
    for step, res in ((7, mv.RAW), (300, mv.MINUTE), (3600, mv.HOUR)):
        body = get_series(client, **window, step=step)
        assert body["resolution"] == res and body["step"] == step
        (one,) = body["series"]
        assert one["agent"] == "1.7" and one["tags"] == {}
        expected: dict[float, list[float]] = {}
        for ts, v in samples:
            expected.setdefault(ts - ts % step, []).append(v)
        got = {
            p["ts"]: {k: p[k] for k in ("sum", "count", "min", "max", "avg")} for p in one["points"]
        }
        assert got == {ts: stats(vs) for ts, vs in expected.items()}


def test_the_step_follows_the_window(client):
    post(client, [series_event(T0 + i * 10, [["m", 1.0]]) for i in range(360)])
    hour = get_series(client, name="m", since=T0, until=T0 + 3600)
    assert hour["step"] == 15 and hour["resolution"] == mv.RAW
    day = get_series(client, name="m", since=T0 - 86400 + 3600, until=T0 + 3600)
    assert day["step"] == 300 and day["resolution"] == mv.MINUTE
    assert sum(p["count"] for p in day["series"][0]["points"]) == 360
    month = get_series(client, name="m", since=T0 - 30 * 86400, until=T0 + 3600)
    assert month["step"] == 10800 and month["resolution"] == mv.HOUR
    assert [p["sum"] for p in month["series"][0]["points"]] == [360.0]


def test_counters_give_exact_rates(client):
    # A counter flushed every 10 s: 5 per flush is 0.5/s whatever the bucket.
    post(client, [series_event(T0 + i * 10, [["hits", 5]]) for i in range(720)])
    for step in (60, 600, 3600):
        points = get_series(client, name="hits", since=T0, until=T0 + 7199, step=step)["series"][0]
        assert {p["sum"] / step for p in points["points"]} == {0.5}


def test_agents_and_tags_are_series_of_their_own(client):
    post(
        client,
        [
            series_event(T0, [["req", 1], ["req", 2, {"host": "a", "code": "200"}]], agent="1.1"),
            series_event(T0 + 1, [["req", 4, {"code": "200", "host": "b"}]], agent=None),
            series_event(T0 + 2, [["other", 8]], agent="1.2"),
        ],
    )
    window = {"name": "req", "since": T0, "until": T0 + 60, "step": 60}
    every = get_series(client, **window)["series"]
    assert [(s["agent"], s["tags"]) for s in every] == [
        (None, {"code": "200", "host": "b"}),
        ("1.1", {}),
        ("1.1", {"code": "200", "host": "a"}),
    ]
    tagged = get_series(client, **window, tags="code:200")["series"]
    assert sorted(s["points"][0]["sum"] for s in tagged) == [2, 4]
    assert [
        s["points"][0]["sum"] for s in get_series(client, **window, tags="host:a")["series"]
    ] == [2]
    assert [s["tags"] for s in get_series(client, **window, agent="1.1")["series"]] == [
        {},
        {"code": "200", "host": "a"},
    ]
    assert get_series(client, **window, limit=1)["truncated"] is True

    names = client.get("/api/v1/metrics/names").json()
    assert names["total"] == 2
    assert [(n["name"], n["series"]) for n in names["names"]] == [("other", 1), ("req", 3)]
    assert (
        client.get("/api/v1/metrics/names", params={"q": "th"}).json()["names"][0]["name"]
        == "other"
    )
    assert client.get("/api/v1/metrics/names", params={"agent": "1.2"}).json()["total"] == 1
    assert client.get("/api/v1/metrics/names", params={"q": "%"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({}, "query.name"),
        ({"name": ""}, "query.name"),
        ({"name": "m", "tags": "nocolon"}, "query.tags"),
        ({"name": "m", "step": "0"}, "query.step"),
        ({"name": "m", "step": "nan"}, "query.step"),
        ({"name": "m", "step": "1", "since": "-30d"}, "query.step"),
        ({"name": "m", "since": "tomorrow"}, "query.since"),
        ({"name": "m", "since": "now", "until": "-1h"}, "query.since"),
        ({"name": "m", "limit": "0"}, "query.limit"),
    ],
)
def test_bad_queries_name_the_parameter(client, params, path):
    r = client.get("/api/v1/metrics/series", params=params)
    assert r.status_code == 422, r.text
    assert path in [d["path"] for d in r.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("series", "path"),
    [
        ("x", "series"),
        ([["m"]], "series[0]"),
        ([["m", "1"]], "series[0]"),
        ([["", 1]], "series[0]"),
        ([["m", 1], ["m", 1, {"k": 1}]], "series[1]"),
        ([["m" * 201, 1]], "series[0]"),
    ],
)
def test_bad_series_are_refused_whole(client, series, path):
    r = client.post(
        "/api/v1/events", json=[series_event(T0, [["ok", 1]]), series_event(T0, series)]
    )
    assert r.status_code == 422, r.text
    assert f"[1].{path}" in [d["path"] for d in r.json()["error"]["details"]]
    assert client.get("/api/v1/metrics/names").json()["total"] == 0


def event(ts: float, received: float, series: list) -> Event:
    attrs = {"agent": "1.7", "series": series}
    return Event("metric.series", ts, "info", None, None, attrs, None, received_at=received)


def test_retention_prunes_each_resolution_and_a_rebuild_agrees(db_url):
    engine = db.make_engine(db_url, writer=True)
    db.upgrade(engine)
    day = 86400.0
    try:
        with engine.begin() as conn:
            mv.VIEW.apply(conn, [event(T0 - 500 * day, T0 - 500 * day, [["gone", 1]])])
            mv.VIEW.apply(conn, [event(T0 - 40 * day, T0 - 40 * day, [["old", 1]])])
            mv.VIEW.apply(conn, [event(T0 - 3 * day, T0 - 3 * day, [["old", 2]])])
            mv.VIEW.apply(conn, [event(T0, T0, [["new", 3]])])
            rows = conn.execute(
                sa.select(mv.metric_series.c.name, mv.metric_points.c.res, mv.metric_points.c.sum)
                .join(mv.metric_series, mv.metric_series.c.id == mv.metric_points.c.series_id)
                .order_by(mv.metric_series.c.name, mv.metric_points.c.res, mv.metric_points.c.ts)
            ).all()
            names = conn.execute(sa.select(mv.metric_series.c.name)).scalars().all()
        # 40 days back only the hour is kept; 3 days back the minute and the hour.
        assert [tuple(r) for r in rows] == [
            ("new", 0, 3),
            ("new", 60, 3),
            ("new", 3600, 3),
            ("old", 60, 2),
            ("old", 3600, 1),
            ("old", 3600, 2),
        ]
        assert sorted(names) == ["new", "old"]
    finally:
        engine.dispose()


def test_a_rebuild_folds_the_log_the_same(client, db_url):
    post(client, [series_event(T0 + i, [["a", i], ["b", -i, {"k": "v"}]]) for i in range(200)])
    before = get_series(client, name="b", since=T0, until=T0 + 200, step=10)
    engine = db.make_engine(db_url, writer=True)
    try:
        rebuild.rebuild(engine, ALL_VIEWS)
    finally:
        engine.dispose()
    assert get_series(client, name="b", since=T0, until=T0 + 200, step=10) == before
