"""Replay throughput of the working tree, alone or beside another revision in the same run.

    .venv/bin/python bench/replay_bench.py [--n 1000000] [--seed 20260701] [--profile [N]]
    .venv/bin/python bench/replay_bench.py --compare REV [--rounds 3] [--n 200000]

1. Generates N synthetic JSON lines (streams.dev.synthetic.generate_events: a large aplastic anemia cohort, labs
   and vitals dominating, ~0.1% deliberately malformed) into a temporary file. Not timed.
2. Replays them with the full ``safety replay`` path (read the file, parse, step every event through grading and
   the detectors, the study-level stopping rule, write graded/alerts/rejected/events.jsonl to a temporary
   directory; rule loading included, about a second) and prints events/s per CPU second of the replaying process
   (the one-core figure even on a shared machine; wall time beside it).

``--compare REV`` checks REV out into a temporary ``git worktree`` and replays the same file with REV's code and
with the working tree's, alternating (REV, tree, REV, tree, ...) for ``--rounds`` rounds, each replay in its own
subprocess whose PYTHONPATH is its tree: a load that comes and goes on the machine touches both sides alike. It
prints the median rate of each and the ratio tree / REV (above 1: the working tree is faster). The worktree is
removed at the end. ``--profile`` replays again under cProfile and prints the N functions with the largest own
time (and the cumulative view), to find what dominates.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the working tree's packages
    sys.path.insert(0, str(ROOT))

from streams.dev.synthetic import DEFAULT_SEED, generate_events  # noqa: E402

# One replay in a fresh interpreter; prints its CPU seconds. The replay entry point moved between revisions
# (safety.replay_cli before the core/shell split, streams.cli.replay after): the older one is tried first, as an
# installed checkout of the newer layout may also be importable.
_RUNNER = """
import sys, time
from pathlib import Path
try:
    from safety.replay_cli import run
except ImportError:
    from streams.cli.replay import run
started = time.process_time()
code = run(Path(sys.argv[1]), Path(sys.argv[2]), None, quiet=True, progress=False)
print(time.process_time() - started)
sys.exit(code)
"""


def write_events(path: Path, n: int, seed: int) -> int:
    """Write N lines; returns the byte size."""
    with path.open("wb") as out:
        for line in generate_events(n, seed):
            out.write(line + b"\n")
    return path.stat().st_size


def count_lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in source)


def replay_in(tree: Path, events: Path, out: Path) -> tuple[float, float]:
    """CPU seconds (inside the replaying process) and wall seconds of one replay with ``tree``'s code."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(events), str(out)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"replay with {tree} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1]), wall


def profile_replay(events: Path, out: Path, top: int) -> None:
    from streams.cli.replay import run as replay_file

    profiler = cProfile.Profile()
    profiler.enable()
    replay_file(events, out, None, quiet=True, progress=False)
    profiler.disable()
    for order, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order)
        stats.print_stats(top)
        print(f"\n--- profile, top {top} by {title} ---")
        print("\n".join(buffer.getvalue().splitlines()[6:]))


def worktree_of(rev: str, where: Path) -> Path:
    """A detached worktree of ``rev`` under ``where`` (the caller removes it with :func:`remove_worktree`)."""
    path = where / "rev"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), rev], check=True)
    return path


def remove_worktree(path: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


def compare(rev: str, events: Path, n: int, rounds: int, tmp: Path) -> None:
    other = worktree_of(rev, tmp)
    rates: dict[str, list[float]] = {rev: [], "working tree": []}
    try:
        for number in range(1, rounds + 1):
            for name, tree in ((rev, other), ("working tree", ROOT)):
                out = tmp / f"out-{number}-{'rev' if tree == other else 'tree'}"
                cpu, wall = replay_in(tree, events, out)
                rates[name].append(n / cpu)
                print(
                    f"round {number} {name:>14}: {n / cpu:>10,.0f} events/s (CPU {cpu:.1f} s, wall {wall:.1f} s, "
                    f"{count_lines(out / 'graded.jsonl'):,} graded rows)",
                    file=sys.stderr,
                )
    finally:
        remove_worktree(other)
    old, new = statistics.median(rates[rev]), statistics.median(rates["working tree"])
    print(f"{rev}: {old:>12,.0f} events/s (median of {rounds})")
    print(f"working tree: {new:>12,.0f} events/s (median of {rounds})")
    print(f"ratio:        {new / old:>12.2f}  (working tree / {rev})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (fixed by default)")
    parser.add_argument("--compare", metavar="REV", help="also replay with the code of git revision REV, alternating")
    parser.add_argument("--rounds", type=int, default=3, help="replays of each side with --compare (default 3)")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=30,
        default=0,
        metavar="N",
        help="also profile a replay with cProfile and print the top N functions",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as name:
        tmp = Path(name)
        events = tmp / "events.jsonl"
        started = time.perf_counter()
        size = write_events(events, args.n, args.seed)
        print(
            f"generated {args.n:,} events ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s "
            f"(seed {args.seed})",
            file=sys.stderr,
        )
        print(f"events:       {args.n:>12,}")
        if args.compare:
            compare(args.compare, events, args.n, args.rounds, tmp)
        else:
            cpu, wall = replay_in(ROOT, events, tmp / "out")
            graded, alerts = count_lines(tmp / "out" / "graded.jsonl"), count_lines(tmp / "out" / "alerts.jsonl")
            print(
                f"safety replay: {args.n / cpu:>11,.0f} events/s (CPU {cpu:.1f} s, wall {wall:.1f} s, "
                f"{graded:,} graded rows, {alerts:,} alerts)"
            )
        if args.profile:
            profile_replay(events, tmp / "profiled", args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
