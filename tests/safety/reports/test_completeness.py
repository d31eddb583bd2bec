"""safety.reports.completeness: expected vs received per subject and visit, by the heartbeat's rules
(docs/rules.md, "Expected data"), and the per-visit line the ethics summary states."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from safety.reports import build_report, summary_document
from safety.reports.completeness import VisitRow, visit_rows, visit_tallies
from safety.reports.inputs import read_events
from safety.rules.ruleset import RuleSet

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
TZ = ZoneInfo("Asia/Shanghai")


def events(name: str) -> list[object]:
    lines = (SCENARIOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return read_events([json.loads(line) for line in lines], TZ)


def row(rows: list[VisitRow], group: str, day: int) -> VisitRow:
    return next(r for r in rows if (r.group, r.visit_day) == (group, day))


def test_a_partial_draw_shows_the_missing_test_once_the_visit_is_due(ruleset: RuleSet) -> None:
    rows = visit_rows(events("heartbeat_partial_draw_missing_plat"), ruleset.protocol.schedule, TZ, at(7, 15))
    day7 = row(rows, "blood_routine", 7)
    assert (day7.state, day7.received, day7.missing) == ("missing", ["NEUT", "HGB", "WBC"], ["PLAT"])
    assert (day7.first_day, day7.last_day) == (6, 8)
    assert row(rows, "blood_routine", 3).state == "complete"
    assert row(rows, "blood_routine", 14).state == "open"  # window days 13..15: it has begun, not due
    assert row(rows, "blood_routine", 21).state == "upcoming"


def test_the_same_visit_is_only_open_before_its_window_and_grace_have_passed(ruleset: RuleSet) -> None:
    rows = visit_rows(events("heartbeat_partial_draw_missing_plat"), ruleset.protocol.schedule, TZ, at(7, 10))
    assert row(rows, "blood_routine", 7).state == "open"  # due 2026-07-12 00:00, day 8 + 2 days of grace


def test_a_late_result_counts_as_received(ruleset: RuleSet) -> None:
    rows = visit_rows(events("heartbeat_late_result_withdraws"), ruleset.protocol.schedule, TZ, at(7, 21))
    assert row(rows, "blood_routine", 7).state == "complete"


def test_nothing_is_expected_after_the_end_of_study(ruleset: RuleSet) -> None:
    rows = visit_rows(events("heartbeat_subject_ended_study"), ruleset.protocol.schedule, TZ, at(12, 1))
    assert max(r.visit_day for r in rows if r.group == "blood_routine") == 3
    assert row(rows, "blood_routine", 3).missing == ["NEUT", "PLAT", "HGB", "WBC"]


def test_the_tally_per_visit_counts_subjects_due_and_complete(ruleset: RuleSet) -> None:
    schedule = ruleset.protocol.schedule
    rows = visit_rows(events("heartbeat_partial_draw_missing_plat"), schedule, TZ, at(7, 15))
    tallies = {(t.group, t.visit_day): (t.due, t.complete, t.percent) for t in visit_tallies(rows, schedule)}
    assert tallies[("blood_routine", 7)] == (1, 0, 0.0)
    assert tallies[("blood_routine", 3)] == (1, 1, 100.0)
    assert ("blood_routine", 14) not in tallies  # not due: not counted


def test_the_safety_summary_states_completeness_per_visit_given_the_schedule(ruleset: RuleSet) -> None:
    evs = events("heartbeat_partial_draw_missing_plat")
    study, when = ruleset.protocol.study_id, at(7, 15)
    with_schedule = build_report(evs, [], study_id=study, generated_at=when, tz=TZ, schedule=ruleset.protocol.schedule)
    without = build_report(evs, [], study_id=study, generated_at=when, tz=TZ)
    line = {"group": "blood_routine", "visit_day": 7, "due": 1, "complete": 0}
    assert line in summary_document(with_schedule)["data_completeness"]
    assert summary_document(without)["data_completeness"] == []


def at(month: int, day: int) -> datetime:
    return datetime(2026 if month >= 7 else 2027, month, day, 9, tzinfo=TZ)
