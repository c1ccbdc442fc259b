"""Programs supervised by node agents: what each agent last said of its programs (state,
restarts, last exit code, last process sample) and every run's outcome with its exit code.

The agent reports both in events other views read too: its heartbeat (``component.state`` of
type ``agent``) carries a summary of its programs, and each run is a task whose final
``task.status`` carries ``exit_code`` and ``reason``. Those extra fields are read from the
event's body, as sent, and anything of an unexpected shape is left out rather than refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.events.fields import int_reason
from watchkeeper.events.kinds import COMPONENT_STATE, TASK_STATUS
from watchkeeper.store import bulk
from watchkeeper.store.tables import Time, metadata
from watchkeeper.views.base import chunks, dumps, loads

agent_programs = sa.Table(
    "agent_programs",
    metadata,
    sa.Column("agent", sa.String(200), primary_key=True),
    sa.Column("domain", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(64)),
    sa.Column("pid", sa.BigInteger),
    sa.Column("runs", sa.BigInteger),
    sa.Column("restarts", sa.BigInteger),
    sa.Column("task", sa.String(200)),
    sa.Column("exit_code", sa.BigInteger),
    sa.Column("stats", sa.Text),
    sa.Column("updated_at", Time, nullable=False),
)

program_runs = sa.Table(
    "program_runs",
    metadata,
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("agent", sa.String(200)),
    sa.Column("domain", sa.String(200)),
    sa.Column("name", sa.String(200)),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("exit_code", sa.BigInteger),
    sa.Column("reason", sa.Text),
    sa.Column("ts", Time, nullable=False),
    sa.Index("ix_program_runs_agent_ts", "agent", "ts"),
)

_PROGRAM_COLUMNS = (
    "agent", "domain", "name", "state", "pid", "runs", "restarts", "task", "exit_code", "stats",
    "updated_at",
)  # fmt: skip
_RUN_COLUMNS = ("task", "agent", "domain", "name", "status", "exit_code", "reason", "ts")
_NEWER = "CASE WHEN excluded.{1} >= {{t}}.{1} THEN excluded.{0} ELSE {{t}}.{0} END"
_PROGRAM_FOLD = {c: _NEWER.format(c, "updated_at") for c in _PROGRAM_COLUMNS[3:-1]}
_PROGRAM_FOLD["updated_at"] = bulk.keep_max("updated_at")
_RUN_FOLD = {c: _NEWER.format(c, "ts") for c in _RUN_COLUMNS[1:-1]}
_RUN_FOLD["ts"] = bulk.keep_max("ts")


def _int(value: Any) -> int | None:
    return value if int_reason(value) is None else None


def _text(value: Any, size: int) -> str | None:
    return value[:size] if isinstance(value, str) and "\x00" not in value else None


class ProgramsView:
    name = "programs"
    kinds = frozenset({COMPONENT_STATE, TASK_STATUS})
    tables = (agent_programs, program_runs)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        programs: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        runs: dict[str, tuple[Any, ...]] = {}
        for event in events:
            body = event.body if isinstance(event.body, dict) else {}
            if event.kind == TASK_STATUS:
                # An agent's run: its final status names the exit code (None when killed).
                if "exit_code" in body or "run" in body:
                    a = event.attrs
                    runs[a["task"]] = (
                        a["task"], a["agent"], _text(body.get("domain"), 200),
                        _text(body.get("name"), 200), a["status"], _int(body.get("exit_code")),
                        _text(body.get("reason"), 2000), event.ts,
                    )  # fmt: skip
            elif event.attrs["type"] == "agent" and isinstance(body.get("programs"), list):
                for p in body["programs"]:
                    row = _program(event.attrs["id"], p, event.ts)
                    if row is not None:
                        programs[row[:3]] = row
        bulk.upsert(
            conn, agent_programs, _PROGRAM_COLUMNS, ("agent", "domain", "name"), _PROGRAM_FOLD,
            list(programs.values()),
        )  # fmt: skip
        bulk.upsert(conn, program_runs, _RUN_COLUMNS, ("task",), _RUN_FOLD, list(runs.values()))


def _program(agent: str, p: Any, ts: float) -> tuple[Any, ...] | None:
    if not isinstance(p, dict):
        return None
    domain, name = _text(p.get("domain"), 200), _text(p.get("name"), 200)
    if not domain or not name:
        return None
    stats = p.get("stats")
    stats = {k: v for k, v in stats.items() if isinstance(v, int | float)} if isinstance(
        stats, dict
    ) else {}  # fmt: skip
    return (
        agent, domain, name, _text(p.get("state"), 64), _int(p.get("pid")), _int(p.get("runs")),
        _int(p.get("restarts")), _text(p.get("task"), 200), _int(p.get("exit_code")),
        dumps(stats), ts,
    )  # fmt: skip


VIEW = ProgramsView()


# --- queries -------------------------------------------------------------------------------


def for_agent(conn: sa.Connection, agent: str, runs: int = 5) -> list[dict[str, Any]]:
    """The agent's programs as it last reported them, each with its latest ``runs`` runs."""
    p, r = agent_programs, program_runs
    rows = conn.execute(sa.select(p).where(p.c.agent == agent).order_by(p.c.domain, p.c.name))
    out = []
    for row in rows:
        recent = conn.execute(
            sa.select(r)
            .where(r.c.agent == agent, r.c.domain == row.domain, r.c.name == row.name)
            .order_by(r.c.ts.desc())
            .limit(runs)
        )
        out.append(
            {
                "domain": row.domain,
                "name": row.name,
                "state": row.state,
                "pid": row.pid,
                "runs": row.runs,
                "restarts": row.restarts,
                "task": row.task,
                "exit_code": row.exit_code,
                "stats": loads(row.stats) or {},
                "updated_at": row.updated_at,
                "recent": [_run(x) for x in recent],
            }
        )
    return out


def _run(row: Any) -> dict[str, Any]:
    return {"task": row.task, "status": row.status, "exit_code": row.exit_code, "ts": row.ts}


def outcomes(conn: sa.Connection, tasks: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Exit code and reason of the runs among ``tasks`` (other tasks are not runs)."""
    r = program_runs
    out = {}
    for part in chunks(sorted(set(tasks))):
        for row in conn.execute(sa.select(r).where(r.c.task.in_(part))):
            out[row.task] = {"exit_code": row.exit_code, "reason": row.reason}
    return out
