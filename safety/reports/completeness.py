"""Data completeness: per subject and visit, the tests the schedule expects against those received.

The heartbeat (safety/heartbeat.py) alerts once per visit that falls due incomplete; this view shows the whole
calendar as it stands at ``as_of``, by the same rules (docs/rules.md, "Expected data"): a visit of a test group
is satisfied test by test by a ``final``/``corrected`` lab, or any vital sign or ECG, whose study day is in the
visit's window, received whenever it was (a late result counts); day 0 is the first infusion; nothing is expected
on a visit day after the subject's end of study or death. A visit is

* ``complete``: every test of its group received;
* ``missing``: due (its window's last day and the grace period have passed) with a test still missing;
* ``open``: its window has begun and it is not due yet;
* ``upcoming``: its window has not begun.

``visit_tallies`` counts, per group and visit day, the subjects whose visit is due and those complete: the line the
ethics summary states per visit. No clock is read: ``as_of`` is an argument (the report's ``generated_at``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from safety.model.events import Death, Ecg, EndOfStudy, Infusion, Lab, Vital
from safety.model.studyday import local_date, study_day
from safety.rules.schedule import Schedule

VisitState = Literal["complete", "missing", "open", "upcoming"]
STATE_LABELS: Final[dict[str, str]] = {
    "complete": "完整 / complete",
    "missing": "缺失 / missing",
    "open": "窗口内 / window open",
    "upcoming": "未到 / upcoming",
}
_COUNTED_STATUSES: Final = frozenset({"final", "corrected"})


class VisitRow(BaseModel):
    """One visit of one test group of one subject: expected and received tests, and where it stands."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    group: str
    visit_day: int
    first_day: int
    last_day: int
    due_at: datetime
    expected: list[str]
    received: list[str]
    missing: list[str]
    state: VisitState


class VisitTally(BaseModel):
    """One visit of one group across subjects: how many owe it (due) and how many of those are complete."""

    model_config = ConfigDict(frozen=True)

    group: str
    visit_day: int
    due: int
    complete: int

    @property
    def percent(self) -> float | None:
        return None if self.due == 0 else round(100 * self.complete / self.due, 1)

    def record(self) -> dict[str, Any]:
        """The summary JSON's form (``data_completeness``)."""
        return {"group": self.group, "visit_day": self.visit_day, "due": self.due, "complete": self.complete}


def visit_rows(events: Iterable[Any], schedule: Schedule, tz: tzinfo, as_of: datetime) -> list[VisitRow]:
    """Every expected visit of every subject with a first infusion, by subject, group (schedule order) and day.

    ``events`` are event models of one study (safety/reports/inputs.py ``read_events``: one revision each)."""
    subjects: dict[str, list[Any]] = {}
    for event in events:
        subjects.setdefault(event.subject_id, []).append(event)
    today = local_date(as_of, tz)
    rows: list[VisitRow] = []
    for subject_id in sorted(subjects):
        rows += _subject_rows(subject_id, subjects[subject_id], schedule, tz, as_of, today)
    return rows


def _subject_rows(
    subject_id: str, events: Sequence[Any], schedule: Schedule, tz: tzinfo, as_of: datetime, today: date
) -> list[VisitRow]:
    infusions = [e.occurred_at for e in events if isinstance(e, Infusion)]
    if not infusions:
        return []
    day0 = local_date(min(infusions), tz)
    ends = [study_day(e.occurred_at, day0, tz) for e in events if isinstance(e, (EndOfStudy, Death))]
    ended = min((d for d in ends if d is not None), default=None)
    seen: dict[str, set[int]] = {}
    for event in events:
        if isinstance(event, (Vital, Ecg)) or (isinstance(event, Lab) and event.status in _COUNTED_STATUSES):
            day = study_day(event.occurred_at, day0, tz)
            if day is not None:
                seen.setdefault(event.test, set()).add(day)
    current = (today - day0).days
    rows = []
    for name, group in schedule.groups.items():
        for visit in group.days:
            if ended is not None and visit > ended:
                break
            first, last = schedule.window(visit)
            received = [t for t in group.tests if any(first <= d <= last for d in seen.get(t, ()))]
            missing = [t for t in group.tests if t not in received]
            due = schedule.due_at(visit, day0, tz)
            state: VisitState = (
                "complete" if not missing else "missing" if due <= as_of else "open" if current >= first else "upcoming"
            )
            rows.append(
                VisitRow(
                    subject_id=subject_id,
                    group=name,
                    visit_day=visit,
                    first_day=first,
                    last_day=last,
                    due_at=due,
                    expected=list(group.tests),
                    received=received,
                    missing=missing,
                    state=state,
                )
            )
    return rows


def visit_tallies(rows: Iterable[VisitRow], schedule: Schedule) -> list[VisitTally]:
    """Per group (schedule order) and visit day: subjects whose visit is due or complete, and those complete."""
    counts: dict[tuple[str, int], list[int]] = {
        (name, day): [0, 0] for name, group in schedule.groups.items() for day in group.days
    }
    for row in rows:
        if row.state in ("complete", "missing"):
            count = counts[(row.group, row.visit_day)]
            count[0] += 1
            count[1] += row.state == "complete"
    return [VisitTally(group=g, visit_day=d, due=n, complete=c) for (g, d), (n, c) in counts.items() if n]


def completeness_of(events: Iterable[Any], schedule: Schedule, tz: tzinfo, as_of: datetime) -> list[VisitTally]:
    """The ethics summary's completeness per visit (``Report.completeness``)."""
    return visit_tallies(visit_rows(events, schedule, tz, as_of), schedule)


def summary_lines(tallies: Iterable[VisitTally]) -> list[tuple[str, int, int, int, str]]:
    """The ethics summary's table: group, visit day, subjects due, complete, and the share complete."""
    return [
        (t.group, t.visit_day, t.due, t.complete, "–" if t.percent is None else f"{t.percent:.1f}%") for t in tallies
    ]


COMPLETENESS_CSV_HEADER: Final = (
    "subject_id",
    "group",
    "visit_day",
    "window_first_day",
    "window_last_day",
    "due_at",
    "expected",
    "received",
    "missing",
    "state",
)


def csv_rows(rows: Iterable[VisitRow], tz: tzinfo) -> list[tuple[Any, ...]]:
    """The completeness CSV's rows (``COMPLETENESS_CSV_HEADER``), times in the study's zone."""
    return [
        (
            r.subject_id,
            r.group,
            r.visit_day,
            r.first_day,
            r.last_day,
            r.due_at.astimezone(tz).isoformat(),
            r.expected,
            r.received,
            r.missing,
            r.state,
        )
        for r in rows
    ]


__all__ = [
    "COMPLETENESS_CSV_HEADER",
    "STATE_LABELS",
    "VisitRow",
    "VisitTally",
    "completeness_of",
    "csv_rows",
    "summary_lines",
    "visit_rows",
    "visit_tallies",
]
