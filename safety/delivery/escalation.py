"""Which open alerts must be escalated now (docs/rules.md, "Delivery and escalation"; pure, the clock is an input).

- UNACKNOWLEDGED: an alert of ``policy.unacknowledged_kinds`` (SAE, SUSAR, DLT) with no acknowledgement
  ``policy.ack_within_hours`` (2 h) after it reached the delivery stage (``opened_at``: the clock starts when a
  person could first have seen it, so replaying old data does not escalate what nobody was sent yet).
- ETHICS_REPORT_DUE: an alert of ``policy.ethics_report_kinds`` (SAE, SUSAR) whose ethics report is not marked
  submitted ``policy.ethics_margin_hours`` (4 h) before ``report_due_at``.
- REPORT_OVERDUE: the same, once ``report_due_at`` has passed. It supersedes ETHICS_REPORT_DUE when both become
  due in one sweep; ``overdue_reports`` keeps flagging the alert (dashboard, gauge) until it is submitted.

Each escalation is sent once (the ledger remembers it); all go to ``policy.resend_to`` (PI + safety officer).
A withdrawn alert is never escalated.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from safety.delivery.ledger import LedgerEntry
from safety.rules.protocol import Escalation as EscalationPolicy

EscalationReason = Literal["UNACKNOWLEDGED", "ETHICS_REPORT_DUE", "REPORT_OVERDUE"]


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert_id: str
    kind: str
    reason: EscalationReason
    due_at: datetime
    recipients: tuple[str, ...]

    @property
    def message(self) -> str:
        """The ledger's message name for this escalation (one delivery per message and channel)."""
        return f"escalation:{self.reason}"


def _already(entry: LedgerEntry, reason: str) -> bool:
    return any(e.reason == reason for e in entry.escalations)


def due_escalations(ledger_entries: Iterable[LedgerEntry], now: datetime, policy: EscalationPolicy) -> list[Escalation]:
    """Escalations whose time has come and that were not sent before, in ledger order."""
    out: list[Escalation] = []
    recipients = tuple(policy.resend_to)
    for entry in ledger_entries:
        alert = entry.alert
        if entry.withdrawn_by is not None:
            continue
        kind = str(alert.kind)
        if kind in policy.unacknowledged_kinds and not entry.acknowledged:
            due = entry.opened_at + timedelta(hours=policy.ack_within_hours)
            if now >= due and not _already(entry, "UNACKNOWLEDGED"):
                out.append(
                    Escalation(
                        alert_id=alert.alert_id,
                        kind=kind,
                        reason="UNACKNOWLEDGED",
                        due_at=due,
                        recipients=recipients,
                    )
                )
        if kind in policy.ethics_report_kinds and alert.report_due_at is not None and not entry.report_submitted:
            if now >= alert.report_due_at:
                if not _already(entry, "REPORT_OVERDUE"):
                    out.append(
                        Escalation(
                            alert_id=alert.alert_id,
                            kind=kind,
                            reason="REPORT_OVERDUE",
                            due_at=alert.report_due_at,
                            recipients=recipients,
                        )
                    )
            else:
                due = alert.report_due_at - timedelta(hours=policy.ethics_margin_hours)
                if now >= due and not _already(entry, "ETHICS_REPORT_DUE"):
                    out.append(
                        Escalation(
                            alert_id=alert.alert_id,
                            kind=kind,
                            reason="ETHICS_REPORT_DUE",
                            due_at=due,
                            recipients=recipients,
                        )
                    )
    return out


def overdue_reports(
    ledger_entries: Iterable[LedgerEntry], now: datetime, policy: EscalationPolicy
) -> list[LedgerEntry]:
    """Alerts whose ethics report is past due and not submitted: flagged on every sweep until closed."""
    return [
        e
        for e in ledger_entries
        if e.withdrawn_by is None
        and str(e.alert.kind) in policy.ethics_report_kinds
        and e.alert.report_due_at is not None
        and not e.report_submitted
        and now >= e.alert.report_due_at
    ]


def open_alerts(ledger_entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Alerts not yet acknowledged and not withdrawn (the safety_open_alerts gauge)."""
    return [
        e
        for e in ledger_entries
        if e.withdrawn_by is None
        and not e.acknowledged
        and str(e.alert.kind) not in ("ALERT_WITHDRAWN", "DELIVERY_FAILED")
    ]
