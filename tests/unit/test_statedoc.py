"""The state document's merge laws, checked with Hypothesis, and its reading rules by example.

"Merge" is :meth:`Doc.join` of two documents (a shard is the document it alone makes); the laws
are checked on the documents' registers (``canonical``) and on what they render, for plain
values and for counters alike. Idempotence means: the same shard (same stamp) applied again,
or a document joined with itself, changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.state_strategies import FAMILIES, SOURCES, ops
from watchkeeper.events.statedoc import (
    Doc,
    apply_patch,
    decode,
    encode,
    error_entries,
    fold_path,
    merge_patch,
    parse_path,
    same_json,
    writes,
)


def build(items: list[tuple]) -> Doc:
    doc = Doc()
    for stamp, source, ts, shard in items:
        doc.apply(shard, stamp=stamp, source=source, ts=ts)
    return doc


def same(a: Doc, b: Doc, now: float = 1000.0) -> None:
    assert a.canonical() == b.canonical()
    ra, rb = a.render(now), b.render(now)
    assert ra.document == rb.document
    assert ra.counters == rb.counters


# --- the merge laws ------------------------------------------------------------------------

LAWS = settings(max_examples=60, deadline=None)
family = pytest.mark.parametrize("family", FAMILIES)


@family
@LAWS
@given(data=st.data())
def test_join_is_commutative(family, data):
    a = build(data.draw(ops(family)))
    b = build(data.draw(ops(family, first=100)))
    same(a.join(b), b.join(a))


@family
@LAWS
@given(data=st.data())
def test_join_is_associative(family, data):
    a = build(data.draw(ops(family)))
    b = build(data.draw(ops(family, first=100)))
    c = build(data.draw(ops(family, first=200)))
    same(a.join(b.join(c)), a.join(b).join(c))


@family
@LAWS
@given(data=st.data())
def test_join_is_idempotent(family, data):
    a = build(data.draw(ops(family)))
    same(a.join(a), a)


@family
@LAWS
@given(data=st.data())
def test_any_order_and_duplicates_give_the_same_document(family, data):
    xs = data.draw(ops(family))
    shuffled = data.draw(st.permutations(xs))
    resent = data.draw(st.lists(st.sampled_from(xs), max_size=4)) if xs else []
    same(build(xs), build([*shuffled, *resent]))


@family
@LAWS
@given(data=st.data())
def test_replicas_sharing_shards_join_to_the_whole(family, data):
    """Two servers that each saw part of the shards (some of them both) agree once joined."""
    xs, ys = data.draw(ops(family)), data.draw(ops(family, first=100))
    first = build(xs + ys[: len(ys) // 2])
    second = build(xs[len(xs) // 2 :] + ys)
    same(first.join(second), build(xs + ys))


# --- the document's rule: sequential deep merge --------------------------------------------


class RefCounter:
    def __init__(self) -> None:
        self.total = 0


def ref_merge(dst: dict, shard: dict) -> None:
    """The seed's deep merge, written the obvious way (counters added on top)."""
    for key, value in shard.items():
        if isinstance(value, dict) and "$ttl" in value:
            value = value["value"]
        if value is None:
            dst.pop(key, None)
        elif isinstance(value, dict) and "$inc" in value:
            if not isinstance(dst.get(key), RefCounter):
                dst[key] = RefCounter()
            dst[key].total += value["$inc"]
        elif isinstance(value, dict):
            if not isinstance(dst.get(key), dict):
                dst[key] = {}
            ref_merge(dst[key], value)
        else:
            dst[key] = value


def ref_render(node: Any) -> Any:
    if isinstance(node, RefCounter):
        return node.total
    if isinstance(node, dict):
        return {k: ref_render(v) for k, v in node.items()}
    return node


@settings(max_examples=200, deadline=None)
@given(ops(max_size=12))
def test_in_stamp_order_it_is_the_sequential_deep_merge(xs):
    expected: dict = {}
    for _, _, _, shard in sorted(xs, key=lambda op: op[0]):
        ref_merge(expected, shard)
    # nothing has expired yet at time 0 (every time to live ends after it)
    assert build(xs).render(0.0).document == ref_render(expected)


def test_the_documents_two_shard_example():
    doc = Doc()
    doc.apply({"1": {"foo": "bar"}}, stamp=1, source="s")
    assert doc.render(0).document == {"1": {"foo": "bar"}}
    doc.apply({"2": "bar", "1": {"something": "merged"}}, stamp=2, source="s")
    assert doc.render(0).document == {"1": {"foo": "bar", "something": "merged"}, "2": "bar"}


def test_hello_world_presence_of_blades():
    doc = Doc()
    doc.apply({"blade_host_A": {"msg": "Hello World"}}, stamp=1, source="blade_host_A")
    doc.apply({"blade_host_B": {"msg": "Hello World"}}, stamp=2, source="blade_host_B")
    state = doc.render(0).document
    assert state == {
        "blade_host_A": {"msg": "Hello World"},
        "blade_host_B": {"msg": "Hello World"},
    }
    assert sorted(state) == ["blade_host_A", "blade_host_B"]


def test_null_deletes_and_empty_objects_stay():
    doc = Doc()
    doc.apply({"a": {"b": 1, "c": 2}}, stamp=1, source="s")
    doc.apply({"a": {"b": None}}, stamp=2, source="s")
    doc.apply({"a": {"c": None}, "d": {}}, stamp=3, source="s")
    assert doc.render(0).document == {"a": {}, "d": {}}
    doc.apply({"a": None}, stamp=4, source="s")
    assert doc.render(0).document == {"d": {}}


def test_a_late_shard_loses_to_a_later_stamp():
    doc = Doc()
    doc.apply({"a": {"x": 1}}, stamp=5, source="s")
    doc.apply({"a": 7}, stamp=3, source="s")  # arrives late: it was overwritten already
    doc.apply({"a": {"y": 2}}, stamp=4, source="s")
    assert doc.render(0).document == {"a": {"x": 1, "y": 2}}
    doc.apply({"a": None}, stamp=6, source="s")
    doc.apply({"a": {"z": 3}}, stamp=2, source="s")
    assert doc.render(0).document == {}


# --- counters ------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(SOURCES, st.integers(-10, 10)), max_size=40),
    st.data(),
)
def test_counters_are_per_source_pn_pairs_in_any_order(increments, data):
    stamped = list(enumerate(increments, start=1))
    order = data.draw(st.permutations(stamped))
    resent = data.draw(st.lists(st.sampled_from(stamped), max_size=5)) if stamped else []
    doc = Doc()
    for stamp, (source, amount) in [*order, *resent]:
        doc.apply({"hits": {"$inc": amount}}, stamp=stamp, source=source)
    if not increments:
        assert doc.render(0).document == {}
        return
    rendered = doc.render(0)
    assert rendered.document == {"hits": sum(amount for _, amount in increments)}
    expected: dict[str, list[int]] = {}
    for source, amount in increments:
        pair = expected.setdefault(source, [0, 0])
        pair[0 if amount >= 0 else 1] += abs(amount)
    assert rendered.counters == {("hits",): expected}


def test_a_plain_value_over_a_counter_restarts_it():
    doc = Doc()
    doc.apply({"n": {"$inc": 5}}, stamp=1, source="a")
    doc.apply({"n": "reset"}, stamp=2, source="a")
    doc.apply({"n": {"$inc": 2}}, stamp=3, source="b")
    assert doc.render(0).document == {"n": 2}
    assert doc.render(0).counters == {("n",): {"b": [2, 0]}}


# --- expiry --------------------------------------------------------------------------------


def test_expired_keys_disappear_and_their_counts_are_folded():
    doc = Doc()
    doc.apply(
        {"intents": {"i1": {"$ttl": 60, "value": {"resolution": {"scraper_1": {
            "item_scraped": {"example.com": {"tries": {"$inc": 3}}}}}}}}},
        stamp=1, source="scraper_1", ts=100.0,
    )  # fmt: skip
    doc.apply(
        {"intents": {"i2": {"$ttl": 60, "value": {"resolution": {"scraper_1": {
            "item_scraped": {"example.com": {"tries": {"$inc": 4}}}}}}}}},
        stamp=2, source="scraper_1", ts=130.0,
    )  # fmt: skip
    assert set(doc.render(159.0).document["intents"]) == {"i1", "i2"}
    at_160 = doc.render(160.0)
    assert set(at_160.document["intents"]) == {"i2"}
    totals = {"intents": {"*": {"resolution": {"scraper_1": {"item_scraped": {
        "example.com": {"tries": 3}}}}}}}  # fmt: skip
    assert at_160.document["_expired_totals"] == totals
    at_200 = doc.render(200.0)
    assert at_200.document["intents"] == {}
    path = ("_expired_totals", "intents", "*", "resolution", "scraper_1", "item_scraped",
            "example.com", "tries")  # fmt: skip
    assert at_200.counters[path] == {"scraper_1": [7, 0]}


def test_shard_ttl_applies_to_its_top_level_keys_and_is_refreshed_by_rewrites():
    doc = Doc()
    doc.apply({"blade_A": {"msg": "hi"}}, stamp=1, source="A", ts=0.0, ttl=30)
    doc.apply({"blade_B": {"msg": "hi"}}, stamp=2, source="B", ts=0.0, ttl=30)
    doc.apply({"blade_A": {"msg": "still here"}}, stamp=3, source="A", ts=20.0, ttl=30)
    assert doc.render(40.0).document == {"blade_A": {"msg": "still here"}}
    assert doc.render(50.0).document == {}


def test_nested_expiry_folds_into_the_earliest_expired_key():
    doc = Doc()
    doc.apply({"jobs": {"j1": {"$ttl": 100, "value": {"steps": {
        "s1": {"$ttl": 10, "value": {"n": {"$inc": 1}}}, "total": {"$inc": 5}}}}}},
        stamp=1, source="h", ts=0.0)  # fmt: skip
    at_50 = doc.render(50.0).document
    assert at_50["jobs"] == {"j1": {"steps": {"total": 5}}}
    assert at_50["_expired_totals"] == {"jobs": {"j1": {"steps": {"*": {"n": 1}}}}}
    assert doc.render(100.0).document["_expired_totals"] == {
        "jobs": {"j1": {"steps": {"*": {"n": 1}}}, "*": {"steps": {"total": 5}}}
    }


def test_a_counter_that_is_itself_the_expired_key():
    doc = Doc()
    for stamp, key in enumerate(["r1", "r2", "r3"], start=1):
        doc.apply({"requests": {key: {"$ttl": 5, "value": {"$inc": 2}}}}, stamp=stamp,
                  source="web", ts=float(stamp))  # fmt: skip
    assert doc.render(100.0).document == {"requests": {}, "_expired_totals": {"requests": {"*": 6}}}


@settings(max_examples=120, deadline=None)
@given(ops(max_size=10), st.integers(0, 60), st.integers(0, 40))
def test_compaction_never_changes_what_is_read(xs, at, later):
    doc = build(xs)
    before = doc.render(at + later)
    doc.compact(float(at))
    after = doc.render(at + later)
    assert after.document == before.document
    assert after.counters == before.counters


def test_compaction_keeps_memory_bounded_under_short_lived_keys():
    doc = Doc()
    for i in range(1, 2001):
        doc.compact(float(i))
        doc.apply({"req": {f"r{i}": {"$ttl": 10, "value": {"bytes": {"$inc": 100}}}}},
                  stamp=i, source="web", ts=float(i))  # fmt: skip
    assert len(doc.root.children["req"].children) <= 11
    assert doc.render(2000.0).document["_expired_totals"] == {"req": {"*": {"bytes": 199_000}}}


# --- writes, paths, patches, errors -------------------------------------------------------


def test_writes_unwrap_operators():
    assert list(writes({"a": {"b": 1, "c": None}, "n": {"$inc": 2}}, ttl=5.0)) == [
        (("a",), 0, None, 5.0),
        (("a", "b"), 1, 1, None),
        (("a", "c"), 2, None, None),
        (("n",), 3, 2, 5.0),
    ]
    assert list(writes({"k": {"$ttl": 3, "value": {"x": [1]}}})) == [
        (("k",), 0, None, 3.0),
        (("k", "x"), 1, [1], None),
    ]


def test_fold_path():
    assert fold_path(("intents", "i1"), ("intents", "i1", "r", "n")) == ("intents", "*", "r", "n")
    assert fold_path(("c",), ("c",)) == ("*",)


@given(st.lists(st.text(min_size=1, max_size=5), max_size=5).map(tuple))
def test_pointer_round_trip(path):
    assert decode(encode(path)) == path
    text = encode(path)
    for longer in [(*path, "x"), (*path, "x", "y")]:
        assert encode(longer).startswith(text + "/")


def test_parse_path():
    assert parse_path("a.b.c") == ("a", "b", "c")
    assert parse_path("") == ()
    assert parse_path("/domains/example.com/a~1b") == ("domains", "example.com", "a/b")


def canonical(value: Any) -> str:
    """JSON text that tells ``1``, ``1.0`` and ``true`` (and ``0.0`` and ``-0.0``) apart."""
    return json.dumps(value, sort_keys=True)


# Few small values, so that ``1``, ``1.0``, ``true`` and ``-0.0`` / ``0.0`` meet often.
LEAVES = st.one_of(
    st.booleans(),
    st.integers(-1, 2),
    st.sampled_from([0.0, -0.0, 1.0, 0.5]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(),
    st.sampled_from(["", "1", "true"]),
    st.text(max_size=3),
)


def json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Any JSON value whose objects hold no ``null`` (a state document never does: ``null``
    deletes); arrays may hold anything, ``null`` included."""
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(st.one_of(inner, st.none()), max_size=3),
            st.dictionaries(st.sampled_from(["a", "b", ""]), inner, max_size=3),
        ),
        max_leaves=10,
    )


JSON = json_values(LEAVES)

#: Values Python's ``==`` holds equal although their JSON differs.
TWINS: dict[Any, list[Any]] = {1: [1, True, 1.0], 0: [0, False, 0.0, -0.0]}


@st.composite
def twin_of(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with some leaves swapped for an ``==``-equal twin of another JSON type."""
    if isinstance(value, dict):
        return {k: draw(twin_of(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [draw(twin_of(v)) for v in value]
    if not isinstance(value, str) and value is not None and value in TWINS:
        return draw(st.sampled_from(TWINS[value]))
    return value


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[Any, Any]:
    """Two documents: unrelated, or the second a near twin of the first (the hard case)."""
    old = draw(st.one_of(JSON, st.none()))
    new = draw(st.one_of(st.one_of(JSON, st.none()), twin_of(old)))
    return old, new


@settings(max_examples=400, deadline=None)
@given(old_and_new())
def test_merge_patch_turns_old_into_new(pair):
    old, new = pair
    patched = apply_patch(old, merge_patch(old, new))
    assert canonical(patched) == canonical(new)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b"]), JSON, max_size=2))
def test_merge_patch_of_a_document_with_itself_is_empty(doc):
    assert merge_patch(doc, json.loads(json.dumps(doc))) == {}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": [1]}, {"a": [True]}),
        ({"a": [True]}, {"a": [1]}),
        ({"a": 1}, {"a": 1.0}),
        ({"a": 1}, {"a": True}),
        ({"a": 0}, {"a": False}),
        ({"a": [0.0]}, {"a": [-0.0]}),
        ({"a": {"b": [1, [1]]}}, {"a": {"b": [1, [1.0]]}}),
        ({"a": [{"b": 1}]}, {"a": [{"b": True}]}),
    ],
)
def test_merge_patch_sees_a_change_of_type_alone(old, new):
    patch = merge_patch(old, new)
    assert patch != {}
    assert canonical(apply_patch(old, patch)) == canonical(new)


def test_same_json_is_type_exact():
    assert same_json(
        {"a": [1, 1.5, "x", None, {"b": True}]}, {"a": [1, 1.5, "x", None, {"b": True}]}
    )
    assert not same_json([1], [True]) and not same_json(1, 1.0) and not same_json(0.0, -0.0)
    assert not same_json({"a": 1}, {"a": 1, "b": 2}) and not same_json([1], [1, 1])


def test_error_entries():
    assert error_entries({"blade": {"scraper": {"error": "timeout", "url": "u"}}}, "info") == [
        (("blade", "scraper"), {"error": "timeout", "url": "u"})
    ]
    assert error_entries({"blade": {"status": "crashed"}}, "error") == [
        (("blade",), {"status": "crashed"})
    ]
    assert error_entries({"blade": {"status": "ok"}}, "warning") == []
    assert error_entries({"a": {"error": None}}, "info") == []
    assert error_entries({"x": 1, "y": 2}, "critical") == [((), {"x": 1, "y": 2})]
    assert error_entries({"j": {"$ttl": 5, "value": {"error": "e"}}}, "info") == [
        (("j",), {"error": "e"})
    ]
