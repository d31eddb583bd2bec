"""Reporting clocks: when a report or review is due, counted from the triggering event's ``recorded_at``.

docs/rules.md, "Deadlines and clocks": ``report_due_at`` = ``recorded_at`` + 24 h (SAE), + 7 x 24 h or
+ 15 x 24 h (SUSAR), written in ISO 8601 with the study's UTC offset. Missing ``recorded_at``: the caller passes
the event's ``clock_start`` (replay: ``occurred_at``; the stream: the Kafka record timestamp). The lengths are
data (``rules/studies/*.yaml``, ``clocks``), never code.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safety.rules.protocol import Protocol

SUSAR_FATAL_CLOCK = "SUSAR_FATAL"
"""Clock name of a SUSAR with death or life-threatening seriousness (7 days instead of 15)."""


def in_study_time(moment: datetime, tz: tzinfo) -> datetime:
    """The same instant, written with the study's UTC offset (alerts are read by the site, in its time)."""
    return moment.astimezone(tz)


def due_at(start: datetime, hours: float, tz: tzinfo) -> datetime:
    """``start`` + ``hours`` in the study's time zone; calendar days are 24 h each (regulatory clocks)."""
    return (start + timedelta(hours=hours)).astimezone(tz)


def clock_name(kind: str, rule_id: str) -> str:
    """Which protocol clock applies to an alert: the kind's own, except a fatal/life-threatening SUSAR."""
    if kind == "SUSAR" and rule_id == "SUSAR-7D":
        return SUSAR_FATAL_CLOCK
    return kind


def report_due_at(kind: str, rule_id: str, start: datetime, protocol: Protocol, tz: tzinfo) -> datetime | None:
    """The deadline of an alert, or None when the study file defines no clock for it."""
    clock = protocol.clocks.get(clock_name(kind, rule_id))
    if clock is None:
        return None
    return due_at(start, clock.hours, tz)


def ack_deadline(raised_at: datetime, protocol: Protocol, tz: tzinfo) -> datetime:
    """When an unacknowledged SAE/SUSAR/DLT is re-sent to the PI and the safety officer (docs/rules.md, "Delivery
    and escalation")."""
    return due_at(raised_at, protocol.escalation.ack_within_hours, tz)


def ethics_deadline(report_due: datetime, protocol: Protocol, tz: tzinfo) -> datetime:
    """When an SAE/SUSAR whose ethics report is not marked submitted is escalated (due time minus the margin)."""
    return due_at(report_due, -protocol.escalation.ethics_margin_hours, tz)
