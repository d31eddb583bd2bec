"""Stopping boundary (docs/rules.md, "STOPPING_BOUNDARY: the stopping rule")."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safety.signals import StudySignal
from safety.study import StudyState, study_step

AT = datetime(2026, 7, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _signal(kind: str, subject: str, alert: str | None = None) -> StudySignal:
    return StudySignal(
        kind=kind,
        study_id="ChiCTR2600125907",
        subject_id=subject,
        event_id=f"E-{subject}-{kind}",
        study_day=9,
        at=AT,
        alert_id=alert,
    )  # type: ignore[arg-type]


def _fold(signals, ruleset):  # type: ignore[no-untyped-def]
    state, alerts = None, []
    for signal in signals:
        state, raised = study_step(state, signal, ruleset)
        alerts.extend(raised)
    return state, alerts


def test_two_of_three_crosses_once_named_after_the_crossing_event(ruleset) -> None:  # type: ignore[no-untyped-def]
    infused = [_signal("infused", s) for s in ("AA-001", "AA-002", "AA-003")]
    state, alerts = _fold(
        [
            *infused,
            _signal("dlt", "AA-001", "a1"),
            _signal("dlt", "AA-002", "a2"),
            _signal("dlt", "AA-003", "a3"),
        ],
        ruleset,
    )
    assert [(a.subject_id, a.event_ids, a.basis["x"], a.basis["n"]) for a in alerts] == [  # type: ignore[index]
        ("AA-002", ["E-AA-002-dlt"], 2, 3)
    ]
    assert round(alerts[0].basis["probability"], 3) == 0.916 and alerts[0].ctcae_term is None  # type: ignore[index]
    assert state.crossed and alerts[0].recipients == ["pi", "ethics"]


def test_one_of_three_does_not_cross(ruleset) -> None:  # type: ignore[no-untyped-def]
    _, alerts = _fold([*(_signal("infused", s) for s in ("A", "B", "C")), _signal("dlt", "A", "a1")], ruleset)
    assert alerts == []


def test_not_evaluated_below_three_subjects(ruleset) -> None:  # type: ignore[no-untyped-def]
    _, alerts = _fold(
        [
            _signal("infused", "A"),
            _signal("infused", "B"),
            _signal("dlt", "A", "a"),
            _signal("dlt", "B", "b"),
        ],
        ruleset,
    )
    assert alerts == []


def test_withdrawn_dlt_no_longer_counts_and_second_dlt_of_a_subject_does_not_recount(ruleset) -> None:  # type: ignore[no-untyped-def]
    state, alerts = _fold(
        [
            *(_signal("infused", s) for s in ("A", "B", "C")),
            _signal("dlt", "A", "a1"),
            _signal("dlt", "A", "a2"),
            _signal("dlt_withdrawn", "A", "a1"),
            _signal("dlt_withdrawn", "A", "a2"),
        ],
        ruleset,
    )
    assert alerts == [] and state.x == 0 and state.n == 3


def test_state_is_json_safe(ruleset) -> None:  # type: ignore[no-untyped-def]
    state, _ = _fold([_signal("infused", "A"), _signal("dlt", "A", "a1")], ruleset)
    assert StudyState.from_json(state.to_json()) == state


def _at(kind: str, subject: str, hour: int, alert: str | None = None) -> StudySignal:
    at = AT.replace(hour=0) + timedelta(hours=hour)
    return StudySignal(
        kind=kind,
        study_id="ChiCTR2600125907",
        subject_id=subject,  # type: ignore[arg-type]
        event_id=f"E-{subject}-{kind}",
        study_day=hour // 24,
        at=at,
        alert_id=alert,
    )


def test_crossing_is_found_in_event_time_whatever_the_arrival_order(ruleset) -> None:  # type: ignore[no-untyped-def]
    """A backlog merged from several partitions may deliver a DLT after later infusions (the stream's case)."""
    in_time = [
        _at("infused", "A", 1),
        _at("infused", "B", 2),
        _at("infused", "C", 3),
        _at("infused", "D", 4),
        _at("dlt", "A", 5, "a"),
        _at("dlt", "B", 6, "b"),
        _at("dlt", "C", 7, "c"),
        _at("infused", "E", 8),
        _at("infused", "F", 9),
    ]
    _, expected = _fold(in_time, ruleset)
    assert [(a.subject_id, a.basis["x"], a.basis["n"]) for a in expected] == [("C", 3, 4)]  # type: ignore[index]
    backlog = [in_time[i] for i in (0, 1, 2, 3, 7, 8, 4, 5, 6)]  # E and F's infusions arrive before the DLTs
    _, alerts = _fold(backlog, ruleset)
    assert [a.model_dump() for a in alerts] == [a.model_dump() for a in expected]


def test_a_dlt_counts_its_subject_as_infused_even_before_the_infusion_record(ruleset) -> None:  # type: ignore[no-untyped-def]
    _, alerts = _fold(
        [_at("infused", "A", 1), _at("infused", "B", 2), _at("dlt", "A", 3, "a"), _at("dlt", "C", 4, "c")], ruleset
    )
    assert [(a.subject_id, a.basis["x"], a.basis["n"]) for a in alerts] == [("C", 2, 3)]  # type: ignore[index]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["infused", "dlt", "dlt", "dlt_withdrawn"]),
            st.sampled_from("ABCDEFG"),
            st.integers(0, 40),
            st.sampled_from("xy"),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_incremental_crossing_equals_a_full_walk_after_every_signal(ruleset, steps) -> None:  # type: ignore[no-untyped-def]
    """In-order signals only extend the walk; out-of-order ones re-walk: both must equal walking everything."""
    _assert_incremental_equals_full_walk(ruleset, steps)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["infused", "infused", "infused", "dlt", "dlt_withdrawn"]),
            st.sampled_from("ABCDEFGHIJKL"),
            st.integers(0, 60),
            st.sampled_from("xy"),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_late_infusions_after_min_n_subjects_skip_the_walk_without_missing_a_crossing(ruleset, steps) -> None:  # type: ignore[no-untyped-def]
    """Many subjects, infusions out of event time: the shortcut (no walk once min_n subjects came before the
    late infusion) must give the same first crossing as walking everything."""
    _assert_incremental_equals_full_walk(ruleset, steps)


def _assert_incremental_equals_full_walk(ruleset, steps) -> None:  # type: ignore[no-untyped-def]
    from safety.study import _first_crossing

    state, raised = None, []
    expected = None
    for kind, subject, hour, alert in steps:
        signal = _at(kind, subject, hour, f"{subject}-{alert}")
        state, alerts = study_step(state, signal, ruleset)
        raised.extend(alerts)
        if expected is None and signal.kind != "dlt_withdrawn":
            expected = _first_crossing(state, ruleset)
    got = [(a.subject_id, a.event_ids, a.basis["x"], a.basis["n"]) for a in raised]  # type: ignore[index]
    want = [] if expected is None else [(expected[0], [expected[1].event_id], expected[2], expected[3])]
    assert got == want


def test_a_signal_is_never_folded_with_another_study_s_rules_or_state(ruleset) -> None:  # type: ignore[no-untyped-def]
    other = _signal("infused", "BB-001").model_copy(update={"study_id": "ChiCTR2600200001"})
    with pytest.raises(ValueError, match="a signal of study ChiCTR2600200001 was given the rules of ChiCTR2600125907"):
        study_step(None, other, ruleset)
    state, _ = study_step(None, _signal("infused", "AA-001"), ruleset)
    renamed = ruleset.protocol.model_copy(update={"study_id": other.study_id})
    other_rules = dataclasses.replace(ruleset, protocol=renamed)
    with pytest.raises(ValueError, match="route each study's signals to its own rules and state"):
        study_step(state, other, other_rules)
