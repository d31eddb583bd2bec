"""Properties of the interpreter (hypothesis): monotone "decreased" terms; unit conversion never changes a
grade."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safety.grading.bands import Inputs, grade_term
from safety.rules.units import Ungradable, lookup_unit, to_si
from streams.rulefiles import load_criteria

CRITERIA = load_criteria("5.0", Path(__file__).resolve().parents[3] / "rules")
DECREASED = [
    "NEUT",
    "PLAT",
    "HGB",
    "WBC-LOW",
    "LYM-LOW",
    "K-LOW",
    "SODIUM-LOW",
    "GLUC-LOW",
    "ALB",
    "CA-LOW",
    "MG",
    "FIBRINO",
    "OXYSAT",
]
INCREASED = [
    "ALT",
    "BILI",
    "ALP",
    "CREAT",
    "APTT",
    "INR",
    "K-HIGH",
    "SODIUM-HIGH",
    "CA-HIGH",
    "TEMP",
    "SYSBP",
    "QTCF",
    "LYM-HIGH",
    "WBC-HIGH",
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
values = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3).map(float)
limits = st.none() | st.decimals(min_value=Decimal("0.1"), max_value=Decimal("300"), places=2).map(float)


def grade(entry: str, x: float, lln: float | None, uln: float | None) -> int | None:
    term = CRITERIA.by_id[entry]
    return grade_term(term, Inputs(x, lln, uln, "", term.unit)).grade


@SETTINGS
@given(entry=st.sampled_from(DECREASED), a=values, b=values, lln=limits)
def test_a_decreased_terms_grade_never_falls_as_the_value_falls(entry, a, b, lln):
    low, high = min(a, b), max(a, b)
    g_low, g_high = grade(entry, low, lln, None), grade(entry, high, lln, None)
    if g_low is not None and g_high is not None:
        assert g_low >= g_high


@SETTINGS
@given(entry=st.sampled_from(INCREASED), a=values, b=values, uln=limits)
def test_an_increased_terms_grade_never_falls_as_the_value_rises(entry, a, b, uln):
    low, high = min(a, b), max(a, b)
    g_low, g_high = grade(entry, low, None, uln), grade(entry, high, None, uln)
    if g_low is not None and g_high is not None:
        assert g_high >= g_low


@SETTINGS
@given(entry=st.sampled_from(DECREASED + INCREASED), x=values, lln=limits, uln=limits)
def test_a_grade_decided_without_limits_is_the_same_with_any_limits(entry, x, lln, uln):
    """docs/rules.md, Grading ("missing limits"): grade what the absolute thresholds alone decide; null only when
    a limit could change it."""
    without = grade(entry, x, None, None)
    if without is not None:
        assert grade(entry, x, lln, uln) == without


CONVERTIBLE = [  # (test, conventional unit, the entries graded from that test)
    ("HGB", "g/dL", ["HGB"]),
    ("HGB", "mmol/L", ["HGB"]),
    ("ALB", "g/dL", ["ALB"]),
    ("CREAT", "mg/dL", ["CREAT"]),
    ("BILI", "mg/dL", ["BILI"]),
    ("GLUC", "mg/dL", ["GLUC-LOW"]),
    ("CA", "mg/dL", ["CA-LOW", "CA-HIGH"]),
    ("MG", "mg/dL", ["MG"]),
    ("FIBRINO", "mg/dL", ["FIBRINO"]),
    ("NEUT", "cells/uL", ["NEUT"]),
    ("PLAT", "10^3/uL", ["PLAT"]),
    ("K", "mEq/L", ["K-LOW", "K-HIGH"]),
    ("TEMP", "F", ["TEMP"]),
    ("ALT", "ukat/L", ["ALT"]),
]


@pytest.mark.parametrize(("test", "unit", "entries"), CONVERTIBLE)
@SETTINGS
@given(
    si=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2).map(float),
    lim=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("300"), places=1).map(float),
)
def test_converting_units_never_changes_a_grade(test, unit, entries, si, lim):
    """A value and its limits reported in a conventional unit grade exactly as the same SI values."""
    table = CRITERIA.units
    conv = lookup_unit(test, unit, table)
    assert not isinstance(conv, Ungradable)

    def back(v: float) -> float:  # the conventional number a laboratory would report for SI value v
        return v * conv.divisor / conv.factor + conv.offset

    conv_x, conv_lim = to_si(test, back(si), unit, table), to_si(test, back(lim), unit, table)
    assert conv_x == pytest.approx(si, rel=1e-12)
    for entry in entries:
        assert grade(entry, conv_x, conv_lim, conv_lim) == grade(entry, si, lim, lim)
