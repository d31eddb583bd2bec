"""SUSPECTED_DLT (docs/rules.md, SUSPECTED_DLT): non-hematologic lab/vital/ECG grade >= 3, episodes, window;
SUSPECTED_DLT-AE for a grade >= 3 AE without causality."""

from __future__ import annotations

from detector_helpers import ae, infused_state, kinds, lab, row, run

ALT = "Alanine aminotransferase increased"


def _alt(state, ruleset, event_id, day, grade, baseline_grade=0):  # type: ignore[no-untyped-def]
    event = lab(event_id, day, "QTX", 1.0)
    return [
        k
        for k in kinds(run(event, ruleset, state, [row(event, ALT, grade, baseline_grade=baseline_grade)]))
        if k[0] == "SUSPECTED_DLT"
    ]


def test_once_per_episode_again_only_on_a_higher_grade_and_after_it_ends(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    assert _alt(state, ruleset, "L-1", 1, 3) == [("SUSPECTED_DLT", "SUSPECTED_DLT-LAB")]
    assert _alt(state, ruleset, "L-2", 2, 3) == []
    assert _alt(state, ruleset, "L-3", 3, 4) == [("SUSPECTED_DLT", "SUSPECTED_DLT-LAB")]
    assert _alt(state, ruleset, "L-4", 4, 2) == []  # below 3: the episode ends
    assert _alt(state, ruleset, "L-5", 5, 3) == [("SUSPECTED_DLT", "SUSPECTED_DLT-LAB")]


def test_not_treatment_emergent_or_out_of_window_raises_nothing(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert _alt(infused_state(), ruleset, "L-1", 1, 3, baseline_grade=3) == []
    assert _alt(infused_state(), ruleset, "L-1", 366, 3) == []


def test_hematologic_grade_3_is_not_a_suspected_dlt(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = lab("L-1", 2, "NEUT", 0.6)
    outcome = run(
        event, ruleset, infused_state(), [row(event, "Neutrophil count decreased", 3, category="hematologic")]
    )
    assert kinds(outcome) == []


def test_qtcf_grade_3_is_a_suspected_dlt(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = lab("E-1", 2, "QTCF", 510)
    graded = [row(event, "Electrocardiogram QT corrected interval prolonged", 3, event_type="ecg")]
    assert kinds(run(event, ruleset, infused_state(), graded)) == [("SUSPECTED_DLT", "SUSPECTED_DLT-ECG")]


def test_systolic_and_diastolic_share_one_hypertension_episode(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    sys1, dia1, sys2 = lab("V-1", 2, "SYSBP", 165), lab("V-2", 2, "DIABP", 85), lab("V-3", 3, "SYSBP", 170)
    assert len(run(sys1, ruleset, state, [row(sys1, "Hypertension", 3, event_type="vital")]).alerts) == 1
    run(dia1, ruleset, state, [row(dia1, "Hypertension", 1, event_type="vital")])
    assert run(sys2, ruleset, state, [row(sys2, "Hypertension", 3, event_type="vital")]).alerts == []


def test_ae_without_causality_asks_for_attribution_and_a_related_revision_makes_it_a_dlt(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    first = run(ae(ctcae_term="Colitis", grade=3), ruleset, state)
    assert kinds(first) == [("SUSPECTED_DLT", "SUSPECTED_DLT-AE")]
    assert first.alerts[0].report_due_at is not None
    second = run(ae(ctcae_term="Colitis", grade=3, causality="possible", revision=2), ruleset, state, correction=True)
    assert kinds(second) == [("DLT", "DLT-2"), ("ALERT_WITHDRAWN", "SUSPECTED_DLT-AE")]


def test_ae_with_causality_or_hematologic_is_no_suspected_dlt(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert kinds(run(ae(ctcae_term="Colitis", grade=3, causality="unlikely"), ruleset, infused_state())) == []
    assert kinds(run(ae(ctcae_term="Anemia", grade=3), ruleset, infused_state())) == []
