"""The agent's output parser alone, in lines/s, against a bare loop over the same bytes.

The baseline splits the same 64 KiB chunks into lines and decodes them, nothing else; the
parser adds the bounded line splitting, the ``N::`` / ``N:::`` markers, multiline messages
and the parsing of results. Mixed output: mostly plain lines, some level markers, some
multiline messages and JSON results.

    .venv/bin/python benchmarks/agent_parser.py [--lines 400000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from watchkeeper.agent.parser import LineSplitter, StreamParser

CHUNK = 1 << 16


def output(lines: int) -> bytes:
    parts = []
    for i in range(lines):
        kind = i % 20
        if kind == 0:
            parts.append(f"3::processed item {i} for the operator")
        elif kind == 1:
            parts.append(f'20::{{"item": {i}, "ok": true, "took_ms": 12.5}}')
        elif kind == 2:
            parts.append(f"7:::warning about item {i}")
        elif kind == 3:
            parts.append(":::")
        else:
            parts.append(f"2026-05-01 10:00:00,123 INFO worker: handled request {i} in 3 ms")
    return ("\n".join(parts) + "\n").encode()


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def bare(pieces: list[bytes]) -> int:
    count = 0
    rest = b""
    for chunk in pieces:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            line.decode("utf-8", "replace")
            count += 1
    return count


def parsed(pieces: list[bytes]) -> int:
    splitter = LineSplitter(1 << 20)
    parser = StreamParser(1, 1 << 20)
    count = 0
    now = time.time()
    for chunk in pieces:
        for line, cut in splitter.feed(chunk):
            if parser.line(line, now, cut) is not None:
                count += 1
    return count


def rate(func, pieces: list[bytes], lines: int, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        func(pieces)
        out.append(lines / (time.perf_counter() - start))
    return out


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--lines", type=int, default=400_000)
    args.add_argument("--rounds", type=int, default=5)
    opts = args.parse_args()
    pieces = chunks(output(opts.lines))
    messages = parsed(pieces)
    base = rate(bare, pieces, opts.lines, opts.rounds)
    ours = rate(parsed, pieces, opts.lines, opts.rounds)
    b, o = statistics.median(base), statistics.median(ours)
    print(f"{opts.lines} lines ({messages} messages), median of {opts.rounds}")
    print(f"bare split + decode (baseline): {b:12,.0f} lines/s")
    print(f"agent parser:                   {o:12,.0f} lines/s   ratio {o / b:.2f} of bare")


if __name__ == "__main__":
    main()
