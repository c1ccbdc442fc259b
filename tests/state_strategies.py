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


def shard_values(with_ttl: bool = False) -> st.SearchStrategy[Any]:
    leaf = st.one_of(SCALARS, st.none(), INC)
    tree = st.recursive(leaf, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
    if not with_ttl:
        return tree
    ttl = st.builds(
        lambda s, v: {"$ttl": s, "value": v},
        st.integers(1, 20),
        st.one_of(SCALARS, INC, st.dictionaries(KEYS, tree, min_size=1, max_size=2)),
    )
    return st.one_of(tree, ttl)


def shards(with_ttl: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(KEYS, shard_values(with_ttl), max_size=3)


@st.composite
def ops(draw: Any, with_ttl: bool = False, max_size: int = 8) -> list[tuple]:
    """Shards with distinct stamps: ``(stamp, source, ts, shard)``."""
    items = draw(
        st.lists(st.tuples(SOURCES, st.integers(0, 30), shards(with_ttl)), max_size=max_size)
    )
    stamps = draw(st.permutations(range(1, len(items) + 1)))
    return [
        (stamp, src, float(ts), shard)
        for stamp, (src, ts, shard) in zip(stamps, items, strict=True)
    ]
