"""Per-subject state: small, bounded and JSON-serialisable, because the stream keeps it in a faust Table.

It holds what grading and the rules need, never the whole history: day 0, the baseline candidates per test, how many
events it applied, and the memories owned by grading (composite criteria), by the detectors (episodes, pending
confirmations, recent liver values) and by the heartbeat (expected data). The revision applied per event id
(duplicates and corrections) is kept beside it by the caller, one entry per event (:func:`safety.pipeline.step`):
in the state it grew with every event, and the stream wrote it all to the changelog on every batch.
Beside them, not serialised (``derived``), each test's baseline as grading reads it (:mod:`safety.grading.baseline`),
derived by the methods that change what it depends on: change the candidates and the infusions through them, not
by assigning the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from safety.grading.baseline import SubjectBaseline, derive
from safety.grading.composite import CompositeMemory
from safety.model.events import Ecg, Lab, Vital
from safety.model.expectations import Expectations
from safety.model.memory import RuleMemory
from safety.rules.ctcae import Criteria

BASELINE_CANDIDATES = 4  # values kept per test while day 0 is unknown (late infusion records)


class Reading(BaseModel):
    """A lab/vital/ECG value as reported (not converted): enough to grade it again as a baseline."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    test: str
    value: float
    comparator: str | None = None
    unit: str | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    occurred_at: datetime


def reading_of(obs: Lab | Vital | Ecg) -> Reading:
    """A validated observation as a baseline candidate (only labs carry a range)."""
    lab = obs if isinstance(obs, Lab) else None
    return Reading(
        event_id=obs.event_id,
        test=obs.test,
        value=obs.value.number,
        comparator=obs.value.comparator,
        unit=obs.unit,
        ref_low=lab.ref_low if lab else None,
        ref_high=lab.ref_high if lab else None,
        occurred_at=obs.occurred_at,
    )


@dataclass(frozen=True, slots=True)
class DerivedBaselines:
    """The baselines of a state and the rules they were derived with."""

    criteria: Criteria
    baselines: Mapping[str, SubjectBaseline]


class SubjectState(BaseModel):
    """Everything the pure core remembers about one subject between events."""

    subject_id: str
    study_id: str
    first_infusion_at: datetime | None = None
    day0: date | None = None
    infusions: list[datetime] = Field(default_factory=list)
    applied: int = 0  # events applied; the stream trusts a duplicate-memory entry written at most this far
    pre_infusion: dict[str, list[Reading]] = Field(default_factory=dict)  # test -> latest readings, oldest first
    composite: CompositeMemory = Field(default_factory=CompositeMemory)
    rules: RuleMemory = Field(default_factory=RuleMemory)
    expected: Expectations = Field(default_factory=Expectations)
    ended: str | None = None
    # Not serialised: a function of the fields above and the rules. A field rather than a private attribute because
    # grading reads it for every observation, and pydantic finds a private attribute through a __getattr__ fallback
    # that cost about a tenth of grading (bench/replay_bench.py --profile).
    derived: InstanceOf[DerivedBaselines] | None = Field(default=None, exclude=True, repr=False)

    def baseline(self, test: str) -> Reading | None:
        """Last value of ``test`` observed before the first infusion's ``occurred_at`` (docs/rules.md, "Baseline
        and treatment-emergent")."""
        candidates = self.pre_infusion.get(test)
        if not candidates:
            return None
        if self.first_infusion_at is None:
            return None
        for reading in reversed(candidates):
            if reading.occurred_at < self.first_infusion_at:
                return reading
        return None

    def remember_pre_infusion(self, reading: Reading, criteria: Criteria) -> None:
        """Keep the reading if it may be (or become) the baseline; bounded per test."""
        if self.first_infusion_at is not None and reading.occurred_at >= self.first_infusion_at:
            return
        readings = [r for r in self.pre_infusion.get(reading.test, []) if r.event_id != reading.event_id]
        readings.append(reading)
        readings.sort(key=lambda r: r.occurred_at)
        self.pre_infusion[reading.test] = readings[-BASELINE_CANDIDATES:]
        if self.first_infusion_at is not None:  # before it, no reading is a baseline yet
            self._derive(criteria, (reading.test,))

    def record_infusion(self, at: datetime, tz: tzinfo, criteria: Criteria) -> bool:
        """An infusion: the first one defines day 0 (a late record of an earlier one moves it back), and only
        readings before it stay baseline candidates. True for the subject's first infusion record."""
        was = self.first_infusion_at
        if at not in self.infusions:
            self.infusions.append(at)
            self.infusions.sort()
        first = self.infusions[0]
        if first == was:
            return False  # a later infusion: day 0 and the baselines stand
        self.first_infusion_at = first
        self.day0 = first.astimezone(tz).date()
        for test, readings in list(self.pre_infusion.items()):
            kept = [r for r in readings if r.occurred_at < first]
            if kept:
                self.pre_infusion[test] = kept
            else:
                del self.pre_infusion[test]
        self._derive(criteria, tuple({*self.baselines(criteria), *self.pre_infusion}))
        return was is None

    def albumin_recorded(self, at: datetime, criteria: Criteria) -> None:
        """An albumin drawn at ``at`` was remembered: a corrected calcium baseline of that draw is graded again."""
        baselines = self.baselines(criteria)
        tests = tuple(t for t in criteria.corrected_tests if t in baselines and baselines[t].occurred_at == at)
        if tests:
            self._derive(criteria, tests)

    def baselines(self, criteria: Criteria) -> Mapping[str, SubjectBaseline]:
        """Test -> its baseline, derived when the state changes (see :mod:`safety.grading.baseline`).

        Derived again in full for another rule set, and for a state read back from JSON (it is not stored: a
        function of the fields above and the rules).
        """
        derived = self.derived
        if derived is not None and derived.criteria is criteria:
            return derived.baselines
        self.derived = DerivedBaselines(criteria, {})
        self._derive(criteria, tuple(self.pre_infusion))
        return self.derived.baselines

    def _derive(self, criteria: Criteria, tests: tuple[str, ...]) -> None:
        derived = self.derived
        if derived is None or derived.criteria is not criteria:
            return  # derived in full on the next read
        baselines = {t: b for t, b in derived.baselines.items() if t not in tests}  # a new dict: copies share it
        for test in tests:
            table = criteria.tables.get(test)
            reading = self.baseline(test) if table is not None else None
            found = derive(reading, table, self.composite) if reading is not None and table else None
            if found is not None:
                baselines[test] = found
        self.derived = DerivedBaselines(criteria, baselines)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> SubjectState:
        if isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate_json(data)
