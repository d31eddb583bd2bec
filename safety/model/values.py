"""Measured values: numbers with an optional comparator, compared at 15 significant digits.

docs/rules.md, Grading ("15 significant digits"): both sides are rounded to 15 significant digits before they are
compared, so 3 x 40 is exactly 120, which is admiral's ``signif(x, 15)`` on doubles. Rounding a float through its
15-digit decimal text gives the same result as R's signif and keeps grading fast on the hot path of every event.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from safety.model.bounds import MAX_VALUE_CHARS, shown

COMPARATORS = ("<=", ">=", "<", ">", "=")
_VALUE_RE = re.compile(r"^\s*(<=|>=|<|>|=)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


class Measured(NamedTuple):
    """A reported value: ``number`` is the bound when a comparator is present (graded at its bound)."""

    number: float
    comparator: str | None = None

    def text(self) -> str:
        return f"{self.comparator or ''}{fmt(self.number)}"


def sig15(x: float) -> float:
    """Round to 15 significant digits, as admiral's signif(x, 15)."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.15g}")


def parse_measured(raw: object) -> Measured:
    """Read a number or a comparator string such as ``"<0.1"``; raise ValueError naming what was expected.

    Never raises anything else: an integer too large for a float, a text of "1e999" and a megabyte of digits are
    all ValueErrors (the text is measured before the regular expression sees it; bounds ``MAX_VALUE_CHARS``).
    """
    if isinstance(raw, bool):
        raise ValueError(f"expected a number or a comparator and number such as '<0.1', got {shown(raw)}")
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {shown(raw)}")
        return Measured(value)
    if isinstance(raw, str) and len(raw) <= MAX_VALUE_CHARS:
        m = _VALUE_RE.match(raw)
        if m:
            number = float(m.group(2))
            if not math.isfinite(number):
                raise ValueError(f"expected a finite number, got {shown(raw)}")
            comparator = m.group(1)
            return Measured(number, None if comparator in (None, "=") else comparator)
    raise ValueError(
        f"expected a number or a comparator and number such as '<0.1', got {shown(raw)} "
        f"(text of at most {MAX_VALUE_CHARS} characters)"
    )


def fmt(x: float) -> str:
    """Shortest readable text of a number for `basis` strings: 40.0 -> '40', 0.5 -> '0.5'."""
    return f"{x:.15g}"  # the text of sig15(x): 15 significant digits survive the round trip through a double
