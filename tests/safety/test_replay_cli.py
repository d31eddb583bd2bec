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
