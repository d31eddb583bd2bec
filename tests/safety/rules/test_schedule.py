"""The schedule of expected data is part of the study rules: validated at load, the default when a file has none."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safety.errors import RuleFileError
from safety.rules.schedule import DEFAULT_SCHEDULE
from streams.cli.rules import rules_check
from streams.rulefiles import load_ruleset

STUDY = Path(__file__).resolve().parents[3] / "rules" / "studies" / "ChiCTR2600125907.yaml"
GROUPS = {"blood_routine": {"tests": ["NEUT", "PLAT"], "days": [1, 7, 90]}}
WINDOWS = [{"through_day": 28, "days": 1}, {"through_day": 365, "days": 7}]


def variant(tmp_path: Path, change: object) -> Path:
    data = yaml.safe_load(STUDY.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_study_file_without_a_schedule_gets_the_default_and_keeps_its_rules_version() -> None:
    rules = load_ruleset(STUDY)
    assert rules.protocol.schedule == DEFAULT_SCHEDULE
    assert rules.protocol.schedule.window(28) == (27, 29) and rules.protocol.schedule.window(60) == (53, 67)
    assert rules.protocol.schedule.grace_days == 2 and rules.protocol.schedule.silence_limit_hours == 24


def test_a_schedule_section_replaces_the_default(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda d: d.update(schedule={"grace_days": 3, "windows": WINDOWS, "groups": GROUPS}))
    schedule = load_ruleset(path).protocol.schedule
    assert list(schedule.groups) == ["blood_routine"] and schedule.grace_days == 3
    assert "blood_routine: NEUT, PLAT on days 1, 7, 90" in rules_check(path)


def test_rules_check_says_when_the_default_schedule_applies() -> None:
    text = rules_check(STUDY)
    assert "Expected data (default schedule" in text
    assert "blood_routine: NEUT, PLAT, HGB, WBC on days 1, 3, 7, 14, 21, 28, 60, 90, 180, 270, 365" in text


@pytest.mark.parametrize(
    ("groups", "windows", "message"),
    [
        (
            {"blood_routine": {"tests": ["NEUT", "PLATT"], "days": [1]}},
            WINDOWS,
            "schedule.groups.blood_routine.tests[1]: 'PLATT' is not a test code",
        ),
        (
            {"blood_routine": {"tests": ["NEUT"], "days": [7, 3]}},
            WINDOWS,
            "visit days must ascend, each once: 3 follows 7",
        ),
        ({"blood_routine": {"tests": ["NEUT"], "days": [-1]}}, WINDOWS, "before day 0"),
        ({"blood_routine": {"tests": ["NEUT", "NEUT"], "days": [1]}}, WINDOWS, "NEUT listed twice"),
        ({"blood_routine": {"tests": ["NEUT"], "days": [400]}}, WINDOWS, "day 400 is after the last window band"),
        (GROUPS, [{"through_day": 365, "days": 7}, {"through_day": 28, "days": 1}], "through_day must ascend"),
        (GROUPS, [{"through_day": 365, "days": -1}], "schedule.windows[0].days"),
        ({"Blood Routine": {"tests": ["NEUT"], "days": [1]}}, WINDOWS, "is not a group name"),
        ({"blood_routine": {"tests": ["NEUT"], "dayz": [1]}}, WINDOWS, "dayz: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_schedule_is_refused_naming_the_field(
    tmp_path: Path, groups: object, windows: object, message: str
) -> None:
    path = variant(tmp_path, lambda d: d.update(schedule={"windows": windows, "groups": groups}))
    with pytest.raises(RuleFileError) as error:
        load_ruleset(path)
    assert str(path) in str(error.value) and message in str(error.value)
