"""The report inputs read from contract JSON or models, tolerantly: one revision per event, one copy per alert.

Replay files and the stream's dashboard view hold raw JSON objects; the reports validate them here, skip what
is not valid, and keep the latest revision (a correction supersedes) so every view counts each event once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from safety.model.events import DEFAULT_TZ, Event
from safety.model.outputs import Alert, GradedObservation, read_graded_row

_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


class AckRecord(BaseModel):
    """An acknowledgement or ethics-submission command event (topic safety.acks, acks.jsonl), read tolerantly.

    Accepted spellings: ``action`` or ``type`` or ``kind`` in {ack, acknowledge, acknowledged} for an
    acknowledgement, {ethics_submitted, submitted, submission} for the ethics report; the time in ``at``,
    ``acknowledged_at``, ``submitted_at`` or ``recorded_at``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    alert_id: str
    action: Literal["acknowledged", "ethics_submitted"]
    at: datetime
    by: str | None = None
    role: str | None = None
    conclusion: str | None = None
    causality: str | None = None
    reference: str | None = None  # the ethics committee's reference number of a submitted report
    document: str | None = None  # the document version submitted (``<case_id>/v<n>``), when it was one of ours

    @classmethod
    def read(cls, raw: Mapping[str, Any] | AckRecord) -> AckRecord | None:
        if isinstance(raw, AckRecord):
            return raw
        word = str(raw.get("action") or raw.get("type") or raw.get("kind") or "").lower()
        if word in ("ack", "acknowledge", "acknowledged", "acknowledgement", "alert_acknowledged"):
            action = "acknowledged"
        elif word in ("ethics_submitted", "submitted", "submission", "ethics_submission", "report_submitted"):
            action = "ethics_submitted"
        else:
            return None
        at = raw.get("at") or raw.get("acknowledged_at") or raw.get("submitted_at") or raw.get("recorded_at")
        try:
            return cls.model_validate(
                {**raw, "action": action, "at": at, "by": raw.get("by") or raw.get("who") or raw.get("role")}
            )
        except ValidationError:
            return None


def read_events(raw: Iterable[Mapping[str, Any] | BaseModel], tz: tzinfo = DEFAULT_TZ) -> list[Any]:
    """Events as models, latest revision per ``event_id`` (a correction supersedes); bad rows skipped."""
    latest: dict[str, Any] = {}
    order: list[str] = []
    for item in raw:
        if isinstance(item, BaseModel):
            event: Any = item
        else:
            try:
                event = _EVENTS.validate_python(dict(item), context={"tz": tz})
            except ValidationError:
                continue
        known = latest.get(event.event_id)
        if known is None:
            order.append(event.event_id)
        if known is None or event.revision >= known.revision:
            latest[event.event_id] = event
    return [latest[i] for i in order]


def read_graded(raw: Iterable[Mapping[str, Any] | GradedObservation]) -> list[GradedObservation]:
    """Graded rows (validated when read from JSON), latest revision per (event_id, CTCAE term)."""
    latest: dict[tuple[str, str], GradedObservation] = {}
    for item in raw:
        row = read_graded_row(item)
        key = (row.event_id, row.ctcae_term)
        if key not in latest or row.revision >= latest[key].revision:
            latest[key] = row
    return list(latest.values())


def read_alerts(raw: Iterable[Mapping[str, Any] | Alert]) -> list[Alert]:
    """Alerts as models, first occurrence of each alert_id (a redelivered alert is the same alert)."""
    seen: dict[str, Alert] = {}
    for item in raw:
        alert = item if isinstance(item, Alert) else Alert.model_validate(item)
        seen.setdefault(alert.alert_id, alert)
    return list(seen.values())


def read_acks(raw: Iterable[Mapping[str, Any] | AckRecord]) -> list[AckRecord]:
    return [a for a in (AckRecord.read(r) for r in raw) if a is not None]


__all__ = [
    "AckRecord",
    "read_acks",
    "read_alerts",
    "read_events",
    "read_graded",
]
