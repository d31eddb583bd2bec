"""Replay throughput of the working tree, alone or beside another revision in the same run.

    .venv/bin/python bench/replay_bench.py [--n 1000000] [--seed 20260701] [--profile [N]]
    .venv/bin/python bench/replay_bench.py --compare REV [--rounds 3] [--n 200000]
    .venv/bin/python bench/replay_bench.py --workload labs [--n 1000000] [--jobs N]

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

``--workload labs`` is the lab-heavy file a trial statistician grades with admiral: about N lab results (9,400
subjects x 107 results over a year for 1,000,000: a baseline panel of the 16 tests two days before an infusion on
day 0, then one result every four days, the tests in turn; SI units, each subject's laboratory with its own ranges).
It is replayed with ``--jobs 1`` and with ``--jobs N`` (default: the machine's cores), and each prints records/s
(CPU of all its processes, and wall), peak memory (resident, the main process and the largest shard), graded rows
and the bytes a graded row takes in graded.jsonl.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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


# One replay of the working tree with --jobs; prints CPU seconds of this process and of its shards, wall seconds,
# and the peak resident memory (KiB) of this process and of the largest shard.
_JOBS_RUNNER = """
import resource, sys, time
from pathlib import Path
from streams.cli.replay import run
cpu, wall = time.process_time(), time.perf_counter()
code = run(Path(sys.argv[1]), Path(sys.argv[2]), None, quiet=True, progress=False, jobs=int(sys.argv[3]))
me, shards = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.process_time() - cpu, shards.ru_utime + shards.ru_stime, time.perf_counter() - wall, me.ru_maxrss,
      shards.ru_maxrss)
sys.exit(code)
"""

# The laboratory panel: test, SI unit, and the (low, high) reference ranges of three laboratories.
LAB_PANEL: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...] = (
    ("NEUT", "10^9/L", ((1.8, 6.3), (2.0, 7.5), (1.5, 7.0))),
    ("PLAT", "10^9/L", ((125, 350), (150, 400), (140, 440))),
    ("HGB", "g/L", ((115, 150), (120, 160), (118, 158))),
    ("WBC", "10^9/L", ((3.5, 9.5), (4.0, 10.0), (4.0, 11.0))),
    ("LYM", "10^9/L", ((1.1, 3.2), (1.0, 4.0), (1.2, 3.4))),
    ("ALT", "U/L", ((7, 40), (9, 50), (5, 35))),
    ("AST", "U/L", ((13, 35), (15, 40), (10, 40))),
    ("BILI", "umol/L", ((3.4, 20.5), (0, 21), (5, 21))),
    ("ALP", "U/L", ((35, 100), (45, 125), (40, 129))),
    ("GGT", "U/L", ((7, 45), (10, 60), (8, 61))),
    ("CREAT", "umol/L", ((41, 73), (57, 97), (45, 84))),
    ("ALB", "g/L", ((40, 55), (35, 50), (38, 54))),
    ("K", "mmol/L", ((3.5, 5.3), (3.5, 5.1), (3.4, 4.8))),
    ("SODIUM", "mmol/L", ((137, 147), (135, 145), (136, 146))),
    ("CA", "mmol/L", ((2.11, 2.52), (2.15, 2.55), (2.2, 2.65))),
    ("GLUC", "mmol/L", ((3.9, 6.1), (3.9, 5.6), (4.1, 5.9))),
)
LABS_PER_SUBJECT = 107  # a baseline panel of 16, then 91 results over the year
LABS_START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def lab_events(n: int, seed: int) -> Iterator[bytes]:
    """About ``n`` lab results (and one infusion per subject) of ``n // 107`` subjects, one subject after another
    as an SDTM LB extract lists them. Values scatter around each laboratory's range: mostly normal, a tail of
    grades 1-4 either side."""
    rng = random.Random(seed)
    study = "ChiCTR2600125907"
    for number in range(1, max(1, n // LABS_PER_SUBJECT) + 1):
        subject = f"AA-{number:04d}"
        lab = rng.randrange(3)
        day0 = LABS_START + timedelta(days=rng.randrange(60), minutes=rng.randrange(240))
        schedule = [(-2, i) for i in range(len(LAB_PANEL))]
        schedule += [(4 * i + 1, i % len(LAB_PANEL)) for i in range(LABS_PER_SUBJECT - len(LAB_PANEL))]
        infusion = {
            "type": "infusion",
            "event_id": f"INF-{subject}",
            "study_id": study,
            "subject_id": subject,
            "occurred_at": day0.isoformat(),
            "infusion_number": 1,
            "dose_per_kg": 1.0e6,
        }
        emitted = False
        for day, index in schedule:
            if day >= 0 and not emitted:
                yield json.dumps(infusion, separators=(",", ":")).encode()
                emitted = True
            test, unit, ranges = LAB_PANEL[index]
            low, high = ranges[lab]
            mid, half = (low + high) / 2, (high - low) / 2
            value = max(0.0, mid + half * rng.gauss(0, 0.9 if day < 0 else 1.4))
            at = day0 + timedelta(days=day, hours=-1)
            yield json.dumps(
                {
                    "type": "lab",
                    "event_id": f"L-{subject}-{day}-{test}",
                    "study_id": study,
                    "subject_id": subject,
                    "occurred_at": at.isoformat(),
                    "recorded_at": (at + timedelta(hours=3)).isoformat(),
                    "source": "LIS",
                    "test": test,
                    "value": round(value, 2),
                    "unit": unit,
                    "ref_low": low,
                    "ref_high": high,
                },
                separators=(",", ":"),
            ).encode()


def labs(n: int, seed: int, jobs: int, tmp: Path) -> None:
    events = tmp / "labs.jsonl"
    started = time.perf_counter()
    with events.open("wb") as handle:
        for line in lab_events(n, seed):
            handle.write(line + b"\n")
    records = count_lines(events)
    print(
        f"generated {records:,} records ({events.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    print(f"records:      {records:>12,}  ({records // LABS_PER_SUBJECT:,} subjects, lab-heavy)")
    for n_jobs in sorted({1, jobs}):
        out = tmp / f"out-{n_jobs}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", _JOBS_RUNNER, str(events), str(out), str(n_jobs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"replay --jobs {n_jobs} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        cpu, shards_cpu, wall, rss, shard_rss = (float(x) for x in done.stdout.split())
        total_cpu = cpu + shards_cpu
        rows = count_lines(out / "graded.jsonl")
        size = (out / "graded.jsonl").stat().st_size
        print(
            f"--jobs {n_jobs}: {records / wall:>10,.0f} records/s (wall {wall:.1f} s; CPU {total_cpu:.1f} s in all "
            f"processes, {records / total_cpu:,.0f} records per CPU second); peak memory {rss / 1024:,.0f} MB main"
            + (f" + {shard_rss / 1024:,.0f} MB largest shard" if n_jobs > 1 else "")
            + f"; {rows:,} graded rows, {size / max(rows, 1):.0f} bytes per graded row"
        )


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
    parser.add_argument(
        "--workload",
        choices=("synthetic", "labs"),
        default="synthetic",
        help="synthetic: the trial cohort (default); labs: lab results only, --jobs 1 and --jobs N",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the second replay of --workload labs (default: the machine's cores)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as name:
        tmp = Path(name)
        if args.workload == "labs":
            labs(args.n, args.seed, args.jobs, tmp)
            return 0
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
