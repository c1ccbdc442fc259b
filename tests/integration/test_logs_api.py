"""``/api/v1/logs``: log records as agents forward them, searched and paged (SQLite and
PostgreSQL); bad parameters and bad records refused with the field named; retention by
severity; programs and their runs' exit codes."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.conftest import make_client
from watchkeeper.api import logs as logs_api
from watchkeeper.config import ConfigError, Settings, parse_retention
from watchkeeper.store import db
from watchkeeper.views import logs, programs

T0 = 1_764_500_000.0
SEVERITY = {7: "warning", 8: "error", 9: "critical"}


def record(i: int, *, agent: str = "1.7", job: str = "1.7/site/web/1", level: int = 1,
           data: str | None = None, epoch: float | None = None) -> dict[str, Any]:  # fmt: skip
    when = T0 + i if epoch is None else epoch
    domain, name = job.split("/")[1:3]
    return {
        "kind": "log.record", "ts": when, "level": SEVERITY.get(level, "info"),
        "agent": agent, "job": job, "domain": domain, "name": name, "epoch": when, "id": i,
        "log_level": level, "data": f"line {i}" if data is None else data,
        "event_id": f"{agent}:x:{job}:{i}",
    }  # fmt: skip


@pytest.fixture
def api(db_url):
    with make_client(db_url) as c:
        batch = [record(i) for i in range(250)]
        batch += [record(1000 + i, agent="1.8", job="1.8/batch/backup/3", level=8,
                         data=f"rsync failed 100% {i}") for i in range(3)]  # fmt: skip
        batch.append(record(2000, level=7, data="disk 91% full"))
        batch.append(record(2001, level=20, data='{"copied": 1}'))
        assert c.post("/api/v1/events", json=batch).status_code == 202
        yield c


def get(client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/logs", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_records_carry_what_the_agent_sent_newest_first(api):
    (first, *_) = get(api, limit=1)["logs"]
    assert first["data"] == '{"copied": 1}'
    assert {k: first[k] for k in ("agent", "job", "domain", "name", "level", "epoch", "id")} == {
        "agent": "1.7", "job": "1.7/site/web/1", "domain": "site", "name": "web", "level": 20,
        "epoch": T0 + 2001, "id": 2001,
    }  # fmt: skip
    assert first["severity"] == "info" and first["time"].endswith("Z")


def test_cursor_paging_returns_every_record_exactly_once(api):
    seen, cursor, pages = [], None, 0
    while True:
        page = get(
            api, job="1.7/site/web/1", level="1", limit=37, **({"cursor": cursor} if cursor else {})
        )
        seen += [r["id"] for r in page["logs"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(249, -1, -1)) and pages == 7


def test_filters(api):
    assert [r["id"] for r in get(api, agent="1.8")["logs"]] == [1002, 1001, 1000]
    assert [r["id"] for r in get(api, level="7-9")["logs"]] == [2000, 1002, 1001, 1000]
    assert [r["id"] for r in get(api, level="error")["logs"]] == [1002, 1001, 1000]
    assert [r["id"] for r in get(api, level="warning")["logs"]] == [2000, 1002, 1001, 1000]
    assert [r["id"] for r in get(api, q="100%")["logs"]] == [1002, 1001, 1000]  # % is literal
    assert [r["id"] for r in get(api, q="91%")["logs"]] == [2000]
    since, until = T0 + 10, T0 + 12
    assert [r["id"] for r in get(api, since=str(since), until=str(until))["logs"]] == [12, 11, 10]
    assert get(api, job="nope")["logs"] == []


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"level": "loud"}, "query.level"),
        ({"level": "9-1"}, "query.level"),
        ({"since": "yesterday-ish"}, "query.since"),
        ({"until": "not a time"}, "query.until"),
        ({"since": "-1h", "until": "-2h"}, "query.since"),
        ({"cursor": "garbage!"}, "query.cursor"),
        ({"cursor": "WzEuNSwiYWIiXQ"}, "query.cursor"),  # [1.5, "ab"]: not a seq
        ({"limit": "0"}, "query.limit"),
        ({"limit": "1001"}, "query.limit"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(api, params, path):
    response = api.get("/api/v1/logs", params=params)
    assert response.status_code == 422, response.text
    assert path in [d["path"] for d in response.json()["error"]["details"]]


def test_a_bad_record_refuses_its_batch_and_names_the_field(api):
    good, bad = record(5000), {**record(5001), "log_level": 5000, "data": 12}
    response = api.post("/api/v1/events", json=[good, bad])
    assert response.status_code == 422
    paths = {d["path"] for d in response.json()["error"]["details"]}
    assert paths == {"[1].log_level", "[1].data"}
    assert get(api, q="line 5000")["logs"] == []  # nothing of the batch stored
    missing = {k: v for k, v in record(5002).items() if k not in ("agent", "data")}
    response = api.post("/api/v1/events", json=missing)
    assert {d["path"] for d in response.json()["error"]["details"]} == {"agent", "data"}


def test_retention_deletes_by_severity_in_bounded_passes(db_url, monkeypatch):
    now = time.time()
    settings = Settings(db=db_url, log_retention=parse_retention(["info=1h", "error=1d"]))
    with make_client(db_url) as c:
        old_info = [record(i, epoch=now - 7200 - i) for i in range(30)]
        old_error = [record(100 + i, level=8, epoch=now - 7200 - i) for i in range(5)]
        fresh = [record(200, epoch=now - 60)]
        assert c.post("/api/v1/events", json=old_info + old_error + fresh).status_code == 202
        monkeypatch.setattr(logs_api, "PRUNE_CHUNK", 7)
        engine = db.make_engine(db_url, writer=True)
        try:
            assert logs_api.prune_once(engine, settings, now) == 30  # several chunks of 7
            assert logs_api.prune_once(engine, settings, now) == 0
        finally:
            engine.dispose()
        left = sorted(r["id"] for r in get(c, limit=1000)["logs"])
    assert left == [100, 101, 102, 103, 104, 200]  # errors are kept a day


def test_what_a_program_wrote_is_kept_even_empty_or_with_nul(api):
    items = [record(6000, data=""), record(6001, data="a\x00b", level=2)]
    assert api.post("/api/v1/events", json=items).status_code == 202
    found = {r["id"]: r["data"] for r in get(api, since=str(T0 + 5999))["logs"]}
    assert found == {6000: "", 6001: "a\ufffdb"}
    (event,) = [
        e for e in api.get("/api/v1/events", params={"kind": "log.record", "limit": 1000}).json()[
            "events"] if e["body"]["id"] == 6001
    ]  # fmt: skip
    assert event["body"]["data"] == "a\x00b"  # the log keeps what was sent


@pytest.mark.parametrize("value", ["info", "loud=1d", "info=-5", "info=soon", "info=0"])
def test_bad_retention_is_a_config_error(value):
    with pytest.raises(ConfigError, match="log retention"):
        parse_retention([value])


def test_programs_and_their_runs_exit_codes(db_url):
    with make_client(db_url) as c:
        heartbeat = {
            "kind": "component.state", "type": "agent", "id": "1.7", "state": "running",
            "ts": T0, "programs": [
                {"key": "web", "domain": "site", "name": "web", "state": "backoff", "pid": None,
                 "runs": 3, "restarts": 2, "task": "1.7/site/web/3", "exit_code": 3,
                 "stats": {"cpu": 1.5, "rss": 2048, "bogus": "x"}},
                {"domain": 7, "name": "not a program"}, "junk",
            ],
        }  # fmt: skip
        runs = [
            {"kind": "task.status", "task": f"1.7/site/web/{n}", "status": status, "agent": "1.7",
             "ts": T0 + n, "domain": "site", "name": "web", "run": n, "exit_code": code,
             **({"reason": "exit code 3"} if code else {})}
            for n, status, code in [(1, "failed", 3), (2, "failed", 3), (3, "timeout", None)]
        ]  # fmt: skip
        assert c.post("/api/v1/events", json=[heartbeat, *runs]).status_code == 202
        chart = c.get("/api/v1/charts/aborted", params={
            "status": "failed", "since": str(T0 - 10), "until": str(T0 + 10)}).json()  # fmt: skip
        assert [(t["task"], t["exit_code"]) for t in chart["tasks"]] == [
            ("1.7/site/web/2", 3), ("1.7/site/web/1", 3)]  # fmt: skip
        engine = db.make_engine(db_url)
        try:
            with engine.connect() as conn:
                (web,) = programs.for_agent(conn, "1.7")
        finally:
            engine.dispose()
    assert web["state"] == "backoff" and web["restarts"] == 2 and web["exit_code"] == 3
    assert web["stats"] == {"cpu": 1.5, "rss": 2048}
    assert [(r["task"][-1], r["exit_code"]) for r in web["recent"]] == [
        ("3", None), ("2", 3), ("1", 3)]  # fmt: skip


def test_an_upgrade_folds_the_agent_events_the_log_already_holds(db_url):
    from alembic import command

    from watchkeeper.events.decode import decode_events
    from watchkeeper.store.rebuild import heal
    from watchkeeper.store.writer import commit_batches
    from watchkeeper.views import ALL_VIEWS

    engine = db.make_engine(db_url, writer=True)
    try:
        db.upgrade(engine)
        batch = decode_events(orjson.dumps([record(i) for i in range(3)]), "application/json")
        results, _ = commit_batches(engine, ALL_VIEWS, [batch])
        assert not any(isinstance(r, Exception) for r in results)
        cfg = db.alembic_config(engine)
        with engine.begin() as conn:  # as a version without the logs view left it
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0009_views_rebuild")
        db.upgrade(engine)
        assert heal(engine, ALL_VIEWS) == 3
        with engine.connect() as conn:
            page, _ = logs.list_logs(conn, logs.LogFilter())
        assert [r["data"] for r in page] == ["line 2", "line 1", "line 0"]
    finally:
        engine.dispose()


def test_the_server_prunes_by_itself(sqlite_url):
    now = time.time()
    settings = {"log_retention": parse_retention(["info=1h"]), "log_prune_interval": 0.1}
    with make_client(sqlite_url, **settings) as c:
        items = [record(1, epoch=now - 7200), record(2, epoch=now - 60)]
        assert c.post("/api/v1/events", json=items).status_code == 202
        deadline = time.monotonic() + 10
        while len(get(c)["logs"]) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r["id"] for r in get(c)["logs"]] == [2]
