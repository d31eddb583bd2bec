"""The bounds of an input event beyond its field types, in one place (README, "Input handling", cites this file).

A value outside them is not a measurement or a moment of a trial but a broken export, a unit slip or a hostile
line; graded as if it were real it raises false alarms ("1e999" was grade 4 and a potential SAE) or hides real
ones (a ``ref_high`` of "1e999" made every value normal), and a look-alike identifier ("AA-<U+FEFF>029") makes a
phantom subject. So ``safety.events`` rejects it, with a reason naming the field and what is allowed, and the
line goes to rejected.jsonl or the dead-letter topic like any other bad input. The bounds:

- a line is at most ``MAX_LINE_BYTES``;
- numbers are finite, at most ``MAX_NUMBER``; observation values and reference limits are >= 0 (every test the
  contract lists is a count, concentration, activity, time, ratio, pressure, rate, temperature, percentage or
  mass), and ``ref_low`` <= ``ref_high``;
- timestamps are ISO 8601 strings (never epoch numbers) from ``EARLIEST`` to before ``END`` (the years 2000 to
  2100), so study-day and clock arithmetic cannot leave the calendar;
- identifiers (``event_id``, ``study_id``, ``subject_id``) are printable: no control, format (byte order mark,
  zero-width, bidirectional controls such as U+202E), separator, private-use or unassigned characters, no leading
  or trailing space (whether a subject code fits its study's pattern is the study's rule, not a bound);
- every string field has a maximum length.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

MAX_LINE_BYTES = 65_536
"""An event is a few hundred bytes; a longer line is not an event (its rejection keeps it whole)."""

MAX_NUMBER = 1e15
"""Above any physical quantity in any unit of rules/units.yaml (red cells are ~5e12 per litre)."""

MAX_VALUE_CHARS = 40
"""A value written as text, comparator included (``"<= 0.1"``)."""

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
END = datetime(2101, 1, 1, tzinfo=UTC)
"""Timestamps are instants from 2000-01-01 to the end of 2100 UTC (without an offset: by their own date and time),
checked by pydantic-core; study-day and clock arithmetic on them stays far inside the calendar."""

MAX_EVENT_ID_CHARS = 200
MAX_ID_CHARS = 100
"""``study_id`` and ``subject_id``."""
MAX_CODE_CHARS = 40
"""``test``, ``unit``, ``source``, ``lot``, ``loinc``, ``meddra_code``."""
MAX_TEXT_CHARS = 500
"""Free text: ``term``, ``ctcae_term``, ``cause``, ``outcome``."""
MAX_REVISION = 1_000_000
MAX_INFUSIONS = 100

_VISIBLE = r"[^\p{C}\p{Z}]"
PRINTABLE_PATTERN = rf"^{_VISIBLE}(?:(?:{_VISIBLE}| )*{_VISIBLE})?$"
"""An identifier: visible characters and inner ASCII spaces (checked by pydantic-core's regex engine)."""

PRINTABLE_RULE = (
    "printable characters only (no control, format, bidirectional, separator or private-use character) "
    "and no leading or trailing space"
)
_CATEGORY = {
    "Cc": "a control character",
    "Cf": "a format character (byte order mark, zero-width or bidirectional control)",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Zs": "a space",
}
ISO_START_PATTERN = r"^\d{4}-\d{2}-\d{2}"
"""JSON input of a timestamp is text starting with an ISO date (a number, or digits only, is an epoch)."""
TIMESTAMP_RULE = (
    f"an ISO 8601 date-time string such as '2026-07-01T08:00:00+08:00' in the years {EARLIEST.year} to "
    f"{END.year - 1} (not an epoch number)"
)
QUANTITY_RULE = f"a finite number from 0 to {MAX_NUMBER:g}"
_MAX_SHOWN = 80


def shown(value: object) -> str:
    """The offending input as quoted in a reason, cut to a readable length (a field may hold a megabyte)."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def unprintable(text: str) -> str:
    """Why ``text`` breaks ``PRINTABLE_PATTERN``: the first offending character and its position."""
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if category in _CATEGORY and not (char == " " and 0 < position < len(text) - 1):
            return f"U+{ord(char):04X} at position {position} is {_CATEGORY[category]}"
    return "it is empty"


def quantity(number: float, raw: object) -> float:
    """A value or reference limit within 0..``MAX_NUMBER`` (NaN fails both comparisons; an integer too large for
    a float compares exactly, without conversion)."""
    if 0 <= number <= MAX_NUMBER:
        return number
    raise ValueError(f"expected {QUANTITY_RULE}, got {shown(raw)}")
