"""Live state settings: roles from ``ROLE=PREFIX`` pairs and the checks on the others."""

from __future__ import annotations

import pytest

from watchkeeper.config import ConfigError, Settings, parse_roles
from watchkeeper.views.intents import resolve_intent, role_of


def test_roles_from_pairs():
    roles = parse_roles(["scraper=scr-", "spotter=spot", "scraper=blade-s"])
    assert roles == {"scraper": ("scr-", "blade-s"), "spotter": ("spot",)}
    assert role_of("blade-s7", roles) == "scraper"
    assert role_of("other", roles) is None
    with pytest.raises(ConfigError, match="expected ROLE=HOST_PREFIX"):
        parse_roles(["scraper"])


def test_longest_prefix_wins():
    roles = {"scraper": ("blade",), "spotter": ("blade_spot",)}
    assert role_of("blade_spot_1", roles) == "spotter"
    assert role_of("blade_1", roles) == "scraper"


def test_resolution_of_odd_intents():
    assert resolve_intent("i", "just text")["status"] == "no_answer"
    assert resolve_intent("i", {"resolution": {}})["status"] == "no_answer"
    assert resolve_intent("i", {"resolution": "done"})["status"] == "answered"
    assert resolve_intent("i", {"resolution": {"spotter_host": {}}})["status"] == "answered"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"state_max_depth": 0}, "state_max_depth"),
        ({"state_max_depth": 501}, "state_max_depth"),
        ({"state_expired_path": "a.b"}, "state_expired_path"),
        ({"state_expired_path": "$totals"}, "state_expired_path"),
        ({"state_expired_path": ""}, "state_expired_path"),
    ],
)
def test_bad_state_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        Settings(**changes).check()
    Settings().check()
