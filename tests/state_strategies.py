"""Hypothesis strategies for state shards, shared by the model and the view tests.

Few keys and sources, so that shards collide on the same keys and counters often.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KEYS = st.sampled_from(["a", "b", "c"])
SOURCES = st.sampled_from(["h1", "h2", "h3"])
SCALARS = st.one_of(
    st.integers(-5, 5), st.sampled_from(["x", "y", ""]), st.booleans(), st.just([1, "z"])
)
INC = st.integers(-3, 5).map(lambda n: {"$inc": n})


#: What the leaves of generated shards are: plain values (and deletions), increments, or both
#: with ``$ttl`` forms too.
FAMILIES = ("plain", "counters", "mixed")


def shard_values(family: str = "mixed") -> st.SearchStrategy[Any]:
    leaves = {
        "plain": st.one_of(SCALARS, st.none()),
        "counters": INC,
        "mixed": st.one_of(SCALARS, st.none(), INC),
    }
    leaf = leaves[family]
    tree = st.recursive(leaf, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
    if family != "mixed":
        return tree
    ttl = st.builds(
        lambda s, v: {"$ttl": s, "value": v},
        st.integers(1, 20),
        st.one_of(SCALARS, INC, st.dictionaries(KEYS, tree, min_size=1, max_size=2)),
    )
    return st.one_of(tree, ttl)


def shards(family: str = "mixed") -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(KEYS, shard_values(family), max_size=3)


@st.composite
def ops(draw: Any, family: str = "mixed", max_size: int = 8, first: int = 1) -> list[tuple]:
    """Shards with distinct stamps from ``first`` on: ``(stamp, source, ts, shard)``."""
    items = draw(
        st.lists(st.tuples(SOURCES, st.integers(0, 30), shards(family)), max_size=max_size)
    )
    stamps = draw(st.permutations(range(first, first + len(items))))
    return [
        (stamp, src, float(ts), shard)
        for stamp, (src, ts, shard) in zip(stamps, items, strict=True)
    ]
