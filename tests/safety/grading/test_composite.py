"""Composite criteria: febrile neutropenia and fever grade 4 (docs/rules.md, Grading: "composite terms")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from safety.grading.composite import MAX_ALB, MAX_TEMP, CompositeMemory
from safety.model.state import SubjectState, reading_of

FN = "Febrile neutropenia"


def h(g, hours):
    return g.infusion + timedelta(days=5, hours=hours)


def feed(g, state, readings):
    """Grade (test, hours, value[, event_id]) readings in order; return all rows."""
    rows = []
    for i, (test, hours, value, *eid) in enumerate(readings):
        kw = {"lln": 2.0} if test == "NEUT" else {}
        rows += g.grade(g.obs(test, value, at=h(g, hours), event_id=(eid or [f"{test}-{i}"])[0], **kw), state)
    return rows


def fn_rows(rows):
    return [r for r in rows if r.ctcae_term == FN]


@pytest.mark.parametrize(
    ("readings", "later"),
    [
        ([("NEUT", 0, 0.8, "N1"), ("TEMP", 5, 38.4, "T1")], "T1"),
        ([("TEMP", 0, 38.4, "T1"), ("NEUT", 5, 0.8, "N1")], "N1"),
        ([("NEUT", 0, 0.8, "N1"), ("TEMP", 24, 39.0, "T1")], "T1"),
        ([("TEMP", 0, 40.5, "T1"), ("NEUT", 24, 0.2, "N1")], "N1"),
    ],
)
def test_anc_below_1_and_temperature_above_38_3_within_24_h_is_febrile_neutropenia(g5, readings, later):
    state = g5.state()
    rows = fn_rows(feed(g5, state, readings))
    assert len(rows) == 1
    row = rows[0]
    assert (row.grade, row.category, row.event_id, row.criterion) == (3, "hematologic", later, "ctcae5/FN/3")
    assert "N1" in row.basis and "T1" in row.basis and "NEUT 0." in row.basis
    assert row.treatment_emergent is True and row.baseline_grade == 0


@pytest.mark.parametrize(
    "readings",
    [
        [("NEUT", 0, 0.8), ("TEMP", 25, 39.0)],  # 25 h apart
        [("TEMP", 0, 39.0), ("NEUT", 25, 0.8)],  # 25 h apart, other order
        [("NEUT", 0, 1.0), ("TEMP", 1, 39.0)],  # ANC 1.0 is not < 1.0
        [("NEUT", 0, 0.8), ("TEMP", 1, 38.3)],  # single 38.3 is not > 38.3
        [("NEUT", 0, 0.8), ("TEMP", 1, 38.0), ("TEMP", 1.5, 38.1)],  # sustained only 30 min
        # a lower reading between the two readings >= 38.0
        [("NEUT", 0, 0.8), ("TEMP", 1, 38.0), ("TEMP", 1.5, 37.5), ("TEMP", 2.5, 38.1)],
    ],
)
def test_no_febrile_neutropenia_without_both_conditions(g5, readings):
    assert fn_rows(feed(g5, g5.state(), readings)) == []


def test_two_readings_of_38_at_least_1_h_apart_are_sustained_fever(g5):
    rows = fn_rows(feed(g5, g5.state(), [("NEUT", 0, 0.5, "N1"), ("TEMP", 1, 38.0, "T1"), ("TEMP", 2, 38.2, "T2")]))
    assert [r.event_id for r in rows] == ["T2"]
    assert "T1" in rows[0].basis and "T2" in rows[0].basis and "N1" in rows[0].basis


def test_neut_arriving_after_a_sustained_fever_joins_it(g5):
    rows = fn_rows(feed(g5, g5.state(), [("TEMP", 0, 38.1, "T1"), ("TEMP", 1, 38.2, "T2"), ("NEUT", 10, 0.9, "N1")]))
    assert [r.event_id for r in rows] == ["N1"]


def test_febrile_neutropenia_study_day_is_the_later_readings_day(g5):
    state = g5.state()
    feed(g5, state, [("NEUT", 0, 0.8, "N1")])
    row = fn_rows(feed(g5, state, [("TEMP", 20, 38.5, "T1")]))[0]
    assert row.study_day == (h(g5, 20).astimezone(g5.tz).date() - g5.infusion.date()).days


def test_febrile_neutropenia_before_infusion_is_not_treatment_emergent(g5):
    state = g5.state()
    rows = []
    for test, value, eid in [("NEUT", 0.5, "N1"), ("TEMP", 39, "T1")]:
        rows += g5.grade(g5.obs(test, value, at=g5.infusion - timedelta(days=2), event_id=eid), state)
    assert fn_rows(rows)[0].treatment_emergent is False


# --------------------------------------------------------------------------------------------- fever 4


def fever(rows):
    return [r for r in rows if r.ctcae_term == "Fever"]


def test_two_readings_above_40_at_least_24_h_apart_make_the_later_grade_4(g5):
    rows = fever(feed(g5, g5.state(), [("TEMP", 0, 40.5, "T1"), ("TEMP", 12, 40.2, "T2"), ("TEMP", 24, 40.1, "T3")]))
    assert [r.grade for r in rows] == [3, 3, 4]
    assert rows[-1].criterion == "ctcae5/TEMP/4" and "T1" in rows[-1].basis and "T3" in rows[-1].basis


@pytest.mark.parametrize(
    "readings",
    [
        [("TEMP", 0, 40.5), ("TEMP", 23.9, 40.5)],  # less than 24 h
        [("TEMP", 0, 40.5), ("TEMP", 12, 40.0), ("TEMP", 25, 40.5)],  # a reading <= 40.0 between
        [("TEMP", 0, 40.0), ("TEMP", 25, 40.5)],  # 40.0 is not > 40.0
    ],
)
def test_no_fever_grade_4_without_24_h_above_40(g5, readings):
    assert max(r.grade for r in fever(feed(g5, g5.state(), readings))) == 3


def test_a_single_reading_above_40_is_grade_3(g5):
    assert g5.row("TEMP", 41.0).grade == 3


# -------------------------------------------------------------------------------------------- memory


def test_memory_is_bounded_and_json_serialisable(g5):
    state = g5.state()
    feed(g5, state, [("TEMP", i, 37.0 + (i % 3) / 10) for i in range(MAX_TEMP + 20)])
    feed(g5, state, [("NEUT", 0, 0.5)])
    assert len(state.composite.temp) == MAX_TEMP
    again = SubjectState.from_json(state.to_json())
    assert again.composite == state.composite


def test_a_correction_replaces_the_earlier_revision_in_memory(g5):
    state = g5.state()
    feed(g5, state, [("NEUT", 0, 0.5, "N1")])
    feed(g5, state, [("NEUT", 0, 1.5, "N1")])  # corrected value, same event id
    assert [p[2] for p in state.composite.neut] == [1.5]
    assert fn_rows(feed(g5, state, [("TEMP", 2, 39.0, "T1")])) == []


def test_empty_memory_is_the_default():
    assert CompositeMemory().model_dump() == {"neut": [], "temp": [], "alb": [], "ca": []}


# ------------------------------------------------------------------------ albumin of the baseline calcium


def _baseline_draw(g, state, at):
    """A pre-infusion calcium and albumin of one draw, remembered as the pipeline does (grade, then keep)."""
    for test, value, lln in (("CA", 1.6, 2.1), ("ALB", 15, 35)):
        obs = g.obs(test, value, lln=lln, at=at, event_id=f"{test}-B")
        g.grade(obs, state)
        state.remember_pre_infusion(reading_of(obs), g.rules.criteria)


def test_the_albumin_of_a_baseline_calcium_outlives_the_bound_on_recent_albumins(g5):
    state = g5.state(infused=False)
    at = g5.infusion - timedelta(days=2)
    _baseline_draw(g5, state, at)
    state.record_infusion(g5.infusion, g5.tz, g5.rules.criteria)
    for day in range(1, MAX_ALB + 3):
        g5.grade(g5.obs("ALB", 40, lln=35, at=g5.infusion + timedelta(days=day)), state)
    assert len(state.composite.alb) == MAX_ALB + 1 and state.composite.alb[0][0] == "ALB-B"
    row = g5.row("CA", 1.6, "Hypocalcemia", lln=2.1, uln=2.6, state=state, at=g5.infusion + timedelta(days=MAX_ALB + 2))
    assert (row.grade, row.baseline_grade, row.treatment_emergent) == (3, 0, True)  # baseline 1.6 + 0.5 = 2.1


def test_an_albumin_no_baseline_calcium_needs_is_forgotten_beyond_the_bound(g5):
    state = g5.state()
    g5.grade(g5.obs("ALB", 15, at=g5.infusion - timedelta(days=2), event_id="ALB-B"), state)  # no calcium
    for day in range(1, MAX_ALB + 3):
        g5.grade(g5.obs("ALB", 40, at=g5.infusion + timedelta(days=day)), state)
    assert len(state.composite.alb) == MAX_ALB and "ALB-B" not in [p[0] for p in state.composite.alb]


def test_a_state_saved_before_calcium_kept_its_unit_still_loads_as_si():
    memory = CompositeMemory.model_validate({"ca": [["CA-1", "2026-07-10T09:00:00+08:00", 1.8, 2.1, 2.6, "", 1, "CA"]]})
    assert memory.ca[0][2] == 1.8 and memory.ca[0][8] is None
