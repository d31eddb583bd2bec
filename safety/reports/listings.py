"""The SAE/SUSAR line listing: one row per serious alert, with the coded facts of the event that raised it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.coding import DEATH_FALLBACK, UNCODED_TERM, alert_term
from safety.coding import outcome as coded_outcome
from safety.model.events import AdverseEvent, Death
from safety.reports.status import AlertStatus

LISTED_KINDS = ("SAE", "SUSAR")


class ListingRow(BaseModel):
    """One SAE or SUSAR of the line listing (seriousness, ICH E2A, and severity, the CTCAE grade, are different
    things: both are listed)."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    kind: str
    rule_id: str
    subject_id: str
    study_day: int | None
    term: str | None
    grade: int | None
    seriousness: list[str]
    causality: str | None
    expected: bool | None
    outcome: str | None
    report_due_at: datetime | None
    submitted_at: datetime | None
    acknowledged_at: datetime | None
    status: str
    overdue: bool
    late: bool = False  # the ethics report was submitted after its due time
    reference: str | None = None  # the ethics committee's reference of the submitted report

    @property
    def expectedness(self) -> str:
        return {True: "expected", False: "unexpected", None: ""}[self.expected]


LISTING_COLUMNS = (
    "kind",
    "alert_id",
    "subject_id",
    "study_day",
    "term",
    "grade",
    "seriousness",
    "causality",
    "expectedness",
    "outcome",
    "report_due_at",
    "submitted_at",
    "acknowledged_at",
    "status",
    "late",
    "reference",
)


def line_listing(statuses: Sequence[AlertStatus], events: Sequence[Any], now: datetime) -> list[ListingRow]:
    """SAE and SUSAR alerts with the triggering AE's (latest revision) seriousness, causality and outcome.

    Coded values only (README, "No identifiers"): the alert's CTCAE term ("uncoded term" when it has none), the
    AE's outcome from the closed list of safety/coding.py; an event's verbatim term or a death's cause never.
    """
    by_id = {e.event_id: e for e in events}
    rows = []
    for st in statuses:
        a = st.alert
        if a.kind not in LISTED_KINDS:
            continue
        source = next((by_id[i] for i in a.event_ids if i in by_id), None)
        seriousness: list[str] = []
        causality = outcome = None
        expected: bool | None = None
        if isinstance(source, AdverseEvent):
            seriousness, causality, expected, outcome = (
                list(source.serious),
                source.causality,
                source.expected,
                coded_outcome(source.outcome),
            )
        elif isinstance(source, Death):
            seriousness, causality, expected, outcome = ["death"], source.causality, source.expected, "fatal"
        # the alert's coded term, never the event's verbatim term or cause (safety/coding.py)
        term = alert_term(a)
        if term is None and isinstance(source, (AdverseEvent, Death)):  # an alert raised before terms were coded
            term = DEATH_FALLBACK if isinstance(source, Death) else UNCODED_TERM
        rows.append(
            ListingRow(
                alert_id=a.alert_id,
                kind=str(a.kind),
                rule_id=a.rule_id,
                subject_id=a.subject_id,
                study_day=a.study_day,
                term=term,
                grade=a.grade,
                seriousness=seriousness,
                causality=causality,
                expected=expected,
                outcome=outcome,
                report_due_at=a.report_due_at,
                submitted_at=st.submitted_at,
                acknowledged_at=st.acknowledged_at,
                status=st.state,
                overdue=st.overdue(now),
                late=st.late,
                reference=st.reference,
            )
        )
    rows.sort(key=lambda r: (r.subject_id, r.study_day if r.study_day is not None else -(10**6), r.kind))
    return rows


def listing_record(row: ListingRow) -> dict[str, Any]:
    """The JSON/CSV form of a listing row (public format: keys of LISTING_COLUMNS plus rule_id, overdue, late,
    reference)."""
    return {
        "kind": row.kind,
        "alert_id": row.alert_id,
        "rule_id": row.rule_id,
        "subject_id": row.subject_id,
        "study_day": row.study_day,
        "term": row.term,
        "grade": row.grade,
        "seriousness": row.seriousness,
        "causality": row.causality,
        "expectedness": row.expectedness or None,
        "outcome": row.outcome,
        "report_due_at": _iso(row.report_due_at),
        "submitted_at": _iso(row.submitted_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "status": row.status,
        "overdue": row.overdue,
        "late": row.late,
        "reference": row.reference,
    }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


__all__ = [
    "LISTED_KINDS",
    "LISTING_COLUMNS",
    "ListingRow",
    "line_listing",
    "listing_record",
]
