"""Liver grading: x ULN with a normal baseline, x baseline when the baseline is > ULN (docs/rules.md,
Grading: "abnormal baseline")."""

from __future__ import annotations

from datetime import timedelta

import pytest

ALT_NORMAL = [(801, 4), (800, 3), (201, 3), (200, 2), (121, 2), (120, 1), (41, 1), (40, 0)]
ALT_ABNORMAL = [(801, 4), (800, 3), (201, 3), (200, 2), (121, 2), (120, 1), (60, 1), (59, 0)]


@pytest.mark.parametrize("test", ["ALT", "AST"])
@pytest.mark.parametrize(("value", "grade"), ALT_NORMAL)
def test_transaminase_with_normal_baseline_grades_by_multiples_of_uln_40(g5, test, value, grade):
    state = g5.state(baselines=[g5.baseline(test, 30, uln=40)])
    row = g5.row(test, value, uln=40, state=state)
    assert row.grade == grade and row.baseline_grade == 0
    assert row.treatment_emergent is (grade > 0)


@pytest.mark.parametrize("test", ["ALT", "AST"])
@pytest.mark.parametrize(("value", "grade"), ALT_ABNORMAL)
def test_transaminase_with_abnormal_baseline_40_uln_35_grades_by_multiples_of_baseline(g5, test, value, grade):
    state = g5.state(baselines=[g5.baseline(test, 40, uln=35)])
    row = g5.row(test, value, uln=35, state=state)
    assert row.grade == grade
    assert row.baseline_grade == 1  # 40 > ULN 35: the baseline itself grades 1 by x ULN
    assert row.treatment_emergent is (grade > 1)
    if grade:
        assert "x baseline" in row.basis and "baseline 40 U/L" in row.basis


def test_contract_basis_example_names_band_and_uln(g5):
    row = g5.row("ALT", 250, uln=40)
    assert row.grade == 3 and row.criterion == "ctcae5/ALT/3"
    assert row.basis.startswith(">5.0-20.0 x ULN (") and "ULN 40 U/L" in row.basis


def test_observation_before_first_infusion_is_graded_by_uln_even_with_abnormal_baseline(g5):
    state = g5.state(baselines=[g5.baseline("ALT", 40, uln=35, at=g5.infusion - timedelta(days=3))])
    row = g5.row("ALT", 60, uln=35, state=state, at=g5.infusion - timedelta(hours=12))
    assert row.grade == 1 and "x ULN" in row.basis and row.treatment_emergent is False
    assert row.study_day == -1


def test_subject_without_first_infusion_is_graded_by_uln(g5):
    row = g5.row("ALT", 59, uln=35, state=g5.state(infused=False))
    assert row.grade == 1 and row.study_day is None and row.treatment_emergent is False


def test_baseline_without_uln_cannot_be_called_abnormal_so_uln_criteria_apply(g5):
    state = g5.state(baselines=[g5.baseline("ALT", 40)])
    assert g5.row("ALT", 59, uln=35, state=state).grade == 1


@pytest.mark.parametrize("test", ["ALT", "AST", "ALP", "GGT", "BILI"])
def test_liver_tests_need_their_uln(g5, test):
    row = g5.row(test, 1000)
    assert row.grade is None and row.basis.startswith("range: ULN missing, needed for >")


@pytest.mark.parametrize(
    ("value", "grade"), [(10.1, 4), (10, 3), (3.1, 3), (3.0, 2), (1.6, 2), (1.5, 1), (1.1, 1), (1.0, 0)]
)
@pytest.mark.parametrize(("unit", "factor"), [("umol/L", 17.1), ("mg/dL", 1.0), ("µmol/L", 17.1)])
def test_bilirubin_x_uln_in_both_unit_systems(g5, value, grade, unit, factor):
    assert g5.row("BILI", round(value * factor, 6), unit=unit, uln=factor).grade == grade


@pytest.mark.parametrize(
    ("value", "grade"), [(251, 4), (250, 3), (76, 3), (75, 2), (37.6, 2), (37.5, 1), (25.1, 1), (25, 0)]
)
def test_bilirubin_with_abnormal_baseline_25_grades_by_multiples_of_baseline(g5, value, grade):
    state = g5.state(baselines=[g5.baseline("BILI", 25, uln=20)])
    assert g5.row("BILI", value, uln=20, state=state).grade == grade


@pytest.mark.parametrize("test", ["ALP", "GGT"])
@pytest.mark.parametrize(
    ("value", "grade"), [(2001, 4), (2000, 3), (501, 3), (500, 2), (251, 2), (250, 1), (101, 1), (100, 0)]
)
def test_alp_and_ggt_with_normal_baseline_grade_by_multiples_of_uln_100(g5, test, value, grade):
    assert g5.row(test, value, uln=100).grade == grade


@pytest.mark.parametrize("test", ["ALP", "GGT"])
@pytest.mark.parametrize(
    ("value", "grade"), [(2401, 4), (2400, 3), (601, 3), (600, 2), (301, 2), (300, 1), (240, 1), (239, 0)]
)
def test_alp_and_ggt_with_abnormal_baseline_120_start_at_2_x_baseline_inclusive(g5, test, value, grade):
    state = g5.state(baselines=[g5.baseline(test, 120, uln=100)])
    assert g5.row(test, value, uln=100, state=state).grade == grade


@pytest.mark.parametrize(
    ("value", "unit", "uln", "grade"),
    [
        (2.4, "ukat/L", 0.67, 2),
        (120, "IU/L", 40, 1),
        (120, "U/l", 40, 1),
        (121, "u/L", 40, 2),
    ],
)
def test_enzyme_unit_aliases_and_microkatal_conversion(g5, value, unit, uln, grade):
    assert g5.row("ALT", value, unit=unit, uln=uln).grade == grade


def test_unknown_unit_makes_even_an_x_uln_term_ungradable(g5):
    row = g5.row("ALT", 3, unit="mg/furlong", uln=40)
    assert row.grade is None and row.basis == "unit: 'mg/furlong' is not a known unit for ALT"


# ---------------------------------------------------------------------------------------------- v6.0


@pytest.mark.parametrize(("value", "grade"), [(161, 4), (160, 3), (81, 3), (80, 2), (61, 2), (60, 1), (40, 1), (39, 0)])
def test_v6_transaminase_with_abnormal_baseline_uses_1_1p5_2_4_x_baseline(g6, value, grade):
    state = g6.state(baselines=[g6.baseline("AST", 40, uln=35)])
    assert g6.row("AST", value, uln=35, state=state).grade == grade


@pytest.mark.parametrize(
    ("value", "grade"), [(251, 4), (250, 3), (62.6, 3), (62.5, 2), (37.6, 2), (37.5, 1), (25, 1), (24.9, 0)]
)
def test_v6_bilirubin_with_abnormal_baseline_uses_1_1p5_2p5_10_x_baseline(g6, value, grade):
    state = g6.state(baselines=[g6.baseline("BILI", 25, uln=20)])
    assert g6.row("BILI", value, uln=20, state=state).grade == grade


@pytest.mark.parametrize(("value", "grade"), ALT_NORMAL)
def test_v6_transaminase_with_normal_baseline_is_unchanged(g6, value, grade):
    assert g6.row("ALT", value, uln=40).grade == grade
