"""What happened to each alert since it was raised: acknowledged, submitted to the ethics committee, withdrawn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from safety.model.outputs import Alert
from safety.reports.inputs import AckRecord


class AlertStatus(BaseModel):
    """An alert with what happened to it since: acknowledgement, ethics submission, withdrawal."""

    model_config = ConfigDict(frozen=True)

    alert: Alert
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    conclusion: str | None = None
    submitted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None

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


def alert_statuses(alerts: Sequence[Alert], acks: Sequence[AckRecord]) -> list[AlertStatus]:
    """Every alert except the ALERT_WITHDRAWN records themselves, in input order, with its later history."""
    withdrawals = {a.withdraws: a for a in alerts if a.kind == "ALERT_WITHDRAWN" and a.withdraws}
    first_ack: dict[str, AckRecord] = {}
    first_sub: dict[str, AckRecord] = {}
    for ack in sorted(acks, key=lambda r: r.at):
        target = first_ack if ack.action == "acknowledged" else first_sub
        target.setdefault(ack.alert_id, ack)
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
                withdrawn_at=wd.raised_at if wd else None,
                withdrawn_reason=wd.reason if wd else None,
            )
        )
    return out


__all__ = [
    "AlertStatus",
    "alert_statuses",
]
