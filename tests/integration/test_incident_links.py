"""Which incidents a task's failure or abort is linked to, and why (on SQLite and PostgreSQL).

The rules: an incident naming the task always links; one naming another task never does; one
naming no task links only if the task's agent reported it before the abort, within
``incident_window``.
"""

from __future__ import annotations

import pytest

from tests.conftest import make_client
from tests.fleet import incident, task

D = "2024-05-01 10:"
WINDOW = {"since": "2024-05-01T09:00:00Z", "until": "2024-05-01T11:00:00Z"}

FLEET = [
    task(5, D + "00:00.000", "created", producer=0),
    task(5, D + "00:10.000", "submitted", agent="A"),
    task(6, D + "00:20.000", "created", producer=0),
    task(6, D + "00:30.000", "submitted", agent="A"),
    incident("A", D + "04:00.00", 6, "lift 6 jammed"),  # names task 6: never task 5's
    incident("A", D + "04:30.00", None, "lost the path"),  # no task, 30 s before 5's abort
    incident("A", D + "01:00.00", None, "battery low"),  # no task, 240 s before: too early
    incident("B", D + "04:55.00", None, "other agent"),  # no task, another agent
    task(5, D + "05:00.000", "aborted", agent="A", level="error"),
    incident("A", D + "05:10.00", None, "reset after abort"),  # no task, after the abort
    incident("A", D + "09:00.00", 5, "task 5 report"),  # names task 5, long after the abort
    task(6, D + "06:00.000", "failed", agent="A", level="error"),
]


@pytest.fixture
def fleet(db_url):
    with make_client(db_url) as c:
        assert c.post("/api/v1/events", json=FLEET).status_code == 202
        yield c


def linked(client, task_id: str) -> list[tuple[str, str, dict]]:
    found = client.get(f"/api/v1/tasks/{task_id}").json()["incidents"]
    return [(i["message"], i["ts"][11:19], i["link"]) for i in found]


def test_a_task_links_what_names_it_and_what_its_agent_said_just_before(fleet):
    assert linked(fleet, "5") == [
        (
            "lost the path",
            "10:04:30",
            {"reason": "agent", "seconds_before": 30.0, "text": "same agent, 30 s before"},
        ),
        ("task 5 report", "10:09:00", {"reason": "task", "text": "named the task"}),
    ]


def test_a_failure_links_like_an_abort_and_never_another_tasks_incident(fleet):
    # Task 6 failed at 10:06 on A: "lost the path" (90 s before, naming no task) is linked,
    # "reset after abort" (50 s before) too; "task 5 report" names task 5 and is not.
    assert linked(fleet, "6") == [
        ("lift 6 jammed", "10:04:00", {"reason": "task", "text": "named the task"}),
        (
            "lost the path",
            "10:04:30",
            {"reason": "agent", "seconds_before": 90.0, "text": "same agent, 90 s before"},
        ),
        (
            "reset after abort",
            "10:05:10",
            {"reason": "agent", "seconds_before": 50.0, "text": "same agent, 50 s before"},
        ),
    ]


def test_a_running_task_links_only_what_names_it(fleet):
    fleet.post("/api/v1/events", json=[task(7, D + "04:00.000", "submitted", agent="A")])
    assert linked(fleet, "7") == []


def test_the_window_is_a_setting(db_url):
    with make_client(db_url, incident_window=20) as c:
        c.post("/api/v1/events", json=FLEET)
        assert [message for message, _, _ in linked(c, "5")] == ["task 5 report"]


def test_the_aborted_chart_shows_the_cause_and_why_it_is_linked(fleet):
    body = fleet.get("/api/v1/charts/aborted", params=WINDOW).json()
    assert body["status"] == "aborted" and body["total"] == 1
    (row,) = body["tasks"]
    # The incident naming the task is its cause, although the agent said something else first.
    assert (row["task"], row["reason"], row["incidents"]) == ("5", "task 5 report", 2)
    assert row["link"] == {"reason": "task", "text": "named the task"}

    failed = fleet.get("/api/v1/charts/aborted", params={**WINDOW, "status": "failed"}).json()
    assert failed["status"] == "failed" and sum(b["count"] for b in failed["buckets"]) == 1
    (row,) = failed["tasks"]
    assert (row["task"], row["status"], row["reason"]) == ("6", "failed", "lift 6 jammed")


def test_without_a_named_incident_the_cause_is_the_last_word_before_the_abort(db_url):
    items = [
        task(8, D + "00:00.000", "submitted", agent="C"),
        incident("C", D + "00:20.00", None, "first"),
        incident("C", D + "00:40.00", None, "second"),
        task(8, D + "01:00.000", "aborted", agent="C"),
        incident("C", D + "01:05.00", None, "after"),
    ]
    with make_client(db_url) as c:
        c.post("/api/v1/events", json=items)
        (row,) = c.get("/api/v1/charts/aborted", params=WINDOW).json()["tasks"]
    assert (row["reason"], row["incidents"]) == ("second", 2)
    assert row["link"]["text"] == "same agent, 20 s before"


def test_an_abort_without_incidents_has_no_cause(db_url):
    with make_client(db_url) as c:
        c.post("/api/v1/events", json=[task(9, D + "00:00.000", "aborted", agent="D")])
        (row,) = c.get("/api/v1/charts/aborted", params=WINDOW).json()["tasks"]
        assert c.get("/api/v1/tasks/9").json()["incidents"] == []
    assert (row["reason"], row["link"], row["incidents"]) == (None, None, 0)


def test_an_unknown_status_is_refused(fleet):
    r = fleet.get("/api/v1/charts/aborted", params={"status": "lost"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["path"] == "query.status"
    assert fleet.get("/aborted", params={"status": "lost"}).status_code == 422


def test_the_task_page_says_why_each_incident_is_linked(fleet):
    html = fleet.get("/tasks/5").text
    assert 'Incidents <span class="muted">(2)</span>' in html
    assert "Linked because" in html
    assert 'data-link="agent">same agent, 30 s before<' in html
    assert 'data-link="task">named the task<' in html
    assert "lift 6 jammed" not in html and "reset after abort" not in html
