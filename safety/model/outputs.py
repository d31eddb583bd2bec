"""Output records of the contract: graded observations, alerts, withdrawals and rejections.

Field order is the JSON order, so replay output is byte-stable. ``alert_id`` is derived from content (kind, rule,
subject, triggering event ids and revision-independent identity), so a replay or a redelivery never duplicates it.

A graded row is the record written most often (one per observation and term), so it is a plain slotted dataclass:
grading, which alone makes rows, builds it from values it has already checked, and one pydantic adapter
(:data:`GRADED_ROWS`) serialises it and validates rows read back from JSON (reports), where the input is not ours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

from safety.vocab import AlertKind, Category, ObservationType, Role


@dataclass(slots=True, kw_only=True)
class GradedObservation:
    """One row per observation and CTCAE criterion (contract: graded.jsonl / safety.graded).

    A value: nothing changes a row once made (a row that replaces another is a new one, ``dataclasses.replace``).
    Not declared frozen because a frozen dataclass sets each of its twenty fields through ``object.__setattr__``,
    which made building a row five times slower than the row's own ``__init__`` (bench/replay_bench.py).
    """

    event_id: str
    revision: int = 1
    study_id: str
    subject_id: str
    event_type: ObservationType
    test: str
    occurred_at: datetime
    study_day: int | None
    ctcae_version: str
    ctcae_term: str
    grade: int | None
    baseline_grade: int | None
    treatment_emergent: bool
    category: Category
    criterion: str | None
    value: float | None
    unit: str | None
    uln: float | None = None
    lln: float | None = None
    basis: str


GRADED_ROWS: Final = TypeAdapter(GradedObservation)
"""Serialises graded rows (``dump_json``, the bytes of graded.jsonl and safety.graded) and validates rows read
back (``validate_python``, ``validate_json``: every field typed and required, as the contract says)."""


def graded_json(row: GradedObservation) -> bytes:
    """One graded row as a JSON object (no newline), as graded.jsonl and the safety.graded topic carry it.

    The adapter's serializer itself: ``dump_json`` without options is the same call behind a layer of keyword
    handling that costs a fifth of a row's serialisation.
    """
    return GRADED_ROWS.serializer.to_json(row)


def read_graded_row(data: Mapping[str, Any] | GradedObservation) -> GradedObservation:
    """A graded row read back from its JSON object (validated), or a row as grading made it."""
    return data if isinstance(data, GradedObservation) else GRADED_ROWS.validate_python(data)


class Alert(BaseModel):
    """An alert (contract: alerts.jsonl / safety.alerts); ALERT_WITHDRAWN records reuse it with ``withdraws``."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    kind: AlertKind
    rule_id: str
    study_id: str
    subject_id: str
    study_day: int | None = None  # None before the subject's day 0 exists (a screening SAE): to_json omits it
    ctcae_term: str | None = None
    grade: int | None = None
    event_ids: list[str]
    recipients: list[Role]
    raised_at: datetime
    report_due_at: datetime | None = None
    rules_version: str
    also_matched: list[str] | None = None
    basis: dict[str, Any] | None = None
    withdraws: str | None = None
    reason: str | None = None
    emitted_at: datetime | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class Rejection(BaseModel):
    """Input that could not be used, with a reason a person can act on (dead letter / rejected.jsonl)."""

    model_config = ConfigDict(frozen=True)

    reason: str
    raw: str
    line: int | None = None
    event_id: str | None = None
    subject_id: str | None = None
    kind: Literal["invalid", "conflicting_duplicate", "ungradable", "uncoded_term"] = "invalid"


def alert_id(kind: str, rule_id: str, subject_id: str, event_ids: list[str] | tuple[str, ...], *extra: str) -> str:
    """Content-derived id: the same trigger always gives the same id (replay == stream, redelivery-safe)."""
    text = "|".join([kind, rule_id, subject_id, *sorted(event_ids), *extra])
    return hashlib.sha256(text.encode()).hexdigest()[:24]
