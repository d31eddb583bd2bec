"""safety.delivery.escalation with an injected clock (docs/rules.md, "Delivery and escalation")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from delivery_fixtures import RAISED, make_alert

from safety.delivery.escalation import due_escalations, open_alerts, overdue_reports
from safety.delivery.ledger import (
    Ack,
    EthicsSubmission,
    open_entry,
    record_ack,
    record_escalation,
    record_ethics_submission,
)
from safety.rules.protocol import Escalation

POLICY = Escalation()  # protocol defaults: SAE/SUSAR/DLT 2 h, SAE/SUSAR 4 h before due, to PI + safety officer
OPENED = RAISED  # the alert reached the delivery stage when it was raised


def entry(kind: str = "SAE"):  # type: ignore[no-untyped-def]
    return open_entry(make_alert(kind), [], OPENED)


def ack(e):  # type: ignore[no-untyped-def]
    return record_ack(
        e,
        Ack(ack_id="k", who="Dr Test", role="pi", at=OPENED + timedelta(minutes=30), conclusion="assessing"),
    )


@pytest.mark.parametrize("kind", ["SAE", "SUSAR", "DLT"])
def test_unacknowledged_for_2_hours_is_escalated_to_pi_and_safety_officer(kind: str) -> None:
    e = entry(kind)
    assert due_escalations([e], OPENED + timedelta(hours=1, minutes=59), POLICY) == []
    (esc,) = due_escalations([e], OPENED + timedelta(hours=2), POLICY)
    assert esc.reason == "UNACKNOWLEDGED" and esc.recipients == ("pi", "safety_officer")
    assert esc.message == "escalation:UNACKNOWLEDGED"


@pytest.mark.parametrize("kind", ["SUSPECTED_DLT", "POTENTIAL_SAE", "HYS_LAW"])
def test_other_kinds_are_not_escalated_for_missing_acknowledgement(kind: str) -> None:
    assert due_escalations([entry(kind)], OPENED + timedelta(days=3), POLICY) == []


def test_acknowledged_in_time_nothing_is_escalated() -> None:
    e = record_ethics_submission(
        ack(entry("SAE")),
        EthicsSubmission(ack_id="s", who="Dr Test", role="pi", at=OPENED + timedelta(hours=3)),
    )
    for hours in (2, 20, 24, 100):
        assert due_escalations([e], OPENED + timedelta(hours=hours), POLICY) == []


def test_ethics_report_not_submitted_4_hours_before_due_is_escalated() -> None:
    e = ack(entry("SAE"))  # due = raised + 24 h
    assert due_escalations([e], OPENED + timedelta(hours=19, minutes=59), POLICY) == []
    (esc,) = due_escalations([e], OPENED + timedelta(hours=20), POLICY)
    assert esc.reason == "ETHICS_REPORT_DUE" and esc.due_at == OPENED + timedelta(hours=20)


def test_each_escalation_is_sent_once() -> None:
    e = ack(entry("SAE"))
    now = OPENED + timedelta(hours=21)
    e = record_escalation(e, "ETHICS_REPORT_DUE", now)
    assert due_escalations([e], now + timedelta(hours=1), POLICY) == []


def test_overdue_report_is_escalated_once_and_flagged_until_submitted() -> None:
    e = record_escalation(ack(entry("SAE")), "ETHICS_REPORT_DUE", OPENED + timedelta(hours=20))
    later = OPENED + timedelta(hours=25)
    (esc,) = due_escalations([e], later, POLICY)
    assert esc.reason == "REPORT_OVERDUE"
    e = record_escalation(e, "REPORT_OVERDUE", later)
    assert due_escalations([e], later + timedelta(days=2), POLICY) == []
    assert overdue_reports([e], later + timedelta(days=2), POLICY) == [e]
    closed = record_ethics_submission(e, EthicsSubmission(ack_id="s", who="Dr Test", role="ethics", at=later))
    assert overdue_reports([closed], later + timedelta(days=2), POLICY) == []


def test_a_first_sweep_after_the_due_time_sends_only_the_overdue_escalation() -> None:
    reasons = {x.reason for x in due_escalations([ack(entry("SAE"))], OPENED + timedelta(hours=30), POLICY)}
    assert reasons == {"REPORT_OVERDUE"}


def test_a_withdrawn_alert_is_never_escalated_and_not_open() -> None:
    e = entry("SAE").model_copy(update={"withdrawn_by": "f" * 24})
    assert due_escalations([e], OPENED + timedelta(days=30), POLICY) == []
    assert open_alerts([e]) == [] and open_alerts([entry("SAE")]) != []


def test_times_come_from_the_protocol_policy() -> None:
    strict = Escalation(ack_within_hours=0.5, ethics_margin_hours=12, resend_to=["safety_officer"])
    (esc,) = due_escalations([entry("DLT")], OPENED + timedelta(minutes=30), strict)
    assert esc.recipients == ("safety_officer",)
    (esc,) = due_escalations([ack(entry("SAE"))], OPENED + timedelta(hours=12), strict)
    assert esc.reason == "ETHICS_REPORT_DUE"
