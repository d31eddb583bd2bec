"""Vital signs and ECG grading (docs/rules.md, Grading: "QTc", "composite terms")."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.mark.parametrize(
    ("value", "unit", "grade"),
    [
        (40.1, "C", 3),
        (40.0, "C", 2),
        (39.1, "C", 2),
        (39.0, "C", 1),
        (38.0, "C", 1),
        (37.9, "C", 0),
        (38.0, "Cel", 1),
        (38.0, "°C", 1),
        (104.2, "F", 3),
        (104.0, "F", 2),
        (102.3, "F", 2),
        (102.2, "F", 1),
        (100.4, "F", 1),
        (100.3, "F", 0),
        (100.4, "[degF]", 1),
    ],
)
def test_fever_in_celsius_and_fahrenheit(g5, value, unit, grade):
    row = g5.row("TEMP", value, unit=unit)
    assert (row.ctcae_term, row.grade, row.unit, row.event_type) == ("Fever", grade, "C", "vital")


def test_100_4_f_is_exactly_38_c(g5):
    assert g5.row("TEMP", 100.4, unit="F").value == 38.0


@pytest.mark.parametrize(("value", "grade"), [(87.9, 3), (87, 3), (88, 0), (99, 0)])
def test_hypoxia_is_grade_3_below_88_percent_only(g5, value, grade):
    row = g5.row("OXYSAT", value)
    assert (row.ctcae_term, row.grade) == ("Hypoxia", grade)


@pytest.mark.parametrize(
    ("test", "value", "grade"),
    [
        ("SYSBP", 119, 0),
        ("SYSBP", 120, 1),
        ("SYSBP", 139, 1),
        ("SYSBP", 139.5, 1),
        ("SYSBP", 140, 2),
        ("SYSBP", 159, 2),
        ("SYSBP", 159.5, 2),
        ("SYSBP", 160, 3),
        ("SYSBP", 220, 3),
        ("DIABP", 79, 0),
        ("DIABP", 80, 1),
        ("DIABP", 89, 1),
        ("DIABP", 90, 2),
        ("DIABP", 99, 2),
        ("DIABP", 100, 3),
    ],
)
def test_hypertension_grades_systolic_and_diastolic_each_on_its_own(g5, test, value, grade):
    row = g5.row(test, value)
    assert (row.ctcae_term, row.grade, row.criterion) == ("Hypertension", grade, f"ctcae5/{test}/{grade}")


@pytest.mark.parametrize(
    ("test", "value", "grade"),
    [
        ("SYSBP", 139, 0),
        ("SYSBP", 120, 0),
        ("SYSBP", 140, 2),
        ("SYSBP", 160, 3),
        ("DIABP", 89, 0),
        ("DIABP", 90, 2),
    ],
)
def test_v6_hypertension_has_no_grade_1(g6, test, value, grade):
    assert g6.row(test, value).grade == grade


@pytest.mark.parametrize("test", ["QTCF", "QTCB"])
@pytest.mark.parametrize(
    ("value", "grade"), [(449, 0), (450, 1), (480, 1), (480.5, 2), (481, 2), (500, 2), (500.5, 3), (501, 3)]
)
def test_qtc_bands_are_continuous_and_qtcb_is_graded_like_qtcf(g5, test, value, grade):
    row = g5.row(test, value)
    term = "Electrocardiogram QT corrected interval prolonged"
    assert (row.ctcae_term, row.grade, row.event_type) == (term, grade, "ecg")


@pytest.mark.parametrize(("value", "grade"), [(461, 3), (460, 1), (440, 0)])
def test_qtc_more_than_60_ms_above_baseline_is_grade_3(g5, value, grade):
    state = g5.state(baselines=[g5.baseline("QTCF", 400)])
    row = g5.row("QTCF", value, state=state)
    assert row.grade == grade
    if grade == 3:
        assert "above baseline" in row.basis and "baseline 400 ms" in row.basis


def test_qtc_change_from_baseline_does_not_apply_before_first_infusion(g5):
    state = g5.state(baselines=[g5.baseline("QTCF", 400, at=g5.infusion - timedelta(days=5))])
    assert g5.row("QTCF", 470, state=state, at=g5.infusion - timedelta(days=1)).grade == 1


def test_qtc_without_unit_defaults_to_ms(g5):
    assert g5.row("QTCF", 505, unit=None).grade == 3


@pytest.mark.parametrize(
    ("test", "value", "unit"), [("PULSE", 150, "beats/min"), ("WEIGHT", 70, "kg"), ("RESP", 40, "breaths/min")]
)
def test_vitals_without_a_criterion_give_no_row(g5, test, value, unit):
    assert g5.grade(g5.obs(test, value, unit=unit)) == []


def test_vital_with_unknown_unit_is_not_gradable(g5):
    row = g5.row("TEMP", 38.5, unit="K")
    assert row.grade is None and row.basis == "unit: 'K' is not a known unit for TEMP"


def test_vital_without_unit_is_not_gradable(g5):
    row = g5.row("SYSBP", 170, unit=None)
    assert row.grade is None and row.basis.startswith("unit: missing unit for SYSBP")


@pytest.mark.parametrize(("hours", "day"), [(-24, -1), (0, 0), (14, 0), (15, 1), (24 * 30, 30)])
def test_study_day_is_the_local_calendar_day_from_first_infusion(g5, hours, day):
    row = g5.row("TEMP", 37, at=g5.infusion + timedelta(hours=hours))
    assert row.study_day == day


def test_treatment_emergent_compares_with_the_baseline_grade_of_the_same_term(g5):
    state = g5.state(baselines=[g5.baseline("SYSBP", 145)])
    assert (
        g5.row("SYSBP", 150, state=state).treatment_emergent,
        g5.row("SYSBP", 165, state=state).treatment_emergent,
    ) == (False, True)
    assert g5.row("SYSBP", 165, state=state).baseline_grade == 2
