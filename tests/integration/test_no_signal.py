"""A component's silences longer than ``offline_after`` are "no signal", not its last state.

On SQLite and PostgreSQL: the component-status chart, the agent's history, late pings that
split a silence, and a rebuild that records the same silences. Times are relative to ``t0``,
400 s before each test starts, so that "5 s ago" is true whenever the test runs.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.conftest import make_client
from tests.integration.test_rebuild import snapshot
from watchkeeper.events.timefmt import iso, parse_time
from watchkeeper.store import db
from watchkeeper.store.rebuild import rebuild
from watchkeeper.views import ALL_VIEWS
from watchkeeper.views.silences import component_silences


class Clock:
    def __init__(self) -> None:
        now = time.time()
        self.t0 = now - 400
        self.window = {"since": iso(self.t0 - 60), "until": iso(now + 60)}

    def ping(self, agent: str, offset: float, state: str) -> dict:
        at = iso(self.t0 + offset)
        return {"kind": "component.state", "type": "agent", "id": agent, "state": state, "ts": at}

    def pings(self) -> list[dict]:
        """A: idle, silent for 300 s, moving, idle again 75 s later, last heard 5 s ago."""
        return [
            self.ping("A", 0, "idle"),
            self.ping("A", 10, "idle"),
            self.ping("A", 310, "moving"),
            self.ping("A", 320, "moving"),
            self.ping("A", 395, "idle"),
        ]

    def lane(self, client, agent: str = "A") -> list[tuple[str, float, float | None]]:
        """The agent's spans in the chart, as offsets from ``t0``."""
        params = {**self.window, "type": "agent"}
        rows = client.get("/api/v1/charts/component-status", params=params).json()
        return [
            (r["state"], self.offset(r["start"]), r["end"] and self.offset(r["end"]))
            for r in rows
            if r["component"] == agent
        ]

    def gaps(self, client) -> list[tuple[float, float | None]]:
        return [(start, end) for state, start, end in self.lane(client) if state == "no signal"]

    def offset(self, text: str) -> float:
        return round(parse_time(text) - self.t0, 1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fed(db_url, clock):
    with make_client(db_url, stale_after=30, offline_after=120) as c:
        assert c.post("/api/v1/events", json=clock.pings()).status_code == 202
        yield c


def test_a_silence_longer_than_offline_after_is_no_signal(fed, clock):
    assert clock.lane(fed) == [
        ("idle", 0.0, 10.0),
        ("no signal", 10.0, 310.0),
        ("moving", 310.0, 395.0),
        ("idle", 395.0, None),
    ]
    agent = fed.get("/api/v1/agents/A").json()
    assert [(h["state"], clock.offset(h["start"])) for h in agent["history"]] == [
        ("idle", 0.0),
        ("no signal", 10.0),
        ("moving", 310.0),
        ("idle", 395.0),
    ]
    assert agent["pings"] == {"idle": 3, "moving": 2}


def test_offline_after_decides_which_silences_show(db_url, clock):
    with make_client(db_url, stale_after=30, offline_after=60) as c:
        c.post("/api/v1/events", json=clock.pings())
        # The 75 s between the last two pings is a gap too now.
        assert clock.gaps(c) == [(10.0, 310.0), (320.0, 395.0)]
    with make_client(db_url, stale_after=30, offline_after=600) as c:
        assert [state for state, _, _ in clock.lane(c)] == ["idle", "moving", "idle"]


def test_an_agent_still_silent_has_an_open_gap(fed, clock):
    fed.post("/api/v1/events", json=[clock.ping("B", 0, "idle"), clock.ping("B", 5, "busy")])
    assert clock.lane(fed, "B") == [
        ("idle", 0.0, 5.0),
        ("busy", 5.0, 5.0),  # what it said last, as an instant
        ("no signal", 5.0, None),
    ]
    b = fed.get("/api/v1/agents/B").json()
    assert b["liveness"] == "offline"
    assert [h["state"] for h in b["history"]] == ["idle", "busy", "no signal"]
    assert clock.offset(b["history"][-1]["end"]) >= 400  # the page's picture: silent until now


def test_a_late_ping_splits_the_silence_it_falls_in(fed, clock):
    fed.post("/api/v1/events", json=[clock.ping("A", 150, "idle")])
    # 10 → 150 (140 s) and 150 → 310 (160 s) are both still longer than 120 s.
    assert clock.gaps(fed) == [(10.0, 150.0), (150.0, 310.0)]
    fed.post("/api/v1/events", json=[clock.ping("A", 100, "idle")])
    # 10 → 100 (90 s) is a silence, but shorter than offline_after; 100 → 150 (50 s) is too
    # short to be recorded at all.
    assert clock.gaps(fed) == [(150.0, 310.0)]


def test_short_silences_are_not_recorded(fed, clock):
    fed.post("/api/v1/events", json=[clock.ping("C", i * 50, "idle") for i in range(8)])
    with fed.app.state.read_engine.connect() as conn:
        cids = conn.execute(sa.select(component_silences.c.cid)).scalars().all()
    assert set(cids) == {"A"}


def test_a_rebuild_records_the_same_silences(db_url, clock):
    pings = clock.pings()
    late = [clock.ping("A", 150, "idle"), clock.ping("A", 100, "idle")]
    with make_client(db_url, stale_after=30, offline_after=120) as c:
        c.post("/api/v1/events", json=pings[:3])
        c.post("/api/v1/events", json=late + pings[3:])
    engine = db.make_engine(db_url, writer=True)
    try:
        before = snapshot(engine)
        # 10 → 100, 150 → 310 and 320 → 395 (100 → 150 is too short to be recorded).
        assert len(before["component_silences"]) == 3
        rebuild(engine, ALL_VIEWS)
        assert snapshot(engine) == before
    finally:
        engine.dispose()
