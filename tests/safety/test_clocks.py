"""Clocks (docs/rules.md, "Deadlines and clocks"): from recorded_at, written with the study's UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime

from safety.clocks import ack_deadline, clock_name, ethics_deadline, report_due_at


def test_sae_due_24_hours_after_recorded_at_in_study_offset(ruleset) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 7, 4, 20, 30, tzinfo=UTC)
    due = report_due_at("SAE", "SAE-SERIOUS", start, ruleset.protocol, ruleset.tz)
    assert due is not None and due.isoformat() == "2026-07-06T04:30:00+08:00"


def test_susar_7_and_15_days(ruleset) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 7, 4, 9, 0, tzinfo=ruleset.tz)
    fatal = report_due_at("SUSAR", "SUSAR-7D", start, ruleset.protocol, ruleset.tz)
    other = report_due_at("SUSAR", "SUSAR-15D", start, ruleset.protocol, ruleset.tz)
    assert fatal is not None and other is not None
    assert ((fatal - start).days, (other - start).days) == (7, 15)
    assert clock_name("SUSAR", "SUSAR-7D") == "SUSAR_FATAL" and clock_name("DLT", "DLT-1") == "DLT"


def test_escalation_deadlines(ruleset) -> None:  # type: ignore[no-untyped-def]
    raised = datetime(2026, 7, 4, 9, 0, tzinfo=ruleset.tz)
    assert ack_deadline(raised, ruleset.protocol, ruleset.tz).hour == 11
    assert ethics_deadline(raised, ruleset.protocol, ruleset.tz).hour == 5


def test_kind_without_a_clock_has_no_due_time(ruleset) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 7, 4, 9, 0, tzinfo=ruleset.tz)
    assert report_due_at("DELIVERY_FAILED", "X", start, ruleset.protocol, ruleset.tz) is None
