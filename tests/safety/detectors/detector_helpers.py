"""Hand-made inputs for detector tests: subject states, events and GradedObservation rows (no grading engine)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from safety.detectors import RuleOutcome, evaluate
from safety.model.events import AdverseEvent, Death, Lab
from safety.model.outputs import GradedObservation
from safety.model.state import Reading, SubjectState
from safety.model.studyday import study_day
from safety.rules.ruleset import RuleSet

TZ = ZoneInfo("Asia/Shanghai")
STUDY = "ChiCTR2600125907"
DAY0 = datetime(2026, 7, 1, 9, 0, tzinfo=TZ)


def at(day: float, hours: float = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hours)


def infused_state(subject: str = "AA-001") -> SubjectState:
    state = SubjectState(subject_id=subject, study_id=STUDY)
    state.infusions = [DAY0]
    state.first_infusion_at = DAY0
    state.day0 = DAY0.date()
    return state


def ae(event_id: str = "AE-1", day: float = 3, hours: float = 0, **fields: Any) -> AdverseEvent:
    data: dict[str, Any] = {
        "type": "adverse_event",
        "event_id": event_id,
        "study_id": STUDY,
        "subject_id": "AA-001",
        "occurred_at": at(day, hours),
        "term": "x",
        "grade": 2,
    }
    data.update(fields)
    return AdverseEvent.model_validate(data)


def death(event_id: str = "D-1", day: float = 30, **fields: Any) -> Death:
    return Death.model_validate(
        {
            "type": "death",
            "event_id": event_id,
            "study_id": STUDY,
            "subject_id": "AA-001",
            "occurred_at": at(day),
            **fields,
        }
    )


def lab(event_id: str, day: float, test: str, value: float, ref_high: float | None = None, **fields: Any) -> Lab:
    return Lab.model_validate(
        {
            "type": "lab",
            "event_id": event_id,
            "study_id": STUDY,
            "subject_id": "AA-001",
            "occurred_at": at(day),
            "test": test,
            "value": value,
            "unit": "10^9/L",
            "ref_high": ref_high,
            **fields,
        }
    )


def row(
    event: Lab,
    term: str,
    grade: int | None,
    *,
    baseline_grade: int = 0,
    category: str = "non_hematologic",
    day: int | None = None,
    event_type: str = "lab",
) -> GradedObservation:
    study_day = day if day is not None else (event.occurred_at.astimezone(TZ).date() - DAY0.date()).days
    return GradedObservation(
        event_id=event.event_id,
        revision=event.revision,
        study_id=STUDY,
        subject_id="AA-001",
        event_type=event_type,
        test=event.test,
        occurred_at=event.occurred_at,
        study_day=study_day,
        ctcae_version="5.0",
        ctcae_term=term,
        grade=grade,
        baseline_grade=baseline_grade,
        treatment_emergent=grade is not None and study_day >= 0 and grade > baseline_grade,
        category=category,
        criterion=f"ctcae5/{event.test}/{grade}",
        value=event.value.number,
        unit=event.unit,
        uln=event.ref_high,
        basis="hand-made",
    )


def with_baseline(state: SubjectState, test: str, value: float, event_id: str = "L-B") -> None:
    state.pre_infusion[test] = [Reading(event_id=event_id, test=test, value=value, unit="10^9/L", occurred_at=at(-1))]


def run(
    event: Any,
    rules: RuleSet,
    state: SubjectState,
    graded: list[GradedObservation] | None = None,
    correction: bool = False,
) -> RuleOutcome:
    day = study_day(event.occurred_at, state.day0, rules.tz)
    return evaluate(event, graded or [], state, rules, day=day, correction=correction)


def kinds(outcome: RuleOutcome) -> list[tuple[str, str]]:
    return [(str(a.kind), a.rule_id) for a in outcome.alerts]
