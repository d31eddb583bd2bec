"""The lists the safety officer works from: alerts filtered and sorted, overdue ethics reports, AEs, graded labs.

Pure: statuses, events and graded rows come in, rows go out; the pages (streams/web/views.py) render them as
HTML and CSV. Filters are what the query string of ``/alerts`` asks for (``AlertQuery``); a value that is not
one of the choices is refused with the choices, so a mistyped link says what it can be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.coding import UNCODED_TERM, ctcae_term
from safety.coding import outcome as coded_outcome
from safety.errors import SafetyError
from safety.model.events import AdverseEvent, Infusion
from safety.model.outputs import GradedObservation
from safety.model.studyday import study_day
from safety.reports.status import AlertStatus
from safety.rules.ctcae import Criteria

STATUSES = ("open", "acknowledged", "overdue", "withdrawn")
SORTS = ("due", "raised", "day", "subject", "kind")


class AlertQuery(BaseModel):
    """What the alert list shows: each filter None = any; ``sort`` one of ``SORTS``."""

    model_config = ConfigDict(frozen=True)

    kind: str | None = None
    status: str | None = None
    subject: str | None = None
    day_from: int | None = None
    day_to: int | None = None
    sort: str = "due"
    descending: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str], kinds: Sequence[str]) -> AlertQuery:
        """From a query string (``kind``, ``status``, ``subject``, ``day_from``, ``day_to``, ``sort``,
        ``order``); an empty value means any. Raises SafetyError naming the parameter and its choices."""

        def choice(name: str, choices: Sequence[str]) -> str | None:
            value = query.get(name) or None
            if value is not None and value not in choices:
                raise SafetyError(f"{name}={value!r} is not one of: {', '.join(choices)}")
            return value

        def day(name: str) -> int | None:
            value = (query.get(name) or "").strip()
            if not value:
                return None
            try:
                return int(value)
            except ValueError:
                raise SafetyError(f"{name}={value!r} is not a study day (a whole number, e.g. 28)") from None

        return cls(
            kind=choice("kind", kinds),
            status=choice("status", STATUSES),
            subject=(query.get("subject") or "").strip() or None,
            day_from=day("day_from"),
            day_to=day("day_to"),
            sort=choice("sort", SORTS) or "due",
            descending=choice("order", ("asc", "desc")) == "desc",
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this query with ``changes`` (for the sort links of the column heads)."""
        merged = {**self.model_dump(), **changes}
        out = {
            "kind": merged["kind"],
            "status": merged["status"],
            "subject": merged["subject"],
            "day_from": merged["day_from"],
            "day_to": merged["day_to"],
            "sort": merged["sort"],
            "order": "desc" if merged["descending"] else "asc",
        }
        return {k: str(v) for k, v in out.items() if v is not None}


def matches(st: AlertStatus, q: AlertQuery, now: datetime) -> bool:
    a = st.alert
    if q.kind is not None and str(a.kind) != q.kind:
        return False
    if q.status == "overdue":
        if not st.overdue(now):
            return False
    elif q.status is not None and st.state != q.status:
        return False
    if q.subject is not None and q.subject.casefold() not in a.subject_id.casefold():
        return False
    if q.day_from is not None and (a.study_day is None or a.study_day < q.day_from):
        return False
    return not (q.day_to is not None and (a.study_day is None or a.study_day > q.day_to))


def select_alerts(statuses: Sequence[AlertStatus], q: AlertQuery, now: datetime) -> list[AlertStatus]:
    """The statuses ``q`` selects, in its order; alerts without the sort key (no due time, no study day) last."""
    chosen = [st for st in statuses if matches(st, q, now)]

    def key(st: AlertStatus) -> Any:
        a = st.alert
        return {
            "due": a.report_due_at.timestamp() if a.report_due_at else None,
            "raised": a.raised_at.timestamp(),
            "day": a.study_day,
            "subject": a.subject_id,
            "kind": str(a.kind),
        }[q.sort]

    present = [st for st in chosen if key(st) is not None]
    missing = [st for st in chosen if key(st) is None]
    present.sort(key=lambda st: (key(st), st.alert.raised_at.timestamp(), st.alert.alert_id), reverse=q.descending)
    return present + missing


def overdue_reports(statuses: Sequence[AlertStatus], now: datetime) -> list[AlertStatus]:
    """Ethics reports past due and not submitted, and reports submitted late; the one due first on top."""
    rows = [st for st in statuses if st.overdue(now) or st.late]
    return sorted(rows, key=lambda st: (st.late, st.alert.report_due_at or st.alert.raised_at, st.alert.alert_id))


class AeRow(BaseModel):
    """One adverse event (latest revision) as the AE listing shows it: coded term only."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    event_id: str
    term: str
    grade: int
    serious: list[str]
    causality: str | None
    expected: bool | None
    outcome: str | None
    onset: datetime
    end: datetime | None
    onset_day: int | None
    end_day: int | None


def ae_listing(events: Sequence[Any], tz: tzinfo, criteria: Criteria) -> list[AeRow]:
    """Every AE by subject and onset, coded values only (safety/coding.py): the CTCAE term of ``criteria``'s
    version ("uncoded term" for any other text), the outcome from the closed list; never the verbatim term."""
    day0: dict[str, date] = {}
    for e in sorted((e for e in events if isinstance(e, Infusion)), key=lambda e: e.occurred_at):
        day0.setdefault(e.subject_id, e.occurred_at.astimezone(tz).date())
    rows = [
        AeRow(
            subject_id=e.subject_id,
            event_id=e.event_id,
            term=ctcae_term(e.ctcae_term, criteria) or UNCODED_TERM,
            grade=e.grade,
            serious=list(e.serious),
            causality=e.causality,
            expected=e.expected,
            outcome=coded_outcome(e.outcome),
            onset=e.occurred_at,
            end=e.ended_at,
            onset_day=study_day(e.occurred_at, day0.get(e.subject_id), tz),
            end_day=None if e.ended_at is None else study_day(e.ended_at, day0.get(e.subject_id), tz),
        )
        for e in events
        if isinstance(e, AdverseEvent)
    ]
    return sorted(rows, key=lambda r: (r.subject_id, r.onset, r.event_id))


def term_by_grade(rows: Sequence[AeRow]) -> list[tuple[str, list[int], int]]:
    """(term, subjects with the term at grade 1..5 as their worst, subjects with the term) by term, the most
    frequent first: the AE table by term and worst grade per subject."""
    worst: dict[tuple[str, str], int] = {}
    for r in rows:
        worst[(r.term, r.subject_id)] = max(worst.get((r.term, r.subject_id), 0), r.grade)
    table: dict[str, list[int]] = {}
    for (term, _), grade in worst.items():
        table.setdefault(term, [0] * 5)[grade - 1] += 1
    return sorted(((t, g, sum(g)) for t, g in table.items()), key=lambda x: (-x[2], x[0]))


def lab_listing(
    graded: Sequence[GradedObservation], *, min_grade: int = 1, subject: str | None = None
) -> list[GradedObservation]:
    """Graded lab rows at or above ``min_grade`` (0 = every graded value), by subject, time and test."""
    rows = [
        g
        for g in graded
        if g.event_type == "lab"
        and (g.grade or 0) >= min_grade
        and (subject is None or subject.casefold() in g.subject_id.casefold())
    ]
    return sorted(rows, key=lambda g: (g.subject_id, g.occurred_at, g.test, g.ctcae_term))


__all__ = [
    "SORTS",
    "STATUSES",
    "AeRow",
    "AlertQuery",
    "ae_listing",
    "lab_listing",
    "matches",
    "overdue_reports",
    "select_alerts",
    "term_by_grade",
]
