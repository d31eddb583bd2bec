"""Hematology grading (docs/rules.md, Grading; rules/ctcae_v5.yaml and ctcae_v6.yaml)."""

from __future__ import annotations

import pytest

from safety.model.outputs import GRADED_ROWS

NEUT_V5 = [(0.49, 4), (0.5, 3), (0.99, 3), (1.0, 2), (1.49, 2), (1.5, 1), (1.9, 1), (2.0, 0)]
PLAT_V5 = [(24, 4), (25, 3), (49, 3), (50, 2), (74, 2), (75, 1), (99, 1), (100, 0)]


@pytest.mark.parametrize(("value", "grade"), NEUT_V5)
def test_neutrophils_v5_grade_at_each_boundary_with_lln_2(g5, value, grade):
    row = g5.row("NEUT", value, lln=2.0)
    assert (row.grade, row.ctcae_term, row.category) == (grade, "Neutrophil count decreased", "hematologic")
    assert row.criterion == f"ctcae5/NEUT/{grade}"


@pytest.mark.parametrize(("value", "grade"), [(0.49, 4), (0.5, 3), (1.0, 2), (1.49, 2)])
def test_neutrophils_without_lln_are_graded_where_absolute_thresholds_decide(g5, value, grade):
    assert g5.row("NEUT", value).grade == grade


@pytest.mark.parametrize("value", [1.5, 1.9, 2.0])
def test_neutrophils_without_lln_are_not_gradable_where_the_lln_decides(g5, value):
    row = g5.row("NEUT", value)
    assert row.grade is None and row.criterion is None
    assert row.basis.startswith("range: LLN missing, needed for <LLN-1.5")


@pytest.mark.parametrize(
    ("value", "unit", "lln", "grade"),
    [
        (490, "cells/uL", 2000, 4),
        (0.49, "10*9/L", 2.0, 4),
        (0.5, "10^3/uL", 2.0, 3),
        (1.0, "G/L", 2.0, 2),
        (1500, "/mm3", 2000, 1),
        (2.0, "10^3/mm3", 2.0, 0),
        (1490, "10^3/mL", 2000, 2),
    ],
)
def test_neutrophils_in_other_count_units_grade_as_in_si(g5, value, unit, lln, grade):
    row = g5.row("NEUT", value, unit=unit, lln=lln)
    assert row.grade == grade and row.unit == "10^9/L"


@pytest.mark.parametrize(
    ("test", "term", "grade"),
    [
        ("NEUT", "Neutrophil count decreased", 4),
        ("PLAT", "Platelet count decreased", 4),
        ("WBC", "White blood cell decreased", 4),
        ("LYM", "Lymphocyte count decreased", 3),
    ],
)
def test_gi_per_l_the_cdisc_pilot_spelling_is_a_count_unit(g5, test, term, grade):
    row = g5.row(test, 0.4, unit="GI/L", lln=1.0, term=term)
    assert (row.grade, row.unit, row.value) == (grade, "10^9/L", 0.4)


@pytest.mark.parametrize(("value", "grade"), PLAT_V5)
def test_platelets_v5_grade_at_each_boundary_with_lln_100(g5, value, grade):
    assert g5.row("PLAT", value, lln=100).grade == grade


@pytest.mark.parametrize(
    ("value", "unit", "lln", "grade"),
    [
        (79, "g/L", 120, 3),
        (80, "g/L", 120, 2),
        (99, "g/L", 120, 2),
        (100, "g/L", 120, 1),
        (120, "g/L", 120, 0),
        (7.9, "g/dL", 12.0, 3),
        (8.0, "g/dL", 12.0, 2),
        (10.0, "g/dL", 12.0, 1),
        (12.0, "g/dL", 12.0, 0),
        (4.89, "mmol/L", 7.45, 3),
        (4.9, "mmol/L", 7.45, 2),
        (6.19, "mmol/L", 7.45, 2),
        (6.2, "mmol/L", 7.45, 1),
        (7.45, "mmol/L", 7.45, 0),
        (50, "G/L", 120, 3),
    ],
)
def test_anemia_grades_hemoglobin_against_the_bands_ctcae_prints_in_its_unit(g5, value, unit, lln, grade):
    row = g5.row("HGB", value, unit=unit, lln=lln)
    shown = {"G/L": "g/L"}.get(unit, unit)
    assert (row.grade, row.ctcae_term, row.unit, row.value, row.lln) == (grade, "Anemia", shown, value, lln)


def test_anemia_6_2_mmol_per_l_is_grade_1_read_in_mmol_per_l_not_grade_2_converted_to_99_9_g_per_l(g5):
    row = g5.row("HGB", 6.2, unit="mmol/L", lln=7.45)
    assert (row.grade, row.criterion, row.value, row.unit) == (1, "ctcae5/HGB/1", 6.2, "mmol/L")
    assert row.basis == "<LLN-6.2 mmol/L (value 6.2 mmol/L, LLN 7.45 mmol/L)"


def test_anemia_in_mmol_per_l_cites_a_baseline_in_the_same_unit_as_reported(g5):
    state = g5.state(baselines=[g5.baseline("HGB", 7.5, lln=7.45, unit="mmol/L")])
    row = g5.row("HGB", 7.6, unit="mmol/L", lln=7.45, state=state)
    assert row.grade == 0 and "baseline 7.5 mmol/L (B-HGB, LLN 7.45)" in row.basis and "g/L" not in row.basis


def test_a_baseline_hemoglobin_in_mmol_per_l_is_graded_in_mmol_per_l(g5):
    state = g5.state(baselines=[g5.baseline("HGB", 6.2, lln=7.45, unit="mmol/L")])
    row = g5.row("HGB", 95, unit="g/L", lln=120, state=state)
    assert (row.grade, row.baseline_grade, row.treatment_emergent) == (2, 1, True)


def test_anemia_never_grades_4_from_a_number(g5):
    assert g5.row("HGB", 20, lln=120).grade == 3


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        (0.99, 4, 0),
        (1.0, 3, 0),
        (2.0, 2, 0),
        (3.0, 1, 0),
        (4.0, 0, 0),
        (100, 0, 0),
        (100.1, 0, 3),
    ],
)
def test_white_cells_grade_both_decreased_and_leukocytosis(g5, value, low, high):
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("WBC", value, lln=4.0, uln=10.0))}
    assert rows["White blood cell decreased"].grade == low
    assert rows["Leukocytosis"].grade == high
    assert rows["White blood cell decreased"].category == "hematologic"


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        (0.19, 4, 0),
        (0.2, 3, 0),
        (0.5, 2, 0),
        (0.8, 1, 0),
        (1.0, 0, 0),
        (4.0, 0, 0),
        (4.01, 0, 2),
        (20, 0, 2),
        (20.1, 0, 3),
    ],
)
def test_lymphocytes_grade_both_decreased_and_increased(g5, value, low, high):
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("LYM", value, lln=1.0))}
    assert rows["Lymphocyte count decreased"].grade == low
    assert rows["Lymphocyte count increased"].grade == high
    assert {r.category for r in rows.values()} == {"hematologic"}


def test_lymphocytes_increased_needs_no_range_while_decreased_needs_lln_near_normal(g5):
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("LYM", 25))}
    assert rows["Lymphocyte count increased"].grade == 3
    assert rows["Lymphocyte count decreased"].grade is None


def test_reticulocytes_have_no_criterion_and_give_no_row(g5):
    assert g5.grade(g5.obs("RETI", 10)) == []


def test_a_comparator_value_is_graded_at_its_bound(g5):
    row = g5.row("NEUT", "<0.1", lln=2.0)
    assert row.grade == 4 and row.value == 0.1 and "graded at its bound" in row.basis


def test_unknown_count_unit_is_not_gradable_with_reason_unit(g5):
    row = g5.row("PLAT", 20, unit="10^9/M", lln=100)
    assert row.grade is None and row.basis == "unit: '10^9/M' is not a known unit for PLAT"


# ---------------------------------------------------------------------------------------------- v6.0


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (0.09, 4),
        (0.1, 3),
        (0.49, 3),
        (0.5, 2),
        (0.99, 2),
        (1.0, 1),
        (1.49, 1),
        (1.5, 0),
        (1.9, 0),
        (2.0, 0),
    ],
)
def test_v6_neutrophils_lose_the_lln_anchor(g6, value, grade):
    row = g6.row("NEUT", value)
    assert row.grade == grade and row.ctcae_version == "6.0" and row.criterion == f"ctcae6/NEUT/{grade}"


@pytest.mark.parametrize(("value", "grade"), [(9, 4), (10, 3), (24, 3), (49, 3), (50, 2), (75, 1), (100, 0)])
def test_v6_platelets_are_thrombocytopenia_with_g3_below_50_and_g4_below_10(g6, value, grade):
    row = g6.row("PLAT", value, lln=100)
    assert (row.ctcae_term, row.grade, row.category) == ("Thrombocytopenia", grade, "hematologic")


def test_hematologic_rows_fill_every_output_field(g5):
    row = g5.row("NEUT", 0.3, lln=2.0)
    data = GRADED_ROWS.dump_python(row)
    assert data["study_day"] == 7 and data["baseline_grade"] == 0 and data["treatment_emergent"] is True
    assert data["lln"] == 2.0 and data["uln"] is None and data["event_type"] == "lab"
    assert data["basis"] == "<0.5 10^9/L (value 0.3 10^9/L, LLN 2 10^9/L)"
