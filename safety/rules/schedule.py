"""The schedule of expected assessments of a study (the ``schedule`` section of rules/studies/<study_id>.yaml).

A toxicity can hide in a result that never arrived, so the study file lists which test groups are expected on
which study days, the window around each visit day, the grace period for data entry and how long a data source
may stay silent (docs/rules.md, "Expected data"). A study file without a ``schedule`` section gets
``DEFAULT_SCHEDULE``, the first study's default until the protocol's own visit table replaces it in its file: it
lives here rather than in that file, because the study file's bytes are its ``rules_version``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Final

from pydantic import Field, field_validator, model_validator

from safety.rules.strict import Strict

_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
UNGRADED_VITALS: Final = ("PULSE", "RESP", "WEIGHT")
"""Vital-sign codes of the event contract that no CTCAE criterion grades; a schedule may still expect them."""


class WindowBand(Strict):
    """Visits on study days up to ``through_day`` are satisfied by results from ``days`` before to ``days`` after."""

    through_day: Annotated[int, Field(ge=0)]
    days: Annotated[int, Field(ge=0, le=60)]


class TestGroup(Strict):
    """Tests expected together (one draw, one measurement round) on each of ``days``."""

    tests: Annotated[list[str], Field(min_length=1)]
    days: Annotated[list[int], Field(min_length=1)]

    @field_validator("tests")
    @classmethod
    def _tests_once(cls, tests: list[str]) -> list[str]:
        twice = sorted({t for t in tests if tests.count(t) > 1})
        if twice:
            raise ValueError(f"test(s) {', '.join(twice)} listed twice; list each test once")
        return tests

    @field_validator("days")
    @classmethod
    def _days_ascending(cls, days: list[int]) -> list[int]:
        if days[0] < 0:
            raise ValueError(f"visit day {days[0]} is before day 0; the schedule counts from the first infusion")
        for before, after in zip(days, days[1:], strict=False):
            if after <= before:
                raise ValueError(f"visit days must ascend, each once: {after} follows {before}")
        return days


class Schedule(Strict):
    """Expected assessments: groups of tests per visit day, the visit windows, the grace period, the silence limit."""

    grace_days: Annotated[int, Field(ge=0, le=60)] = 2
    silence_limit_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24
    windows: Annotated[list[WindowBand], Field(min_length=1)]
    groups: dict[str, TestGroup]

    @model_validator(mode="after")
    def _sane(self) -> Schedule:
        for name in self.groups:
            if not _GROUP_NAME.match(name):
                raise ValueError(
                    f"groups: {name!r} is not a group name (lower case letters, digits and _, e.g. blood_routine)"
                )
        bands = [band.through_day for band in self.windows]
        for before, after in zip(bands, bands[1:], strict=False):
            if after <= before:
                raise ValueError(f"windows: through_day must ascend: {after} follows {before}")
        for name, group in self.groups.items():
            late = [day for day in group.days if day > bands[-1]]
            if late:
                raise ValueError(
                    f"groups.{name}.days: day {late[0]} is after the last window band (through_day "
                    f"{bands[-1]}); add a band that covers it"
                )
        return self

    def window(self, day: int) -> tuple[int, int]:
        """First and last study day (inclusive) whose results satisfy the visit of study day ``day``."""
        width = next(band.days for band in self.windows if day <= band.through_day)
        return day - width, day + width

    def due_at(self, day: int, day0: date, tz: tzinfo) -> datetime:
        """The moment a visit is overdue: the end of its window's last local day plus the grace period."""
        last = day0 + timedelta(days=self.window(day)[1] + 1 + self.grace_days)
        return datetime.combine(last, time(0), tzinfo=tz)

    def problems(self, known_tests: frozenset[str] | set[str]) -> list[str]:
        """Each test a group names that is neither graded nor a known vital sign, located (``schedule.groups...``).

        A misspelt test would otherwise be expected forever and raise DATA_OVERDUE at every visit."""
        from safety.rules.protocol import did_you_mean

        known = {*known_tests, *UNGRADED_VITALS}
        return [
            f"schedule.groups.{name}.tests[{i}]: {test!r} is not a test code of the criteria or of "
            f"rules/units.yaml{did_you_mean(test, known)}"
            for name, group in self.groups.items()
            for i, test in enumerate(group.tests)
            if test not in known
        ]


@dataclass(frozen=True, slots=True)
class GroupIndex:
    """One test group as the heartbeat reads it for every observation: its name, visit days, each visit's window
    (first and last study day) and how many tests complete a visit."""

    name: str
    days: tuple[int, ...]
    windows: tuple[tuple[int, int], ...]
    size: int


@dataclass(frozen=True, slots=True)
class ScheduleIndex:
    """What the heartbeat reads from a schedule for every observation, gathered at load (``RuleSet.expected``): the
    groups that expect each test, each with its visit windows."""

    groups_of: Mapping[str, tuple[GroupIndex, ...]]

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleIndex:
        indexed = {
            name: GroupIndex(
                name, tuple(group.days), tuple(schedule.window(day) for day in group.days), len(group.tests)
            )
            for name, group in schedule.groups.items()
        }
        groups_of: dict[str, list[GroupIndex]] = {}
        for name, group in schedule.groups.items():
            for test in group.tests:
                groups_of.setdefault(test, []).append(indexed[name])
        return cls({test: tuple(groups) for test, groups in groups_of.items()})


DEFAULT_SCHEDULE: Final = Schedule(
    grace_days=2,
    silence_limit_hours=24,
    windows=[WindowBand(through_day=28, days=1), WindowBand(through_day=365, days=7)],
    groups={
        "blood_routine": TestGroup(
            tests=["NEUT", "PLAT", "HGB", "WBC"], days=[1, 3, 7, 14, 21, 28, 60, 90, 180, 270, 365]
        ),
        "biochemistry": TestGroup(
            tests=["ALT", "AST", "BILI", "CREAT", "K", "SODIUM", "ALB"], days=[1, 7, 28, 90, 180, 365]
        ),
        "coagulation": TestGroup(tests=["INR", "APTT", "FIBRINO"], days=[1, 7, 28]),
        "ecg": TestGroup(tests=["QTCF"], days=[1, 28, 365]),
        "vital_signs": TestGroup(tests=["TEMP", "SYSBP", "PULSE", "OXYSAT"], days=[0, 1, 7, 28]),
    },
)
"""The default of the first study, in study days after the first infusion: blood routine on days 1, 3, 7, 14, 21,
28, 60, 90, 180, 270 and 365; biochemistry on 1, 7, 28, 90, 180, 365; coagulation on 1, 7, 28; ECG on 1, 28, 365;
vital signs on 0, 1, 7, 28. Windows +-1 day up to day 28, +-7 days after it; grace 2 days; silence limit 24 h."""
