"""``store.fold.Rows``, the one way views fold: what it loads, and what it writes back."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.store import bulk
from watchkeeper.store.fold import Rows, insert

meta = sa.MetaData()
pairs = sa.Table(
    "fold_pairs",
    meta,
    sa.Column("a", sa.String(20), primary_key=True),
    sa.Column("b", sa.String(20), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("note", sa.Text),
)


def _engine(db_url: str) -> sa.Engine:
    engine = sa.create_engine(db_url)
    meta.drop_all(engine)
    meta.create_all(engine)
    return engine


def _all(conn: sa.Connection) -> dict[tuple[str, str], tuple[int, str | None]]:
    return {(r.a, r.b): (r.n, r.note) for r in conn.execute(sa.select(pairs))}


def test_load_edit_add_drop_write(db_url):
    engine = _engine(db_url)
    with engine.begin() as conn:
        insert(conn, pairs, [{"a": "x", "b": str(i), "n": i, "note": None} for i in range(600)])
    with engine.begin() as conn:
        rows = Rows(conn, pairs, ("a", "b"), decode={"note": lambda t: t or ""})
        # More keys than one IN (...) holds, some absent.
        rows.load([("x", str(i)) for i in range(0, 1200, 2)])
        assert rows.get(("x", "598")) == {"a": "x", "b": "598", "n": 598, "note": ""}
        assert rows.get(("x", "700")) is None
        edited = rows.edit(("x", "2"))
        assert edited is not None
        edited["n"] = -2
        unchanged = rows.get(("x", "4"))
        assert unchanged is not None
        unchanged["n"] = -4  # changed through get, never marked: not written
        rows.add(("y", "1"), {"n": 1, "note": "new"})
        rows.drop(("x", "0"))
        rows.drop(("x", "700"))  # absent: nothing to delete
        rows.write()
        found = _all(conn)
    assert found[("x", "2")] == (-2, "")
    assert found[("x", "4")] == (4, None)
    assert found[("y", "1")] == (1, "new")
    assert ("x", "0") not in found
    assert len(found) == 600


def test_a_row_dropped_then_added_again_is_updated(db_url):
    engine = _engine(db_url)
    with engine.begin() as conn:
        insert(conn, pairs, [{"a": "x", "b": "1", "n": 1, "note": "old"}])
    with engine.begin() as conn:
        rows = Rows(conn, pairs, ("a", "b"))
        rows.load([("x", "1")])
        rows.drop(("x", "1"))
        rows.add(("x", "1"), {"n": 5, "note": None})
        rows.write()
        # Written once: a second write has nothing to do.
        rows.write()
        assert _all(conn) == {("x", "1"): (5, None)}


def test_forget_mirrors_a_delete_done_in_sql(db_url):
    engine = _engine(db_url)
    with engine.begin() as conn:
        insert(conn, pairs, [{"a": "x", "b": "1", "n": 1, "note": None}])
    with engine.begin() as conn:
        rows = Rows(conn, pairs, ("a", "b"))
        rows.load([("x", "1")])
        conn.execute(pairs.delete())
        rows.forget(("x", "1"))
        assert rows.get(("x", "1")) is None
        # Known absent, so added again it is inserted, not updated into nothing.
        rows.add(("x", "1"), {"n": 2, "note": None})
        rows.write()
        assert _all(conn) == {("x", "1"): (2, None)}


def test_upsert_folds_the_batch_into_stored_rows_unread(db_url):
    engine = _engine(db_url)
    with engine.begin() as conn:
        insert(conn, pairs, [{"a": "x", "b": "1", "n": 3, "note": "kept"}])
    with engine.begin() as conn:
        rows = Rows(conn, pairs, ("a", "b"))
        for key in [("x", "1"), ("x", "1"), ("x", "2")]:
            row = rows.get(key) or rows.add(key, {"n": 0, "note": "batch"})
            row["n"] += 1
        rows.upsert({"n": bulk.add("n")})
        assert _all(conn) == {("x", "1"): (5, "kept"), ("x", "2"): (1, "batch")}


def test_a_one_column_key_is_the_value_itself(db_url):
    engine = _engine(db_url)
    table = sa.Table(
        "fold_single",
        sa.MetaData(),
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("v", sa.Integer),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    with engine.begin() as conn:
        rows = Rows(conn, table, ("id",), encode={"v": lambda v: v * 10})
        rows.load(["a"])
        rows.add("a", {"v": 1})
        rows.write()
        assert conn.execute(sa.select(table.c.id, table.c.v)).all() == [("a", 10)]
    with engine.begin() as conn:
        rows = Rows(conn, table, ("id",))
        rows.load(["a", "b"])
        assert rows.get("a") == {"id": "a", "v": 10}
        assert list(rows.keys()) == ["a", "b"]
        assert [row["id"] for row in rows] == ["a"]
