"""Unit conversion to SI (docs/rules.md, Grading: units; an unknown unit is never guessed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.errors import RuleFileError
from safety.rules.units import Ungradable, lookup_unit, to_si
from streams.rulefiles import load_units

RULES = Path(__file__).resolve().parents[3] / "rules"


@pytest.fixture(scope="module")
def table():
    return load_units(RULES / "units.yaml")


@pytest.mark.parametrize(
    ("test", "value", "unit", "si"),
    [
        ("NEUT", 1.5, "10^9/L", 1.5),
        ("NEUT", 1.5, "10*9/L", 1.5),
        ("NEUT", 1.5, "G/L", 1.5),
        ("NEUT", 1.5, "10^3/uL", 1.5),
        ("NEUT", 1.5, "10^3/mm3", 1.5),
        ("NEUT", 1500, "cells/uL", 1.5),
        ("PLAT", 75000, "/mm3", 75.0),
        ("WBC", 3.0, "K/uL", 3.0),
        ("LYM", 800, "10^3/mL", 0.8),
        ("HGB", 10.0, "g/dL", 100.0),
        ("HGB", 100, "g/L", 100.0),
        ("HGB", 6.2, "mmol/L", 99.882),
        ("ALB", 3.0, "g/dL", 30.0),
        ("CREAT", 1.0, "mg/dL", 88.4),
        ("CREAT", 88.4, "umol/L", 88.4),
        ("CREAT", 88.4, "µmol/L", 88.4),
        ("BILI", 1.0, "mg/dL", 17.1),
        ("BILI", 17.1, "μmol/L", 17.1),
        ("GLUC", 54.0, "mg/dL", 3.0),
        ("GLUC", 90, "mg/dL", 5.0),
        ("CA", 10.0, "mg/dL", 2.495),
        ("MG", 1.0, "mg/dL", 0.4114),
        ("MG", 2.0, "mEq/L", 1.0),
        ("FIBRINO", 50, "mg/dL", 0.5),
        ("K", 4.0, "mEq/L", 4.0),
        ("SODIUM", 140, "mEq/L", 140.0),
        ("TEMP", 100.4, "F", 38.0),
        ("TEMP", 104.0, "F", 40.0),
        ("TEMP", 212, "°F", 100.0),
        ("TEMP", 38, "Cel", 38),
        ("ALT", 1.0, "ukat/L", 60.0),
        ("ALT", 40, "IU/L", 40),
        ("ALT", 40, "U/l", 40),
        ("INR", 1.3, None, 1.3),
        ("QTCF", 450, None, 450),
        ("APTT", 30, "sec", 30),
    ],
)
def test_to_si_converts_every_listed_unit(table, test, value, unit, si):
    assert to_si(test, value, unit, table) == pytest.approx(si, rel=1e-15)


def test_conversions_are_rounded_to_15_significant_digits(table):
    assert to_si("TEMP", 100.4, "F", table) == 38.0  # not 38.00000000000001
    assert to_si("HGB", 6.2, "mmol/L", table) == 99.882


@pytest.mark.parametrize(
    ("test", "unit"), [("ALT", "mg/furlong"), ("NEUT", "10^9/M"), ("HGB", "G/cL"), ("CHOL", "mmol/L"), ("GLUC", "g/dL")]
)
def test_unknown_unit_is_never_guessed(table, test, unit):
    result = to_si(test, 1.0, unit, table)
    assert isinstance(result, Ungradable) and result.reason == "unit"


def test_missing_unit_is_ungradable_unless_the_test_allows_it(table):
    result = to_si("ALT", 40, None, table)
    assert isinstance(result, Ungradable)
    assert result.basis == "unit: missing unit for ALT (expected e.g. 'U/L')"
    assert to_si("INR", 1.1, "", table) == 1.1


def test_unit_spelling_is_matched_ignoring_case_and_spaces(table):
    assert to_si("HGB", 100, "G/L", table) == 100
    assert to_si("GLUC", 90, " MG/DL ", table) == 5.0


def test_a_unit_spelled_twice_with_two_meanings_fails_to_load(tmp_path):
    (tmp_path / "units.yaml").write_text(
        "tests:\n  HGB:\n    si: g/L\n    units:\n      g/L: {}\n      G/L: {factor: 10}\n"
    )
    with pytest.raises(RuleFileError, match=r"/units.yaml: HGB unit 'G/L': differs"):
        load_units(tmp_path / "units.yaml")


def test_an_unknown_key_in_units_yaml_fails_with_its_location(tmp_path):
    (tmp_path / "units.yaml").write_text("tests:\n  HGB:\n    si: g/L\n    units:\n      g/L: {factr: 1}\n")
    with pytest.raises(RuleFileError, match=r"units.yaml: tests.HGB.units.g/L.factr: Extra inputs"):
        load_units(tmp_path / "units.yaml")


@pytest.mark.parametrize("test", ["NEUT", "PLAT", "WBC", "LYM"])
def test_gi_per_l_the_cdisc_pilot_spelling_of_10_9_per_l_is_a_count_unit(table, test):
    assert to_si(test, 1.5, "GI/L", table) == 1.5


@pytest.mark.parametrize("unit", ["10^9/L 张三 +86 138 0000 0000", "John Doe", "U/L 13800000000"])
def test_an_unknown_unit_that_is_free_text_is_withheld_from_the_basis(table, unit: str) -> None:  # type: ignore[no-untyped-def]
    result = lookup_unit("NEUT", unit, table)
    assert isinstance(result, Ungradable)
    assert result.basis == "unit: a unit text that is not a unit (withheld; see the input) is not a known unit for NEUT"
