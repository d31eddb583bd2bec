"""bench/replay_bench.py stays runnable: a tiny run prints the replay rate, and ``--compare`` prints the rate of a
revision and of the working tree and their ratio, leaving no worktree behind (no figure asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "replay_bench.py"


def bench(*args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout


def worktrees() -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in listed.splitlines() if line.startswith("worktree ")]


def test_replay_bench_prints_the_replay_rate() -> None:
    out = bench("--n", "2000")
    assert re.search(r"events:\s+2,000\n", out)
    assert re.search(r"safety replay:\s+[\d,]+ events/s \(CPU [\d.]+ s, wall [\d.]+ s, [\d,]+ graded rows", out)


def test_compare_replays_a_revision_and_the_working_tree_and_prints_both_rates_and_the_ratio() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no revision to compare with")
    before = worktrees()
    out = bench("--n", "1000", "--compare", "HEAD", "--rounds", "1")
    assert re.search(r"HEAD:\s+[\d,]+ events/s \(median of 1\)", out)
    assert re.search(r"working tree:\s+[\d,]+ events/s \(median of 1\)", out)
    assert re.search(r"ratio:\s+\d+\.\d\d\s+\(working tree / HEAD\)", out)
    assert worktrees() == before


def test_the_labs_workload_prints_both_job_counts_with_memory_rows_and_bytes_per_row() -> None:
    out = bench("--workload", "labs", "--n", "1100", "--jobs", "2")
    assert re.search(r"records:\s+1,080\s+\(10 subjects, lab-heavy\)", out)  # 10 x 107 results and 10 infusions
    for jobs in (1, 2):
        assert re.search(rf"--jobs {jobs}:\s+[\d,]+ records/s \(wall [\d.]+ s; CPU [\d.]+ s in all processes", out)
    assert re.search(r"peak memory [\d,]+ MB main \+ [\d,]+ MB largest shard; [\d,]+ graded rows, \d+ bytes per", out)
