"""The stream's heartbeat decides against the wall clock: silent feeds once until they send, overdue data once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from safety.model.outputs import Rejection
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import step
from safety.rules.ruleset import RuleBook, RuleSet
from streams.worker import codec
from streams.worker.heartbeat import DEFER_LIMIT_S, Backlog, FeedWatch, OverdueWatch, feed_silent_alert

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
TZ = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0


def test_a_silent_source_is_told_once_until_it_sends_again() -> None:
    feeds = FeedWatch()
    feeds.seen("LIS", 0.0)
    feeds.seen("EDC", 20 * HOUR)
    assert feeds.newly_silent(23 * HOUR, 24 * HOUR) == []
    assert feeds.newly_silent(24 * HOUR, 24 * HOUR) == ["LIS"]
    assert feeds.newly_silent(30 * HOUR, 24 * HOUR) == []  # told already
    feeds.seen("LIS", 31 * HOUR)
    assert feeds.newly_silent(56 * HOUR, 24 * HOUR) == ["EDC", "LIS"]


def test_a_source_quiet_for_more_than_seven_days_is_no_longer_watched() -> None:
    feeds = FeedWatch()
    feeds.seen("HL7", 0.0)
    assert feeds.newly_silent(8 * 24 * HOUR, 24 * HOUR) == []


def test_feed_silent_goes_to_the_safety_officer_without_a_clock(ruleset: RuleSet) -> None:
    alert = feed_silent_alert("LIS", 0.0, 25 * HOUR, ruleset)
    assert alert.kind == "FEED_SILENT" and alert.recipients == ["safety_officer"]
    assert alert.report_due_at is None and alert.basis and alert.basis["source"] == "LIS"


def _states(name: str, rules: RuleSet) -> list[SubjectState]:
    states: list[SubjectState] = []
    state: SubjectState | None = None
    for line in (SCENARIOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        event = parse_event(line, TZ)
        assert not isinstance(event, Rejection)
        state = step(state, event, rules, raw=line).state
        states.append(SubjectState.model_validate(state.model_dump()))
    return states


def test_overdue_data_is_published_once_and_withdrawn_when_ingest_counts_the_late_result(ruleset: RuleSet) -> None:
    """Ingest's state is read, never written: the watch remembers what it published."""
    book = RuleBook.of(ruleset)
    states = _states("heartbeat_late_result_withdraws", ruleset)
    before_late = states[-6]  # the day-7 draw without PLAT, before the late PLAT and day 14
    late = states[-5]
    watch = OverdueWatch()
    now = datetime(2026, 7, 12, 8, tzinfo=TZ)
    first = watch.due(b"k", codec.encode_state(before_late), now, book)
    assert [(a.kind, a.basis and a.basis["missing"]) for a in first] == [("DATA_OVERDUE", ["PLAT"])]
    assert watch.due(b"k", codec.encode_state(before_late), now, book) == []
    withdrawn = watch.due(b"k", codec.encode_state(late), now, book)
    assert [(a.kind, a.withdraws, a.reason) for a in withdrawn] == [("ALERT_WITHDRAWN", first[0].alert_id, "received")]


def test_expected_data_wait_for_ingest_to_catch_up_but_not_for_ever() -> None:
    """States with results still waiting on the topic would raise DATA_OVERDUE for data that has arrived."""
    backlog = Backlog()
    assert backlog.should_check(caught_up=True, now=0.0)
    assert not backlog.should_check(caught_up=False, now=60.0)
    assert not backlog.should_check(caught_up=False, now=60.0 + DEFER_LIMIT_S - 1)
    assert backlog.should_check(caught_up=False, now=60.0 + DEFER_LIMIT_S)  # a backlog that never clears
    assert not backlog.should_check(caught_up=False, now=61.0 + DEFER_LIMIT_S)  # deferred again, from now
    assert backlog.should_check(caught_up=True, now=62.0 + DEFER_LIMIT_S)
