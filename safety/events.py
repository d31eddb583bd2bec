"""Input events of the contract (shared/contract/events.md), one pydantic model per ``type``.

Events are tolerant readers (``extra="ignore"``: producers may add fields) and frozen. A timestamp without a UTC
offset is read in the study's time zone, passed as validation context ``{"tz": ZoneInfo(...)}`` by the parser.
"""

from __future__ import annotations

from datetime import datetime
from math import isfinite
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, ValidationInfo, field_validator

from safety.values import Measured, parse_measured

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

Seriousness = Literal[
    "death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "medically_important"
]
Causality = Literal["related", "probable", "possible", "unlikely", "unrelated", "unassessable"]


def _aware(value: datetime, info: ValidationInfo) -> datetime:
    if value.tzinfo is None:
        tz = (info.context or {}).get("tz", DEFAULT_TZ)
        return value.replace(tzinfo=tz)
    return value


def _plain_number(raw: Any) -> float | None:
    """A finite JSON number as float, else None (the caller then reads it with ``parse_measured``, which
    accepts comparator strings and names what was expected). The common case of every observation, without the
    general parser's calls."""
    kind = type(raw)
    if kind is float or kind is int:
        number = float(raw)
        if isfinite(number):
            return number
    return None


class EventBase(BaseModel):
    """The common envelope of every input event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    revision: Annotated[int, Field(ge=1)] = 1
    study_id: Annotated[str, Field(min_length=1, max_length=100)]
    subject_id: Annotated[str, Field(min_length=1, max_length=100)]
    occurred_at: datetime
    recorded_at: datetime | None = None
    source: str | None = None

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _in_study_time_zone(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None or value.tzinfo is not None:  # the usual case, answered without a call (every event)
            return value
        return _aware(value, info)

    @property
    def clock_start(self) -> datetime:
        """When reporting clocks start: ``recorded_at``, else ``occurred_at`` (replay's default, contract)."""
        return self.recorded_at or self.occurred_at


class Enrollment(EventBase):
    type: Literal["enrollment"]
    sex: Literal["F", "M"] | None = None
    age: Annotated[int, Field(ge=0, le=130)] | None = None
    severity: Literal["NSAA", "SAA", "VSAA"] | None = None


class Infusion(EventBase):
    type: Literal["infusion"]
    infusion_number: Annotated[int, Field(ge=1)] = 1
    dose_per_kg: Annotated[float, Field(gt=0)] | None = None
    lot: str | None = None


class _Observation(EventBase):
    """A numeric observation (lab, vital, ECG); ``value`` may carry a comparator ("<0.1")."""

    test: Annotated[str, Field(min_length=1, max_length=40)]
    value: Annotated[Measured, SkipValidation]  # built by _measured below; re-validating it costs per event
    unit: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _measured(cls, raw: Any) -> Measured:
        number = _plain_number(raw)
        if number is not None:
            return Measured(number)
        if isinstance(raw, Measured):
            return raw
        if isinstance(raw, (list, tuple)) and len(raw) == 2:  # a Measured round-tripped through JSON
            return Measured(float(raw[0]), raw[1])
        return parse_measured(raw)


class Lab(_Observation):
    type: Literal["lab"]
    ref_low: float | None = None
    ref_high: float | None = None
    status: Literal["final", "corrected", "preliminary", "cancelled"] = "final"
    loinc: str | None = None

    @field_validator("ref_low", "ref_high", mode="before")
    @classmethod
    def _limit(cls, raw: Any) -> float | None:
        if raw is None or raw == "":
            return None
        number = _plain_number(raw)
        return number if number is not None else parse_measured(raw).number


class Vital(_Observation):
    type: Literal["vital"]


class Ecg(_Observation):
    type: Literal["ecg"]
    test: Literal["QTCF", "QTCB"]
    unit: str | None = "ms"


class AdverseEvent(EventBase):
    type: Literal["adverse_event"]
    term: Annotated[str, Field(min_length=1, max_length=500)]
    ctcae_term: str | None = None
    meddra_code: str | None = None
    grade: Annotated[int, Field(ge=1, le=5)]
    serious: list[Seriousness] = Field(default_factory=list)
    causality: Causality | None = None
    expected: bool | None = None
    outcome: str | None = None
    ended_at: datetime | None = None

    @field_validator("ended_at")
    @classmethod
    def _ended_in_study_time_zone(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return None if value is None else _aware(value, info)


class Transfusion(EventBase):
    type: Literal["transfusion"]
    product: Literal["RBC", "PLT", "PLASMA"]
    units: Annotated[float, Field(gt=0)] = 1


class Death(EventBase):
    type: Literal["death"]
    cause: str | None = None
    causality: Causality | None = None
    expected: bool = False


class EndOfStudy(EventBase):
    type: Literal["end_of_study"]
    reason: Literal["completed", "withdrawn", "lost_to_follow_up", "death"]


Observation = Lab | Vital | Ecg
Event = Annotated[
    Enrollment | Infusion | Lab | Vital | Ecg | AdverseEvent | Transfusion | Death | EndOfStudy,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[str, ...] = (
    "enrollment", "infusion", "lab", "vital", "ecg", "adverse_event", "transfusion", "death", "end_of_study",
)
