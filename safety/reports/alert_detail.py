"""One alert's page: why it fired (its basis and the values that triggered it), and everything that happened since.

The basis is the alert's own ``basis`` (the detector's words and numbers); the triggering values are the
events it names (``event_ids``) with their graded rows: value, unit, limits, grade and the criterion that
graded it. What happened since comes from the acknowledgement records (``AlertStatus.records``) and, when the
pages can read it, the delivery ledger entry (deliveries per channel with every attempt, escalations).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.coding import outcome as coded_outcome
from safety.delivery.ledger import LedgerEntry
from safety.model.events import AdverseEvent, Death
from safety.model.outputs import GradedObservation
from safety.reports.status import AlertStatus


class Trigger(BaseModel):
    """An event the alert names, with what the pages may show of it: coded values only, so an AE's or a death's
    free text (verbatim term, cause) never; its grade, seriousness, causality and coded outcome instead."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    type: str
    occurred_at: datetime | None
    test: str | None = None
    value: str | None = None
    unit: str | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    graded: tuple[GradedObservation, ...] = ()


class AlertDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: AlertStatus
    basis: tuple[tuple[str, Any], ...]
    triggers: tuple[Trigger, ...]
    ledger: LedgerEntry | None = None


def _trigger(event_id: str, events: dict[str, Any], graded: Sequence[GradedObservation]) -> Trigger:
    event = events.get(event_id)
    rows = tuple(g for g in graded if g.event_id == event_id)
    if event is None:
        return Trigger(event_id=event_id, type="not in the pages' data", occurred_at=None, graded=rows)
    if isinstance(event, AdverseEvent | Death):
        facts = [f"grade {event.grade}" if isinstance(event, AdverseEvent) else "death"]
        facts += list(event.serious) if isinstance(event, AdverseEvent) else []
        facts += [f"causality {event.causality}"] if event.causality else []
        if isinstance(event, AdverseEvent) and coded_outcome(event.outcome):
            facts.append(f"outcome {coded_outcome(event.outcome)}")
        return Trigger(
            event_id=event_id, type=str(event.type), occurred_at=event.occurred_at, value=", ".join(facts), graded=rows
        )
    value = getattr(event, "value", None)
    return Trigger(
        event_id=event_id,
        type=str(event.type),
        occurred_at=event.occurred_at,
        test=getattr(event, "test", None),
        value=None if value is None else str(value),
        unit=getattr(event, "unit", None),
        ref_low=getattr(event, "ref_low", None),
        ref_high=getattr(event, "ref_high", None),
        graded=rows,
    )


def alert_detail(
    status: AlertStatus,
    events: Sequence[Any],
    graded: Sequence[GradedObservation],
    ledger: LedgerEntry | None = None,
) -> AlertDetail:
    """The page's model; ``events`` and ``graded`` as the pages hold them (free text already withheld)."""
    by_id = {e.event_id: e for e in events}
    basis = tuple((str(k), v) for k, v in (status.alert.basis or {}).items())
    return AlertDetail(
        status=status,
        basis=basis,
        triggers=tuple(_trigger(i, by_id, graded) for i in status.alert.event_ids),
        ledger=ledger,
    )


__all__ = ["AlertDetail", "Trigger", "alert_detail"]
