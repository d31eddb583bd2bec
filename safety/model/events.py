"""Input events of the contract (README, "Input handling"), one pydantic model per ``type``.

Events are tolerant readers (``extra="ignore"``: producers may add fields) and frozen. A timestamp without a UTC
offset is read in the study's time zone, passed as validation context ``{"tz": ZoneInfo(...)}`` by the parser.
Beyond the types, every field is held to the bounds of ``safety/model/bounds.py`` (finite plausible numbers, ISO
timestamps in 2000-2100, printable identifiers, bounded strings), so an absurd value is rejected, never graded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    SkipValidation,
    ValidationInfo,
    field_validator,
)
from pydantic_core import CoreSchema, core_schema

from safety.model.bounds import (
    EARLIEST,
    END,
    ISO_START_PATTERN,
    MAX_CODE_CHARS,
    MAX_EVENT_ID_CHARS,
    MAX_ID_CHARS,
    MAX_INFUSIONS,
    MAX_NUMBER,
    MAX_REVISION,
    MAX_TEXT_CHARS,
    PRINTABLE_PATTERN,
    TIMESTAMP_RULE,
    quantity,
    shown,
)
from safety.model.values import COMPARATORS, Measured, fmt, parse_measured
from safety.vocab import Causality, Seriousness

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


EventId = Annotated[str, Field(min_length=1, max_length=MAX_EVENT_ID_CHARS, pattern=PRINTABLE_PATTERN)]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=PRINTABLE_PATTERN)]
"""An identifier is printable (parsing.py names the offending character): a byte order mark or a bidirectional
control would make a phantom subject or event that looks like a real one."""
Code = Annotated[str, Field(max_length=MAX_CODE_CHARS)]
"""A short code (test, unit, source...): an unknown one is stored and not graded, so only its length is bounded."""
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class _IsoText:
    """A timestamp in JSON must be text starting with an ISO date: pydantic would read a number (or a string of
    digits) as seconds since 1970. Checked by pydantic-core ahead of its datetime parser (a Python validator
    there costs a microsecond per field and event); code (tests, reports.py) passes datetimes or text."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        parse = handler(source)
        iso_text = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=ISO_START_PATTERN),
            "timestamp",
            custom_error_message=f"expected {TIMESTAMP_RULE}",
        )
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema([iso_text, parse]), python_schema=parse
        )


Timestamp = Annotated[datetime, Field(ge=EARLIEST, lt=END), _IsoText]
TIMESTAMP_FIELDS = frozenset({"occurred_at", "recorded_at", "ended_at"})
"""The fields of type ``Timestamp`` (parsing.py words their range errors)."""
Amount = Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)]
_MEASURED_COMPARATORS: frozenset[str | None] = frozenset({None, *(c for c in COMPARATORS if c != "=")})
"""What the second item of a Measured written as JSON (``[0.1, "<"]``) may be."""


def _aware(value: datetime, info: ValidationInfo) -> datetime:
    if value.tzinfo is None:
        tz = (info.context or {}).get("tz", DEFAULT_TZ)
        return value.replace(tzinfo=tz)
    return value


def _plain_number(raw: Any) -> float | None:
    """A JSON number within the bounds (0..MAX_NUMBER) as float, else None (the caller then reads it with
    ``parse_measured``, which accepts comparator strings and names what was expected). The common case of every
    observation, without the general parser's calls; a huge integer compares without conversion, NaN fails."""
    kind = type(raw)
    if (kind is float or kind is int) and 0 <= raw <= MAX_NUMBER:
        return float(raw)
    return None


class EventBase(BaseModel):
    """The common envelope of every input event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: EventId
    revision: Annotated[int, Field(ge=1, le=MAX_REVISION)] = 1
    study_id: Identifier
    subject_id: Identifier
    occurred_at: Timestamp
    recorded_at: Timestamp | None = None
    source: Code | None = None

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
    infusion_number: Annotated[int, Field(ge=1, le=MAX_INFUSIONS)] = 1
    dose_per_kg: Amount | None = None
    lot: Code | None = None


class _Observation(EventBase):
    """A numeric observation (lab, vital, ECG); ``value`` may carry a comparator ("<0.1")."""

    test: Annotated[Code, Field(min_length=1)]
    value: Annotated[Measured, SkipValidation]  # built by _measured below; re-validating it costs per event
    unit: Code | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _measured(cls, raw: Any) -> Measured:
        number = _plain_number(raw)
        if number is not None:
            return Measured(number)
        if type(raw) is int or type(raw) is float:
            quantity(raw, raw)  # raises: outside the bounds
        if (
            isinstance(raw, (list, tuple))
            and len(raw) == 2
            and (raw[1] is None or isinstance(raw[1], str))
            and raw[1] in _MEASURED_COMPARATORS
        ):
            measured = Measured(parse_measured(raw[0]).number, raw[1])  # a Measured round-tripped through JSON
        else:
            measured = parse_measured(raw)
        quantity(measured.number, raw)
        return measured


class Lab(_Observation):
    type: Literal["lab"]
    ref_low: float | None = None
    ref_high: float | None = None
    status: Literal["final", "corrected", "preliminary", "cancelled"] = "final"
    loinc: Code | None = None

    @field_validator("ref_low", "ref_high", mode="before")
    @classmethod
    def _limit(cls, raw: Any, info: ValidationInfo) -> float | None:
        if raw is None or raw == "":
            return None
        number = _plain_number(raw)
        if number is None:
            if type(raw) is int or type(raw) is float:
                quantity(raw, raw)  # raises: outside the bounds
            number = quantity(parse_measured(raw).number, raw)
        if info.field_name == "ref_high":
            low = info.data.get("ref_low")
            if low is not None and number < low:
                raise ValueError(f"expected a limit >= ref_low {fmt(low)}, got {shown(raw)}")
        return number


class Vital(_Observation):
    type: Literal["vital"]


class Ecg(_Observation):
    type: Literal["ecg"]
    test: Literal["QTCF", "QTCB"]
    unit: Code | None = "ms"


class AdverseEvent(EventBase):
    type: Literal["adverse_event"]
    term: Annotated[Text, Field(min_length=1)]
    ctcae_term: Text | None = None
    meddra_code: Code | None = None
    grade: Annotated[int, Field(ge=1, le=5)]
    serious: list[Seriousness] = Field(default_factory=list)
    causality: Causality | None = None
    expected: bool | None = None
    outcome: Text | None = None
    ended_at: Timestamp | None = None

    @field_validator("ended_at")
    @classmethod
    def _ended_in_study_time_zone(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return None if value is None else _aware(value, info)


class Transfusion(EventBase):
    type: Literal["transfusion"]
    product: Literal["RBC", "PLT", "PLASMA"]
    units: Amount = 1


class Death(EventBase):
    type: Literal["death"]
    cause: Text | None = None
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
    "enrollment",
    "infusion",
    "lab",
    "vital",
    "ecg",
    "adverse_event",
    "transfusion",
    "death",
    "end_of_study",
)
