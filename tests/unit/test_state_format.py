"""Shards at the edge: the accepted forms, and every refusal with its field path."""

from __future__ import annotations

import orjson
import pytest

from watchkeeper.events import InvalidBatch
from watchkeeper.events.state import decode_shards


def decode(body, *, content_type="application/json", **options):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return decode_shards(raw, content_type, **options)


def refused(body, **options) -> dict[str, str]:
    with pytest.raises(InvalidBatch) as info:
        decode(body, **options)
    return {issue.path: issue.reason for issue in info.value.issues}


def test_bare_shard_with_envelope_fields():
    (event,) = decode({"source": "blade_A", "event_id": 7, "level": "warn", "ts": 100,
                       "blade_A": {"msg": "Hello World"}})  # fmt: skip
    assert event.kind == "state.shard"
    assert (event.source, event.event_id, event.level, event.ts) == ("blade_A", "7", "warning", 100)
    assert event.attrs == {"shard": {"blade_A": {"msg": "Hello World"}}, "ttl": None}
    assert event.body["event_id"] == 7


def test_log_record_with_details_and_host():
    details = {"intents": {"i1": {"resolution": {"scraper_1": {"ok": True}}}}}
    record = {"msg": "scraping", "levelname": "ERROR", "host": "scraper_1",
              "time": "2024-05-01 10:00:00.000", "ttl": 30, "_details": details}  # fmt: skip
    (event,) = decode(record)
    assert event.source == "scraper_1" and event.level == "error"
    assert event.ts == 1714557600.0
    assert event.attrs == {"shard": record["_details"], "ttl": 30.0}


def test_source_from_header_and_field_wins():
    events = decode([{"a": 1}, {"source": "own", "b": 2}], header_source="hdr", ttl=5.0)
    assert [e.source for e in events] == ["hdr", "own"]
    assert [e.attrs["ttl"] for e in events] == [5.0, 5.0]


def test_ndjson():
    body = b'{"source": "s", "a": {"$inc": 1}}\n\n{"source": "s", "a": {"$inc": -2.5}}\n'
    events = decode(body, content_type="application/x-ndjson")
    assert [e.attrs["shard"]["a"]["$inc"] for e in events] == [1, -2.5]


def test_operators_are_checked_with_their_paths():
    assert refused([{"source": "s", "a": {"b": {"$inc": "1"}}}]) == {
        "[0].a.b.$inc": "expected a number"
    }
    assert refused({"source": "s", "a": {"$inc": True}}) == {"a.$inc": "expected a number"}
    assert refused({"source": "s", "a": {"$inc": 1, "x": 2}}) == {
        "a.x": "an increment has only the $inc key"
    }
    assert "a.$ttl" in refused({"source": "s", "a": {"$ttl": 0, "value": 1}})
    assert refused({"source": "s", "a": {"$ttl": 5}}) == {
        "a.value": "a key with a time to live needs a value"
    }
    assert refused({"source": "s", "a": {"$ttl": 5, "value": 1, "more": 2}}) == {
        "a.more": "a $ttl form has only the $ttl and value keys"
    }
    assert refused({"source": "s", "a": {"$ttl": 5, "value": {"$ttl": 1, "value": 2}}}) == {
        "a.value.$ttl": "a $ttl value cannot hold another $ttl"
    }
    assert refused({"source": "s", "a": {"$set": 1}}) == {
        "a.$set": "unknown operator '$set': expected $inc or $ttl forms"
    }
    assert refused({"source": "s", "a": {"$ttl": 5, "value": {"b": {"$inc": "x"}}}}) == {
        "a.value.b.$inc": "expected a number"
    }


def test_top_level_must_be_an_object_and_source_is_required():
    assert refused([1, "x"]) == {"[0]": "expected a JSON object", "[1]": "expected a JSON object"}
    assert refused({"a": 1}) == {
        "source": "field required: give a source field or the X-Watchkeeper-Source header"
    }
    assert refused({"host": "h", "_details": [1]}) == {
        "_details": "expected the shard as a JSON object"
    }
    assert refused({"source": "s", "_details": {}, "ttl": -3}) == {
        "ttl": "expected more than 0 and at most 315360000 seconds"
    }


def nested(depth: int) -> dict:
    shard: dict = {"leaf": 1}
    for i in range(depth - 1):
        shard = {f"k{i}": shard}
    return shard


def test_depth_limit_names_the_first_key_too_deep():
    decode({"source": "s", **nested(64)})
    issues = refused({"source": "s", **nested(65)})
    ((path, reason),) = issues.items()
    assert reason == "deeper than 64 levels"
    assert path.endswith(".leaf") and path.count(".") == 64
    assert refused({"source": "s", **nested(4)}, max_depth=3) == {
        "k2.k1.k0.leaf": "deeper than 3 levels"
    }


def test_reserved_keys_and_key_shapes():
    assert refused({"source": "s", "_expired_totals": {"x": 1}}, reserved="_expired_totals") == {
        "_expired_totals": "reserved for the totals of expired counters"
    }
    assert refused({"source": "s", "": 1}) == {"$": "keys must not be empty"}
    assert refused({"source": "s", "a": {"k" * 300: 1}}) == {
        f"a.{'k' * 300}": "keys are at most 256 characters"
    }


def test_empty_and_oversized_batches():
    assert refused([]) == {"$": "no shards in the body"}
    assert refused([{"source": "s"}] * 3, max_items=2) == {"$": "at most 2 shards per request"}
