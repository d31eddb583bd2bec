"""DLT: dose limiting toxicity, DLT-1..DLT-5, inside the surveillance window (docs/rules.md, DLT).

One DLT alert per triggering event: when an event meets several rules, the first in the study's priority order
(DLT-5, DLT-1, DLT-3, DLT-4, DLT-2) is the ``rule_id`` and the others are listed in ``also_matched``. An AE's
grade is the investigator's and its study day the onset day; only days 0..365 start a DLT.

DLT-4 (marrow suppression beyond the disease) is the one lab-based rule: a NEUT or PLAT value strictly below 50%
of the subject's baseline value and at CTCAE grade 4 opens a pending confirmation on its study day d; every later
value (by ``occurred_at``) of the test must still meet both conditions or the pending one is dropped; the first
value on study day >= d + 7 that meets both confirms, and the DLT is raised on that day, naming both values. A
subject without a baseline value never meets it (an aplastic anemia subject at grade 4 before infusion needs a
further halving). After a confirmation no new pending confirmation opens for the test until a later value no
longer qualifies (one DLT per marrow-suppression stretch, not one a week).

An AE's term is its coded CTCAE term (safety/coding.py); an uncoded one matches no DLT-1/DLT-3 term list and is
not hematologic, so DLT-2 still applies. A death (DLT-5) carries Death NOS, grade 5.
"""

from __future__ import annotations

from typing import Any

from safety.coding import DEATH_GRADE, ae_term, death_term
from safety.detectors.base import Candidate, Context, iso
from safety.model.events import AdverseEvent, Death, Lab
from safety.model.memory import BASELINE_VALUES, BaselineValue, Confirmed, Pending
from safety.model.outputs import GradedObservation
from safety.model.values import fmt, sig15


def detect(ctx: Context) -> list[Candidate]:
    event = ctx.event
    if isinstance(event, Lab):
        if event.test in ctx.rules.protocol.dlt.dlt4.tests:
            return _dlt4(ctx, event)
        return []
    if isinstance(event, (AdverseEvent, Death)):
        return _event_rules(ctx, event)
    return []


# ------------------------------------------------------------------------------------------- AE and death


def _event_rules(ctx: Context, event: AdverseEvent | Death) -> list[Candidate]:
    day = ctx.day
    if not ctx.in_window(day):
        return []
    dlt = ctx.rules.protocol.dlt
    protocol = ctx.rules.protocol
    matched: dict[str, str] = {}
    basis: dict[str, Any] = {
        "onset": iso(event.occurred_at),
        "study_day": day,
        "causality": event.causality,
        "window": [protocol.window.first_day, protocol.window.last_day],
    }
    term: str | None
    if isinstance(event, Death):
        term, grade = death_term(ctx.rules.criteria), DEATH_GRADE
        if dlt.dlt5.enabled and protocol.is_related(event.causality):
            matched["DLT-5"] = "death with causality in the related set"
    else:
        term, coding = ae_term(event, ctx.rules.criteria)
        grade = event.grade
        basis["grade"] = grade
        basis.update(coding)
        if dlt.dlt5.enabled and grade == 5 and protocol.is_related(event.causality):
            matched["DLT-5"] = "grade 5 adverse event with causality in the related set"
        if dlt.dlt1.enabled and term in dlt.dlt1.terms and grade >= dlt.dlt1.min_grade:
            infusion = _infusion_before(ctx, event, dlt.dlt1.within_hours)
            if infusion is not None:
                hours = (event.occurred_at - infusion).total_seconds() / 3600
                matched["DLT-1"] = (
                    f"infusion reaction grade >= {dlt.dlt1.min_grade}, onset {fmt(round(hours, 2))} h "
                    f"after an infusion (limit {fmt(dlt.dlt1.within_hours)} h)"
                )
                basis["infusion_at"] = iso(infusion)
                basis["hours_after_infusion"] = round(hours, 2)
        if (
            dlt.dlt3.enabled
            and term in dlt.dlt3.terms
            and grade >= dlt.dlt3.min_grade
            and event.causality not in dlt.dlt3.excluded_causality
        ):
            matched["DLT-3"] = (
                f"thromboembolic event grade >= {dlt.dlt3.min_grade}, causality not "
                f"{'/'.join(dlt.dlt3.excluded_causality)}"
            )
        if (
            dlt.dlt2.enabled
            and grade >= dlt.dlt2.min_grade
            and term not in dlt.dlt2.hematologic_terms
            and protocol.is_related(event.causality)
        ):
            matched["DLT-2"] = f"non-hematologic grade >= {dlt.dlt2.min_grade}, causality in the related set"
    if not matched:
        return []
    ctx.dlt_matched = True
    order = [rule for rule in dlt.priority if rule in matched]
    basis["criterion"] = matched[order[0]]
    if len(order) > 1:
        basis["also_matched_criteria"] = {rule: matched[rule] for rule in order[1:]}
    return [
        Candidate(
            "DLT",
            order[0],
            event.subject_id,
            [event.event_id],
            study_day=day,
            ctcae_term=term,
            grade=grade,
            basis=basis,
            also_matched=order[1:] or None,
        )
    ]


def _infusion_before(ctx: Context, event: AdverseEvent, within_hours: float) -> Any:
    """The latest infusion at or before the onset and at most ``within_hours`` before it (DLT-1: 'any infusion')."""
    limit = within_hours * 3600
    best = None
    for infusion in ctx.state.infusions:
        seconds = (event.occurred_at - infusion).total_seconds()
        if 0 <= seconds <= limit:
            best = infusion
    return best


# ------------------------------------------------------------------------------------------------- DLT-4


def _row(graded: list[GradedObservation], test: str) -> GradedObservation | None:
    best = None
    for row in graded:
        if row.test == test and row.grade is not None and (best is None or row.grade > best.grade):  # type: ignore[operator]
            best = row
    if best is None:
        for row in graded:
            if row.test == test:
                return row
    return best


def _baseline(ctx: Context, event: Lab, row: GradedObservation) -> tuple[float, float] | None:
    """(baseline, current) in one unit: the graded values when both are known, else the reported values when the
    units agree; None without a baseline (the rule then cannot be met: docs/rules.md, "Baseline and
    treatment-emergent")."""
    reading = ctx.state.baseline(event.test)
    if reading is None:
        return None
    for value in ctx.memory.dlt4_baselines.get(event.test, ()):
        if value.event_id == reading.event_id and row.value is not None and value.unit == row.unit:
            return value.value, row.value
    if reading.unit == event.unit:
        return reading.value, event.value.number
    return None


def _remember_baseline(ctx: Context, event: Lab, row: GradedObservation | None) -> None:
    if row is None or row.value is None:
        return
    values = [v for v in ctx.memory.dlt4_baselines.get(event.test, []) if v.event_id != event.event_id]
    values.append(BaselineValue(event_id=event.event_id, occurred_at=event.occurred_at, value=row.value, unit=row.unit))
    values.sort(key=lambda v: v.occurred_at)
    ctx.memory.dlt4_baselines[event.test] = values[-BASELINE_VALUES:]


def _dlt4(ctx: Context, event: Lab) -> list[Candidate]:
    cfg = ctx.rules.protocol.dlt.dlt4
    memory = ctx.memory
    test = event.test
    row = _row(ctx.graded, test)
    first = ctx.state.first_infusion_at
    if first is None or event.occurred_at < first:
        _remember_baseline(ctx, event, row)  # a pre-infusion value may be (or become) the baseline
        return []
    if ctx.correction:
        _retract(ctx, event)
    if not cfg.enabled or row is None or row.grade is None or row.value is None:
        return []  # ungradable values neither confirm nor drop a pending confirmation
    if row.grade < cfg.min_grade and test not in memory.dlt4_pending and test not in memory.dlt4_confirmed:
        return []  # fast path: cannot qualify and nothing to drop
    pair = _baseline(ctx, event, row)
    qualifies = (
        pair is not None and row.grade >= cfg.min_grade and sig15(pair[1]) < sig15(cfg.fraction_of_baseline * pair[0])
    )
    day = row.study_day if row.study_day is not None else ctx.day
    if day is None:
        return []
    confirmed = memory.dlt4_confirmed.get(test)
    if confirmed is not None:
        if confirmed.opener.event_id == event.event_id:  # a correction of the opening value
            if qualifies:
                return [
                    _candidate(
                        ctx,
                        confirmed.opener,
                        confirmed.event_id,
                        confirmed.study_day,
                        confirmed.value,
                        confirmed.grade,
                        row,
                    )
                ]
            del memory.dlt4_confirmed[test]
            return []
        if event.occurred_at > confirmed.occurred_at and not qualifies:
            del memory.dlt4_confirmed[test]  # recovered: the next qualifying value may open a new stretch
        return []
    pending = memory.dlt4_pending.get(test)
    if pending is None:
        if qualifies and ctx.in_window(day):
            assert pair is not None
            memory.dlt4_pending[test] = Pending(
                event_id=event.event_id,
                study_day=day,
                occurred_at=event.occurred_at,
                value=pair[1],
                baseline=pair[0],
                grade=row.grade,
            )
        return []
    if event.occurred_at <= pending.occurred_at:
        return []  # a late value older than the pending one does not decide it
    if not qualifies:
        del memory.dlt4_pending[test]
        return []
    if day < pending.study_day + cfg.confirm_after_days:
        return []
    del memory.dlt4_pending[test]
    if not ctx.in_window(day):
        return []
    assert pair is not None
    candidate = _candidate(ctx, pending, event.event_id, day, pair[1], row.grade, row)
    memory.dlt4_confirmed[test] = Confirmed(
        opener=pending,
        event_id=event.event_id,
        study_day=day,
        occurred_at=event.occurred_at,
        value=pair[1],
        grade=row.grade,
        key=candidate.key,
    )
    return [candidate]


def _retract(ctx: Context, event: Lab) -> None:
    """A corrected value is decided again: if it opened the pending confirmation, that is dropped; if it was the
    confirming value, the pending confirmation it closed is restored (and confirms again if still met)."""
    memory = ctx.memory
    pending = memory.dlt4_pending.get(event.test)
    if pending is not None and pending.event_id == event.event_id:
        del memory.dlt4_pending[event.test]
    confirmed = memory.dlt4_confirmed.get(event.test)
    if confirmed is not None and confirmed.event_id == event.event_id:
        del memory.dlt4_confirmed[event.test]
        memory.dlt4_pending[event.test] = confirmed.opener


def _candidate(
    ctx: Context, opener: Pending, event_id: str, day: int, value: float, grade: int, row: GradedObservation
) -> Candidate:
    cfg = ctx.rules.protocol.dlt.dlt4
    percent = fmt(cfg.fraction_of_baseline * 100)
    return Candidate(
        "DLT",
        "DLT-4",
        ctx.event.subject_id,
        [opener.event_id, event_id],
        study_day=day,
        ctcae_term=row.ctcae_term,
        grade=grade,
        basis={
            "criterion": (
                f"{row.test} below {percent}% of baseline and grade >= {cfg.min_grade}, confirmed "
                f">= {cfg.confirm_after_days} study days later"
            ),
            "test": row.test,
            "unit": row.unit,
            "baseline": opener.baseline,
            "threshold": sig15(cfg.fraction_of_baseline * opener.baseline),
            "first": {
                "event_id": opener.event_id,
                "study_day": opener.study_day,
                "value": opener.value,
                "grade": opener.grade,
            },
            "confirming": {"event_id": event_id, "study_day": day, "value": value, "grade": grade},
        },
    )
