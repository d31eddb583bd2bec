"""bench/replay_bench.py stays runnable: a tiny run prints both rates and their ratio (no figure asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "replay_bench.py"


def test_replay_bench_prints_replay_and_parse_only_rates_and_their_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--n", "3000"],
        capture_output=True,
        text=True,
        check=True,
        cwd=BENCH.parents[1],
    )
    assert re.search(r"parse only:\s+[\d,]+ events/s", done.stdout)
    assert re.search(r"safety replay:\s+[\d,]+ events/s", done.stdout)
    assert re.search(r"ratio:\s+\d+\.\d\d", done.stdout)
    assert re.search(r"events:\s+3,000\s+\(valid 2,9\d\d, malformed \d+\)", done.stdout)
