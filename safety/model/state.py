"""Per-subject state: small, bounded and JSON-serialisable, because the stream keeps it in a faust Table.

It holds what grading and the rules need, never the whole history: day 0, the baseline candidates per test, the
revision seen per event id (duplicates and corrections), and the memories owned by grading (composite criteria),
by the detectors (episodes, pending confirmations, recent liver values) and by the heartbeat (expected data).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safety.grading.composite import CompositeMemory
from safety.model.events import Ecg, Lab, Vital
from safety.model.expectations import Expectations
from safety.model.memory import RuleMemory

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


_READING_FIELDS = frozenset(Reading.model_fields)
_new = object.__new__
_set = object.__setattr__


def reading_of(obs: Lab | Vital | Ecg) -> Reading:
    """A validated observation as a baseline candidate: what ``Reading.model_construct`` with every field gives,
    built directly (a quarter of the cost; one per pre-infusion observation). Only labs carry a range."""
    lab = obs if isinstance(obs, Lab) else None
    value = obs.value
    reading = _new(Reading)
    _set(reading, "__dict__", {
        "event_id": obs.event_id, "test": obs.test, "value": value.number, "comparator": value.comparator,
        "unit": obs.unit, "ref_low": lab.ref_low if lab else None, "ref_high": lab.ref_high if lab else None,
        "occurred_at": obs.occurred_at,
    })
    _set(reading, "__pydantic_fields_set__", set(_READING_FIELDS))
    _set(reading, "__pydantic_extra__", None)
    _set(reading, "__pydantic_private__", None)
    return reading


class SubjectState(BaseModel):
    """Everything the pure core remembers about one subject between events."""

    subject_id: str
    study_id: str
    first_infusion_at: datetime | None = None
    day0: date | None = None
    infusions: list[datetime] = Field(default_factory=list)
    seen: dict[str, str] = Field(default_factory=dict)  # event_id -> "revision:digest"
    pre_infusion: dict[str, list[Reading]] = Field(default_factory=dict)  # test -> latest readings, oldest first
    composite: CompositeMemory = Field(default_factory=CompositeMemory)
    rules: RuleMemory = Field(default_factory=RuleMemory)
    expected: Expectations = Field(default_factory=Expectations)
    ended: str | None = None
    last_applied: str | None = None  # "event_id@revision" of the last event applied (stream redelivery guard)

    def baseline(self, test: str) -> Reading | None:
        """Last value of ``test`` observed before the first infusion's ``occurred_at`` (protocol.md, Time)."""
        candidates = self.pre_infusion.get(test)
        if not candidates:
            return None
        if self.first_infusion_at is None:
            return None
        for reading in reversed(candidates):
            if reading.occurred_at < self.first_infusion_at:
                return reading
        return None

    def remember_pre_infusion(self, reading: Reading) -> None:
        """Keep the reading if it may be (or become) the baseline; bounded per test."""
        if self.first_infusion_at is not None and reading.occurred_at >= self.first_infusion_at:
            return
        readings = [r for r in self.pre_infusion.get(reading.test, []) if r.event_id != reading.event_id]
        readings.append(reading)
        readings.sort(key=lambda r: r.occurred_at)
        self.pre_infusion[reading.test] = readings[-BASELINE_CANDIDATES:]

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> SubjectState:
        if isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate_json(data)
