"""The synthetic trial (streams/dev/synthetic.py): deterministic, valid contract events, aplastic anemia-like, and
rich enough that replaying it raises every alert kind of docs/rules.md (the demo shows each one)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from safety.model.events import Lab
from safety.model.outputs import Alert, Rejection
from safety.model.parse import parse_event
from streams.dev.synthetic import STUDY_ID, generate_events, generate_trial, to_jsonl

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "demo_events.jsonl"
ALL_LAB_TESTS = {
    "NEUT",
    "PLAT",
    "HGB",
    "WBC",
    "LYM",
    "RETI",
    "ALT",
    "AST",
    "BILI",
    "ALP",
    "GGT",
    "CREAT",
    "ALB",
    "K",
    "SODIUM",
    "CA",
    "MG",
    "GLUC",
    "INR",
    "APTT",
    "FIBRINO",
}
ALL_VITALS = {"TEMP", "SYSBP", "DIABP", "PULSE", "RESP", "OXYSAT", "WEIGHT"}
ALERT_KINDS = {
    "DLT",
    "SUSPECTED_DLT",
    "SAE",
    "SUSAR",
    "POTENTIAL_SAE",
    "HYS_LAW",
    "STOPPING_BOUNDARY",
    "ALERT_WITHDRAWN",
}


@pytest.fixture(scope="module")
def trial() -> list[dict[str, Any]]:
    return generate_trial()


@pytest.fixture(scope="module")
def alerts(trial: list[dict[str, Any]]) -> list[Alert]:
    from safety.replay import replay
    from streams.rulefiles import load_ruleset

    lines = to_jsonl(trial).splitlines()
    return [record for kind, record in replay(lines, load_ruleset()) if kind == "alert"]  # type: ignore[misc]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _by_subject(events: list[dict[str, Any]], subject: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["subject_id"] == subject and e["type"] == kind]


# --- determinism and validity -------------------------------------------------------------------------------


def test_the_same_seed_gives_identical_events(trial: list[dict[str, Any]]) -> None:
    assert generate_trial() == trial


def test_another_seed_gives_another_trial(trial: list[dict[str, Any]]) -> None:
    assert generate_trial(seed=7) != trial


def test_the_bundled_example_is_the_default_trial(trial: list[dict[str, Any]]) -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == to_jsonl(trial), "regenerate it: python bench/make_example.py"


def test_every_event_parses_as_a_contract_event(trial: list[dict[str, Any]]) -> None:
    rejected = [r for r in (parse_event(json.dumps(e)) for e in trial) if isinstance(r, Rejection)]
    assert rejected == []


def test_events_are_ordered_by_recorded_at_with_study_offsets(trial: list[dict[str, Any]]) -> None:
    recorded = [_at(e["recorded_at"]) for e in trial]
    assert recorded == sorted(recorded)
    assert all(e["occurred_at"].endswith("+08:00") and e["recorded_at"].endswith("+08:00") for e in trial)
    assert {e["study_id"] for e in trial} == {STUDY_ID}
    assert all(e.get("source") for e in trial)


def test_the_trial_has_48_subjects_enrolled_once_and_ended_once(trial: list[dict[str, Any]]) -> None:
    subjects = {f"AA-{n:03d}" for n in range(1, 49)}
    assert {e["subject_id"] for e in trial} == subjects
    assert Counter(e["subject_id"] for e in trial if e["type"] == "enrollment") == Counter(subjects)
    assert Counter(e["subject_id"] for e in trial if e["type"] == "end_of_study") == Counter(subjects)


def test_the_trial_is_small_enough_to_stream_in_a_demo(trial: list[dict[str, Any]]) -> None:
    assert 8_000 <= len(trial) <= 20_000


# --- what the data contain ----------------------------------------------------------------------------------


def test_every_lab_and_vital_test_of_the_contract_is_measured(trial: list[dict[str, Any]]) -> None:
    assert {e["test"] for e in trial if e["type"] == "lab"} == ALL_LAB_TESTS
    assert {e["test"] for e in trial if e["type"] == "vital"} == ALL_VITALS
    assert {e["test"] for e in trial if e["type"] == "ecg"} == {"QTCF"}


def test_labs_carry_ranges_conventional_units_and_comparators(trial: list[dict[str, Any]]) -> None:
    labs = [e for e in trial if e["type"] == "lab"]
    assert all("ref_low" in e and "ref_high" in e for e in labs)
    units = {(e["test"], e["unit"]) for e in labs}
    assert {("CREAT", "mg/dL"), ("HGB", "g/dL"), ("CREAT", "umol/L"), ("HGB", "g/L")} <= units
    assert any(isinstance(e["value"], str) and e["value"].startswith("<") for e in labs)


def test_aplastic_anemia_subjects_start_with_severe_cytopenias(trial: list[dict[str, Any]]) -> None:
    for subject in {e["subject_id"] for e in trial}:
        first_infusion = _at(_by_subject(trial, subject, "infusion")[0]["occurred_at"])
        before = [e for e in _by_subject(trial, subject, "lab") if _at(e["occurred_at"]) < first_infusion]
        baseline = {e["test"]: parse_event(json.dumps(e)) for e in before}  # the last value of each test
        values = {test: lab.value.number for test, lab in baseline.items() if isinstance(lab, Lab)}
        assert values["NEUT"] <= 1.0 and values["PLAT"] <= 35 and values["HGB"] <= 95, subject


def test_some_subjects_have_an_abnormal_liver_baseline_within_inclusion(trial: list[dict[str, Any]]) -> None:
    first_alt: dict[str, dict[str, Any]] = {}
    for e in trial:
        if e["type"] == "lab" and e["test"] == "ALT":
            seen = first_alt.get(e["subject_id"])
            if seen is None or _at(e["occurred_at"]) < _at(seen["occurred_at"]):
                first_alt[e["subject_id"]] = e
    ratios = [e["value"] / e["ref_high"] for e in first_alt.values()]
    assert any(1.2 <= r <= 2.05 for r in ratios)
    assert max(ratios) <= 2.05  # ALT <= 2 x ULN is an inclusion criterion


def test_transfusions_infusions_and_adverse_events_look_like_the_study(trial: list[dict[str, Any]]) -> None:
    assert {e["product"] for e in trial if e["type"] == "transfusion"} == {"RBC", "PLT"}
    per_subject = Counter(e["subject_id"] for e in trial if e["type"] == "infusion")
    assert set(per_subject.values()) <= {1, 2, 3, 4} and len(per_subject) == 48
    assert all(e["dose_per_kg"] > 0 and e["lot"] for e in trial if e["type"] == "infusion")
    terms = {e["ctcae_term"] for e in trial if e["type"] == "adverse_event"}
    assert {"Infusion related reaction", "Fever", "Lung infection", "Sepsis"} <= terms
    assert any("hospitalization" in e["serious"] for e in trial if e["type"] == "adverse_event")


def test_some_labs_arrive_days_late_and_out_of_order(trial: list[dict[str, Any]]) -> None:
    late = [
        e for e in trial if e["type"] == "lab" and _at(e["recorded_at"]) - _at(e["occurred_at"]) > timedelta(days=1)
    ]
    assert len(late) >= 50
    positions = {id(e): i for i, e in enumerate(trial)}
    one = late[0]
    later_observation = [
        e
        for e in trial[: positions[id(one)]]
        if e["subject_id"] == one["subject_id"] and _at(e["occurred_at"]) > _at(one["occurred_at"])
    ]
    assert later_observation, "a late lab arrives after observations made after it"


def test_the_trial_has_corrections_a_duplicate_and_deaths(trial: list[dict[str, Any]]) -> None:
    assert any(e.get("revision", 1) > 1 and e["type"] == "lab" and e["status"] == "corrected" for e in trial)
    assert any(e.get("revision", 1) > 1 and e["type"] == "adverse_event" for e in trial)
    lines = [json.dumps(e, sort_keys=True) for e in trial]
    assert len(lines) - len(set(lines)) == 1  # exactly one exact duplicate
    deaths = {e["subject_id"] for e in trial if e["type"] == "death"}
    ended_by_death = {e["subject_id"] for e in trial if e["type"] == "end_of_study" and e["reason"] == "death"}
    assert len(deaths) >= 2 and deaths == ended_by_death


# --- the alerts it produces (grading engine and detectors) --------------------------------------------------


def test_replaying_the_trial_raises_every_alert_kind(alerts: list[Alert]) -> None:
    assert {str(a.kind) for a in alerts} >= ALERT_KINDS


def test_replaying_the_trial_raises_dlts_of_every_rule(alerts: list[Alert]) -> None:
    dlt_rules = {a.rule_id for a in alerts if a.kind == "DLT"}
    assert {"DLT-1", "DLT-2", "DLT-3", "DLT-4", "DLT-5"} <= dlt_rules


def test_the_dlt4_of_aa001_is_confirmed_a_week_after_grade_4_below_half_baseline(alerts: list[Alert]) -> None:
    dlt4 = [a for a in alerts if a.kind == "DLT" and a.rule_id == "DLT-4"]
    assert [(a.subject_id, a.study_day, a.ctcae_term, a.grade) for a in dlt4] == [
        ("AA-001", 14, "Neutrophil count decreased", 4)
    ]


def test_the_stopping_boundary_is_crossed_once_at_3_of_4(alerts: list[Alert]) -> None:
    stops = [a for a in alerts if a.kind == "STOPPING_BOUNDARY"]
    assert len(stops) == 1
    assert stops[0].subject_id == "AA-004"
    assert stops[0].basis is not None and (stops[0].basis["x"], stops[0].basis["n"]) == (3, 4)


def test_susars_run_both_clocks(alerts: list[Alert]) -> None:
    days = set()
    for alert in alerts:
        if alert.kind == "SUSAR":
            assert alert.report_due_at is not None
            days.add((alert.report_due_at - alert.raised_at) / timedelta(days=1))
    assert days == {7.0, 15.0}


def test_corrections_withdraw_alerts_they_no_longer_support(alerts: list[Alert]) -> None:
    ids = {a.alert_id: a for a in alerts}
    withdrawn = [ids[a.withdraws] for a in alerts if a.kind == "ALERT_WITHDRAWN" and a.withdraws in ids]
    assert {(a.subject_id, str(a.kind)) for a in withdrawn} >= {
        ("AA-020", "SUSPECTED_DLT"),
        ("AA-020", "POTENTIAL_SAE"),
        ("AA-026", "DLT"),
    }


# --- the benchmark's load -----------------------------------------------------------------------------------


def test_generate_events_gives_n_deterministic_lines_dominated_by_labs_and_vitals() -> None:
    lines = list(generate_events(30_000, seed=3))
    assert len(lines) == 30_000
    assert lines == list(generate_events(30_000, seed=3))
    parsed = [parse_event(line) for line in lines]
    rejected = [p for p in parsed if isinstance(p, Rejection)]
    assert 5 <= len(rejected) <= 80  # ~0.1% deliberately malformed
    types = Counter(p.type for p in parsed if not isinstance(p, Rejection))
    assert (types["lab"] + types["vital"]) / len(lines) > 0.8
    assert len({p.subject_id for p in parsed if not isinstance(p, Rejection)}) >= 64


def test_generate_events_can_be_clean() -> None:
    assert not any(isinstance(parse_event(line), Rejection) for line in generate_events(5_000, malformed=0.0))
