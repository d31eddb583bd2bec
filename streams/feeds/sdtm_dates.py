"""SDTM dates (ISO 8601, possibly partial) to the contract's timestamps, with the imputation said in words.

An EDC records what the investigator knew: ``2026-08`` (month only), ``2026-08-05`` (no time). The contract needs
a date-time, so the missing parts are imputed, and every imputed value is stated in the event's ``imputed`` field
(docs/sdtm.md, "Partial dates"):

- a start (onset, collection, infusion, death...) takes the earliest moment of what is known: a missing time is
  00:00, a missing day the 1st, a missing month January. Read in the study's time zone. A lab collected on the day
  of a date-only infusion is therefore after it: counted as treatment-emergent, which can raise an alert and never
  hide one.
- an end (AEENDTC) takes the latest moment: 23:59:59 of the last day of what is known.
- an AE onset whose known part contains the first infusion and whose earliest moment falls before it is set to the
  first infusion (the ADaM convention for treatment-emergent AEs): the AE may have started after the product.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from functools import lru_cache

_ISO = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?)?)?)?"
)


class PartialDate:
    """A parsed SDTM date: its text, the earliest and latest moments it may mean, and how precise it is."""

    __slots__ = ("text", "earliest", "latest", "precision")

    def __init__(self, text: str, earliest: datetime, latest: datetime, precision: str) -> None:
        self.text, self.earliest, self.latest, self.precision = text, earliest, latest, precision

    @property
    def complete(self) -> bool:
        return self.precision in ("minute", "second")


@lru_cache(maxsize=1 << 16)
def parse_sdtm_date(text: str) -> PartialDate | None:
    """``YYYY[-MM[-DD[Thh[:mm[:ss[.f]]]]]]``, else None (the caller lists the record as rejected). Cached: an
    export repeats its visit dates on every record of the visit, and a PartialDate is never changed."""
    match = _ISO.fullmatch(text.strip())
    if match is None:
        return None
    parts = {key: int(value) for key, value in match.groupdict().items() if value is not None}
    try:
        if "month" not in parts:
            return PartialDate(text, datetime(parts["year"], 1, 1), datetime(parts["year"], 12, 31, 23, 59, 59), "year")
        if "day" not in parts:
            last = calendar.monthrange(parts["year"], parts["month"])[1]
            return PartialDate(
                text,
                datetime(parts["year"], parts["month"], 1),
                datetime(parts["year"], parts["month"], last, 23, 59, 59),
                "month",
            )
        day = datetime(parts["year"], parts["month"], parts["day"])
        if "hour" not in parts:
            return PartialDate(text, day, day + timedelta(hours=23, minutes=59, seconds=59), "day")
        moment = day.replace(hour=parts["hour"], minute=parts.get("minute", 0), second=parts.get("second", 0))
        if "minute" not in parts:
            return PartialDate(text, moment, moment + timedelta(minutes=59, seconds=59), "hour")
        return PartialDate(text, moment, moment, "second" if "second" in parts else "minute")
    except ValueError:
        return None


def start_of(date: PartialDate, variable: str) -> tuple[datetime, str | None]:
    """The moment a start date stands for, and the imputation note (None when nothing was imputed)."""
    if date.complete:
        return date.earliest, None
    return date.earliest, f"{variable} {date.text}: {date.precision} precision, earliest moment taken"


def end_of(date: PartialDate, variable: str) -> tuple[datetime, str | None]:
    if date.complete:
        return date.latest, None
    return date.latest, f"{variable} {date.text}: {date.precision} precision, latest moment taken"


def onset_of(date: PartialDate, variable: str, first_infusion: datetime | None) -> tuple[datetime, str | None]:
    """An AE onset: the earliest moment, but not before a first infusion that the known part contains."""
    moment, note = start_of(date, variable)
    if note is not None and first_infusion is not None and moment < first_infusion <= date.latest:
        return first_infusion, (
            f"{variable} {date.text}: {date.precision} precision containing the first infusion, "
            "set to the first infusion"
        )
    return moment, note


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
