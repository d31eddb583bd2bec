"""DLT-1..DLT-5 (docs/rules.md, DLT: window, priority, DLT-4 confirmation)."""

from __future__ import annotations

import pytest
from detector_helpers import ae, death, infused_state, kinds, lab, row, run, with_baseline

NEUT = "Neutrophil count decreased"


@pytest.mark.parametrize(("hours", "dlt"), [(23, True), (24, True), (25, False), (-1, False)])
def test_dlt1_infusion_reaction_within_24_hours(ruleset, hours, dlt) -> None:  # type: ignore[no-untyped-def]
    event = ae(day=0, hours=hours, ctcae_term="Infusion related reaction", grade=3, causality="unrelated")
    assert (("DLT", "DLT-1") in kinds(run(event, ruleset, infused_state()))) is dlt


def test_dlt1_needs_grade_3(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(day=0, hours=2, ctcae_term="Anaphylaxis", grade=2, causality="related")
    assert kinds(run(event, ruleset, infused_state())) == []


@pytest.mark.parametrize(
    ("term", "causality", "dlt"),
    [
        ("Colitis", "possible", True),
        ("Colitis", "unlikely", False),
        ("Anemia", "related", False),
    ],
)
def test_dlt2_related_non_hematologic_grade_3(ruleset, term, causality, dlt) -> None:  # type: ignore[no-untyped-def]
    event = ae(ctcae_term=term, grade=3, causality=causality)
    assert (("DLT", "DLT-2") in kinds(run(event, ruleset, infused_state()))) is dlt


@pytest.mark.parametrize(("causality", "dlt"), [("unlikely", True), ("unrelated", False), (None, True)])
def test_dlt3_thromboembolism_anything_but_unrelated(ruleset, causality, dlt) -> None:  # type: ignore[no-untyped-def]
    event = ae(ctcae_term="Thromboembolic event", grade=2, causality=causality)
    assert (("DLT", "DLT-3") in kinds(run(event, ruleset, infused_state()))) is dlt


def test_dlt5_related_death_and_related_grade_5(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert ("DLT", "DLT-5") in kinds(run(death(causality="probable"), ruleset, infused_state()))
    assert ("DLT", "DLT-5") not in kinds(run(death(causality="unrelated"), ruleset, infused_state()))


def test_one_dlt_per_event_with_priority_and_also_matched(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(day=0, hours=1, ctcae_term="Anaphylaxis", grade=5, causality="related")
    dlts = [a for a in run(event, ruleset, infused_state()).alerts if a.kind == "DLT"]
    assert [(a.rule_id, a.also_matched) for a in dlts] == [("DLT-5", ["DLT-1", "DLT-2"])]


@pytest.mark.parametrize(("day", "dlt"), [(0, True), (365, True), (366, False), (-1, False)])
def test_window_bounds_dlt(ruleset, day, dlt) -> None:  # type: ignore[no-untyped-def]
    event = ae(day=day, ctcae_term="Colitis", grade=3, causality="related")
    assert (("DLT", "DLT-2") in kinds(run(event, ruleset, infused_state()))) is dlt


def test_dlt_alert_emits_a_study_signal_and_its_withdrawal_too(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    raised = run(ae(ctcae_term="Colitis", grade=3, causality="related"), ruleset, state)
    assert [(s.kind, s.alert_id) for s in raised.signals] == [("dlt", raised.alerts[0].alert_id)]
    withdrawn = run(
        ae(ctcae_term="Colitis", grade=3, causality="unrelated", revision=2), ruleset, state, correction=True
    )
    assert [(s.kind, s.alert_id) for s in withdrawn.signals] == [("dlt_withdrawn", raised.alerts[0].alert_id)]


def _neut(state, ruleset, event_id, day, value, grade, baseline_grade=2):  # type: ignore[no-untyped-def]
    event = lab(event_id, day, "NEUT", value)
    return run(
        event,
        ruleset,
        state,
        [row(event, NEUT, grade, baseline_grade=baseline_grade, category="hematologic")],
    )


def _dlt4(outcome):  # type: ignore[no-untyped-def]
    return [a for a in outcome.alerts if a.rule_id == "DLT-4"]


def test_dlt4_confirmed_by_a_value_7_study_days_later(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    with_baseline(state, "NEUT", 1.2)
    assert _dlt4(_neut(state, ruleset, "L-2", 2, 0.4, 4)) == []
    confirmed = _dlt4(_neut(state, ruleset, "L-9", 9, 0.3, 4))
    assert [(a.study_day, a.event_ids, a.grade) for a in confirmed] == [(9, ["L-2", "L-9"], 4)]
    assert confirmed[0].basis is not None and confirmed[0].basis["baseline"] == 1.2


def test_dlt4_not_confirmed_5_days_later_nor_after_a_recovery(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    with_baseline(state, "NEUT", 1.2)
    _neut(state, ruleset, "L-2", 2, 0.4, 4)
    assert _dlt4(_neut(state, ruleset, "L-7", 7, 0.3, 4)) == []
    _neut(state, ruleset, "L-8", 8, 0.7, 3)  # not below 50%: the pending confirmation is dropped
    assert _dlt4(_neut(state, ruleset, "L-9", 9, 0.3, 4)) == []


def test_dlt4_exactly_half_of_baseline_is_not_below_half(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    with_baseline(state, "NEUT", 0.8)
    _neut(state, ruleset, "L-2", 2, 0.4, 4)
    assert _dlt4(_neut(state, ruleset, "L-9", 9, 0.4, 4)) == []


def test_dlt4_needs_a_baseline(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    _neut(state, ruleset, "L-2", 2, 0.1, 4, baseline_grade=0)
    assert _dlt4(_neut(state, ruleset, "L-9", 9, 0.1, 4, baseline_grade=0)) == []


def test_dlt4_grade_4_at_baseline_needs_a_further_halving(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    with_baseline(state, "NEUT", 0.4)
    _neut(state, ruleset, "L-2", 2, 0.3, 4, baseline_grade=4)
    assert _dlt4(_neut(state, ruleset, "L-9", 9, 0.25, 4, baseline_grade=4)) == []


def test_dlt4_state_survives_a_json_round_trip(ruleset) -> None:  # type: ignore[no-untyped-def]
    from safety.model.state import SubjectState

    state = infused_state()
    with_baseline(state, "NEUT", 1.2)
    _neut(state, ruleset, "L-2", 2, 0.4, 4)
    state = SubjectState.from_json(state.to_json())
    assert len(_dlt4(_neut(state, ruleset, "L-9", 9, 0.3, 4))) == 1
