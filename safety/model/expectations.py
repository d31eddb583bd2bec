"""What the heartbeat remembers per subject, inside ``SubjectState.expected`` (docs/rules.md, "Expected data").

Small by design, because the stream keeps it in a faust Table: per test group, the index of the next visit not yet
settled and the tests received so far for the visits still open (usually one); the overdue alerts raised and the
tests they still miss, so a late result can withdraw them; and the study day after which nothing is expected
(``end_of_study`` or death). Never the whole calendar: that is in the study's schedule.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class GroupProgress(BaseModel):
    """One test group of one subject: visits before ``next`` are settled (complete, or alerted as overdue)."""

    next: int = 0
    received: dict[int, list[str]] = Field(default_factory=dict)  # visit day -> tests seen in its window so far
    complete: list[int] = Field(default_factory=list)  # visit days after ``next`` already complete (out of order)


class OverdueRef(BaseModel):
    """A DATA_OVERDUE alert raised and not yet withdrawn: the tests still missing from its window."""

    alert_id: str
    group: str
    visit_day: int
    first_day: int
    last_day: int
    missing: list[str]


class Expectations(BaseModel):
    groups: dict[str, GroupProgress] = Field(default_factory=dict)
    overdue: dict[str, OverdueRef] = Field(default_factory=dict)  # "<group>/<visit day>" -> the open alert
    ended_day: int | None = None  # study day of end_of_study or death: no visit after it is expected
