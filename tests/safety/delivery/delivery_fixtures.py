"""Hand-written alerts for the delivery tests (pseudonymous subject codes only, no contacts)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from safety.model.outputs import Alert, alert_id

CST = timezone(timedelta(hours=8))
RAISED = datetime(2026, 8, 1, 10, 0, tzinfo=CST)


def make_alert(kind: str = "SAE", subject: str = "AA-001", event: str = "AE-7", **extra: Any) -> Alert:
    due = {"SAE": RAISED + timedelta(hours=24), "SUSAR": RAISED + timedelta(days=15)}.get(kind)
    data: dict[str, Any] = {
        "alert_id": alert_id(kind, f"{kind}-RULE", subject, [event]),
        "kind": kind,
        "rule_id": f"{kind}-RULE",
        "study_id": "ChiCTR2600125907",
        "subject_id": subject,
        "study_day": 14,
        "ctcae_term": "Infusion related reaction",
        "grade": 3,
        "event_ids": [event],
        "recipients": ["pi", "ethics"] if kind in ("SAE", "SUSAR", "STOPPING_BOUNDARY") else ["pi"],
        "raised_at": RAISED,
        "report_due_at": due,
        "rules_version": "test",
        "basis": {"serious": ["hospitalization"], "causality": "possible", "expected": False},
    }
    data.update(extra)
    return Alert.model_validate(data)
