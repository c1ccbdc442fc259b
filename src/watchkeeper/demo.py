"""A simulated fleet for ``watchkeeper demo``: producers create tasks, agents run them.

Agents move through idle → await_path → moving → idle; a task goes created → submitted →
finished, or, now and then, the agent reports an incident and the task is aborted. Everything
is sent as the fleet's own seed-000 messages, stamped with the current time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PROBLEMS = [
    ("await_path", "no path to target (network problem)"),
    ("moving", "obstacle detected, emergency stop"),
    ("moving", "battery low: 7% left"),
    ("await_path", "path planner timeout after 30 s"),
]
LOCATIONS = [f"{aisle}{n:02d}" for aisle in "ABCD" for n in range(1, 13)]


def stamp(ts: float) -> str:
    """The fleet's time format, ``YYYY-MM-DD HH:MM:SS.mmm`` in UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass
class Agent:
    id: int
    state: str = "idle"
    task: int | None = None
    until: float = 0.0
    loc: str = "A01"
    target: str = ""
    pings: dict[str, int] = field(default_factory=lambda: {"idle": 0, "await_path": 0, "moving": 0})


class Fleet:
    """Produces the fleet's messages for each simulated step."""

    def __init__(
        self, agents: int = 8, producers: int = 2, abort_rate: float = 0.12, seed: int | None = None
    ) -> None:
        self.rng = random.Random(seed)
        self.agents = [Agent(777 + i) for i in range(agents)]
        self.producers = list(range(producers))
        self.abort_rate = abort_rate
        self.queue: list[tuple[int, int]] = []
        self.next_task = int(time.time()) % 100_000 * 100

    def step(self, now: float) -> Iterator[dict[str, Any]]:
        rng = self.rng
        if rng.random() < 0.6 or not self.queue:
            producer = rng.choice(self.producers)
            self.next_task += 1
            self.queue.append((self.next_task, producer))
            yield {
                "id_task": self.next_task,
                "datetime": stamp(now),
                "level": "info",
                "status": "created",
                "created_by": producer,
            }
        for agent in self.agents:
            agent.pings[agent.state] = agent.pings.get(agent.state, 0) + 1
            if agent.state == "idle" and self.queue:
                task, producer = self.queue.pop(0)
                agent.task, agent.target = task, rng.choice(LOCATIONS)
                yield {
                    "id_task": task,
                    "datetime": stamp(now),
                    "level": "info",
                    "status": "submitted",
                    "created_by": producer,
                    "assigned_to": agent.id,
                }
                yield from self._switch(agent, "await_path", now, rng.uniform(1, 3))
            elif agent.state != "idle" and now >= agent.until:
                if agent.state == "recover":
                    yield from self._switch(agent, "idle", now, 0)
                elif agent.state == "await_path":
                    yield from self._switch(agent, "moving", now, rng.uniform(2, 6))
                elif rng.random() < self.abort_rate:
                    yield from self._abort(agent, now)
                else:
                    yield {
                        "id_task": agent.task,
                        "datetime": stamp(now),
                        "level": "info",
                        "status": "finished",
                        "assigned_to": agent.id,
                    }
                    agent.loc = agent.target
                    yield from self._switch(agent, "idle", now, 0)
            elif rng.random() < 0.05:
                yield self._ping(agent, now, "still " + agent.state)

    def _ping(self, agent: Agent, now: float, message: str) -> dict[str, Any]:
        return {
            "level": "info",
            "id_agent": agent.id,
            "datetime": stamp(now),
            "message": message,
            "state": agent.state,
            "curent_loc": agent.loc,
        }

    def _switch(
        self, agent: Agent, state: str, now: float, hold: float
    ) -> Iterator[dict[str, Any]]:
        agent.state, agent.until = state, now + hold
        messages = {
            "idle": "waiting for next task",
            "await_path": "waiting for a path",
            "moving": f"moving to {agent.target}",
            "recover": "recovering",
        }
        yield self._ping(agent, now, messages[state])

    def _abort(self, agent: Agent, now: float) -> Iterator[dict[str, Any]]:
        last_state, message = self.rng.choice(PROBLEMS)
        yield {
            "level": "error",
            "id_agent": agent.id,
            "datetime": stamp(now),
            "message": message,
            "last_state": last_state,
            "task": {
                "id_current_task": agent.task,
                "current_subtask": self.rng.randint(0, 3),
                "subtasks_left": self.rng.randint(0, 4),
            },
            "curent_loc": agent.loc,
            "target_loc": agent.target,
            "pings": dict(agent.pings),
        }
        yield {
            "id_task": agent.task,
            "datetime": stamp(now),
            "level": "error",
            "status": "aborted",
            "assigned_to": agent.id,
        }
        yield from self._switch(agent, "recover", now, self.rng.uniform(1, 3))


def run(
    send: Callable[[list[dict[str, Any]]], Any],
    *,
    duration: float,
    step: float = 0.5,
    agents: int = 8,
    producers: int = 2,
    seed: int | None = None,
    on_step: Callable[[int], None] | None = None,
) -> int:
    """Simulate in real time for ``duration`` seconds (0: until interrupted)."""
    fleet = Fleet(agents=agents, producers=producers, seed=seed)
    sent = 0
    start = time.time()
    while duration <= 0 or time.time() - start < duration:
        tick = time.time()
        batch = list(fleet.step(tick))
        if batch:
            send(batch)
            sent += len(batch)
            if on_step is not None:
                on_step(len(batch))
        time.sleep(max(0.0, step - (time.time() - tick)))
    return sent
