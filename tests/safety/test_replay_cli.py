"""`safety replay` on a file mixing good and bad input (issue 3, Must show: bad input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BASE = {"study_id": "ChiCTR2600125907", "subject_id": "AA-001"}
GOOD = [
    {**BASE, "type": "enrollment", "event_id": "E-1", "occurred_at": "2026-06-25T09:00:00", "sex": "F", "age": 40},
    {**BASE, "type": "lab", "event_id": "L-1", "occurred_at": "2026-06-30T08:00:00", "test": "ALT", "value": 30,
     "unit": "U/L", "ref_low": 7, "ref_high": 40},
    {**BASE, "type": "infusion", "event_id": "I-1", "occurred_at": "2026-07-01T09:00:00", "infusion_number": 1,
     "dose_per_kg": 1000000},
    {**BASE, "type": "lab", "event_id": "L-2", "occurred_at": "2026-07-08T08:00:00", "test": "ALT", "value": 250,
     "unit": "U/L", "ref_low": 7, "ref_high": 40},
    {**BASE, "type": "vital", "event_id": "V-1", "occurred_at": "2026-07-08T08:00:00", "test": "TEMP",
     "value": 39.5, "unit": "C"},
]
BAD = [
    ('{"type": "lab", "event_id": "L-9", "study_id": "ChiCTR26', "not valid JSON"),
    (json.dumps({**BASE, "type": "vaccination", "event_id": "X-1", "occurred_at": "2026-07-02T08:00:00"}),
     "type: expected one of"),
    (json.dumps({"study_id": "ChiCTR2600125907", "type": "lab", "event_id": "L-10", "occurred_at":
                 "2026-07-02T08:00:00", "test": "ALT", "value": 30, "unit": "U/L"}), "subject_id"),
    (json.dumps({**BASE, "type": "lab", "event_id": "L-11", "occurred_at": "2026-07-02T08:00:00", "test": "ALT",
                 "value": "n/a", "unit": "U/L"}), "lab.value"),
    (json.dumps({**BASE, "type": "lab", "event_id": "L-12", "occurred_at": "2026-07-02T08:00:00", "test": "ALT",
                 "value": 30, "unit": "furlongs", "ref_high": 40}), "unit"),
    (json.dumps({**BASE, "type": "lab", "event_id": "L-13", "occurred_at": "2026-02-30T08:00:00", "test": "ALT",
                 "value": 30, "unit": "U/L"}), "occurred_at"),
]


def replay(events: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safety", "replay", str(events), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_mixed_file_grades_every_valid_row_and_rejects_every_bad_one(tmp_path: Path) -> None:
    lines = [json.dumps(GOOD[0]), BAD[0][0], json.dumps(GOOD[1]), BAD[1][0], json.dumps(GOOD[2]), BAD[2][0],
             json.dumps(GOOD[3]), BAD[3][0], BAD[4][0], json.dumps(GOOD[4]), BAD[5][0]]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = replay(events, tmp_path / "out")
    assert result.returncode == 0, result.stderr

    graded = read(tmp_path / "out" / "graded.jsonl")
    assert {"L-1", "L-2", "V-1"} <= {row["event_id"] for row in graded}
    alt = next(row for row in graded if row["event_id"] == "L-2")
    assert alt["grade"] == 3 and alt["study_day"] == 7  # 250 U/L is 6.25 x ULN 40

    rejected = read(tmp_path / "out" / "rejected.jsonl")
    assert len(rejected) == len(BAD)
    for row, (raw, reason) in zip(rejected, BAD, strict=True):
        assert reason in row["reason"], row
        assert row["raw"] == raw
    assert [row["line"] for row in rejected] == [2, 4, 6, 8, 9, 11]
    assert "rejected: 6" in result.stderr


def test_replay_is_byte_for_byte_deterministic(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in GOOD), encoding="utf-8")
    replay(events, tmp_path / "a")
    replay(events, tmp_path / "b")
    for name in ("graded.jsonl", "alerts.jsonl", "rejected.jsonl", "events.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def replay_in_terminal(events: Path, out: Path, *options: str) -> tuple[int, str]:
    """`safety replay` with stdin, stdout and stderr on a pseudo-terminal, as a person runs it; (exit code, screen)."""
    import os
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "safety", "replay", str(events), "--out", str(out), *options],
                               stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    screen = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    return process.wait(timeout=300), screen.decode("utf-8", errors="replace")


def large_file(tmp_path: Path) -> Path:
    """Over 5 MB (the size from which a terminal gets a progress bar): the demo trial, then its lines again."""
    demo = (Path(__file__).resolve().parents[2] / "examples" / "demo_events.jsonl").read_bytes()
    events = tmp_path / "large.jsonl"
    events.write_bytes(demo + demo[: 1_500_000].rsplit(b"\n", 1)[0] + b"\n")
    assert events.stat().st_size >= 5_000_000
    return events


def test_a_large_file_replayed_in_a_terminal_shows_progress_and_succeeds(tmp_path: Path) -> None:
    code, screen = replay_in_terminal(large_file(tmp_path), tmp_path / "out")
    assert code == 0, screen
    assert "Traceback" not in screen
    assert "replaying" in screen  # the progress bar's label
    assert "events accepted: 15955" in screen


def test_no_progress_keeps_the_terminal_free_of_the_bar(tmp_path: Path) -> None:
    code, screen = replay_in_terminal(large_file(tmp_path), tmp_path / "out", "--no-progress")
    assert code == 0, screen
    assert "replaying" not in screen.replace(f"replayed {tmp_path}", "")
    assert "events accepted: 15955" in screen


def test_progress_can_be_asked_for_on_a_small_file(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in GOOD), encoding="utf-8")
    code, screen = replay_in_terminal(events, tmp_path / "out", "--progress")
    assert code == 0, screen
    assert "replaying" in screen


def test_the_summary_counts_duplicates_apart_from_accepted_and_rejected(tmp_path: Path) -> None:
    conflicting = {**GOOD[1], "value": 31}
    lines = [json.dumps(e) for e in GOOD] + [json.dumps(GOOD[1]), json.dumps(GOOD[3]), json.dumps(conflicting),
                                             BAD[0][0]]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = replay(events, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "events accepted: 5   duplicates: 3 (no effect)   rejected: 2 (see rejected.jsonl)" in result.stderr
    kinds = [row["kind"] for row in read(tmp_path / "out" / "rejected.jsonl")]
    assert kinds == ["conflicting_duplicate", "invalid"]
