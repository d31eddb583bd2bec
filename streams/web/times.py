"""Times as the pages, the feed and the CSV show them: in ONE time zone, the study's, with its offset, to the second.

Alerts are raised in the study's zone, acknowledgements are stamped by the server's clock in UTC with
microseconds; shown side by side they read as two clocks. Every document converts to the zone of the report's
``generated_at`` (built in the study's zone: safety.reports.build_report) before printing.
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def stamp(t: datetime | None, tz: tzinfo | None) -> str:
    """RFC 3339 in ``tz`` without fractional seconds (Atom, CSV, JSON-like text); "" for no time."""
    if t is None:
        return ""
    return (t.astimezone(tz) if tz is not None else t).replace(microsecond=0).isoformat()


def shown(t: datetime | None, tz: tzinfo | None) -> str:
    """``2026-09-01 12:00 +0800``: a page's time in ``tz``; "" for no time."""
    if t is None:
        return ""
    return (t.astimezone(tz) if tz is not None else t).strftime("%Y-%m-%d %H:%M %z")


def maybe_time(text: str, tz: tzinfo | None) -> str:
    """A value of an alert's basis: an ISO 8601 time with an offset is shown in ``tz``, anything else as it is."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:
        return text
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return text
    return shown(t, tz) if t.tzinfo is not None else text
