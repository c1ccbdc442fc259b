"""Views are derived data: a rebuild from the log gives back exactly the same views."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import make_client
from tests.fleet import HISTORY, incident, ping, task
from watchkeeper.store import db
from watchkeeper.store.rebuild import rebuild
from watchkeeper.views import ALL_VIEWS


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for view in ALL_VIEWS:
            for table in view.tables:
                key = list(table.primary_key.columns)
                out[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*key))]
    return out


def test_rebuild_reproduces_every_view(db_url):
    extra = [
        ping(777, "2024-05-01 09:59:59.00", "idle"),  # late: counted, history unchanged
        task(1, "2024-05-01 09:59:59.000", "created"),  # out of order for task 1
        incident(779, "2024-05-01 10:00:30.00", 3, last_state="moving"),
        {"kind": "component.state", "type": "lift", "id": "L1", "state": "up"},
    ]
    with make_client(db_url) as c:
        for start in range(0, len(HISTORY), 5):  # several commits, like real traffic
            assert c.post("/api/v1/events", json=HISTORY[start : start + 5]).status_code == 202
        c.post("/api/v1/events", json=extra)
    engine = db.make_engine(db_url, writer=True)
    before = snapshot(engine)
    assert len(before["tasks"]) == 3 and len(before["incidents"]) == 2
    with engine.begin() as conn:  # damage the views; the log is intact
        for view in ALL_VIEWS:
            for table in view.tables:
                conn.execute(table.delete())
    assert rebuild(engine, ALL_VIEWS) == len(HISTORY) + len(extra)
    assert snapshot(engine) == before
    engine.dispose()
