"""SUSAR (docs/rules.md, "SAE and SUSAR"): serious, related set, not expected; 7 days if fatal/life-threatening,
else 15 days."""

from __future__ import annotations

import pytest
from detector_helpers import ae, death, infused_state, kinds, run


@pytest.mark.parametrize(
    ("serious", "rule", "due"),
    [
        (["hospitalization"], "SUSAR-15D", "2026-07-19T09:00:00+08:00"),
        (["life_threatening"], "SUSAR-7D", "2026-07-11T09:00:00+08:00"),
        (["death"], "SUSAR-7D", "2026-07-11T09:00:00+08:00"),
    ],
)
def test_clock_depends_on_seriousness(ruleset, serious, rule, due) -> None:  # type: ignore[no-untyped-def]
    event = ae(serious=serious, causality="possible", expected=False, recorded_at="2026-07-04T09:00:00+08:00")
    susar = [a for a in run(event, ruleset, infused_state()).alerts if a.kind == "SUSAR"]
    assert [a.rule_id for a in susar] == [rule]
    assert susar[0].report_due_at is not None and susar[0].report_due_at.isoformat() == due


@pytest.mark.parametrize(
    ("causality", "expected"),
    [
        ("unlikely", False),
        ("unrelated", False),
        (None, False),
        ("related", True),
        ("related", None),
    ],
)
def test_no_susar_unless_related_and_unexpected(ruleset, causality, expected) -> None:  # type: ignore[no-untyped-def]
    event = ae(serious=["hospitalization"], causality=causality, expected=expected)
    assert "SUSAR" not in [k for k, _ in kinds(run(event, ruleset, infused_state()))]


def test_unassessable_counts_as_related(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(serious=["hospitalization"], causality="unassessable", expected=False)
    assert ("SUSAR", "SUSAR-15D") in kinds(run(event, ruleset, infused_state()))


def test_related_death_is_a_7_day_susar_unless_expected(ruleset) -> None:  # type: ignore[no-untyped-def]
    assert ("SUSAR", "SUSAR-7D") in kinds(run(death(causality="related"), ruleset, infused_state()))
    assert "SUSAR" not in [
        k for k, _ in kinds(run(death(causality="related", expected=True), ruleset, infused_state()))
    ]


def test_revision_shortening_the_clock_raises_a_new_susar_and_withdraws_the_old(ruleset) -> None:  # type: ignore[no-untyped-def]
    state = infused_state()
    first = run(ae(serious=["hospitalization"], causality="possible", expected=False), ruleset, state)
    old = next(a for a in first.alerts if a.kind == "SUSAR")
    second = run(
        ae(serious=["hospitalization", "life_threatening"], causality="possible", expected=False, revision=2),
        ruleset,
        state,
        correction=True,
    )
    assert kinds(second) == [("SUSAR", "SUSAR-7D"), ("ALERT_WITHDRAWN", "SUSAR-15D")]
    assert second.alerts[1].withdraws == old.alert_id and "superseded" in (second.alerts[1].reason or "")
