"""`safety replay --jobs N`: subjects stepped in N processes, files byte for byte those of one process.

The edge-case file (conflicting duplicates, ungradable labs, corrections, malformed lines) and the demo trial (its
stopping boundary is a study-level alert, raised from the merged signals) are replayed with 1, 2 and 3 jobs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.replay import shard_key
from streams.cli.replay import run
from streams.dev.demo import demo_lines
from streams.dev.synthetic import generate_events

EDGE = Path(__file__).resolve().parents[2] / "fixtures" / "replay" / "edge.jsonl"
FILES = ("events.jsonl", "graded.jsonl", "alerts.jsonl", "rejected.jsonl")


def replayed(events: Path, out: Path, jobs: int) -> dict[str, bytes]:
    assert run(events, out, None, quiet=True, progress=False, jobs=jobs) == 0
    return {name: (out / name).read_bytes() for name in FILES}


def test_a_subject_s_lines_share_a_shard_key_and_a_line_without_a_subject_has_none() -> None:
    first = b'{"type":"lab","event_id":"L-1","subject_id":"AA-001","test":"ALT"}'
    later = b'{"subject_id": "AA-001", "type": "vital", "event_id": "V-7"}'
    assert shard_key(first) == shard_key(later) == "AA-001"
    assert shard_key(b'{"type":"lab","event_id":"L-9","subject_id":"AA-0') is None  # cut short
    assert shard_key(b'{"type":"lab","subject_id":17}') is None
    assert shard_key(b"[1, 2]") is None


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_edge_case_file_gives_the_same_bytes_with_any_number_of_jobs(tmp_path: Path, jobs: int) -> None:
    one = replayed(EDGE, tmp_path / "one", 1)
    assert one["rejected.jsonl"] and one["graded.jsonl"]  # the file exercises rejections as well as grading
    assert replayed(EDGE, tmp_path / "many", jobs) == one


def test_the_demo_trial_gives_the_same_bytes_with_two_and_three_jobs(tmp_path: Path) -> None:
    events = tmp_path / "demo.jsonl"
    events.write_bytes(b"".join(line + b"\n" for line in demo_lines(48, None)))
    one = replayed(events, tmp_path / "one", 1)
    assert b'"kind":"STOPPING_BOUNDARY"' in one["alerts.jsonl"]  # the study fold ran over the merged signals
    assert replayed(events, tmp_path / "two", 2) == one
    assert replayed(events, tmp_path / "three", 3) == one


@pytest.mark.slow
def test_200000_synthetic_events_give_the_same_bytes_with_one_and_two_jobs(tmp_path: Path) -> None:
    events = tmp_path / "synthetic.jsonl"
    with events.open("wb") as out:
        for line in generate_events(200_000):
            out.write(line + b"\n")
    assert replayed(events, tmp_path / "two", 2) == replayed(events, tmp_path / "one", 1)
