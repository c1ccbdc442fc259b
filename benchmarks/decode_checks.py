"""What the nesting check costs the decoding of a request body, against a baseline beside it.

Decodes the same bodies with the check (what the server runs) and with it switched off (the
baseline), alternating, and prints the median time of each and their ratio. Bodies: a JSON
array and NDJSON of seed-000 task messages (flat objects), and a JSON array of incidents
(objects holding objects), 10,000 events each.

Usage: python benchmarks/decode_checks.py [--events N] [--rounds N]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import orjson

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import harness  # noqa: E402

from watchkeeper.events import decode  # noqa: E402


def incidents(count: int) -> list[dict]:
    return [
        {
            "id_agent": 700 + n % 200,
            "datetime": "2024-05-01 10:00:00.00",
            "message": f"stuck at lift {n % 9}",
            "last_state": "moving",
            "task": {"id_current_task": n, "current_subtask": 2, "subtasks_left": 3},
            "curent_loc": "A-1",
            "target_loc": "B-2",
            "pings": {"idle": 3, "moving": n % 50},
        }
        for n in range(count)
    ]


def timed(body: bytes, content_type: str, check: bool) -> float:
    original = decode.may_be_deep
    if not check:
        decode.may_be_deep = lambda _body: False
    try:
        start = time.perf_counter()
        decode.decode_events(body, content_type)
        return time.perf_counter() - start
    finally:
        decode.may_be_deep = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    tasks = harness.task_events(0, args.events)
    cases: list[tuple[str, bytes, str]] = [
        ("tasks, JSON array", orjson.dumps(tasks), "application/json"),
        ("tasks, NDJSON", b"\n".join(map(orjson.dumps, tasks)), "application/x-ndjson"),
        ("incidents, JSON array", orjson.dumps(incidents(args.events)), "application/json"),
    ]
    print(f"{'body':<24}{'baseline ms':>13}{'checked ms':>12}{'ratio':>8}")
    for label, body, content_type in cases:
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for check in (False, True):
                runs[check].append(timed(body, content_type, check))
        base, checked = statistics.median(runs[False]), statistics.median(runs[True])
        print(f"{label:<24}{base * 1e3:>13.1f}{checked * 1e3:>12.1f}{checked / base:>8.3f}")


if __name__ == "__main__":
    main()
