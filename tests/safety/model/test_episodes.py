"""Episodes (docs/rules.md, "Episodes and re-alerting")."""

from __future__ import annotations

from datetime import datetime, timedelta

from safety.model.episodes import Episode, at_or_above_threshold, below_threshold, record_alert, retract

T0 = datetime(2026, 7, 1, 9, 0)


def test_only_a_higher_grade_alerts_again_and_a_later_low_value_ends_it() -> None:
    eps: dict[str, Episode] = {}
    assert at_or_above_threshold(eps, "k", "ALT", 3, T0) == (True, 0)
    assert at_or_above_threshold(eps, "k", "ALT", 3, T0 + timedelta(days=1)) == (False, 3)
    assert at_or_above_threshold(eps, "k", "ALT", 4, T0 + timedelta(days=2)) == (True, 3)
    below_threshold(eps, "k", "ALT", T0 + timedelta(days=3))
    assert eps == {}


def test_a_late_low_value_older_than_the_latest_high_one_does_not_end_it() -> None:
    eps: dict[str, Episode] = {}
    at_or_above_threshold(eps, "k", "ALT", 3, T0 + timedelta(days=2))
    below_threshold(eps, "k", "ALT", T0 + timedelta(days=1))
    assert "k" in eps


def test_two_tests_of_one_term_share_the_episode() -> None:
    eps: dict[str, Episode] = {}
    at_or_above_threshold(eps, "k", "SYSBP", 3, T0)
    below_threshold(eps, "k", "DIABP", T0 + timedelta(hours=1))
    assert at_or_above_threshold(eps, "k", "SYSBP", 3, T0 + timedelta(days=1)) == (False, 3)


def test_retract_forgets_a_corrected_events_alert() -> None:
    eps: dict[str, Episode] = {}
    at_or_above_threshold(eps, "k", "ALT", 4, T0)
    record_alert(eps, "k", "L-1", 4)
    retract(eps, "L-1")
    assert eps["k"].max_grade == 0
