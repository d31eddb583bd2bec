"""The heartbeat's evaluator is pure: a subject state, the rules and a moment give the overdue alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from safety import heartbeat
from safety.model.outputs import Rejection
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import step
from safety.rules.ruleset import RuleSet

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
TZ = ZoneInfo("Asia/Shanghai")


def _fold(name: str, rules: RuleSet) -> SubjectState:
    state: SubjectState | None = None
    for line in (SCENARIOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        event = parse_event(line, TZ)
        assert not isinstance(event, Rejection), event
        state = step(state, event, rules, raw=line).state
    assert state is not None
    return state


def test_the_state_keeps_the_next_visit_per_group_not_the_calendar(ruleset: RuleSet) -> None:
    state = _fold("heartbeat_partial_draw_missing_plat", ruleset)
    groups = state.expected.groups
    assert groups["blood_routine"].next == 2  # days 1 and 3 settled, day 7 open (PLAT missing)
    assert groups["blood_routine"].received == {7: ["NEUT", "HGB", "WBC"]}
    assert groups["vital_signs"].next == 3 and not groups["vital_signs"].received
    assert len(json.dumps(state.expected.model_dump(mode="json"))) < 600


def test_a_visit_is_settled_once_however_often_it_is_checked(ruleset: RuleSet) -> None:
    state = _fold("heartbeat_partial_draw_missing_plat", ruleset)
    due = datetime(2026, 7, 12, tzinfo=TZ)
    assert heartbeat.check(state, due - timedelta(seconds=1), ruleset) == []
    first = heartbeat.check(state, due, ruleset)
    assert [(a.kind, a.basis["missing"]) for a in first] == [("DATA_OVERDUE", ["PLAT"])]  # type: ignore[index]
    assert heartbeat.check(state, due + timedelta(days=1), ruleset) == []
    assert list(state.expected.overdue) == ["blood_routine/7"]


def test_nothing_is_expected_before_day_0(ruleset: RuleSet) -> None:
    state = SubjectState(subject_id="AA-001", study_id=ruleset.protocol.study_id)
    assert heartbeat.check(state, datetime(2030, 1, 1, tzinfo=TZ), ruleset) == []


def test_the_same_overdue_visit_has_the_same_alert_whenever_it_is_noticed(ruleset: RuleSet) -> None:
    early = heartbeat.check(
        _fold("heartbeat_missed_day7_blood_routine", ruleset), datetime(2026, 7, 12, tzinfo=TZ), ruleset
    )
    late = heartbeat.check(
        _fold("heartbeat_missed_day7_blood_routine", ruleset), datetime(2026, 7, 13, tzinfo=TZ), ruleset
    )
    assert [a.to_json() for a in early] == [a.to_json() for a in late]


def test_replay_without_as_of_expects_nothing(ruleset: RuleSet, tmp_path: Path) -> None:
    from streams.cli.replay import run

    for name in ("heartbeat_missed_day7_blood_routine", "heartbeat_late_result_withdraws"):
        assert run(SCENARIOS / f"{name}.jsonl", tmp_path / name, None, quiet=True) == 0
        alerts: list[dict[str, Any]] = [json.loads(x) for x in (tmp_path / name / "alerts.jsonl").read_text().split()]
        assert alerts == []
