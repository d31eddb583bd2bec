"""Kidney, coagulation and chemistry grading (docs/rules.md, Grading: "missing limits",
"clinical parts")."""

from __future__ import annotations

from datetime import timedelta

import pytest


def rows_by_term(grader, test, value, **kw):
    return {r.ctcae_term: r for r in grader.grade(grader.obs(test, value, **kw), kw.pop("state", None))}


# ------------------------------------------------------------------------------------------ creatinine


@pytest.mark.parametrize(
    ("value", "baseline", "grade"),
    [
        (42, 13.9, 3),
        (42, 14, 2),
        (60, 40, 1),
        (61, 40, 2),
        (241, 40, 4),
        (240, 40, 3),
        (40, 40, 0),
    ],
)
def test_creatinine_worse_of_uln_and_baseline_grades_with_uln_40(g5, value, baseline, grade):
    state = g5.state(baselines=[g5.baseline("CREAT", baseline, uln=40)])
    assert g5.row("CREAT", value, uln=40, state=state).grade == grade


def test_creatinine_baseline_grade_uses_uln_only(g5):
    state = g5.state(baselines=[g5.baseline("CREAT", 70, uln=40)])
    row = g5.row("CREAT", 130, uln=40, state=state)
    assert (row.baseline_grade, row.grade, row.treatment_emergent) == (2, 3, True)


def test_creatinine_without_uln_is_not_gradable_even_when_baseline_gives_3(g5):
    state = g5.state(baselines=[g5.baseline("CREAT", 13.9, uln=40)])
    row = g5.row("CREAT", 42, state=state)
    assert row.grade is None and row.basis.startswith("range: ULN missing")


@pytest.mark.parametrize(
    ("value", "unit", "uln", "grade"),
    [
        (1.51, "mg/dL", 1.0, 2),
        (1.5, "mg/dL", 1.0, 1),
        (133.5, "umol/L", 88.4, 2),
        (132.6, "µmol/L", 88.4, 1),
        (6.1, "mg/dL", 1.0, 4),
    ],
)
def test_creatinine_in_mg_per_dl_and_umol_per_l(g5, value, unit, uln, grade):
    assert g5.row("CREAT", value, unit=unit, uln=uln).grade == grade


def test_v6_creatinine_uses_baseline_only_when_baseline_below_lln(g6):
    low = g6.state(baselines=[g6.baseline("CREAT", 13.9, lln=40, uln=80)])
    normal = g6.state(baselines=[g6.baseline("CREAT", 13.9, lln=10, uln=40)])
    assert g6.row("CREAT", 42, uln=80, state=low).grade == 3
    assert g6.row("CREAT", 42, uln=40, state=normal).grade == 1


# ----------------------------------------------------------------------------------------- coagulation


@pytest.mark.parametrize(("value", "grade"), [(2.51, 3), (2.5, 2), (1.51, 2), (1.5, 1), (1.21, 1), (1.2, 0)])
def test_inr_absolute_bands_need_no_range(g5, value, grade):
    assert g5.row("INR", value, unit=None).grade == grade


def test_inr_x_baseline_applies_only_with_assume_worst_clinical(g5, g5_worst):
    state5 = g5.state(baselines=[g5.baseline("INR", 1.0)])
    worst = g5_worst.state(baselines=[g5_worst.baseline("INR", 1.0)])
    assert g5.row("INR", 1.2, state=state5).grade == 0
    assert g5_worst.row("INR", 1.2, state=worst).grade == 1
    assert g5_worst.row("INR", 2.6, state=worst).grade == 3


@pytest.mark.parametrize(("value", "grade"), [(100.1, 3), (100, 2), (60.1, 2), (60, 1), (40.1, 1), (40, 0)])
def test_aptt_multiples_of_uln_40(g5, value, grade):
    assert g5.row("APTT", value, uln=40).grade == grade


@pytest.mark.parametrize(
    ("value", "grade"), [(0.49, 4), (0.5, 3), (0.99, 3), (1.0, 2), (1.49, 2), (1.5, 1), (1.99, 1), (2.0, 0)]
)
def test_fibrinogen_multiples_of_lln_2(g5, value, grade):
    assert g5.row("FIBRINO", value, lln=2.0).grade == grade


def test_fibrinogen_below_0_5_g_per_l_is_grade_4_without_lln(g5):
    assert g5.row("FIBRINO", 0.49).grade == 4
    assert g5.row("FIBRINO", 1.0).grade is None


@pytest.mark.parametrize(("value", "grade"), [(49, 4), (50, 3), (150, 1), (200, 0)])
def test_fibrinogen_in_mg_per_dl(g5, value, grade):
    assert g5.row("FIBRINO", value, unit="mg/dL", lln=200).grade == grade


@pytest.mark.parametrize(
    ("value", "grade"),
    [(0.375, 4), (0.5, 3), (0.75, 3), (0.751, 2), (1.125, 2), (1.126, 1), (1.5, 1), (1.9, 1), (2.0, 0), (0.49, 4)],
)
def test_fibrinogen_with_abnormal_baseline_uses_percent_decrease(g5, value, grade):
    state = g5.state(baselines=[g5.baseline("FIBRINO", 1.5, lln=2.0)])
    row = g5.row("FIBRINO", value, lln=2.0, state=state)
    assert row.grade == grade
    assert row.baseline_grade == 1


# ---------------------------------------------------------------------------------------- electrolytes


@pytest.mark.parametrize(
    ("value", "hypo", "hyper"),
    [
        (2.49, 4, 0),
        (2.5, 3, 0),
        (2.99, 3, 0),
        (3.0, 1, 0),
        (3.49, 1, 0),
        (3.5, 0, 0),
        (5.3, 0, 0),
        (5.31, 0, 1),
        (5.5, 0, 1),
        (5.51, 0, 2),
        (6.0, 0, 2),
        (6.01, 0, 3),
        (7.0, 0, 3),
        (7.01, 0, 4),
    ],
)
def test_potassium_grades_hypokalemia_and_hyperkalemia(g5, value, hypo, hyper):
    rows = rows_by_term(g5, "K", value, lln=3.5, uln=5.3)
    assert (rows["Hypokalemia"].grade, rows["Hyperkalemia"].grade) == (hypo, hyper)
    assert rows["Hypokalemia"].criterion == f"ctcae5/K-LOW/{hypo}"


def test_potassium_7_5_without_range_is_hyperkalemia_4_and_hypokalemia_null(g5):
    rows = rows_by_term(g5, "K", 7.5)
    assert rows["Hyperkalemia"].grade == 4
    assert rows["Hypokalemia"].grade is None
    assert rows["Hypokalemia"].basis.startswith("range: LLN missing, needed for <LLN-3.0")


def test_potassium_2_4_without_range_is_grade_4(g5):
    assert rows_by_term(g5, "K", 2.4)["Hypokalemia"].grade == 4


@pytest.mark.parametrize("unit", ["mmol/L", "mEq/L", "MMOL/L"])
def test_potassium_mmol_and_meq_are_the_same(g5, unit):
    assert rows_by_term(g5, "K", 6.5, unit=unit, lln=3.5, uln=5.3)["Hyperkalemia"].grade == 3


def test_hypokalemia_assumes_symptomatic_grade_2_only_with_worst_case_option(g5, g5_worst):
    assert rows_by_term(g5, "K", 3.2, lln=3.5)["Hypokalemia"].grade == 1
    assert rows_by_term(g5_worst, "K", 3.2, lln=3.5)["Hypokalemia"].grade == 2


@pytest.mark.parametrize(
    ("value", "hypo", "hyper"),
    [
        (119.9, 4, 0),
        (120, 3, 0),
        (124.9, 3, 0),
        (125, 2, 0),
        (129.9, 2, 0),
        (130, 1, 0),
        (134.9, 1, 0),
        (135, 0, 0),
        (145, 0, 0),
        (145.1, 0, 1),
        (150, 0, 1),
        (150.1, 0, 2),
        (155, 0, 2),
        (155.1, 0, 3),
        (160, 0, 3),
        (160.1, 0, 4),
    ],
)
def test_sodium_bands_are_continuous(g5, value, hypo, hyper):
    rows = rows_by_term(g5, "SODIUM", value, lln=135, uln=145)
    assert (rows["Hyponatremia"].grade, rows["Hypernatremia"].grade) == (hypo, hyper)


@pytest.mark.parametrize(("value", "grade"), [(129.9, 3), (125, 3), (130, 1), (119, 4)])
def test_hyponatremia_worst_case_option_assumes_symptomatic_grade_3(g5_worst, value, grade):
    assert rows_by_term(g5_worst, "SODIUM", value, lln=135)["Hyponatremia"].grade == grade


@pytest.mark.parametrize(
    ("value", "unit", "grade"),
    [
        (1.69, "mmol/L", 4),
        (1.7, "mmol/L", 3),
        (2.2, "mmol/L", 2),
        (3.0, "mmol/L", 1),
        (3.9, "mmol/L", 0),
        (29.9, "mg/dL", 4),
        (30, "mg/dL", 3),
        (39.9, "mg/dL", 3),
        (40, "mg/dL", 2),
        (54, "mg/dL", 2),
        (55, "mg/dL", 1),
        (70, "mg/dL", 0),
    ],
)
def test_hypoglycemia_in_mmol_per_l_and_in_the_mg_per_dl_bands_ctcae_prints(g5, value, unit, grade):
    lln = 3.9 if unit == "mmol/L" else 70
    row = g5.row("GLUC", value, unit=unit, lln=lln)
    assert (row.grade, row.unit, row.value) == (grade, unit, value)


def test_glucose_30_mg_per_dl_is_hypoglycemia_3_read_in_mg_per_dl_not_4_converted_to_1_67_mmol_per_l(g5):
    row = g5.row("GLUC", 30, unit="mg/dL", lln=70)
    assert (row.grade, row.criterion) == (3, "ctcae5/GLUC-LOW/3")
    assert row.basis == "<40.0-30.0 mg/dL (value 30 mg/dL, LLN 70 mg/dL)"


def test_glucose_40_mg_per_dl_is_hypoglycemia_2_as_ctcae_prints_it(g5):
    row = g5.row("GLUC", 40, unit="mg/dL", lln=70)
    assert (row.grade, row.criterion, row.unit) == (2, "ctcae5/GLUC-LOW/2", "mg/dL")
    assert row.basis.startswith("<55.0-40.0 mg/dL (value 40 mg/dL") and "mmol/L" not in row.basis


def test_a_glucose_in_mg_per_dl_with_a_comparator_is_graded_at_its_bound_in_mg_per_dl(g5):
    row = g5.row("GLUC", "<20", unit="mg/dL", lln=70)
    assert row.grade == 4
    assert row.basis == "<30.0 mg/dL (value 20 mg/dL, LLN 70 mg/dL, reported <20, graded at its bound)"


def test_v6_hyperglycemia_keeps_converting_mg_per_dl_to_si_and_hypoglycemia_keeps_the_mg_per_dl_bands(g6):
    rows = {r.ctcae_term: r for r in g6.grade(g6.obs("GLUC", 30, unit="mg/dL", lln=70, uln=110))}
    assert (rows["Hypoglycemia"].grade, rows["Hypoglycemia"].unit) == (3, "mg/dL")
    assert (rows["Hyperglycemia"].grade, rows["Hyperglycemia"].unit) == (0, "mmol/L")


@pytest.mark.parametrize(
    ("value", "unit", "grade"),
    [
        (19.9, "g/L", 3),
        (20, "g/L", 2),
        (29.9, "g/L", 2),
        (30, "g/L", 1),
        (35, "g/L", 0),
        (1.99, "g/dL", 3),
        (2.0, "g/dL", 2),
        (3.0, "g/dL", 1),
        (3.5, "g/dL", 0),
    ],
)
def test_hypoalbuminemia_in_g_per_l_and_g_per_dl(g5, value, unit, grade):
    lln = 35 if unit == "g/L" else 3.5
    row = g5.row("ALB", value, unit=unit, lln=lln)
    assert (row.grade, row.unit) == (grade, unit)


@pytest.mark.parametrize(
    ("value", "unit", "grade"),
    [
        (0.29, "mmol/L", 4),
        (0.3, "mmol/L", 3),
        (0.4, "mmol/L", 2),
        (0.5, "mmol/L", 1),
        (0.7, "mmol/L", 0),
        (0.69, "mg/dL", 4),
        (0.7, "mg/dL", 3),
        (0.9, "mg/dL", 2),
        (1.19, "mg/dL", 2),
        (1.2, "mg/dL", 1),
        (1.7, "mg/dL", 0),
        (0.5, "mEq/L", 4),
    ],
)
def test_hypomagnesemia_in_mmol_per_l_the_mg_per_dl_bands_ctcae_prints_and_meq_converted(g5, value, unit, grade):
    lln = {"mmol/L": 0.7, "mg/dL": 1.7, "mEq/L": 1.4}[unit]
    assert g5.row("MG", value, unit=unit, lln=lln).grade == grade


# ------------------------------------------------------------------------------ calcium (albumin-corrected)


@pytest.mark.parametrize(
    ("value", "hypo", "hyper"),
    [
        (1.49, 4, 0),
        (1.5, 3, 0),
        (1.75, 2, 0),
        (2.0, 1, 0),
        (2.1, 0, 0),
        (2.6, 0, 0),
        (2.61, 0, 1),
        (2.9, 0, 1),
        (2.91, 0, 2),
        (3.1, 0, 2),
        (3.11, 0, 3),
        (3.4, 0, 3),
        (3.41, 0, 4),
    ],
)
def test_calcium_without_albumin_grades_measured_value_and_says_so(g5, value, hypo, hyper):
    rows = rows_by_term(g5, "CA", value, lln=2.1, uln=2.6)
    assert (rows["Hypocalcemia"].grade, rows["Hypercalcemia"].grade) == (hypo, hyper)
    assert "not albumin-corrected" in rows["Hypocalcemia"].basis


@pytest.mark.parametrize(
    ("value", "unit", "grade"),
    [
        (8.0, "mg/dL", 1),
        (7.99, "mg/dL", 2),
        (7.0, "mg/dL", 2),
        (6.99, "mg/dL", 3),
        (5.99, "mg/dL", 4),
        (2.0, "mmol/L", 1),
        (1.996, "mmol/L", 2),
        (11.5, "mg/dL", 1),
        (11.51, "mg/dL", 2),
        (13.5, "mg/dL", 3),
        (13.51, "mg/dL", 4),
    ],
)
def test_calcium_in_mg_per_dl_is_graded_against_the_mg_per_dl_bands_ctcae_prints(g5, value, unit, grade):
    lln, uln = (8.4, 10.4) if unit == "mg/dL" else (2.1, 2.6)
    rows = rows_by_term(g5, "CA", value, unit=unit, lln=lln, uln=uln)
    assert max(rows["Hypocalcemia"].grade, rows["Hypercalcemia"].grade) == grade
    assert rows["Hypocalcemia"].unit == rows["Hypercalcemia"].unit == unit


def test_calcium_in_mg_per_dl_is_corrected_in_mg_per_dl_with_the_albumin_of_the_same_draw(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    g5.grade(g5.obs("ALB", 30, lln=35, at=at, event_id="ALB-1"), state)
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("CA", 6.9, unit="mg/dL", lln=8.4, uln=10.4, at=at), state)}
    hypo = rows["Hypocalcemia"]  # 6.9 + 0.02 x (40 - 30) mmol/L = 6.9 + 0.2 / 0.2495 mg/dL = 7.70160 mg/dL
    assert (hypo.grade, hypo.unit, hypo.value) == (2, "mg/dL", pytest.approx(7.7016032064128))
    assert hypo.basis.startswith("<8.0-7.0 mg/dL (value 7.7016")
    assert "corrected Ca 7.7016" in hypo.basis and "albumin 30 g/L, ALB-1" in hypo.basis


def test_calcium_in_mg_per_dl_graded_again_when_its_albumin_arrives_stays_in_mg_per_dl(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    g5.grade(g5.obs("CA", 6.9, unit="mg/dL", lln=8.4, uln=10.4, at=at, event_id="CA-1"), state)
    again = {r.ctcae_term: r for r in g5.grade(g5.obs("ALB", 30, at=at), state) if r.event_id == "CA-1"}
    hypo = again["Hypocalcemia"]
    assert (hypo.grade, hypo.unit, hypo.lln) == (2, "mg/dL", 8.4) and "graded again" in hypo.basis


def test_an_ionized_calcium_band_never_grades_total_calcium(g5):
    rows = rows_by_term(g5, "CA", 1.0, lln=2.1, uln=2.6)  # ionized <1.0 - 0.9 would be 2; total 1.0 is 4
    assert rows["Hypocalcemia"].grade == 4


def test_calcium_is_corrected_with_the_albumin_of_the_same_draw(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    g5.grade(g5.obs("ALB", 20, lln=35, at=at, event_id="ALB-1"), state)
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("CA", 1.8, lln=2.1, uln=2.6, at=at), state)}
    assert rows["Hypocalcemia"].grade == 0  # 1.8 + 0.02 x (40 - 20) = 2.2
    assert rows["Hypocalcemia"].value == 2.2
    assert "corrected Ca 2.2" in rows["Hypocalcemia"].basis and "ALB-1" in rows["Hypocalcemia"].basis


def test_albumin_of_another_draw_does_not_correct_calcium(g5):
    state = g5.state()
    g5.grade(g5.obs("ALB", 20, lln=35, at=g5.infusion + timedelta(days=2)), state)
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("CA", 1.8, lln=2.1, at=g5.infusion + timedelta(days=3)), state)}
    assert rows["Hypocalcemia"].grade == 2 and "not albumin-corrected" in rows["Hypocalcemia"].basis


def test_high_albumin_lowers_corrected_calcium(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    g5.grade(g5.obs("ALB", 50, at=at), state)
    rows = {r.ctcae_term: r for r in g5.grade(g5.obs("CA", 2.2, lln=2.1, at=at), state)}
    assert rows["Hypocalcemia"].grade == 1 and rows["Hypocalcemia"].value == 2.0


def test_calcium_graded_before_its_albumin_is_graded_again_when_the_albumin_arrives(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    first = {r.ctcae_term: r for r in g5.grade(g5.obs("CA", 1.6, lln=2.1, uln=2.6, at=at, event_id="CA-1"), state)}
    assert first["Hypocalcemia"].grade == 3 and "not albumin-corrected" in first["Hypocalcemia"].basis
    rows = g5.grade(g5.obs("ALB", 20, lln=35, at=at, event_id="ALB-1"), state)
    again = {r.ctcae_term: r for r in rows if r.event_id == "CA-1"}
    assert set(again) == {"Hypocalcemia", "Hypercalcemia"}  # the albumin's own row is there too
    hypo = again["Hypocalcemia"]
    assert (hypo.grade, hypo.value, hypo.test, hypo.occurred_at) == (1, 2.0, "CA", first["Hypocalcemia"].occurred_at)
    assert "corrected Ca 2" in hypo.basis and "graded again" in hypo.basis and "ALB-1" in hypo.basis
    assert any(r.ctcae_term == "Hypoalbuminemia" and r.event_id == "ALB-1" for r in rows)


def test_a_late_albumin_can_raise_a_hypercalcemia_to_grade_3(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    g5.grade(g5.obs("CA", 3.0, lln=2.1, uln=2.6, at=at, event_id="CA-1"), state)
    again = {r.ctcae_term: r for r in g5.grade(g5.obs("ALB", 25, lln=35, at=at), state) if r.event_id == "CA-1"}
    assert again["Hypercalcemia"].grade == 3  # 3.0 + 0.02 x (40 - 25) = 3.3
    assert again["Hypercalcemia"].treatment_emergent


def test_a_calcium_graded_again_keeps_its_own_revision(g5):
    state = g5.state()
    at = g5.infusion + timedelta(days=3)
    g5.grade(g5.obs("CA", 1.7, lln=2.1, at=at, event_id="CA-1", revision=2), state)
    again = [r for r in g5.grade(g5.obs("ALB", 20, at=at, revision=1), state) if r.event_id == "CA-1"]
    assert again and {r.revision for r in again} == {2}


def test_an_albumin_of_another_draw_grades_no_calcium_again(g5):
    state = g5.state()
    g5.grade(g5.obs("CA", 1.7, lln=2.1, at=g5.infusion + timedelta(days=3), event_id="CA-1"), state)
    rows = g5.grade(g5.obs("ALB", 20, at=g5.infusion + timedelta(days=4)), state)
    assert [r for r in rows if r.event_id == "CA-1"] == []


# ---------------------------------------------------------------------------------------------- v6.0


@pytest.mark.parametrize(
    ("value", "uln", "grade"),
    [
        (27.9, None, 4),
        (27.8, None, 3),
        (14.0, None, 3),
        (13.9, None, 2),
        (9.0, None, 2),
        (8.9, 6.1, 1),
        (6.2, 6.1, 1),
        (6.1, 6.1, 0),
        (7.0, None, None),
    ],
)
def test_v6_adds_hyperglycemia_glucose_bands(g6, value, uln, grade):
    rows = {r.ctcae_term: r for r in g6.grade(g6.obs("GLUC", value, uln=uln, lln=3.9))}
    assert rows["Hyperglycemia"].grade == grade and rows["Hypoglycemia"].grade == 0


def test_v5_has_no_hyperglycemia_row(g5):
    assert [r.ctcae_term for r in g5.grade(g5.obs("GLUC", 30, lln=3.9))] == ["Hypoglycemia"]
