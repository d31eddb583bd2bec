"""pipeline.step: duplicates, corrections, day 0 and baseline selection (docs/rules.md, Time; "Duplicates,
corrections and withdrawals")."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from safety.model.events import Event
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import step
from safety.rules.ruleset import RuleSet


def ev(**fields: Any) -> Event:
    base = {"study_id": "ChiCTR2600125907", "subject_id": "AA-001", "revision": 1}
    event = parse_event(json.dumps({**base, **fields}))
    assert not hasattr(event, "reason"), event
    return event  # type: ignore[return-value]


def lab(event_id: str, at: str, test: str = "ALT", value: object = 30, **extra: Any) -> Event:
    limits = {"ref_low": 7, "ref_high": 40} if test == "ALT" else {}
    return ev(
        type="lab", event_id=event_id, occurred_at=at, test=test, value=value, **{"unit": "U/L", **limits, **extra}
    )


def infusion(event_id: str, at: str) -> Event:
    return ev(type="infusion", event_id=event_id, occurred_at=at, infusion_number=1, dose_per_kg=1e6)


def run(events: list[Event], rules: RuleSet, state: SubjectState | None = None) -> SubjectState:
    for event in events:
        state = step(state, event, rules).state
    assert state is not None
    return state


def test_first_infusion_sets_day0_in_the_study_time_zone(ruleset: RuleSet) -> None:
    state = run([infusion("I-1", "2026-07-01T23:30:00+08:00")], ruleset)
    assert state.day0 == date(2026, 7, 1)
    # 16:30 UTC on 1 July is 00:30 on 2 July in Hefei: day 1, not day 0.
    result = step(state, lab("L-1", "2026-07-01T16:30:00Z"), ruleset)
    assert result.graded and result.graded[0].study_day == 1


def test_day_before_infusion_is_day_minus_one(ruleset: RuleSet) -> None:
    state = run([infusion("I-1", "2026-07-10T09:00:00")], ruleset)
    result = step(state, lab("L-1", "2026-07-09T08:00:00"), ruleset)
    assert result.graded[0].study_day == -1


def test_late_record_of_an_earlier_infusion_moves_day0_back(ruleset: RuleSet) -> None:
    state = run([infusion("I-2", "2026-07-15T09:00:00"), infusion("I-1", "2026-07-01T09:00:00")], ruleset)
    assert state.day0 == date(2026, 7, 1)
    assert state.first_infusion_at == datetime.fromisoformat("2026-07-01T09:00:00+08:00")


def test_first_infusion_only_signals_the_study_once(ruleset: RuleSet) -> None:
    state = step(None, infusion("I-1", "2026-07-01T09:00:00"), ruleset).state
    second = step(state, infusion("I-2", "2026-07-08T09:00:00"), ruleset)
    assert [s.kind for s in step(None, infusion("I-1", "2026-07-01T09:00:00"), ruleset).signals] == ["infused"]
    assert second.signals == []


def test_baseline_is_the_last_value_before_the_first_infusion(ruleset: RuleSet) -> None:
    state = run(
        [
            lab("L-1", "2026-06-20T08:00:00", value=35),
            lab("L-2", "2026-06-30T08:00:00", value=60),
            infusion("I-1", "2026-07-01T09:00:00"),
            lab("L-3", "2026-07-01T10:00:00", value=80),
        ],
        ruleset,
    )
    baseline = state.baseline("ALT")
    assert baseline is not None and baseline.event_id == "L-2"


def test_value_on_infusion_day_after_the_infusion_is_not_baseline(ruleset: RuleSet) -> None:
    state = run(
        [
            lab("L-1", "2026-07-01T08:00:00", value=35),
            infusion("I-1", "2026-07-01T09:00:00"),
        ],
        ruleset,
    )
    late = lab("L-2", "2026-07-01T09:30:00", value=90)
    state = run([late], ruleset, state)
    baseline = state.baseline("ALT")
    assert baseline is not None and baseline.event_id == "L-1"


def test_late_pre_infusion_value_becomes_the_baseline_for_later_grading(ruleset: RuleSet) -> None:
    state = run([lab("L-1", "2026-06-20T08:00:00", value=35), infusion("I-1", "2026-07-01T09:00:00")], ruleset)
    state = run([lab("L-2", "2026-06-30T08:00:00", value=60)], ruleset, state)  # entered late
    baseline = state.baseline("ALT")
    assert baseline is not None and baseline.event_id == "L-2"


def test_no_pre_infusion_value_means_no_baseline(ruleset: RuleSet) -> None:
    state = run([infusion("I-1", "2026-07-01T09:00:00"), lab("L-1", "2026-07-02T08:00:00")], ruleset)
    assert state.baseline("ALT") is None


def test_exact_duplicate_changes_nothing(ruleset: RuleSet) -> None:
    event = lab("L-1", "2026-07-02T08:00:00", value=300)
    first = step(None, event, ruleset)
    before = first.state.model_dump_json()
    again = step(first.state, event, ruleset, prior=first.recorded)
    assert again.duplicate and again.graded == [] and again.alerts == [] and again.rejections == []
    assert again.recorded is None and again.state.model_dump_json() == before


def test_same_revision_with_different_content_is_a_conflicting_duplicate(ruleset: RuleSet) -> None:
    first = step(None, lab("L-1", "2026-07-02T08:00:00", value=300), ruleset)
    result = step(first.state, lab("L-1", "2026-07-02T08:00:00", value=30), ruleset, prior=first.recorded)
    assert result.duplicate and result.graded == [] and result.recorded is None
    assert [r.kind for r in result.rejections] == ["conflicting_duplicate"]
    assert "L-1" in result.rejections[0].reason


def test_lower_revision_after_a_correction_is_ignored(ruleset: RuleSet) -> None:
    first = step(None, lab("L-1", "2026-07-02T08:00:00", value=300, revision=2), ruleset)
    result = step(first.state, lab("L-1", "2026-07-02T08:00:00", value=30, revision=1), ruleset, prior=first.recorded)
    assert result.duplicate and result.graded == []


def test_higher_revision_regrades(ruleset: RuleSet) -> None:
    first = step(None, lab("L-1", "2026-07-02T08:00:00", value=300), ruleset)
    corrected = lab("L-1", "2026-07-02T08:00:00", value=30, revision=2, status="corrected")
    result = step(first.state, corrected, ruleset, prior=first.recorded)
    assert not result.duplicate
    assert [g.grade for g in result.graded] == [0]
    assert result.recorded is not None and result.recorded.startswith("2:")


def test_the_state_counts_the_events_applied_and_keeps_no_revision_per_event_id(ruleset: RuleSet) -> None:
    event = lab("L-1", "2026-07-02T08:00:00", value=30)
    first = step(None, event, ruleset)
    again = step(first.state, event, ruleset, prior=first.recorded)
    assert again.state.applied == 1 and first.recorded is not None
    assert first.recorded not in again.state.to_json()  # the caller keeps it (safety/replay.py, the stream's table)


def test_preliminary_and_cancelled_results_are_stored_not_graded(ruleset: RuleSet) -> None:
    assert step(None, lab("L-1", "2026-07-02T08:00:00", value=300, status="preliminary"), ruleset).graded == []
    assert step(None, lab("L-2", "2026-07-02T08:00:00", value=300, status="cancelled"), ruleset).graded == []


def test_unknown_unit_is_a_null_grade_and_an_ungradable_rejection(ruleset: RuleSet) -> None:
    result = step(None, lab("L-1", "2026-07-02T08:00:00", value=300, unit="furlongs"), ruleset)
    assert [g.grade for g in result.graded] == [None]
    assert [r.kind for r in result.rejections] == ["ungradable"]
    assert "unit" in result.rejections[0].reason


def test_state_round_trips_through_json(ruleset: RuleSet) -> None:
    state = run(
        [
            lab("L-1", "2026-06-20T08:00:00"),
            infusion("I-1", "2026-07-01T09:00:00"),
            lab("L-2", "2026-07-02T08:00:00", value=300),
        ],
        ruleset,
    )
    again = SubjectState.from_json(state.to_json())
    assert again.model_dump() == state.model_dump()
    # the baselines are not stored: read back, the state derives the same ones
    assert again.baselines(ruleset.criteria) == state.baselines(ruleset.criteria) != {}


def test_a_hypercalcemia_the_late_albumin_makes_grade_3_alerts_naming_both_events(ruleset: RuleSet) -> None:
    """The calcium arrived first (grade 2 measured); its albumin completes the correction: grade 3, alerted."""
    state = run([infusion("INF-1", "2026-03-01T09:00:00+08:00")], ruleset)
    draw = "2026-03-04T08:00:00+08:00"
    first = step(state, lab("CA-1", draw, test="CA", value=3.0, unit="mmol/L", ref_low=2.1, ref_high=2.6), ruleset)
    assert {r.ctcae_term: r.grade for r in first.graded}["Hypercalcemia"] == 2
    assert first.alerts == []
    later = step(first.state, lab("ALB-1", draw, test="ALB", value=25, unit="g/L", ref_low=35), ruleset)
    again = [r for r in later.graded if r.event_id == "CA-1" and r.ctcae_term == "Hypercalcemia"]
    assert [r.grade for r in again] == [3]
    assert [(a.kind, a.ctcae_term, a.grade) for a in later.alerts] == [("SUSPECTED_DLT", "Hypercalcemia", 3)]
    assert later.alerts[0].event_ids == ["CA-1", "ALB-1"]  # the abnormal calcium and the albumin completing it


def test_an_ae_whose_ctcae_term_is_not_a_ctcae_term_is_kept_alerted_and_flagged(ruleset) -> None:  # type: ignore[no-untyped-def]
    import phi_fixtures as phi

    record = next(e for e in phi.events() if e["event_id"] == "PHI-AE-1")
    event = parse_event(json.dumps(record, ensure_ascii=False), ruleset.tz)
    result = step(None, event, ruleset)  # type: ignore[arg-type]
    assert {a.rule_id for a in result.alerts} >= {"SAE-SERIOUS"}
    [flag] = result.rejections
    assert flag.kind == "uncoded_term" and flag.event_id == "PHI-AE-1"
    assert flag.reason.startswith("uncoded term: adverse_event.ctcae_term of 'PHI-AE-1' is not a CTCAE v5.0 term")
    assert phi.found(flag.reason) == []
