"""Aggregation periods in UTC: ISO weeks at a year end, December to January, retention."""

from __future__ import annotations

from datetime import UTC, datetime

from watchkeeper.inputs.indicators import Delta
from watchkeeper.views import kpi_periods as p
from watchkeeper.views.kpis import hour_value, slot_value


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_values_and_offspot_intervals() -> None:
    assert p.value_of("D", ts("2023-06-08T13:00")) == "2023-06-08"
    assert p.interval("D", "2023-06-08") == (1686182400, 1686268800)
    assert p.interval("M", "2023-01") == (1672531200, 1675209600)
    assert p.interval("Y", "2023") == (1672531200, 1704067200)
    # offspot's week of 2023-01-01: Monday 2022-12-26 to Monday 2023-01-02.
    assert p.value_of("W", ts("2023-01-01T10:00")) == "2022 W52"
    assert p.interval("W", "2022 W52") == (1672012800, 1672617600)


def test_iso_week_at_year_end_and_december_to_january() -> None:
    assert p.value_of("W", ts("2024-12-30T00:00")) == "2025 W01"
    assert p.value_of("W", ts("2020-12-31T23:59")) == "2020 W53"
    assert p.value_of("M", ts("2023-12-31T23:59")) == "2023-12"
    assert p.value_of("M", ts("2024-01-01T00:00")) == "2024-01"
    assert p.interval("M", "2023-12") == (ts("2023-12-01T00:00"), ts("2024-01-01T00:00"))
    assert p.recent("M", "2024-02", 3) == ["2023-12", "2024-01", "2024-02"]
    assert p.recent("W", "2025 W01", 2) == ["2024 W52", "2025 W01"]


def test_retention_lists() -> None:
    now = ts("2024-01-02T05:00")
    assert p.kept("D", now) == {f"2023-12-{d}" for d in range(27, 32)} | {
        "2024-01-01",
        "2024-01-02",
    }
    assert p.kept("W", now) == {"2023 W50", "2023 W51", "2023 W52", "2024 W01"}
    kept_months = p.kept("M", now)
    assert kept_months is not None and len(kept_months) == 12 and "2023-02" in kept_months
    assert "2023-01" not in kept_months
    assert p.kept("Y", now) is None
    assert p.values_all("Y", ["2021", "2023"]) == ["2021", "2022", "2023"]


def test_usage_slots_are_aligned_on_the_first_active_minute() -> None:
    minutes = lambda *ms: sum(1 << m for m in ms)  # noqa: E731
    assert slot_value(0) == 0
    assert slot_value(minutes(9, 11)) == 10
    assert slot_value(minutes(9, 11, 26, 30)) == 30  # slots 9-18, 19-28, 29-38
    assert slot_value(minutes(*range(60))) == 60
    assert hour_value("minutes", 0, minutes(1, 2, 3)) == 3
    assert hour_value("sum", 7, 0) == 7


def test_delta_folds_minutes_whatever_the_order() -> None:
    from watchkeeper.inputs.indicators import BUILTIN
    from watchkeeper.inputs.packages import Observation

    a, b = Delta(BUILTIN), Delta(BUILTIN)
    obs = Observation("request", "P")
    times = [ts("2023-06-08T13:05"), ts("2023-06-08T13:45"), ts("2023-06-08T14:01")]
    for t in times:
        a.add(obs, t)
    for t in reversed(times):
        b.add(obs, t)
    assert a.rows() == b.rows()
