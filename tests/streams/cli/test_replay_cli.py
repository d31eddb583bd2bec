"""`safety replay` on a file mixing good and bad input (README, "Input handling")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import study_fixtures
from study_fixtures import STUDY_A, STUDY_B, STUDY_FILES, UNKNOWN, lines, studies_dir, two_study_stream

BASE = {"study_id": "ChiCTR2600125907", "subject_id": "AA-001"}
GOOD = [
    {**BASE, "type": "enrollment", "event_id": "E-1", "occurred_at": "2026-06-25T09:00:00", "sex": "F", "age": 40},
    {
        **BASE,
        "type": "lab",
        "event_id": "L-1",
        "occurred_at": "2026-06-30T08:00:00",
        "test": "ALT",
        "value": 30,
        "unit": "U/L",
        "ref_low": 7,
        "ref_high": 40,
    },
    {
        **BASE,
        "type": "infusion",
        "event_id": "I-1",
        "occurred_at": "2026-07-01T09:00:00",
        "infusion_number": 1,
        "dose_per_kg": 1000000,
    },
    {
        **BASE,
        "type": "lab",
        "event_id": "L-2",
        "occurred_at": "2026-07-08T08:00:00",
        "test": "ALT",
        "value": 250,
        "unit": "U/L",
        "ref_low": 7,
        "ref_high": 40,
    },
    {
        **BASE,
        "type": "vital",
        "event_id": "V-1",
        "occurred_at": "2026-07-08T08:00:00",
        "test": "TEMP",
        "value": 39.5,
        "unit": "C",
    },
]
BAD = [
    ('{"type": "lab", "event_id": "L-9", "study_id": "ChiCTR26', "not valid JSON"),
    (
        json.dumps({**BASE, "type": "vaccination", "event_id": "X-1", "occurred_at": "2026-07-02T08:00:00"}),
        "type: expected one of",
    ),
    (
        json.dumps(
            {
                "study_id": "ChiCTR2600125907",
                "type": "lab",
                "event_id": "L-10",
                "occurred_at": "2026-07-02T08:00:00",
                "test": "ALT",
                "value": 30,
                "unit": "U/L",
            }
        ),
        "subject_id",
    ),
    (
        json.dumps(
            {
                **BASE,
                "type": "lab",
                "event_id": "L-11",
                "occurred_at": "2026-07-02T08:00:00",
                "test": "ALT",
                "value": "n/a",
                "unit": "U/L",
            }
        ),
        "lab.value",
    ),
    (
        json.dumps(
            {
                **BASE,
                "type": "lab",
                "event_id": "L-12",
                "occurred_at": "2026-07-02T08:00:00",
                "test": "ALT",
                "value": 30,
                "unit": "furlongs",
                "ref_high": 40,
            }
        ),
        "unit",
    ),
    (
        json.dumps(
            {
                **BASE,
                "type": "lab",
                "event_id": "L-13",
                "occurred_at": "2026-02-30T08:00:00",
                "test": "ALT",
                "value": 30,
                "unit": "U/L",
            }
        ),
        "occurred_at",
    ),
]


def replay(events: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "replay", str(events), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_mixed_file_grades_every_valid_row_and_rejects_every_bad_one(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD[0]),
        BAD[0][0],
        json.dumps(GOOD[1]),
        BAD[1][0],
        json.dumps(GOOD[2]),
        BAD[2][0],
        json.dumps(GOOD[3]),
        BAD[3][0],
        BAD[4][0],
        json.dumps(GOOD[4]),
        BAD[5][0],
    ]
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


# --- Several studies, one deployment (docs/rules.md, "Several studies") -------------------------------------


def replay_with(
    events: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "replay", str(events), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def two_studies_file(tmp_path: Path) -> Path:
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines(*two_study_stream())) + "\n", encoding="utf-8")
    return events


def assert_each_study_under_its_own_rules(out: Path) -> None:
    graded = {row["subject_id"]: row for row in read(out / "graded.jsonl") if row["test"] == "NEUT"}
    assert {s: (graded[s]["ctcae_version"], graded[s]["grade"]) for s in ("AA-001", "BB-001")} == {
        "AA-001": ("5.0", 4),
        "BB-001": ("6.0", 3),
    }
    alerts = read(out / "alerts.jsonl")
    versions = {a["study_id"]: a["rules_version"] for a in alerts}
    assert set(versions) == {STUDY_A, STUDY_B} and versions[STUDY_A] != versions[STUDY_B]
    assert [(a["study_id"], a["subject_id"]) for a in alerts if a["kind"] == "STOPPING_BOUNDARY"] == [
        (STUDY_B, "BB-002")
    ]
    rejected = read(out / "rejected.jsonl")
    assert [r["event_id"] for r in rejected] == ["L-CC-001"]
    assert f"unknown study '{UNKNOWN}'" in rejected[0]["reason"]
    assert STUDY_A in rejected[0]["reason"] and STUDY_B in rejected[0]["reason"]
    assert UNKNOWN not in (out / "events.jsonl").read_text(encoding="utf-8")


def test_replay_with_a_rules_directory_evaluates_each_study_under_its_own_rules(tmp_path: Path) -> None:
    result = replay_with(two_studies_file(tmp_path), tmp_path / "out", "--rules", str(studies_dir(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert_each_study_under_its_own_rules(tmp_path / "out")
    assert STUDY_A in result.stderr and STUDY_B in result.stderr  # the summary names each study's rules version


def test_replay_by_default_loads_every_study_of_the_rules_directory(tmp_path: Path) -> None:
    env = {**os.environ, "SAFETY_RULES_DIR": str(study_fixtures.rules_dir(tmp_path))}
    result = replay_with(two_studies_file(tmp_path), tmp_path / "out", env=env)
    assert result.returncode == 0, result.stderr
    assert_each_study_under_its_own_rules(tmp_path / "out")


def test_replay_with_one_study_file_rejects_the_other_study_naming_the_one_it_knows(tmp_path: Path) -> None:
    result = replay_with(two_studies_file(tmp_path), tmp_path / "out", "--rules", str(STUDY_FILES[STUDY_B]))
    assert result.returncode == 0, result.stderr
    assert {row["study_id"] for row in read(tmp_path / "out" / "graded.jsonl")} == {STUDY_B}
    rejected = read(tmp_path / "out" / "rejected.jsonl")
    assert {r["event_id"] for r in rejected} >= {"INF-AA-001", "L-AA-001", "AE-AA-001", "L-CC-001"}
    assert all(f"this deployment knows {STUDY_B} " in r["reason"] for r in rejected)


def test_a_phone_number_or_name_as_subject_id_appears_in_no_output_file(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    bad = [
        {**GOOD[3], "subject_id": "13800138000", "event_id": "L-P"},
        {**GOOD[3], "subject_id": "张三", "event_id": "L-N"},
    ]
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in [*GOOD, *bad]), encoding="utf-8")
    result = replay(events, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    rejected = read(tmp_path / "out" / "rejected.jsonl")
    assert [r["event_id"] for r in rejected] == ["L-P", "L-N"]
    assert all(r["reason"].startswith("subject_id: does not match subject_code_pattern ^AA-") for r in rejected)
    for name in ("graded.jsonl", "alerts.jsonl", "rejected.jsonl", "events.jsonl"):
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert "13800138000" not in text and "张三" not in text and "\\u5f20" not in text, name


def replay_in_terminal(events: Path, out: Path, *options: str) -> tuple[int, str]:
    """`safety replay` with stdin, stdout and stderr on a pseudo-terminal, as a person runs it; (exit code, screen)."""
    import os
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "streams", "replay", str(events), "--out", str(out), *options],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
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


DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo_events.jsonl"
DEMO_EVENTS = len(set(DEMO.read_bytes().splitlines()))  # accepted once each: the trial's exact duplicate is not


def large_file(tmp_path: Path) -> Path:
    """Over 5 MB (the size from which a terminal gets a progress bar): the demo trial, then its lines again."""
    demo = DEMO.read_bytes()
    events = tmp_path / "large.jsonl"
    events.write_bytes(demo + demo[:1_500_000].rsplit(b"\n", 1)[0] + b"\n")
    assert events.stat().st_size >= 5_000_000
    return events


def test_a_large_file_replayed_in_a_terminal_shows_progress_and_succeeds(tmp_path: Path) -> None:
    code, screen = replay_in_terminal(large_file(tmp_path), tmp_path / "out")
    assert code == 0, screen
    assert "Traceback" not in screen
    assert "replaying" in screen  # the progress bar's label
    assert f"events accepted: {DEMO_EVENTS}" in screen


def test_no_progress_keeps_the_terminal_free_of_the_bar(tmp_path: Path) -> None:
    code, screen = replay_in_terminal(large_file(tmp_path), tmp_path / "out", "--no-progress")
    assert code == 0, screen
    assert "replaying" not in screen.replace(f"replayed {tmp_path}", "")
    assert f"events accepted: {DEMO_EVENTS}" in screen


def test_progress_can_be_asked_for_on_a_small_file(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in GOOD), encoding="utf-8")
    code, screen = replay_in_terminal(events, tmp_path / "out", "--progress")
    assert code == 0, screen
    assert "replaying" in screen


def test_the_summary_counts_duplicates_apart_from_accepted_and_rejected(tmp_path: Path) -> None:
    conflicting = {**GOOD[1], "value": 31}
    lines = [json.dumps(e) for e in GOOD] + [
        json.dumps(GOOD[1]),
        json.dumps(GOOD[3]),
        json.dumps(conflicting),
        BAD[0][0],
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = replay(events, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "events accepted: 5   duplicates: 3 (no effect)   rejected: 2 (see rejected.jsonl)" in result.stderr
    kinds = [row["kind"] for row in read(tmp_path / "out" / "rejected.jsonl")]
    assert kinds == ["conflicting_duplicate", "invalid"]
