"""Output records of the contract: graded observations, alerts, withdrawals and rejections.

Field order is the JSON order, so replay output is byte-stable. ``alert_id`` is derived from content (kind, rule,
subject, triggering event ids and revision-independent identity), so a replay or a redelivery never duplicates it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from safety.vocab import AlertKind, Category, ObservationType, Role


class GradedObservation(BaseModel):
    """One row per observation and CTCAE criterion (contract: graded.jsonl / safety.graded)."""

    model_config = ConfigDict(frozen=True)

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
