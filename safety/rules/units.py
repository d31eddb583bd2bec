"""Conversion to SI before grading (rules/units.yaml): an unknown unit is never guessed.

``to_si`` returns a float (rounded to 15 significant digits, so 100.4 F is exactly 38.0 C) or an
:class:`Ungradable` naming the reason, which grading writes into ``basis`` with grade null.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from safety.model.values import sig15
from safety.rules.ctcae import CUnit, GradingTable, UnitTable

# What a unit can look like ("mg/dL", "10^9/L", "x10*3/uL", "µmol/L"): short, no long run of digits. Other text
# is withheld from the basis, which graded rows, topics and pages carry (README, "No identifiers").
_UNIT_LIKE = re.compile(r"^(?!.*\d{5})[A-Za-z0-9^*/%.\[\]()µ°-]{1,20}$")


class Ungradable(NamedTuple):
    """Why a value cannot be graded; ``reason`` is the category ("unit", "range"), ``detail`` the sentence."""

    reason: str
    detail: str

    @property
    def basis(self) -> str:
        return f"{self.reason}: {self.detail}"


def unit_like(unit: str) -> bool:
    """Whether ``unit`` can be shown: it looks like a unit, not like free text (a name, a phone number)."""
    return _UNIT_LIKE.fullmatch(unit) is not None


def _shown_unit(unit: str) -> str:
    return repr(unit) if unit_like(unit) else "a unit text that is not a unit (withheld; see the input)"


def lookup_unit(test: str, unit: str | None, table: UnitTable) -> CUnit | Ungradable:
    """The conversion of ``unit`` for ``test``: exact spelling, then ignoring case; missing only if allowed."""
    known = table.exact.get(test)
    if known is None:
        return Ungradable("unit", f"{test} has no unit table")
    return _resolve(test, unit, known, table.folded[test], test in table.allow_missing, table.si[test])


def unit_of(table: GradingTable, unit: str | None) -> CUnit | Ungradable:
    """:func:`lookup_unit` on a test's compiled grading table (the exact spelling is the usual case)."""
    conv = table.exact.get(unit) if unit is not None else None
    if conv is not None:
        return conv
    return _resolve(table.test, unit, table.exact, table.folded, table.allow_missing, table.si)


def _resolve(
    test: str, unit: str | None, exact: dict[str, CUnit], folded: dict[str, CUnit], allow_missing: bool, si: str
) -> CUnit | Ungradable:
    if unit is None or not unit.strip():
        if allow_missing:
            return exact[si]
        return Ungradable("unit", f"missing unit for {test} (expected e.g. {si!r})")
    conv = exact.get(unit) or exact.get(unit.strip()) or folded.get(unit.strip().casefold())
    if conv is None:
        return Ungradable("unit", f"{_shown_unit(unit)} is not a known unit for {test}")
    return conv


def convert(value: float, conv: CUnit) -> float:
    """Apply one conversion; identity conversions return the value untouched."""
    if conv.identity:
        return value
    return sig15((value - conv.offset) * conv.factor / conv.divisor)


def to_si(test: str, value: float, unit: str | None, table: UnitTable) -> float | Ungradable:
    """``value`` in ``unit`` as the SI value grading uses for ``test``, or Ungradable("unit", ...)."""
    conv = lookup_unit(test, unit, table)
    if isinstance(conv, Ungradable):
        return conv
    return convert(value, conv)
