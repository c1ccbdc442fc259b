"""The layers import downwards only: the store never imports a view, a router or a page."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import watchkeeper
from watchkeeper.store.view import load_views
from watchkeeper.views import ALL_VIEWS, ALL_VIEWS_REF

SRC = Path(watchkeeper.__file__).parent
ABOVE_THE_STORE = ("watchkeeper.views", "watchkeeper.api", "watchkeeper.ui")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_store_imports_nothing_above_it() -> None:
    files = sorted((SRC / "store").rglob("*.py"))
    assert files
    offending = {
        f"{path.relative_to(SRC)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.startswith(ABOVE_THE_STORE)
    }
    assert not offending


def test_the_writer_process_finds_the_views_by_name() -> None:
    assert load_views(ALL_VIEWS_REF) == ALL_VIEWS


@pytest.mark.parametrize("ref", ["watchkeeper.views", "watchkeeper.views:", ":ALL_VIEWS"])
def test_a_views_name_needs_module_and_attribute(ref: str) -> None:
    with pytest.raises(ValueError, match="module:attribute"):
        load_views(ref)
