"""Replay throughput beside a parse-only ceiling, in one run (issue 3: ratio >= 0.5, >= 50,000 events/s).

    .venv/bin/python bench/replay_bench.py [--n 1000000] [--seed 20260701] [--profile [N]]

1. Generates N synthetic JSON lines (streams.dev.synthetic.generate_events: a large aplastic anemia cohort, labs
   and vitals dominating, ~0.1% deliberately malformed) into a temporary file. Not timed.
2. Parse-only ceiling: pydantic validation of the same lines, ``TypeAdapter(Event).validate_json`` per
   line, no grading, no output.
3. Replay: the full ``safety replay`` path (streams.cli.replay.run: read the file, parse, step every event
   through grading and the detectors, the study-level stopping rule, write graded/alerts/rejected/events.jsonl
   to a temporary directory).

Prints events/s of both (per CPU second of this process: the one-core figure even on a shared machine;
wall time beside it) and their ratio. ``--profile`` replays again under cProfile and prints the N functions
with the largest own time (and the cumulative view), to find what dominates. Single process, one core.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from safety.model.events import DEFAULT_TZ, Event
from streams.cli.replay import run as replay_file
from streams.dev.synthetic import DEFAULT_SEED, generate_events

GOAL_RATE = 50_000
GOAL_RATIO = 0.5


def write_events(path: Path, n: int, seed: int) -> int:
    """Write N lines; returns the byte size."""
    with path.open("wb") as out:
        for line in generate_events(n, seed):
            out.write(line + b"\n")
    return path.stat().st_size


def parse_only(path: Path) -> tuple[float, float, int, int]:
    """Wall and CPU seconds to validate every line with the event union (the ceiling), accepted, rejected."""
    adapter: TypeAdapter[Event] = TypeAdapter(Event)
    context = {"tz": DEFAULT_TZ}
    accepted = rejected = 0
    with path.open("rb") as source:
        lines = source.readlines()
    started, cpu = time.perf_counter(), time.process_time()
    for line in lines:
        try:
            adapter.validate_json(line, context=context)
            accepted += 1
        except ValidationError:
            rejected += 1
    return time.perf_counter() - started, time.process_time() - cpu, accepted, rejected


def replay_once(path: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the whole ``safety replay`` path (rule loading included, about a second)."""
    started, cpu = time.perf_counter(), time.process_time()
    code = replay_file(path, out, None, quiet=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"replay failed with exit code {code}")
    return elapsed, cpu


def count_lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in source)


def profile_replay(path: Path, out: Path, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    replay_file(path, out, None, quiet=True)
    profiler.disable()
    for order, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order)
        stats.print_stats(top)
        print(f"\n--- profile, top {top} by {title} ---")
        print("\n".join(buffer.getvalue().splitlines()[6:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (fixed by default)")
    parser.add_argument("--profile", type=int, nargs="?", const=30, default=0, metavar="N",
                        help="also profile a second replay with cProfile and print the top N functions")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        events = Path(tmp) / "events.jsonl"
        started = time.perf_counter()
        size = write_events(events, args.n, args.seed)
        print(f"generated {args.n:,} events ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s "
              f"(seed {args.seed}); one process, pid {os.getpid()}", file=sys.stderr)

        parse_s, parse_cpu, accepted, rejected = parse_only(events)
        out = Path(tmp) / "out"
        replay_s, replay_cpu = replay_once(events, out)
        graded = count_lines(out / "graded.jsonl")
        alerts = count_lines(out / "alerts.jsonl")

        # CPU time is the one-core figure on a shared machine; wall time is shown beside it.
        parse_rate, replay_rate = args.n / parse_cpu, args.n / replay_cpu
        ratio = replay_rate / parse_rate
        print(f"events:          {args.n:>12,}  (valid {accepted:,}, malformed {rejected:,})")
        print(f"parse only:      {parse_rate:>12,.0f} events/s (CPU {parse_cpu:.1f} s, wall {parse_s:.1f} s;"
              " validate_json per line)")
        timing = f"CPU {replay_cpu:.1f} s, wall {replay_s:.1f} s, {graded:,} graded rows, {alerts:,} alerts"
        print(f"safety replay:   {replay_rate:>12,.0f} events/s ({timing})")
        print(f"ratio:           {ratio:>12.2f}  (goals: ratio >= {GOAL_RATIO}, replay >= {GOAL_RATE:,}/s)")
        met = ratio >= GOAL_RATIO and replay_rate >= GOAL_RATE
        print("goal:            " + ("met" if met else "NOT met"))
        if args.profile:
            profile_replay(events, Path(tmp) / "profiled", args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
