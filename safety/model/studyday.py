"""Study time (docs/rules.md, Time): day 0 is the local calendar date of the first infusion; no day 0 is skipped."""

from __future__ import annotations

from datetime import date, datetime, tzinfo


def local_date(moment: datetime, tz: tzinfo) -> date:
    """Calendar date of an instant in the study time zone."""
    return moment.astimezone(tz).date()


def study_day(moment: datetime, day0: date | None, tz: tzinfo) -> int | None:
    """(local date of the observation) - (day 0); None before the subject's first infusion is known."""
    if day0 is None:
        return None
    return (local_date(moment, tz) - day0).days


def in_window(day: int | None, first: int, last: int) -> bool:
    """Surveillance window test, inclusive at both ends (days 0..365 by default)."""
    return day is not None and first <= day <= last
