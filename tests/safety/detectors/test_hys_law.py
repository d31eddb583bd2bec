"""HYS_LAW (docs/rules.md, HYS_LAW): span 0..14 study days, ALP blocks, one per episode."""

from __future__ import annotations

import pytest
from detector_helpers import infused_state, lab, run


def _run(state, ruleset, event_id, day, test, value, uln):  # type: ignore[no-untyped-def]
    return run(lab(event_id, day, test, value, ref_high=uln), ruleset, state).alerts


@pytest.mark.parametrize(("bili_day", "raised"), [(1, True), (15, True), (16, False)])
def test_bilirubin_0_to_14_days_after_the_transaminase(ruleset, bili_day, raised) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    _run(state, ruleset, "ALT-1", 1, "ALT", 120, 40)  # exactly 3 x ULN counts
    alerts = _run(state, ruleset, "BILI-1", bili_day, "BILI", 34.2, 17.1)  # exactly 2 x ULN counts
    assert bool(alerts) is raised
    if raised:
        assert (alerts[0].study_day, alerts[0].ctcae_term, alerts[0].event_ids) == (
            bili_day,
            None,
            ["ALT-1", "BILI-1"],
        )
        assert alerts[0].basis is not None and alerts[0].basis["bilirubin"]["x_uln"] == 2.0


def test_bilirubin_arriving_first_pairs_with_a_late_transaminase(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    assert _run(state, ruleset, "BILI-1", 5, "BILI", 40, 17.1) == []
    alerts = _run(state, ruleset, "AST-1", 2, "AST", 150, 40)
    assert [(a.rule_id, a.study_day) for a in alerts] == [("HYS_LAW-AST", 5)]


def test_bilirubin_before_the_transaminase_does_not_count(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    _run(state, ruleset, "BILI-1", 2, "BILI", 40, 17.1)
    assert _run(state, ruleset, "ALT-1", 3, "ALT", 150, 40) == []


def test_alp_at_2_x_uln_inside_the_span_blocks_but_outside_does_not(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    _run(state, ruleset, "ALT-1", 2, "ALT", 150, 40)
    _run(state, ruleset, "ALP-1", 1, "ALP", 240, 120)  # before the span
    assert len(_run(state, ruleset, "BILI-1", 4, "BILI", 40, 17.1)) == 1
    blocked = infused_state()
    _run(blocked, ruleset, "ALT-1", 2, "ALT", 150, 40)
    _run(blocked, ruleset, "ALP-1", 4, "ALP", 240, 120)
    assert _run(blocked, ruleset, "BILI-1", 4, "BILI", 40, 17.1) == []


def test_one_alert_per_episode_and_a_new_one_after_recovery(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    _run(state, ruleset, "ALT-1", 1, "ALT", 150, 40)
    assert len(_run(state, ruleset, "BILI-1", 2, "BILI", 40, 17.1)) == 1
    assert _run(state, ruleset, "BILI-2", 3, "BILI", 45, 17.1) == []
    _run(state, ruleset, "ALT-2", 5, "ALT", 60, 40)
    _run(state, ruleset, "BILI-3", 5, "BILI", 20, 17.1)  # all below again: the episode ends
    _run(state, ruleset, "ALT-3", 8, "ALT", 200, 40)
    assert len(_run(state, ruleset, "BILI-4", 9, "BILI", 40, 17.1)) == 1


def test_values_before_the_first_infusion_do_not_count(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    _run(state, ruleset, "ALT-0", -1, "ALT", 150, 40)
    assert _run(state, ruleset, "BILI-1", 1, "BILI", 40, 17.1) == []
