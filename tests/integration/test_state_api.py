"""``/api/v1/state`` through the REST API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.conftest import ON_EACH_WRITER, make_client

SOURCE = {"X-Watchkeeper-Source": "orchestrator"}


def post(client, body, *, headers=SOURCE, **params):
    if isinstance(body, bytes):
        headers = {**headers, "Content-Type": "application/x-ndjson"}
        return client.post("/api/v1/state", content=body, headers=headers, params=params)
    return client.post("/api/v1/state", json=body, headers=headers, params=params)


def state(client, path=None):
    return client.get("/api/v1/state", params={"path": path} if path else {}).json()


@ON_EACH_WRITER
def test_the_documents_two_shard_merge(client):
    r = post(client, {"1": {"foo": "bar"}})
    assert r.status_code == 202
    assert r.json() == {"accepted": 1, "duplicates": 0, "first_seq": 1, "last_seq": 1}
    assert state(client) == {"1": {"foo": "bar"}}
    post(client, {"2": "bar", "1": {"something": "merged"}})
    assert state(client) == {"1": {"foo": "bar", "something": "merged"}, "2": "bar"}


def test_hello_world_presence_of_blades(client):
    post(client, {"blade_host_A": {"msg": "Hello World"}}, headers={"X-Watchkeeper-Source": "A"})
    post(client, {"blade_host_B": {"msg": "Hello World"}}, headers={"X-Watchkeeper-Source": "B"})
    assert state(client) == {
        "blade_host_A": {"msg": "Hello World"},
        "blade_host_B": {"msg": "Hello World"},
    }
    present = sorted(k for k in state(client) if k.startswith("blade_host_"))
    assert present == ["blade_host_A", "blade_host_B"]


def test_original_log_records_and_ndjson(client):
    records = [
        {"msg": "hello", "levelname": "INFO", "host": "blade_host_A",
         "_details": {"blade_host_A": {"msg": "Hello World", "n": {"$inc": 2}}}},
        {"source": "blade_host_B", "blade_host_A": {"n": {"$inc": 3}}},
    ]  # fmt: skip
    body = b"\n".join(orjson.dumps(r) for r in records)
    assert post(client, body, headers={}).status_code == 202
    assert state(client) == {"blade_host_A": {"msg": "Hello World", "n": 5}}
    counters = client.get("/api/v1/state/counters").json()["counters"]
    assert counters == [
        {
            "path": "blade_host_A.n",
            "pointer": "/blade_host_A/n",
            "total": 5,
            "sources": {
                "blade_host_A": {"p": 2, "n": 0, "value": 2},
                "blade_host_B": {"p": 3, "n": 0, "value": 3},
            },
        }
    ]
    event = client.get("/api/v1/events", params={"kind": "state.shard"}).json()["events"][0]
    assert event["source"] == "blade_host_A" and event["body"] == records[0]


def test_subtrees_and_paths(client):
    post(client, {"domains": {"example.com": {"hits": {"$inc": 4}}}, "a": {"b": {"c": [1, 2]}}})
    assert state(client, "a.b") == {"c": [1, 2]}
    assert state(client, "a.b.c") == [1, 2]
    assert state(client, "/domains/example.com/hits") == 4
    assert client.get("/api/v1/state/counters", params={"path": "a"}).json() == {"counters": []}
    missing = client.get("/api/v1/state", params={"path": "a.x"})
    assert missing.status_code == 404
    assert missing.json()["error"]["details"] == [
        {"path": "query.path", "reason": "no such key (or it expired)"}
    ]
    assert client.get("/api/v1/state", params={"path": "a.b.c.d"}).status_code == 404
    bad = client.get("/api/v1/state", params={"path": "a..b"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "query.path"


def test_null_deletes_and_values_replace(client):
    post(client, {"a": {"b": 1, "c": {"d": 2}}, "n": {"$inc": 1}})
    post(client, {"a": {"b": None, "c": 7}, "n": "text"})
    assert state(client) == {"a": {"c": 7}, "n": "text"}
    assert client.get("/api/v1/state/counters").json() == {"counters": []}


@ON_EACH_WRITER
def test_resent_event_ids_count_once(client):
    items = [{"event_id": f"e{i}", "hits": {"$inc": 1}} for i in range(5)]
    post(client, items)
    again = post(client, [*items, {"event_id": "e5", "hits": {"$inc": 1}}]).json()
    assert again["duplicates"] == 5 and again["accepted"] == 6
    assert state(client) == {"hits": 6}


def test_expiry_with_counters_folded(client):
    now = time.time()
    post(client, [
        {"ts": now - 100, "intents": {"old": {"$ttl": 60, "value": {
            "resolution": {"scraper_1": {"tries": {"$inc": 3}}}}}}},
        {"ts": now, "intents": {"new": {"$ttl": 60, "value": {
            "resolution": {"scraper_1": {"tries": {"$inc": 4}}}}}}},
    ])  # fmt: skip
    assert state(client) == {
        "intents": {"new": {"resolution": {"scraper_1": {"tries": 4}}}},
        "_expired_totals": {"intents": {"*": {"resolution": {"scraper_1": {"tries": 3}}}}},
    }
    assert client.get("/api/v1/state", params={"path": "intents.old"}).status_code == 404
    assert state(client, "_expired_totals.intents") == {
        "*": {"resolution": {"scraper_1": {"tries": 3}}}
    }


def test_shard_ttl_from_the_query(client):
    post(client, {"ts": time.time() - 30, "blade_A": {"msg": "hi"}}, ttl=10)
    post(client, {"blade_B": {"msg": "hi"}}, ttl=10)
    assert state(client) == {"blade_B": {"msg": "hi"}}
    bad = post(client, {"x": 1}, ttl=-1)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "query.ttl"


def test_state_survives_a_restart(db_url):
    with make_client(db_url) as c:
        post(c, [{"a": {"b": 1}, "n": {"$inc": 2}}, {"source": "x", "n": {"$inc": 3}}])
        before = state(c)
        counters = c.get("/api/v1/state/counters").json()
    with make_client(db_url) as c:
        assert state(c) == before == {"a": {"b": 1}, "n": 5}
        assert c.get("/api/v1/state/counters").json() == counters


def deep(levels: int) -> dict:
    shard: dict = {"leaf": 1}
    for i in range(levels - 1):
        shard = {f"k{i}": shard}
    return shard


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ([1, {"a": 1}], "[0]", "expected a JSON object"),
        ({"a": {"$inc": "one"}}, "a.$inc", "expected a number"),
        ([{"a": 1}, {"a": {"b": {"$inc": None}}}], "[1].a.b.$inc", "expected a number"),
        (deep(65), "k63." + ".".join(f"k{i}" for i in range(62, -1, -1)) + ".leaf",
         "deeper than 64 levels"),
        ({"_expired_totals": {"x": 1}}, "_expired_totals",
         "reserved for the totals of expired counters"),
    ],
)  # fmt: skip
def test_bad_shards_are_refused_and_nothing_changes(client, body, path, reason):
    post(client, {"a": {"kept": True}, "n": {"$inc": 1}})
    before = state(client)
    r = post(client, body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid"
    assert {"path": path, "reason": reason} in [
        {"path": d["path"], "reason": d["reason"]} for d in error["details"]
    ]
    assert state(client) == before
    assert len(client.get("/api/v1/events").json()["events"]) == 1


def test_malformed_and_oversized_bodies(db_url):
    with make_client(db_url, max_body_bytes=2000) as c:
        post(c, {"a": 1})
        r = c.post("/api/v1/state", content=b"{nope", headers=SOURCE)
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed"
        big = [{"k": "x" * 100}] * 30
        r = post(c, big)
        assert r.status_code == 413
        assert r.json()["error"]["details"] == [{"path": "body", "reason": "at most 2000 bytes"}]
        assert state(c) == {"a": 1}
        assert len(c.get("/api/v1/events").json()["events"]) == 1


def test_intents_in_every_resolution_state(client):
    post(client, {"intents": {
        "i-none": {"host": "blade_host_1", "module": "scraper-v2"},
        "i-blade": {"resolution": {"blade_host_1": {"installed": "v2"}}},
        "i-started": {"resolution": {"scraper_host_1": {"started": True}}},
        "i-receiving": {"resolution": {
            "scraper_host_1": {"item_scraped": {"example.com": {"tries": {"$inc": 3}}}},
            "spotter_host_2": {"received": 3}}},
    }})  # fmt: skip
    listed = client.get("/api/v1/state/intents").json()
    assert listed["total"] == 4
    assert {i["id"]: i["status"] for i in listed["intents"]} == {
        "i-none": "no_answer",
        "i-blade": "answered",
        "i-started": "started_no_data",
        "i-receiving": "receiving",
    }
    one = client.get("/api/v1/state/intents/i-receiving").json()
    assert one["answered"] == ["scraper_host_1", "spotter_host_2"]
    assert one["roles"] == {"scraper_host_1": "scraper", "spotter_host_2": "spotter"}
    scraped = one["intent"]["resolution"]["scraper_host_1"]["item_scraped"]
    assert scraped == {"example.com": {"tries": 3}}
    assert client.get("/api/v1/state/intents/i-none").json()["answered"] == []
    assert client.get("/api/v1/state/intents/nope").status_code == 404
    post(client, {"intents": {"i-started": {"resolution": {"spotter_host_9": {"ok": 1}}}}})
    assert client.get("/api/v1/state/intents/i-started").json()["status"] == "receiving"


def test_roles_come_from_configuration(db_url):
    roles = {"scraper": ("blade-s",), "spotter": ("blade-p", "spot")}
    with make_client(db_url, state_roles=roles) as c:
        post(c, {"intents": {"i": {"resolution": {"blade-s1": {}, "spot-3": {}}}}})
        got = c.get("/api/v1/state/intents/i").json()
        assert got["status"] == "receiving"
        assert got["roles"] == {"blade-s1": "scraper", "spot-3": "spotter"}
        assert c.get("/api/v1/state/intents").json()["total"] == 1


def test_error_report(client):
    post(client, {"level": "error", "blade_A": {"status": "crashed", "code": 3}},
         headers={"X-Watchkeeper-Source": "blade_A"})  # fmt: skip
    post(client, {"blade_A": {"scraper": {"error": "timeout"}}},
         headers={"X-Watchkeeper-Source": "blade_A"})  # fmt: skip
    post(client, {"blade_A": {"scraper": {"error": "refused"}}},
         headers={"X-Watchkeeper-Source": "blade_A"})  # fmt: skip
    post(client, {"blade_B": {"fine": True}}, headers={"X-Watchkeeper-Source": "blade_B"})
    report = client.get("/api/v1/state/errors").json()
    assert report["total"] == 2
    by_path = {e["path"]: e for e in report["errors"]}
    assert by_path["blade_A.scraper"]["count"] == 2
    assert by_path["blade_A.scraper"]["details"] == {"error": "refused"}
    assert by_path["blade_A"]["details"] == {"status": "crashed", "code": 3}
    assert by_path["blade_A"]["level"] == "error" and by_path["blade_A"]["source"] == "blade_A"
    assert client.get("/api/v1/state/errors", params={"source": "blade_B"}).json() == {
        "errors": [],
        "total": 0,
    }


def test_roles_and_tokens(db_url):
    tokens = {"reader-token": "read", "ingest-token": "ingest"}
    with make_client(db_url, tokens=tokens) as c:
        read = {"Authorization": "Bearer reader-token"}
        ingest = {"Authorization": "Bearer ingest-token", **SOURCE}
        assert post(c, {"a": 1}, headers=read).status_code == 403
        assert post(c, {"a": 1}, headers=ingest).status_code == 202
        assert c.get("/api/v1/state", headers=read).json() == {"a": 1}
        assert c.get("/api/v1/state", headers=ingest).status_code == 403


def test_openapi_lists_the_state_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/state", "/api/v1/state/counters", "/api/v1/state/intents",
            "/api/v1/state/intents/{intent_id}", "/api/v1/state/errors",
            "/api/v1/state/stream"} <= set(paths)  # fmt: skip


def test_state_is_identical_after_db_rebuild(db_url):
    from typer.testing import CliRunner

    from watchkeeper.cli import app

    now = time.time()
    with make_client(db_url) as c:
        post(c, [
            {"ts": now - 100, "intents": {"old": {"$ttl": 10, "value": {"n": {"$inc": 2}}}}},
            {"blade": {"msg": "Hello World"}, "hits": {"$inc": 5}},
            {"source": "other", "hits": {"$inc": -1}, "blade": {"error": "late"}},
            {"a": {"b": 1}}, {"a": None, "c": [1, 2]},
        ])  # fmt: skip
        before = [c.get(route).json() for route in ROUTES]
    result = CliRunner().invoke(app, ["db", "rebuild", "--db", db_url])
    assert result.exit_code == 0, result.output
    with make_client(db_url) as c:
        assert [c.get(route).json() for route in ROUTES] == before
    assert before[0] == {
        "blade": {"msg": "Hello World", "error": "late"},
        "hits": 4,
        "c": [1, 2],
        "intents": {},
        "_expired_totals": {"intents": {"*": {"n": 2}}},
    }


ROUTES = ["/api/v1/state", "/api/v1/state/counters", "/api/v1/state/intents",
          "/api/v1/state/errors"]  # fmt: skip
