"""What happened to each alert since it was raised: acknowledged, submitted to the ethics committee, withdrawn.

An ethics report is owed for an SAE or SUSAR (``REPORTED_KINDS``) by its ``report_due_at``. Acknowledging the
alert does not close that clock, only the submission does: an acknowledged SAE whose report is past due is still
overdue, and a report submitted after its due time stays marked late.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from safety.model.outputs import Alert
from safety.reports.inputs import AckRecord

REPORTED_KINDS = ("SAE", "SUSAR")  # the alerts with an ethics committee report (docs/rules.md, "Who may acknowledge")


class AlertStatus(BaseModel):
    """An alert with what happened to it since: acknowledgements, ethics submission, withdrawal.

    ``records`` holds every acknowledgement and submission in time order (follow-ups too); the other fields
    are the first of each, which decide the state.
    """

    model_config = ConfigDict(frozen=True)

    alert: Alert
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    conclusion: str | None = None
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    reference: str | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None
    withdrawn_by: str | None = None  # the alert_id of the ALERT_WITHDRAWN record
    records: tuple[AckRecord, ...] = ()

    @property
    def state(self) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "open"

    @property
    def updated(self) -> datetime:
        """Latest change, for the Atom entry's <updated> (raised, acknowledged, submitted or withdrawn)."""
        times = [self.alert.raised_at, self.acknowledged_at, self.submitted_at, self.withdrawn_at]
        return max(t for t in times if t is not None)

    @property
    def reported(self) -> bool:
        """An ethics report is owed for this alert (an SAE or SUSAR with a due time that was not withdrawn)."""
        return self.alert.kind in REPORTED_KINDS and self.alert.report_due_at is not None and self.state != "withdrawn"

    def overdue(self, now: datetime) -> bool:
        """Its ethics report is past due and not submitted, whether or not the alert was acknowledged."""
        due = self.alert.report_due_at
        return self.reported and self.submitted_at is None and due is not None and now > due

    @property
    def late(self) -> bool:
        """Its ethics report was submitted after the due time."""
        due = self.alert.report_due_at
        return self.reported and self.submitted_at is not None and due is not None and self.submitted_at > due

    def to_act(self, now: datetime) -> list[str]:
        """Who must act now, and what they must do (empty when nothing is owed)."""
        if self.state == "withdrawn":
            return []
        owed = []
        if self.state == "open":
            owed.append(f"{', '.join(self.alert.recipients)}: acknowledge")
        if self.reported and self.submitted_at is None:
            late = " (overdue)" if self.overdue(now) else ""
            owed.append(f"pi: submit the ethics committee report{late}")
        return owed


def alert_statuses(alerts: Sequence[Alert], acks: Sequence[AckRecord]) -> list[AlertStatus]:
    """Every alert except the ALERT_WITHDRAWN records themselves, in input order, with its later history."""
    withdrawals = {a.withdraws: a for a in alerts if a.kind == "ALERT_WITHDRAWN" and a.withdraws}
    first_ack: dict[str, AckRecord] = {}
    first_sub: dict[str, AckRecord] = {}
    records: dict[str, list[AckRecord]] = {}
    for ack in sorted(acks, key=lambda r: r.at):
        target = first_ack if ack.action == "acknowledged" else first_sub
        target.setdefault(ack.alert_id, ack)
        records.setdefault(ack.alert_id, []).append(ack)
    out = []
    for alert in alerts:
        if alert.kind == "ALERT_WITHDRAWN":
            continue
        acked = first_ack.get(alert.alert_id)
        sub = first_sub.get(alert.alert_id)
        wd = withdrawals.get(alert.alert_id)
        out.append(
            AlertStatus(
                alert=alert,
                acknowledged_at=acked.at if acked else None,
                acknowledged_by=acked.by if acked else None,
                conclusion=acked.conclusion if acked else None,
                submitted_at=sub.at if sub else None,
                submitted_by=sub.by if sub else None,
                reference=sub.reference if sub else None,
                withdrawn_at=wd.raised_at if wd else None,
                withdrawn_reason=wd.reason if wd else None,
                withdrawn_by=wd.alert_id if wd else None,
                records=tuple(records.get(alert.alert_id, ())),
            )
        )
    return out


__all__ = [
    "REPORTED_KINDS",
    "AlertStatus",
    "alert_statuses",
]
