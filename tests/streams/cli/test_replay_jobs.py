"""`safety replay --jobs N`: subjects stepped in N processes, files byte for byte those of one process.

The edge-case file (conflicting duplicates, ungradable labs, corrections, malformed lines) and the demo trial (its
stopping boundary is a study-level alert, raised from the merged signals) are replayed with 1, 2 and 3 jobs, and
three months of the demo with ``--as-of`` (expected data settled per subject in the shards, and what is still owed
at the end merged from the shards by study and subject).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from safety.model.outputs import Rejection
from safety.model.parse import parse_event
from safety.replay import shard_key
from streams.cli.replay import replay_command, run
from streams.dev.demo import demo_lines
from streams.dev.synthetic import generate_events

EDGE = Path(__file__).resolve().parents[2] / "fixtures" / "replay" / "edge.jsonl"
FILES = ("events.jsonl", "graded.jsonl", "alerts.jsonl", "rejected.jsonl")


CHINA = timezone(timedelta(hours=8))
AS_OF = "2026-11-15T00:00:00"  # six weeks after the last event of the three months below, in the study's zone


def replayed(events: Path, out: Path, jobs: int, as_of: str | None = None) -> dict[str, bytes]:
    assert run(events, out, None, quiet=True, progress=False, as_of=as_of, jobs=jobs) == 0
    return {name: (out / name).read_bytes() for name in FILES}


def three_months_of_the_demo(path: Path) -> Path:
    """The events before October 2026 of a twelve-subject demo trial: every subject still owes visits after."""
    end = datetime(2026, 10, 1, tzinfo=CHINA)
    lines = [line for line in demo_lines(12, None) if datetime.fromisoformat(json.loads(line)["occurred_at"]) < end]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def alert_kinds(alerts: bytes) -> list[tuple[str, str]]:
    return [(record["kind"], record["subject_id"]) for record in map(json.loads, alerts.splitlines())]


def test_a_subject_s_lines_share_a_shard_key_and_a_line_without_a_subject_has_none() -> None:
    first = b'{"type":"lab","event_id":"L-1","subject_id":"AA-001","test":"ALT"}'
    later = b'{"subject_id": "AA-001", "type": "vital", "event_id": "V-7"}'
    assert shard_key(first) == shard_key(later) == b"AA-001"
    assert shard_key(b'{"type":"lab","event_id":"L-9","subject_id":"AA-0') is None  # cut short
    assert shard_key(b'{"type":"lab","subject_id":17}') is None
    assert shard_key(b"[1, 2]") is None


def test_the_shard_key_is_the_parsed_subject_of_every_valid_event() -> None:
    crafted = [
        b'{"type":"vital","event_id":"V-1","study_id":"ChiCTR2600125907","subject_id" :\t"AA-002","test":"PULSE",'
        b'"value":80,"occurred_at":"2026-07-01T08:00:00+08:00"}',
        b'{"type":"vital","event_id":"V-2","study_id":"ChiCTR2600125907","subject_id":"AA-\\u0030\\u00303",'
        b'"test":"PULSE","value":80,"occurred_at":"2026-07-01T08:00:00+08:00"}',
        b'{"type":"vital","event_id":"V-3","study_id":"ChiCTR2600125907","extra":{"subject_id":"AA-999"},'
        b'"subject_id":"AA-004","test":"PULSE","value":80,"occurred_at":"2026-07-01T08:00:00+08:00"}',
        b'{"type":"vital","event_id":"V-4","study_id":"ChiCTR2600125907","subject_id":"AA-005","source":"subject_id",'
        b'"test":"PULSE","value":80,"occurred_at":"2026-07-01T08:00:00+08:00"}',
    ]
    lines = [*EDGE.read_bytes().splitlines(), *demo_lines(4, None), *crafted]
    events = [event for event in map(parse_event, lines) if not isinstance(event, Rejection)]
    assert {event.subject_id for event in events} >= {"AA-002", "AA-003", "AA-004", "AA-005"}
    for line, event in zip(lines, map(parse_event, lines), strict=True):
        if not isinstance(event, Rejection):
            assert shard_key(line) == event.subject_id.encode(), line


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


@pytest.mark.parametrize("jobs", [2, 3])
def test_as_of_gives_the_same_bytes_with_any_number_of_jobs(tmp_path: Path, jobs: int) -> None:
    events = three_months_of_the_demo(tmp_path / "demo.jsonl")
    one = replayed(events, tmp_path / "one", 1, AS_OF)
    kinds = alert_kinds(one["alerts.jsonl"])
    assert ("STOPPING_BOUNDARY", "AA-004") in kinds  # the study fold ran over the merged signals
    last_line = max(i for i, (kind, _) in enumerate(kinds) if kind != "DATA_OVERDUE")
    # the synthetic trial's missed draws (AA-005's day-14 visit, AA-006's day-21 platelets, AA-008's late day-28
    # coagulation), settled at a later event of the subject, before the last line
    assert {subject for kind, subject in kinds[:last_line] if kind == "DATA_OVERDUE"} == {"AA-005", "AA-006", "AA-008"}
    owed_at_the_end = [subject for _, subject in kinds[last_line + 1 :]]
    assert sorted(set(owed_at_the_end)) == [f"AA-{n:03d}" for n in range(1, 13)]  # after the last line, every shard's
    assert replayed(events, tmp_path / "many", jobs, AS_OF) == one


def test_the_command_runs_on_every_core_by_default_and_gives_the_bytes_of_one_job(tmp_path: Path) -> None:
    events = three_months_of_the_demo(tmp_path / "demo.jsonl")
    jobs = next(param for param in replay_command.params if param.name == "jobs")
    assert jobs.default == (os.cpu_count() or 1)
    result = CliRunner().invoke(replay_command, [str(events), "--out", str(tmp_path / "default"), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    written = {name: (tmp_path / "default" / name).read_bytes() for name in FILES}
    assert written == replayed(events, tmp_path / "one", 1, AS_OF)


@pytest.mark.slow
def test_200000_synthetic_events_give_the_same_bytes_with_one_and_two_jobs(tmp_path: Path) -> None:
    events = tmp_path / "synthetic.jsonl"
    with events.open("wb") as out:
        for line in generate_events(200_000):
            out.write(line + b"\n")
    assert replayed(events, tmp_path / "two", 2) == replayed(events, tmp_path / "one", 1)
