"""SAE (docs/rules.md, "SAE and SUSAR"): seriousness, not severity; one per AE or death event; any study day."""

from __future__ import annotations

from detector_helpers import ae, death, infused_state, kinds, run


def test_serious_ae_is_an_sae_with_a_24_hour_clock_from_recorded_at(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(serious=["hospitalization"], causality="unrelated", recorded_at="2026-07-05T10:00:00+08:00")
    outcome = run(event, ruleset, infused_state())
    assert kinds(outcome) == [("SAE", "SAE-SERIOUS")]
    alert = outcome.alerts[0]
    assert alert.report_due_at is not None and alert.report_due_at.isoformat() == "2026-07-06T10:00:00+08:00"
    assert alert.recipients == ["pi", "ethics"] and alert.grade == 2 and alert.study_day == 3


def test_grade_4_without_seriousness_is_not_an_sae(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert kinds(run(ae(grade=4, causality="unrelated"), ruleset, infused_state())) == []


def test_screening_sae_before_infusion_is_still_reported(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert kinds(run(ae(day=-5, serious=["medically_important"], causality="unrelated"), ruleset, infused_state())) == [
        ("SAE", "SAE-SERIOUS")
    ]


def test_two_hospitalisations_for_one_term_are_two_saes(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    first = run(
        ae("AE-1", ctcae_term="Lung infection", serious=["hospitalization"], causality="unrelated"),
        ruleset,
        state,
    )
    second = run(
        ae("AE-2", ctcae_term="Lung infection", serious=["hospitalization"], causality="unrelated"),
        ruleset,
        state,
    )
    assert first.alerts[0].alert_id != second.alerts[0].alert_id


def test_death_event_is_an_sae(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert kinds(run(death(causality="unrelated"), ruleset, infused_state())) == [("SAE", "SAE-DEATH")]


def test_same_event_again_raises_nothing_new(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    event = ae(serious=["hospitalization"], causality="unrelated")
    run(event, ruleset, state)
    assert run(event, ruleset, state).alerts == []


def test_revision_removing_seriousness_withdraws_the_sae(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    raised = run(ae(serious=["hospitalization"], causality="unrelated"), ruleset, state).alerts[0]
    outcome = run(ae(serious=[], causality="unrelated", revision=2), ruleset, state, correction=True)
    assert [(str(a.kind), a.withdraws) for a in outcome.alerts] == [("ALERT_WITHDRAWN", raised.alert_id)]
    assert state.rules.sae_days == {}
