"""POTENTIAL_SAE (docs/rules.md): treatment-emergent grade 4, hematologic included, episodes, same-day SAE."""

from __future__ import annotations

from detector_helpers import ae, infused_state, kinds, lab, row, run

PLT = "Platelet count decreased"


def _plat(state, ruleset, event_id, day, grade, baseline_grade=3):  # type: ignore[no-untyped-def]
    event = lab(event_id, day, "PLATX", 20)
    graded = [row(event, PLT, grade, baseline_grade=baseline_grade, category="hematologic")]
    return kinds(run(event, ruleset, state, graded))


def test_aa_subject_going_from_grade_3_to_4_is_flagged_once_per_episode(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    assert _plat(state, ruleset, "L-1", 2, 4) == [("POTENTIAL_SAE", "POTENTIAL_SAE-LAB")]
    assert _plat(state, ruleset, "L-2", 3, 4) == []
    assert _plat(state, ruleset, "L-3", 4, 3) == []  # grade 3: the episode ends
    assert _plat(state, ruleset, "L-4", 5, 4) == [("POTENTIAL_SAE", "POTENTIAL_SAE-LAB")]


def test_grade_4_at_baseline_is_not_treatment_emergent(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert _plat(infused_state(), ruleset, "L-1", 2, 4, baseline_grade=4) == []


def test_suppressed_by_an_sae_processed_before_with_onset_the_same_day(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    run(ae(day=2, serious=["hospitalization"], causality="unrelated"), ruleset, state)
    assert _plat(state, ruleset, "L-1", 2, 4) == []


def test_not_suppressed_by_an_sae_of_the_next_day(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    run(ae(day=3, serious=["hospitalization"], causality="unrelated"), ruleset, state)
    assert _plat(state, ruleset, "L-1", 2, 4) == [("POTENTIAL_SAE", "POTENTIAL_SAE-LAB")]


def test_raised_whatever_the_study_day(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert _plat(infused_state(), ruleset, "L-1", 400, 4) == [("POTENTIAL_SAE", "POTENTIAL_SAE-LAB")]


def test_corrected_value_below_grade_4_withdraws_it(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    event = lab("L-1", 2, "PLATX", 20)
    raised = run(event, ruleset, state, [row(event, PLT, 4, baseline_grade=3, category="hematologic")])
    fixed = lab("L-1", 2, "PLATX", 30, revision=2)
    outcome = run(
        fixed, ruleset, state, [row(fixed, PLT, 3, baseline_grade=3, category="hematologic")], correction=True
    )
    assert [a.withdraws for a in outcome.alerts] == [raised.alerts[0].alert_id]
