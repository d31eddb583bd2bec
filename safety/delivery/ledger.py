"""Delivery ledger: what was sent to whom, how often, with what outcome, and who acknowledged (pure, no I/O).

docs/rules.md, "Delivery and escalation": every alert reaches each of its recipients' channels, is retried with
back-off, and stays open until acknowledged. Acknowledgements are attributable and records are never overwritten
(the audit expectations of ICH E6(R3) and 21 CFR Part 11), so acks, ethics submissions and escalations are
appended, never replaced. The shell (streams/worker/delivery.py) persists a ``LedgerEntry`` per alert (faust table
+ compacted topic ``safety.deliveries``, or ``ledger.jsonl`` in replay) and asks this module what to do next; time
is always an argument, never read here.

One delivery exists per (message, channel): ``message`` is ``"alert"`` for the alert itself and
``"escalation:<REASON>"`` for an escalation, ``channel`` is the stable id of one configured URL. A redelivered
alert finds its entry and sends nothing new.

A delivery is done only when confirmed (README, "Alert delivery"). For the kinds in ``RetryPolicy.owed_kinds``
(SAE, SUSAR, DLT, STOPPING_BOUNDARY) a delivery is never given up: past the retry window it stays ``pending``
(owed) and is retried every ``max_delay_seconds``, and the safety officer is told once (DELIVERY_FAILED) over a
channel that does not share the failed channel's ``route`` (its server), so an SMTP outage cannot swallow its
own failure notice. Other kinds are reported and retried the same way, but given up (``failed``) once they have
been owed for ``give_up_after_hours`` (72 h: the PI's attribution window of a suspected DLT).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from safety.model.outputs import Alert, alert_id
from safety.vocab import AlertKind, Seriousness

DeliveryState = Literal["pending", "delivered", "failed"]
ALERT_MESSAGE = "alert"
OWED_KINDS = ("SAE", "SUSAR", "DLT", "STOPPING_BOUNDARY")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Target(_Frozen):
    """One configured destination: ``channel`` is a stable id of the URL (never the URL, which holds
    secrets); ``route`` a stable id of the server it goes through (several channels can share one SMTP
    server, and then one outage), the channel itself when not given."""

    channel: str
    recipient: str
    scheme: str
    route: str | None = None

    @property
    def via(self) -> str:
        return self.route or self.channel


class RetryPolicy(_Frozen):
    """Exponential back-off with deterministic jitter (tests stay stable; replay gives the same schedule).

    ``max_attempts`` is the retry window: past it a delivery is reported to the safety officer and retried every
    ``max_delay_seconds``: until delivered for the kinds in ``owed_kinds``, for at most ``give_up_after_hours``
    (since it was queued) for the others.
    """

    max_attempts: int = Field(default=5, ge=1)
    base_seconds: float = Field(default=60.0, gt=0)
    factor: float = Field(default=2.0, ge=1)
    max_delay_seconds: float = Field(default=3600.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, lt=1)
    owed_kinds: tuple[str, ...] = OWED_KINDS
    give_up_after_hours: float = Field(default=72.0, gt=0)


class Attempt(_Frozen):
    number: int
    at: datetime
    outcome: Literal["delivered", "failed"]
    error: str | None = None


class Delivery(_Frozen):
    message: str
    channel: str
    recipient: str
    scheme: str
    route: str | None = None
    state: DeliveryState = "pending"
    attempts: tuple[Attempt, ...] = ()
    next_attempt_at: datetime | None = None
    queued_at: datetime | None = None

    @property
    def key(self) -> str:
        return delivery_key(self.message, self.channel)

    @property
    def via(self) -> str:
        return self.route or self.channel


class Ack(_Frozen):
    """An attributable acknowledgement (who, role, when, what they concluded, from where).

    ``on_behalf_of`` is ``"team"`` when the safety officer acknowledges an alert that was not sent to them
    (docs/rules.md, "Who may acknowledge"); ``follow_up`` marks every acknowledgement after the first.
    """

    ack_id: str
    who: str
    role: str
    at: datetime
    conclusion: str
    causality: str | None = None
    serious: tuple[Seriousness, ...] = ()  # the seriousness criteria the PI states with an attribution
    remote: str | None = None
    via: Literal["token", "link", "cli"] = "token"
    on_behalf_of: str | None = None
    follow_up: bool = False


class EthicsSubmission(_Frozen):
    """The ethics committee report for an SAE/SUSAR was marked submitted (closes its reporting clock);
    ``document`` names the version the service produced that was submitted (``<case_id>/v<n>``)."""

    ack_id: str
    who: str
    role: str
    at: datetime
    reference: str | None = None
    document: str | None = None
    remote: str | None = None
    via: Literal["token", "link", "cli"] = "token"


class EscalationRecord(_Frozen):
    reason: str
    at: datetime


class LedgerEntry(_Frozen):
    """Everything the delivery stage knows about one alert; replaced as a whole, its lists only ever grow."""

    alert: Alert
    opened_at: datetime
    deliveries: tuple[Delivery, ...] = ()
    acks: tuple[Ack, ...] = ()
    ethics_submissions: tuple[EthicsSubmission, ...] = ()
    escalations: tuple[EscalationRecord, ...] = ()
    failures_reported: tuple[str, ...] = ()
    withdrawn_by: str | None = None

    @property
    def alert_id(self) -> str:
        return self.alert.alert_id

    @property
    def acknowledged(self) -> bool:
        return bool(self.acks)

    @property
    def report_submitted(self) -> bool:
        return bool(self.ethics_submissions)

    def delivery(self, message: str, channel: str) -> Delivery | None:
        key = delivery_key(message, channel)
        return next((d for d in self.deliveries if d.key == key), None)


def delivery_key(message: str, channel: str) -> str:
    return f"{message}|{channel}"


def open_entry(alert: Alert, targets: list[Target], now: datetime) -> LedgerEntry:
    """A new entry with one pending delivery per target whose recipient tag is among the alert's
    recipients (a DELIVERY_FAILED notice avoids the failed route: ``notice_targets``)."""
    entry = LedgerEntry(alert=alert, opened_at=now)
    chosen = [t for t in targets if t.recipient in alert.recipients]
    if alert.kind == AlertKind.DELIVERY_FAILED:
        chosen = notice_targets(chosen, str((alert.basis or {}).get("failed_route") or ""))
    return add_message(entry, ALERT_MESSAGE, chosen, now)


def notice_targets(targets: list[Target], failed_route: str) -> list[Target]:
    """The targets of a failure notice: those not going through the route that failed; all of them only if
    every one does (then the notice waits for that route like the message it reports)."""
    other = [t for t in targets if t.via != failed_route]
    return other or targets


def add_message(entry: LedgerEntry, message: str, targets: list[Target], now: datetime) -> LedgerEntry:
    """Queue ``message`` for each target once; a (message, channel) already in the ledger is left alone."""
    known = {d.key for d in entry.deliveries}
    new = tuple(
        Delivery(
            message=message,
            channel=t.channel,
            recipient=t.recipient,
            scheme=t.scheme,
            route=t.route,
            next_attempt_at=now,
            queued_at=now,
        )
        for t in targets
        if delivery_key(message, t.channel) not in known
    )
    return entry.model_copy(update={"deliveries": entry.deliveries + new}) if new else entry


def due_deliveries(entry: LedgerEntry, now: datetime) -> list[Delivery]:
    """Pending deliveries whose next attempt time has come (first sends and retries alike)."""
    return [
        d for d in entry.deliveries if d.state == "pending" and (d.next_attempt_at is None or d.next_attempt_at <= now)
    ]


def retry_delay(policy: RetryPolicy, failed_attempts: int, seed: str) -> timedelta:
    """Delay before attempt ``failed_attempts + 1``: base x factor^(n-1), capped, +/- jitter from a hash of
    seed."""
    raw = min(policy.base_seconds * policy.factor ** (failed_attempts - 1), policy.max_delay_seconds)
    digest = hashlib.sha256(f"{seed}#{failed_attempts}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64  # [0, 1)
    return timedelta(seconds=raw * (1 + policy.jitter * (2 * unit - 1)))


def record_attempt(
    entry: LedgerEntry,
    message: str,
    channel: str,
    *,
    delivered: bool,
    error: str | None,
    now: datetime,
    policy: RetryPolicy,
) -> tuple[LedgerEntry, Delivery]:
    """Append one attempt; schedule the next one with back-off (capped at ``policy.max_delay_seconds``).

    Past ``policy.max_attempts`` a delivery of an owed kind stays pending and keeps being retried; any other
    gives up (``failed``) once it has been owed for ``policy.give_up_after_hours``."""
    current = entry.delivery(message, channel)
    if current is None:
        raise KeyError(f"no delivery {delivery_key(message, channel)!r} for alert {entry.alert_id}")
    attempt = Attempt(
        number=len(current.attempts) + 1,
        at=now,
        outcome="delivered" if delivered else "failed",
        error=None if delivered else (error or "unknown error")[:500],
    )
    attempts = current.attempts + (attempt,)
    if delivered:
        update: dict[str, object] = {"state": "delivered", "next_attempt_at": None}
    elif (
        attempt.number >= policy.max_attempts
        and str(entry.alert.kind) not in policy.owed_kinds
        and now - owed_since(entry, current) >= timedelta(hours=policy.give_up_after_hours)
    ):
        update = {"state": "failed", "next_attempt_at": None}
    else:
        seed = f"{entry.alert_id}|{current.key}"
        update = {"next_attempt_at": now + retry_delay(policy, attempt.number, seed)}
    updated = current.model_copy(update={"attempts": attempts, **update})
    deliveries = tuple(updated if d.key == current.key else d for d in entry.deliveries)
    return entry.model_copy(update={"deliveries": deliveries}), updated


def past_retry_window(delivery: Delivery, policy: RetryPolicy) -> bool:
    """Undelivered after ``policy.max_attempts`` attempts: given up, or still owed and retried."""
    return delivery.state == "failed" or (delivery.state == "pending" and len(delivery.attempts) >= policy.max_attempts)


def needs_failure_report(entry: LedgerEntry, delivery: Delivery, policy: RetryPolicy) -> bool:
    """A delivery past its retry window raises DELIVERY_FAILED once; never for a DELIVERY_FAILED alert (no
    loops)."""
    return (
        past_retry_window(delivery, policy)
        and entry.alert.kind != AlertKind.DELIVERY_FAILED
        and delivery.key not in entry.failures_reported
    )


def owed_deliveries(entries: Iterable[LedgerEntry]) -> list[tuple[LedgerEntry, Delivery]]:
    """Every delivery not yet confirmed and not given up (the safety_deliveries_owed gauge)."""
    return [(e, d) for e in entries for d in e.deliveries if d.state == "pending"]


class Tally(NamedTuple):
    """Where every (alert, recipient) delivery stands; ``owed`` is the part of ``pending`` that belongs to an
    owed kind (SAE, SUSAR, DLT, STOPPING_BOUNDARY): a run that ends with it non-zero has not finished."""

    delivered: int
    failed: int
    pending: int
    owed: int

    @property
    def final(self) -> bool:
        return self.pending == 0


def tally(entries: Iterable[LedgerEntry], owed_kinds: Iterable[str] = OWED_KINDS) -> Tally:
    """Count deliveries by state; a recipient of an alert with no delivery at all counts as pending."""
    owed_set = set(owed_kinds)
    delivered = failed = pending = owed = 0
    for entry in entries:
        states = [d.state for d in entry.deliveries]
        covered = {d.recipient for d in entry.deliveries if d.message == ALERT_MESSAGE}
        states += ["pending"] * len(set(entry.alert.recipients) - covered)
        delivered += states.count("delivered")
        failed += states.count("failed")
        pending += states.count("pending")
        if str(entry.alert.kind) in owed_set:
            owed += states.count("pending")
    return Tally(delivered, failed, pending, owed)


def owed_since(entry: LedgerEntry, delivery: Delivery) -> datetime:
    """When a delivery became owed: queued (older ledger lines: the first attempt, else the entry's opening)."""
    if delivery.queued_at is not None:
        return delivery.queued_at
    return delivery.attempts[0].at if delivery.attempts else entry.opened_at


def delivery_failed_alert(entry: LedgerEntry, delivery: Delivery, now: datetime) -> Alert:
    """DELIVERY_FAILED to the safety officer: which alert, recipient and channel type, never the URL or error
    text (an SMTP error can quote an address). ``failed_route`` (a hash) steers the notice to another route;
    ``still_owed`` says whether the message is still being retried."""
    original = entry.alert
    return Alert(
        alert_id=alert_id(
            AlertKind.DELIVERY_FAILED,
            "DELIVERY-FAILED",
            original.subject_id,
            [original.alert_id],
            delivery.key,
        ),
        kind=AlertKind.DELIVERY_FAILED,
        rule_id="DELIVERY-FAILED",
        study_id=original.study_id,
        subject_id=original.subject_id,
        study_day=original.study_day,
        ctcae_term=original.ctcae_term,
        grade=original.grade,
        event_ids=[original.alert_id],
        recipients=["safety_officer"],
        raised_at=now,
        report_due_at=original.report_due_at,
        rules_version=original.rules_version,
        basis={
            "failed_alert": original.alert_id,
            "failed_kind": str(original.kind),
            "failed_recipient": delivery.recipient,
            "failed_channel": delivery.scheme,
            "failed_message": delivery.message,
            "failed_route": delivery.via,
            "still_owed": delivery.state == "pending",
            "attempts": len(delivery.attempts),
        },
    )


def mark_failure_reported(entry: LedgerEntry, key: str) -> LedgerEntry:
    if key in entry.failures_reported:
        return entry
    return entry.model_copy(update={"failures_reported": entry.failures_reported + (key,)})


TEAM_ROLE: Final = "safety_officer"
ETHICS_REPORT_KINDS: Final = (AlertKind.SAE, AlertKind.SUSAR)
ETHICS_SUBMITTERS: Final = ("pi", "ethics")


def ack_refusal(alert: Alert, role: str) -> str | None:
    """Why ``role`` may not acknowledge ``alert``, or None when it may (docs/rules.md, "Who may acknowledge").

    A person holding one of the roles the alert was sent to (its ``recipients``) acknowledges it; the safety
    officer may acknowledge any alert on behalf of the team (``acting_for``). So the ethics committee cannot
    close a DLT that only the PI receives, and stop its escalation.
    """
    if role in alert.recipients or role == TEAM_ROLE:
        return None
    return (
        f"role {role} did not receive this {alert.kind} alert; it is acknowledged by "
        f"{', '.join(alert.recipients)} (or by the safety officer for the team)"
    )


def acting_for(alert: Alert, role: str) -> str | None:
    """``"team"`` when the safety officer acknowledges an alert not sent to them, else None."""
    return "team" if role == TEAM_ROLE and role not in alert.recipients else None


def submission_refusal(alert: Alert, role: str) -> str | None:
    """Why ``role`` may not mark ``alert``'s ethics report submitted, or None when it may.

    Only SAE and SUSAR alerts have an ethics committee report; the PI submits it and the committee receives
    it, so only those two roles mark it (docs/rules.md, "Who may acknowledge").
    """
    if alert.kind not in ETHICS_REPORT_KINDS:
        return f"only SAE and SUSAR alerts have an ethics committee report; this alert is a {alert.kind}"
    if role not in ETHICS_SUBMITTERS:
        return f"role {role} may not mark an ethics report submitted; allowed: {', '.join(ETHICS_SUBMITTERS)}"
    return None


def record_ack(entry: LedgerEntry, ack: Ack) -> LedgerEntry:
    """Append an acknowledgement; the same ack redelivered (same ack_id) changes nothing.

    The first acknowledgement closes the alert; every later one is kept as a follow-up entry and never
    reopens or replaces the first (docs/rules.md, "Who may acknowledge"). Whether the role may acknowledge at
    all is ``ack_refusal``'s question, asked by the shell before it records.
    """
    if any(a.ack_id == ack.ack_id for a in entry.acks):
        return entry
    if entry.acks and not ack.follow_up:
        ack = ack.model_copy(update={"follow_up": True})
    return entry.model_copy(update={"acks": entry.acks + (ack,)})


def record_ethics_submission(entry: LedgerEntry, submission: EthicsSubmission) -> LedgerEntry:
    if any(s.ack_id == submission.ack_id for s in entry.ethics_submissions):
        return entry
    return entry.model_copy(update={"ethics_submissions": entry.ethics_submissions + (submission,)})


def record_escalation(entry: LedgerEntry, reason: str, now: datetime) -> LedgerEntry:
    if any(e.reason == reason for e in entry.escalations):
        return entry
    return entry.model_copy(update={"escalations": entry.escalations + (EscalationRecord(reason=reason, at=now),)})


def withdraw(entry: LedgerEntry, by_alert_id: str) -> LedgerEntry:
    """An ALERT_WITHDRAWN record closes the alert's clocks (the entry and its history stay)."""
    if entry.withdrawn_by is not None:
        return entry
    return entry.model_copy(update={"withdrawn_by": by_alert_id})
