"""The PI's attribution of a suspected DLT, as the ``adverse_event`` that takes it back through the rules.

docs/rules.md, "The PI's attribution": a ``SUSPECTED_DLT`` asks the PI for a causality. The
answer is recorded with the acknowledgement in the delivery ledger, and is also an event of the contract, so the
same rules that judge a site's AE judge it: a causality in the related set makes a non-hematologic grade >= 3 inside
the window a DLT-2 (which the stopping rule counts); ``unlikely`` or ``unrelated`` raises nothing, and the
acknowledgement closes the suspicion. Being an input event, it is in the event log and replay gives the stream's
result.

Identity (docs/rules.md, "The PI's attribution"): ``event_id`` is derived from the alert's id, and the n-th
attribution of an alert is revision n of that event. The ledger records each acknowledgement once (by ``ack_id``),
so the same attribution always yields the same (event_id, revision) and the same content: produced twice after a
crash it is a plain duplicate, which the rules ignore.
"""

from __future__ import annotations

from typing import Any

from safety.delivery.ledger import Ack, LedgerEntry
from safety.model.outputs import Alert
from safety.vocab import AlertKind

SOURCE = "attribution"
ATTRIBUTING_ROLES = ("pi",)
"""Causality is the investigator's judgement: another role's causality is recorded with its acknowledgement only."""


def attribution_event_id(alert_id: str) -> str:
    return f"ATTR-{alert_id}"


def onset(alert: Alert) -> str | None:
    """The triggering observation's ``occurred_at`` as the detector wrote it into the basis (observation or AE)."""
    basis = alert.basis or {}
    value = basis.get("observed_at") or basis.get("onset")
    return value if isinstance(value, str) else None


def is_attribution(alert: Alert, ack: Ack) -> bool:
    """An acknowledgement of a suspected DLT by the PI that states a causality."""
    return alert.kind == AlertKind.SUSPECTED_DLT and ack.role in ATTRIBUTING_ROLES and ack.causality is not None


def attribution_event(alert: Alert, ack: Ack, revision: int) -> dict[str, Any] | None:
    """The ``adverse_event`` of one attribution (revision ``revision`` of the alert's attribution event).

    None when the alert has no CTCAE term, grade or onset to carry (an alert written before its detector recorded
    the onset): an event without them could only be rejected.
    """
    start = onset(alert)
    if not is_attribution(alert, ack) or start is None or alert.ctcae_term is None or alert.grade is None:
        return None
    return {
        "type": "adverse_event",
        "event_id": attribution_event_id(alert.alert_id),
        "revision": revision,
        "study_id": alert.study_id,
        "subject_id": alert.subject_id,
        "occurred_at": start,
        "recorded_at": ack.at.isoformat(),
        "source": SOURCE,
        "term": alert.ctcae_term,
        "ctcae_term": alert.ctcae_term,
        "grade": alert.grade,
        "serious": list(ack.serious),
        "causality": ack.causality,
        "attribution_of": alert.alert_id,
        "who": ack.who,
    }


def new_attributions(before: LedgerEntry | None, after: LedgerEntry) -> list[dict[str, Any]]:
    """The attribution events of acknowledgements ``after`` holds and ``before`` did not, in ledger order.

    An attribution's revision is its place among the entry's attributions (1 for the first), so a later one
    supersedes the earlier one in the rules, and re-deriving it from the same ledger gives the same event.
    """
    known = {a.ack_id for a in before.acks} if before is not None else set()
    events: list[dict[str, Any]] = []
    revision = 0
    for ack in after.acks:
        if not is_attribution(after.alert, ack):
            continue
        revision += 1
        if ack.ack_id in known:
            continue
        event = attribution_event(after.alert, ack, revision)
        if event is not None:
            events.append(event)
    return events
