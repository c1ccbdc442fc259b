"""The durable state view against the model, rebuilds and compaction, on SQLite and PostgreSQL.

Shards go through the real writer path (``store_events``: log + views in one transaction), in
batches of random sizes, with received times that make keys expire and get compacted between
and inside batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.state_strategies import SOURCES, shards
from watchkeeper.events import Event
from watchkeeper.events.statedoc import Doc
from watchkeeper.store import db
from watchkeeper.store.rebuild import rebuild
from watchkeeper.store.tables import events as events_table
from watchkeeper.store.writer import store_events
from watchkeeper.views import ALL_VIEWS
from watchkeeper.views import state as view

STATE_TABLES = view.VIEW.tables
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = db.make_engine(db_url, writer=True, synchronous="OFF")
    db.upgrade(eng)
    yield eng
    eng.dispose()


def empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in (*STATE_TABLES, events_table):
            conn.execute(table.delete())


def shard_event(shard: dict, *, source: str = "h1", ts: float = 0.0, received: float = 0.0,
                ttl: float | None = None, level: str = "info") -> Event:  # fmt: skip
    attrs = {"shard": shard, "ttl": ttl}
    return Event("state.shard", ts, level, source, None, attrs, shard, received_at=received)


def store(engine: sa.Engine, batches: list[list[Event]]) -> None:
    for batch in batches:
        with engine.begin() as conn:
            store_events(conn, ALL_VIEWS, [batch])


def tables(engine: sa.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t))) for t in STATE_TABLES}


def read(engine: sa.Engine, now: float, path: tuple[str, ...] = ()) -> Any:
    with engine.connect() as conn:
        return view.render(conn, now=now, path=path)


@st.composite
def histories(draw: Any) -> tuple[list[Event], list[int]]:
    """Shards in commit order with event and receive times, and how to cut them in batches."""
    items = draw(
        st.lists(
            st.tuples(
                shards(),
                SOURCES,
                st.integers(0, 8),  # receive time advances by this much
                st.integers(-5, 3),  # event time is this far from the receive time
                st.one_of(st.none(), st.integers(1, 10)),  # ?ttl= for the whole shard
            ),
            max_size=14,
        )
    )
    received = 1000.0
    out = []
    for shard, source, step, skew, ttl in items:
        received += step + 0.5
        out.append(shard_event(shard, source=source, ts=received + skew, received=received,
                               ttl=ttl))  # fmt: skip
    cuts = draw(st.lists(st.integers(1, 4), min_size=len(out), max_size=len(out)))
    return out, cuts


def batched(events: list[Event], cuts: list[int]) -> list[list[Event]]:
    out, i = [], 0
    for size in cuts:
        if i >= len(events):
            break
        out.append(events[i : i + size])
        i += size
    return out


def model(events: list[Event]) -> Doc:
    """The same history through the in-memory model, compacting as the server does."""
    doc = Doc()
    for stamp, e in enumerate(events, start=1):
        doc.compact(math.floor(e.received_at))
        doc.apply(e.attrs["shard"], stamp=stamp, source=e.source, ts=e.ts, ttl=e.attrs["ttl"])
    return doc


@PROPERTY
@given(history=histories())
def test_the_view_reads_as_the_model(engine, history):
    events, cuts = history
    empty(engine)
    store(engine, batched(events, cuts))
    doc = model(events)
    last = events[-1].received_at if events else 1000.0
    for now in (last, last + 4, last + 40):
        expected, got = doc.render(now), read(engine, now)
        assert got.document == expected.document
        assert got.counters == expected.counters
        for key in expected.document:
            if key != "_expired_totals":
                assert read(engine, now, (key,)).document == expected.document[key]


@PROPERTY
@given(history=histories())
def test_rebuild_reproduces_every_table(engine, history):
    events, cuts = history
    empty(engine)
    store(engine, batched(events, cuts))
    before = tables(engine)
    rebuild(engine, ALL_VIEWS)
    assert tables(engine) == before


def test_the_documents_examples(engine):
    store(engine, [[shard_event({"1": {"foo": "bar"}})]])
    assert read(engine, 0).document == {"1": {"foo": "bar"}}
    store(engine, [[shard_event({"2": "bar", "1": {"something": "merged"}})]])
    assert read(engine, 0).document == {"1": {"foo": "bar", "something": "merged"}, "2": "bar"}
    hello = {"msg": "Hello World"}
    store(engine, [[shard_event({"blade_host_A": hello}, source="blade_host_A"),
                    shard_event({"blade_host_B": hello}, source="blade_host_B")]])  # fmt: skip
    document = read(engine, 0).document
    assert {k for k in document if k.startswith("blade_")} == {"blade_host_A", "blade_host_B"}
    assert document["blade_host_B"] == {"msg": "Hello World"}


def test_applying_the_same_events_again_counts_once(engine):
    batch = [
        shard_event({"n": {"$inc": 2}, "s": "x"}, source="a"),
        shard_event({"n": {"$inc": -1}, "e": {"error": "boom"}}, source="b"),
        shard_event({"n": {"$inc": 5}}, source="a"),
    ]
    store(engine, [batch])
    before = tables(engine)
    with engine.begin() as conn:
        view.VIEW.apply(conn, batch)  # a replay of committed events
        view.VIEW.apply(conn, batch[1:2])
    after = tables(engine)
    for name in ("state_counters", "state_errors", "state_totals"):
        assert after[name] == before[name]
    got = read(engine, 0)
    assert got.document["n"] == 6
    assert got.counters[("n",)] == {"a": [7, 0], "b": [0, 1]}


def test_compaction_keeps_the_database_bounded(engine):
    batches = []
    for second in range(0, 600, 3):
        batches.append([
            shard_event({"req": {f"r{second}_{i}": {"$ttl": 10, "value": {
                "bytes": {"$inc": 100}, "path": "/x"}}}}, source=f"web{i}", ts=second + 0.1 * i,
                received=second + 0.1 * i)
            for i in range(3)
        ])  # fmt: skip
    store(engine, batches)
    counts = {name: len(rows) for name, rows in tables(engine).items()}
    # keys of the last 10 s only (plus /req), and one folded total per source
    assert counts["state_nodes"] <= 1 + 4 * 3 * 3
    assert counts["state_totals"] == 3
    got = read(engine, 700.0)
    assert got.document["req"] == {}
    assert got.document["_expired_totals"] == {"req": {"*": {"bytes": 600 * 100}}}
    assert got.counters[("_expired_totals", "req", "*", "bytes")] == {
        f"web{i}": [20_000, 0] for i in range(3)
    }


def test_a_compacted_key_can_be_written_again(engine):
    store(engine, [[shard_event({"k": {"$ttl": 5, "value": {"n": {"$inc": 1}}}}, ts=0, received=0)],
                   [shard_event({"other": 1}, ts=10, received=10)],
                   [shard_event({"k": {"x": 1}}, ts=11, received=11)]])  # fmt: skip
    got = read(engine, 100.0)
    assert got.document == {"other": 1, "k": {"x": 1}, "_expired_totals": {"*": {"n": 1}}}


def test_errors_are_reported_per_source_and_path(engine):
    store(engine, [[
        shard_event({"b1": {"scraper": {"error": "timeout", "url": "u1"}}}, source="b1", ts=10),
        shard_event({"b1": {"status": "crashed"}}, source="b1", ts=11, level="error"),
        shard_event({"b1": {"status": "ok"}}, source="b1", ts=12, level="warning"),
    ], [
        shard_event({"b1": {"scraper": {"error": "refused", "url": "u2"}}}, source="b1", ts=5),
    ]])  # fmt: skip
    with engine.connect() as conn:
        found, total = view.errors(conn)
    assert total == 2
    by_path = {e["path"]: e for e in found}
    scraper = by_path["b1.scraper"]
    assert (scraper["count"], scraper["first_seen"][:19], scraper["last_seen"][:19]) == (
        2, "1970-01-01T00:00:05", "1970-01-01T00:00:10")  # fmt: skip
    assert scraper["details"] == {"error": "refused", "url": "u2"}
    assert by_path["b1"]["details"] == {"status": "crashed"} and by_path["b1"]["level"] == "error"


def test_many_subtrees_replaced_and_deleted_in_one_batch(engine):
    def counted() -> dict:
        return {"resolution": {"s": {"n": {"$inc": 1}}}}

    store(engine, [[shard_event({"intents": {f"i{i}": {"host": "h", **counted()}}})
                    for i in range(300)]])  # fmt: skip
    changes = {0: None, 1: 7, 2: {**counted(), "host": None}}  # by i % 3
    batch = [shard_event({"intents": {f"i{i}": changes[i % 3]}}) for i in range(300)]
    store(engine, [[*batch, shard_event({"intents": {"i1": {"again": True}}})]])
    document = read(engine, 0).document["intents"]
    assert len(document) == 200
    assert document["i1"] == {"again": True} and document["i4"] == 7
    assert document["i2"] == {"resolution": {"s": {"n": 2}}}
    counts = {name: len(rows) for name, rows in tables(engine).items()}
    assert counts["state_counters"] == 100
    assert counts["state_nodes"] == 1 + 99 + 2 + 100 * 4
