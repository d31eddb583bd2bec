"""SUSPECTED_DLT: what may be a DLT once the PI attributes it (docs/rules.md, SUSPECTED_DLT).

Observations (rule ``SUSPECTED_DLT-LAB`` / ``-VITAL`` / ``-ECG``): a treatment-emergent non-hematologic grade >= 3
of a lab, vital or ECG value inside the window (a QTcF grade 3 is one), once per (term) episode. Adverse events
(rule ``SUSPECTED_DLT-AE``): grade >= 3, non-hematologic, no causality yet, inside the window, unless the event
already is a DLT (DLT-1 and DLT-3 need no attribution); a later revision adding a related causality raises the DLT
and withdraws this alert (the attribution it asked for is done). Clock: PI attribution within 72 h.
"""

from __future__ import annotations

from safety.coding import ae_term
from safety.detectors.base import Candidate, Context, iso
from safety.detectors.observations import episode_alerts
from safety.model.events import AdverseEvent
from safety.model.outputs import GradedObservation


def detect(ctx: Context) -> list[Candidate]:
    cfg = ctx.rules.protocol.suspected_dlt
    if not cfg.enabled:
        return []
    event = ctx.event
    if isinstance(event, AdverseEvent):
        return _adverse_event(ctx, event, cfg.min_grade)
    if not ctx.graded:
        return []

    def qualifies(row: GradedObservation) -> bool:
        return row.category == "non_hematologic" and ctx.in_window(row.study_day)

    return episode_alerts(ctx, "SUSPECTED_DLT", cfg.min_grade, cfg.event_types, qualifies, _never)


def _never(row: GradedObservation) -> str | None:
    return None


def _adverse_event(ctx: Context, event: AdverseEvent, min_grade: int) -> list[Candidate]:
    term, coding = ae_term(event, ctx.rules.criteria)  # coded, never the event's text (safety/coding.py)
    if (
        event.causality is not None
        or event.grade < min_grade
        or ctx.dlt_matched
        or term in ctx.rules.protocol.dlt.dlt2.hematologic_terms
        or not ctx.in_window(ctx.day)
    ):
        return []
    return [
        Candidate(
            "SUSPECTED_DLT",
            "SUSPECTED_DLT-AE",
            event.subject_id,
            [event.event_id],
            study_day=ctx.day,
            ctcae_term=term,
            grade=event.grade,
            basis={
                "criterion": f"non-hematologic adverse event grade >= {min_grade} with no causality assessed yet",
                "onset": iso(event.occurred_at),
                "grade": event.grade,
                "causality": None,
                **coding,
            },
        )
    ]
