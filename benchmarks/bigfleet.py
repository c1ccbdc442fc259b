"""A large, realistic fleet history for the dashboard benchmark.

``generate(db)`` fills a database with about ``tasks`` seed-000 tasks and ``events`` events from
``agents`` agents over the ``span`` seconds before ``end``: producers create tasks, agents take
them (created → submitted → running → finished, or an incident then aborted), and ping their
state switches (idle, await_path, moving, recover) plus "still moving" pings in between. The
messages go through the real decoder and ``store_events`` (the writer's transaction function)
straight on an engine, which is much faster than HTTP and stores exactly the same rows.

Run alone: ``python benchmarks/bigfleet.py wk-big.db``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from watchkeeper.events.decode import decode_events
from watchkeeper.store import db as store_db
from watchkeeper.store.writer import store_events
from watchkeeper.views import ALL_VIEWS

PROBLEMS = [
    ("await_path", "no path to target (network problem)"),
    ("moving", "obstacle detected at {loc}, emergency stop"),
    ("moving", "battery low: {n}% left"),
    ("await_path", "path planner timeout after {n} s"),
]


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def messages(
    *,
    tasks: int,
    events: int,
    agents: int,
    producers: int,
    span: float,
    end: float,
    abort_rate: float = 0.08,
    seed: int = 7,
) -> list[tuple[float, dict[str, Any]]]:
    """``(ts, message)`` pairs in time order, cut at ``end`` (so some tasks are in progress)."""
    rng = random.Random(seed)
    start = end - span
    per_agent = tasks // agents
    cycle = span / per_agent
    # Events of one task cycle, without filler pings: 4 task statuses, 3 state pings, and on an
    # abort an incident plus a recover ping.
    structured = per_agent * agents * (7 + 2 * abort_rate)
    filler = max(0.0, (events - structured) / (per_agent * agents))
    out: list[tuple[float, dict[str, Any]]] = []
    task_id = 0
    locations = [f"{aisle}{n:02d}" for aisle in "ABCDEFGH" for n in range(1, 25)]

    def ping(agent: int, ts: float, state: str, message: str, loc: str) -> None:
        out.append(
            (
                ts,
                {
                    "level": "info",
                    "id_agent": agent,
                    "datetime": stamp(ts),
                    "message": message,
                    "state": state,
                    "curent_loc": loc,
                },
            )
        )

    def status(task: int, ts: float, value: str, **extra: Any) -> None:
        item = {"id_task": task, "datetime": stamp(ts), "level": "info", "status": value}
        item.update(extra)
        out.append((ts, item))

    for index in range(agents):
        agent = 1000 + index
        loc = rng.choice(locations)
        t = start + rng.uniform(0, cycle)
        ping(agent, t - 1, "idle", "waiting for next task", loc)
        for _ in range(per_agent):
            task_id += 1
            producer = rng.randrange(producers)
            target = rng.choice(locations)
            length = cycle * rng.uniform(0.5, 0.9)
            status(task_id, t - rng.uniform(2, 60), "created", created_by=producer)
            status(task_id, t, "submitted", created_by=producer, assigned_to=agent)
            ping(agent, t + 0.2, "await_path", "waiting for a path", loc)
            moving = t + rng.uniform(2, 8)
            ping(agent, moving, "moving", f"moving to {target}", loc)
            status(task_id, moving, "running", assigned_to=agent)
            done = t + length
            extra = int(filler) + (1 if rng.random() < filler - int(filler) else 0)
            for k in range(extra):
                ping(
                    agent,
                    moving + (done - moving) * (k + 1) / (extra + 1),
                    "moving",
                    "still moving",
                    loc,
                )
            if rng.random() < abort_rate:
                last_state, text = rng.choice(PROBLEMS)
                message = text.format(loc=loc, n=rng.randint(3, 60))
                out.append(
                    (
                        done - 0.5,
                        {
                            "level": "error",
                            "id_agent": agent,
                            "datetime": stamp(done - 0.5),
                            "message": message,
                            "last_state": last_state,
                            "task": {
                                "id_current_task": task_id,
                                "current_subtask": rng.randint(0, 3),
                                "subtasks_left": rng.randint(0, 4),
                            },
                            "curent_loc": loc,
                            "target_loc": target,
                            "pings": {"idle": 1, "await_path": 1, "moving": 1 + extra},
                        },
                    )
                )
                out.append(
                    (
                        done,
                        {
                            "id_task": task_id,
                            "datetime": stamp(done),
                            "level": "error",
                            "status": "aborted",
                            "assigned_to": agent,
                        },
                    )
                )
                ping(agent, done + 0.1, "recover", "recovering", loc)
                ping(agent, done + 5, "idle", "waiting for next task", loc)
            else:
                status(task_id, done, "finished", assigned_to=agent)
                loc = target
                ping(agent, done + 0.1, "idle", "waiting for next task", loc)
            t += cycle * rng.uniform(0.95, 1.05)
    out.sort(key=lambda pair: pair[0])
    return [pair for pair in out if pair[0] <= end]


def generate(
    db: str,
    *,
    tasks: int = 100_000,
    events: int = 1_000_000,
    agents: int = 200,
    producers: int = 10,
    span: float = 86_400.0,
    end: float | None = None,
    batch: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fill ``db`` (migrated first) and return how many events were stored."""
    end = time.time() if end is None else end
    items = messages(
        tasks=tasks, events=events, agents=agents, producers=producers, span=span, end=end
    )
    engine = store_db.make_engine(db, writer=True, synchronous="OFF")
    store_db.upgrade(engine)
    stored = 0
    try:
        for first in range(0, len(items), batch):
            part = items[first : first + batch]
            decoded = decode_events(orjson.dumps([m for _, m in part]), "application/json")
            for event, (ts, _) in zip(decoded, part, strict=True):
                event.received_at = ts  # as if each had arrived live
            with engine.begin() as conn:
                store_events(conn, ALL_VIEWS, [decoded])
            stored += len(decoded)
            if progress is not None:
                progress(stored, len(items))
    finally:
        engine.dispose()
    return stored


if __name__ == "__main__":
    started = time.perf_counter()
    count = generate(
        sys.argv[1], progress=lambda n, total: print(f"\r{n}/{total}", end="", flush=True)
    )
    print(f"\n{count} events in {time.perf_counter() - started:.1f} s")
