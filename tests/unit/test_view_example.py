"""The "How to add a view" example in docs/architecture.md is a real view, word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_view_is_the_source():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    found = re.search(
        r"<!-- view-example:begin -->\n```python no-run\n(.*?)```\n<!-- view-example:end -->",
        doc,
        re.S,
    )
    assert found, "docs/architecture.md has no view example between its markers"
    source = (ROOT / "src" / "watchkeeper" / "views" / "incidents" / "fold.py").read_text()
    assert found.group(1) == source, "paste views/incidents/fold.py into docs/architecture.md"
