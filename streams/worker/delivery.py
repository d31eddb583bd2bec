"""Delivery stage: alert -> ledger -> render -> send per channel -> record; retries, escalations, acks.

The ``Dispatcher`` is shared by the worker (faust table ledger) and ``safety deliver`` (file ledger), so replay
and stream deliver the same way. It decides nothing itself: safety.delivery.ledger says what is due and records
outcomes, safety.delivery.escalation says what to escalate, safety.delivery.messages renders. Guarantees (README,
"Alert delivery"):
* one delivery per (message, channel); an alert seen again (restart, rebalance, replay) sends only what its
  ledger entry still has pending, so nothing is sent twice and nothing is lost;
* each outcome is written to the ledger as soon as that channel answers (a crash loses at most the in-flight
  sends, which are then re-sent: for a safety alert a possible duplicate beats a possible loss);
* a channel that still fails after the retry limit raises DELIVERY_FAILED to the safety officer, once, over
  another route than the failed one; an SAE/SUSAR/DLT/STOPPING_BOUNDARY message stays owed and is retried
  (capped back-off) until delivered; ``safety_deliveries_owed`` and ``..._oldest_seconds`` show what is owed;
* the PI's causality on a SUSPECTED_DLT acknowledgement is put on safety.events as an ``adverse_event``
  (safety/delivery/attribution.py), broker-acknowledged before the ledger records the acknowledgement, so the
  rules judge it (DLT-2, the stopping rule) and the event log holds it for replay;
* every send carries a delivery id derived from (alert, message, channel), the same on every re-send, as the
  ``X-Safety-Delivery-Id`` header (e-mail, webhooks) or ``delivery_id`` (local outbox), so a receiver can drop
  the duplicate a re-send after a crash or SIGTERM may cause.

Stopping (SIGTERM, rebalance): a send in flight is not recorded by the stopping worker; its delivery is still
``pending`` in the ledger's changelog, and the worker that takes the partition over finds it due in its next
sweep (``SAFETY_SWEEP_INTERVAL``) and sends it again with the same delivery id. faust's clean stop drops the
commands still buffered (uncommitted, they are read again after the restart) and waits until the ledger agent has
finished the command it holds: on SIGTERM (``stopping``, streams/worker/context.py) the dispatcher stops waiting
for sends in flight and starts none, so that command only opens or updates its entry, and the stop takes seconds.

Worker wiring (``register``): the ``delivery_router`` agent re-keys safety.alerts (keyed by subject) by alert_id
onto an internal command topic; the ``delivery_ledger`` agent, the only writer of the ``delivery_ledger`` table,
consumes that topic and safety.acks (both keyed by alert_id, so co-partitioned with the table); a timer finds
due retries and escalations and sends a ``sweep`` command for each (faust tables are written only inside stream
iteration). Every entry written is also published to the compacted topic safety.deliveries.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from safety.delivery.attribution import new_attributions
from safety.delivery.escalation import due_escalations, open_alerts, overdue_reports
from safety.delivery.ledger import (
    ALERT_MESSAGE,
    Ack,
    Delivery,
    EthicsSubmission,
    LedgerEntry,
    RetryPolicy,
    ack_refusal,
    acting_for,
    add_message,
    delivery_failed_alert,
    due_deliveries,
    mark_failure_reported,
    needs_failure_report,
    open_entry,
    owed_deliveries,
    owed_since,
    record_ack,
    record_attempt,
    record_escalation,
    record_ethics_submission,
    submission_refusal,
    withdraw,
)
from safety.delivery.messages import Message, render
from safety.model.outputs import Alert
from safety.rules.protocol import Escalation as EscalationPolicy
from safety.vocab import AlertKind
from streams.notify.channels import Notifier, SendResult
from streams.notify.recipients import Recipient, Recipients
from streams.web.auth import ack_link
from streams.worker.context import StopRequested, until_stopping

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerStore(Protocol):
    def get(self, alert_id: str) -> LedgerEntry | None: ...

    async def put(self, entry: LedgerEntry) -> None: ...

    def entries(self) -> Iterable[LedgerEntry]: ...

    def orphan_events(self, alert_id: str) -> list[dict[str, Any]]: ...

    async def put_orphan_event(self, alert_id: str, event: dict[str, Any]) -> None: ...


class MemoryLedger:
    """In-process ledger (tests)."""

    def __init__(self) -> None:
        self._entries: dict[str, LedgerEntry] = {}
        self._orphans: dict[str, list[dict[str, Any]]] = {}

    def get(self, alert_id: str) -> LedgerEntry | None:
        return self._entries.get(alert_id)

    async def put(self, entry: LedgerEntry) -> None:
        self._entries[entry.alert_id] = entry

    def entries(self) -> Iterable[LedgerEntry]:
        return list(self._entries.values())

    def orphan_events(self, alert_id: str) -> list[dict[str, Any]]:
        return list(self._orphans.get(alert_id, []))

    async def put_orphan_event(self, alert_id: str, event: dict[str, Any]) -> None:
        self._orphans.setdefault(alert_id, []).append(event)


class FileLedger(MemoryLedger):
    """``ledger.jsonl``: every new state of an entry appended and fsynced; the last line per alert wins on
    load.

    Append-only, so the file is itself the audit trail (earlier states are never overwritten).
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if record.get("type") == "orphan_event":
                        self._orphans.setdefault(record["alert_id"], []).append(record["event"])
                    else:
                        entry = LedgerEntry.model_validate(record["entry"])
                        self._entries[entry.alert_id] = entry
                except (ValueError, KeyError, TypeError) as exc:  # a torn last line after a crash
                    log.warning("%s:%d: unreadable ledger line skipped (%s)", self.path, number, exc)

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    async def put(self, entry: LedgerEntry) -> None:
        self._append({"type": "entry", "entry": entry.model_dump(mode="json")})
        await super().put(entry)

    async def put_orphan_event(self, alert_id: str, event: dict[str, Any]) -> None:
        self._append({"type": "orphan_event", "alert_id": alert_id, "event": event})
        await super().put_orphan_event(alert_id, event)


class LinkMaker:
    """Signed one-click acknowledgement links; absent secret or base URL -> no link in messages.

    ``recipients`` says whom the link of a (study, role, channel) acts for (streams/notify/recipients.py); without
    it a link names nobody and needs a sign-in."""

    def __init__(
        self,
        base_url: str | None,
        secret: str | None,
        ttl: timedelta,
        clock: Clock,
        recipients: Callable[[str, str, str], Recipient] | None = None,
    ) -> None:
        self.base_url, self.secret, self.ttl, self.clock = base_url, secret, ttl, clock
        self.recipients = recipients or (lambda study_id, role, channel: Recipient(None, personal=False))

    def __call__(self, alert: Alert, delivery: Delivery) -> str | None:
        if not self.base_url or not self.secret:
            return None
        expires = int((self.clock() + self.ttl).timestamp())
        to = self.recipients(alert.study_id, delivery.recipient, delivery.channel)
        return ack_link(
            self.base_url, self.secret, alert.alert_id, delivery.recipient, expires, to.person, not to.personal
        )


def delivery_id(alert_id: str, key: str) -> str:
    """The id of one (alert, message, channel) delivery: identical on every re-send, so receivers can dedupe."""
    return hashlib.sha256(f"{alert_id}|{key}".encode()).hexdigest()[:32]


def ack_event_id(event: dict[str, Any]) -> str:
    text = "|".join(str(event.get(k, "")) for k in ("type", "alert_id", "who", "role", "at"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Dispatcher:
    """Runs the delivery decisions against one ledger store and one notifier."""

    def __init__(
        self,
        notifier: Notifier,
        store: LedgerStore,
        *,
        escalation: EscalationPolicy,
        retry: RetryPolicy,
        time_zone: str,
        clock: Clock = utc_now,
        links: Callable[[Alert, Delivery], str | None] | None = None,
        emit_alert: Callable[[Alert], Awaitable[None]] | None = None,
        emit_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        metrics: Any = None,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.notifier, self.store = notifier, store
        self.escalation, self.retry, self.time_zone = escalation, retry, time_zone
        self.clock = clock
        self.links = links or (lambda alert, delivery: None)
        self.emit_alert = emit_alert or self.on_alert
        self.emit_event = emit_event
        self.metrics = metrics
        self.stopping = stopping  # once set, nothing is sent: what is due stays owed (module docstring)

    # --- inputs -------------------------------------------------------------------------------------------
    async def on_alert(self, alert: Alert) -> LedgerEntry:
        """A new alert opens its entry and is sent; a known one only resumes what is still pending."""
        entry = self.store.get(alert.alert_id)
        if entry is not None:
            for d in entry.deliveries:
                if d.message == ALERT_MESSAGE and d.state != "pending":
                    self._count(d, "skipped_duplicate")
            return await self._send_due(entry)
        now = self.clock()
        targets = self.notifier.targets_for(alert.study_id)  # the alert's own study's recipients only
        entry = open_entry(alert, targets, now)
        missing = sorted(set(alert.recipients) - {t.recipient for t in targets})
        if missing:
            log.error("alert %s: no channel for recipient(s) %s", alert.alert_id, ", ".join(missing))
        if alert.kind == AlertKind.ALERT_WITHDRAWN and alert.withdraws:
            target = self.store.get(alert.withdraws)
            if target is not None:
                await self.store.put(withdraw(target, alert.alert_id))
        for event in self.store.orphan_events(alert.alert_id):
            entry = self._apply_event(entry, event)
        await self._attribute(None, entry)
        await self.store.put(entry)
        return await self._send_due(entry)

    async def on_event(self, event: dict[str, Any]) -> LedgerEntry | None:
        """An ack or ethics-submitted event from safety.acks (kept even if its alert is not here yet)."""
        alert_id = str(event.get("alert_id", ""))
        entry = self.store.get(alert_id)
        if entry is None:
            await self.store.put_orphan_event(alert_id, event)
            return None
        updated = self._apply_event(entry, event)
        if updated is not entry:
            await self._attribute(entry, updated)
            await self.store.put(updated)
            if self.metrics is not None and event.get("type") == "ack" and not entry.acks:
                at = datetime.fromisoformat(event["at"])
                self.metrics.ack_seconds.observe(max(0.0, (at - entry.alert.raised_at).total_seconds()))
        return updated

    async def _attribute(self, before: LedgerEntry | None, after: LedgerEntry) -> None:
        """Put the PI's new attributions on the event stream before the ledger records them (safety/delivery/
        attribution.py): a crash in between re-sends the same (event_id, revision), a duplicate the rules ignore;
        the other order could record an attribution that never reaches the rules."""
        if self.emit_event is None:
            return
        for event in new_attributions(before, after):
            await self.emit_event(event)
            log.info(
                "alert %s: attribution %s (revision %d) sent to the rules as %s",
                after.alert_id,
                event["causality"],
                event["revision"],
                event["event_id"],
            )

    def _apply_event(self, entry: LedgerEntry, event: dict[str, Any]) -> LedgerEntry:
        """Append an ack or submission the role may make (the HTTP layer checked too; this is the last word)."""
        kind = event.get("type")
        role = str(event.get("role", ""))
        refusal = (
            ack_refusal(entry.alert, role)
            if kind == "ack"
            else submission_refusal(entry.alert, role)
            if kind == "ethics_submitted"
            else None
        )
        if refusal is not None:
            log.warning("alert %s: %s refused, not recorded: %s", entry.alert_id, kind, refusal)
            return entry
        fields = {k: event[k] for k in ("who", "role", "at", "remote", "via") if event.get(k) is not None}
        fields["ack_id"] = event.get("ack_id") or ack_event_id(event)
        if kind == "ack":
            return record_ack(
                entry,
                Ack(
                    conclusion=str(event.get("conclusion", "")),
                    causality=event.get("causality"),
                    serious=tuple(event.get("serious") or ()),
                    on_behalf_of=acting_for(entry.alert, role),
                    **fields,
                ),
            )
        if kind == "ethics_submitted":
            submission = EthicsSubmission(reference=event.get("reference"), document=event.get("document"), **fields)
            return record_ethics_submission(entry, submission)
        log.warning("ignoring unknown delivery event type %r for alert %s", kind, entry.alert_id)
        return entry

    # --- timers -------------------------------------------------------------------------------------------
    def due_alert_ids(self) -> list[str]:
        """Alerts with a retry or an escalation due now (the worker's timer turns each into a command)."""
        now = self.clock()
        entries = list(self.store.entries())
        ids = {e.alert_id for e in entries if due_deliveries(e, now)}
        ids |= {esc.alert_id for esc in due_escalations(entries, now, self.escalation)}
        return sorted(ids)

    def seconds_to_next_due(self) -> float:
        """Seconds until the earliest pending delivery falls due (0 if one is due now; 60 if none is pending)."""
        now = self.clock()
        times = [d.next_attempt_at or now for e in self.store.entries() for d in e.deliveries if d.state == "pending"]
        return max(0.0, (min(times) - now).total_seconds()) if times else 60.0

    async def sweep(self, alert_ids: Iterable[str] | None = None) -> None:
        """Send due retries and escalations (all entries, or the given ones); refresh the gauges."""
        wanted = None if alert_ids is None else set(alert_ids)
        for entry in list(self.store.entries()):
            if wanted is None or entry.alert_id in wanted:
                await self.run_due(entry.alert_id)
        self.update_gauges()

    async def run_due(self, alert_id: str) -> LedgerEntry | None:
        entry = self.store.get(alert_id)
        if entry is None:
            return None
        now = self.clock()
        for esc in due_escalations([entry], now, self.escalation):
            targets = [t for t in self.notifier.targets_for(entry.alert.study_id) if t.recipient in esc.recipients]
            entry = record_escalation(add_message(entry, esc.message, targets, now), esc.reason, now)
            log.warning(
                "alert %s (%s): escalation %s to %s",
                alert_id,
                esc.kind,
                esc.reason,
                ", ".join(esc.recipients),
            )
        await self.store.put(entry)
        return await self._send_due(entry)

    def update_gauges(self) -> None:
        if self.metrics is None:
            return
        entries = list(self.store.entries())
        now = self.clock()
        owed = owed_deliveries(entries)
        by_label: dict[tuple[str, str], int] = {}
        for e, d in owed:
            by_label[(str(e.alert.kind), d.recipient)] = by_label.get((str(e.alert.kind), d.recipient), 0) + 1
        known = {(str(e.alert.kind), d.recipient) for e in entries for d in e.deliveries}
        for labels in known | set(by_label):
            self.metrics.deliveries_owed.labels(*labels).set(by_label.get(labels, 0))
        ages = [(now - owed_since(e, d)).total_seconds() for e, d in owed]
        self.metrics.deliveries_owed_oldest.set(max([0.0, *ages]))
        for gauge, rows in (
            (self.metrics.open_alerts, open_alerts(entries)),
            (self.metrics.overdue_reports, overdue_reports(entries, now, self.escalation)),
        ):
            counts: dict[str, int] = {}
            for e in rows:
                counts[str(e.alert.kind)] = counts.get(str(e.alert.kind), 0) + 1
            for kind in {str(e.alert.kind) for e in entries} | set(counts):
                gauge.labels(kind).set(counts.get(kind, 0))

    # --- sending ------------------------------------------------------------------------------------------
    def _render(self, entry: LedgerEntry, delivery: Delivery) -> Message:
        escalation = delivery.message.split(":", 1)[1] if delivery.message.startswith("escalation:") else None
        original = self.store.get(entry.alert.withdraws) if entry.alert.withdraws else None
        return render(
            entry.alert,
            time_zone=self.time_zone,
            escalation=escalation,
            ack_url=self.links(entry.alert, delivery),
            withdrawn=original.alert if original is not None else None,
        )

    async def _send_one(self, entry: LedgerEntry, delivery: Delivery) -> tuple[Delivery, SendResult | None]:
        """The channel's answer; None when the worker stopped first (the send is not recorded: it stays owed)."""
        channel = self.notifier.channel(delivery.channel)
        if channel is None:
            return delivery, SendResult(False, "channel no longer configured")
        try:
            message = self._render(entry, delivery)
            sending = channel.send(message, message_id=delivery_id(entry.alert_id, delivery.key))
            return delivery, await until_stopping(self.stopping, sending)
        except StopRequested:
            return delivery, None
        except Exception as exc:  # noqa: BLE001 - a plugin bug is a failed attempt, not a crashed stage
            log.exception("channel %s raised", delivery.channel)
            return delivery, SendResult(False, f"{type(exc).__name__}: {exc}"[:400])

    async def _send_due(self, entry: LedgerEntry) -> LedgerEntry:
        due = due_deliveries(entry, self.clock())
        if not due or (self.stopping is not None and self.stopping.is_set()):
            return entry
        tasks = [asyncio.ensure_future(self._send_one(entry, d)) for d in due]
        failed: list[Delivery] = []
        for next_done in asyncio.as_completed(tasks):
            delivery, result = await next_done
            if result is None:
                log.warning(
                    "alert %s: %s to %s interrupted by the stop: it stays owed and is sent again by the next sweep",
                    entry.alert_id,
                    delivery.message,
                    delivery.recipient,
                )
                continue
            entry = self.store.get(entry.alert_id) or entry
            entry, updated = record_attempt(
                entry,
                delivery.message,
                delivery.channel,
                delivered=result.delivered,
                error=result.error,
                now=self.clock(),
                policy=self.retry,
            )
            await self.store.put(entry)  # each outcome is durable as soon as it is known
            if result.delivered:
                self._count(updated, "delivered")
            else:
                log.warning(
                    "alert %s: %s to %s via %s failed (attempt %d): %s",
                    entry.alert_id,
                    delivery.message,
                    delivery.recipient,
                    delivery.scheme,
                    len(updated.attempts),
                    result.error,
                )
                window_used_up = updated.state == "failed" or len(updated.attempts) == self.retry.max_attempts
                self._count(updated, "failed" if window_used_up else "retried")
                if needs_failure_report(entry, updated, self.retry):
                    failed.append(updated)
        for delivery in failed:
            entry = mark_failure_reported(entry, delivery.key)
            await self.store.put(entry)
            if delivery.state == "pending":
                log.error(
                    "alert %s (%s): %s to %s via %s still undelivered after %d attempts; it stays owed and is "
                    "retried every %g s; the safety officer is told over another route",
                    entry.alert_id,
                    entry.alert.kind,
                    delivery.message,
                    delivery.recipient,
                    delivery.scheme,
                    len(delivery.attempts),
                    self.retry.max_delay_seconds,
                )
            await self.emit_alert(delivery_failed_alert(entry, delivery, self.clock()))
        return entry

    def _count(self, delivery: Delivery, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.deliveries.labels(delivery.scheme, delivery.recipient, outcome).inc()


# --- worker wiring ----------------------------------------------------------------------------------------
class TableLedger:
    """The faust table ``delivery_ledger`` (alert_id -> entry JSON) + the compacted safety.deliveries topic.

    Written only from the ``delivery_ledger`` agent (inside stream iteration, as faust requires).
    """

    ORPHAN = "orphan:"

    def __init__(self, table: Any, deliveries_topic: Any) -> None:
        self.table, self.topic = table, deliveries_topic

    def get(self, alert_id: str) -> LedgerEntry | None:
        raw = self.table.get(alert_id.encode())
        return None if raw is None else LedgerEntry.model_validate_json(raw)

    async def put(self, entry: LedgerEntry) -> None:
        data = entry.model_dump_json().encode()
        self.table[entry.alert_id.encode()] = data
        await self.topic.send(key=entry.alert_id.encode(), value=data)

    def entries(self) -> Iterable[LedgerEntry]:
        for key, raw in list(self.table.items()):
            if raw is not None and not bytes(key).startswith(self.ORPHAN.encode()):
                yield LedgerEntry.model_validate_json(raw)

    def orphan_events(self, alert_id: str) -> list[dict[str, Any]]:
        raw = self.table.get((self.ORPHAN + alert_id).encode())
        return [] if raw is None else list(json.loads(raw))

    async def put_orphan_event(self, alert_id: str, event: dict[str, Any]) -> None:
        events = self.orphan_events(alert_id) + [event]
        self.table[(self.ORPHAN + alert_id).encode()] = json.dumps(events).encode()


def register(app: Any, ctx: Any, *, clock: Clock | None = None, notifier: Notifier | None = None) -> Dispatcher:
    """Declare the delivery agents, table and timer on the worker (idempotent per ctx)."""
    from streams.notify.channels import load_notifier, required_study_tags
    from streams.settings import reveal
    from streams.web.users import load_users
    from streams.worker import faust_compat, gaps
    from streams.worker.tables import raw_table

    existing = getattr(ctx.tables, "extra", {}).get("delivery_dispatcher")
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    settings = ctx.settings
    protocol = ctx.rules.protocol
    studies = [rules.protocol for rules in ctx.rulebook.studies.values()]
    clock = clock or getattr(ctx, "clock", None) or utc_now
    notifier = notifier or load_notifier(
        settings.delivery, required_study_tags(studies), studies=[study.study_id for study in studies]
    )
    partitions = settings.kafka.partitions
    table = raw_table(  # raw key/value types: a json changelog never recovers (streams/worker/tables.py)
        app,
        "delivery_ledger",
        partitions=partitions,
        help_text="alert_id -> LedgerEntry JSON (writer: delivery_ledger agent)",
    )
    commands = app.topic(
        settings.topics.delivery_commands,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    # Re-reading these is idempotent (an alert finds its ledger entry, a sweep sends only what is due), so the
    # stall watchdog may re-seek them as it does the inputs: a delivery stalled by faust is a missed SAE message.
    ctx.stall_watched |= {ctx.topics.alerts.get_topic_name(), settings.topics.delivery_commands}
    ledger_in = app.topic(
        settings.topics.delivery_commands,
        settings.topics.acks,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    store = TableLedger(table, ctx.topics.deliveries)

    async def emit(alert: Alert) -> None:
        ctx.metrics.alerts.labels(str(alert.kind)).inc()
        await ctx.topics.alerts.send(key=alert.subject_id.encode(), value=alert.to_json().encode())

    async def emit_event(event: dict[str, Any]) -> None:
        """An attribution onto the input topic, keyed by subject like every event; returns once the broker has it.

        A failed send is retried, never skipped: the ledger agent waits here, its command unacknowledged, so
        the acknowledgement is not recorded (nor its offset committed) without its attribution on the stream."""
        value = json.dumps(event, ensure_ascii=False).encode()
        delay = 1.0
        while True:
            try:
                await (await ctx.topics.events.send(key=event["subject_id"].encode(), value=value))
                return
            except Exception as exc:  # noqa: BLE001 - the broker's error is logged and the send retried
                log.error(
                    "attribution %s not yet on %s (%s); retrying in %g s",
                    event["event_id"],
                    ctx.topics.events.get_topic_name(),
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    base = settings.web.public_url or f"http://{settings.web.host}:{settings.web.port}"
    recipients = Recipients(notifier, load_users(settings.auth.users_file))
    links = LinkMaker(
        base, reveal(settings.auth.link_secret), timedelta(hours=settings.auth.link_ttl_hours), clock, recipients
    )
    dispatcher = Dispatcher(
        notifier,
        store,
        escalation=protocol.escalation,
        retry=settings.delivery.retry_policy(),
        time_zone=protocol.time_zone,
        clock=clock,
        links=links,
        emit_alert=emit,
        emit_event=emit_event,
        metrics=ctx.metrics,
        stopping=ctx.stopping,
    )
    ctx.tables.extra["delivery_ledger"] = table
    ctx.tables.extra["delivery_dispatcher"] = dispatcher

    # faust can skip records of a partition after a restart and commit over them (streams/worker/gaps.py): on these
    # topics a skipped record is an alert that is never delivered, so both agents read such gaps again, as ingest.
    faust_compat.skip_gap_fill(
        ctx.topics.alerts.get_topic_name(), settings.topics.delivery_commands, settings.topics.acks
    )
    router_guard, ledger_guard = gaps.GapGuard(), gaps.GapGuard()

    async def route(raw: bytes) -> None:
        try:
            alert_id = json.loads(raw)["alert_id"]
        except (ValueError, KeyError, TypeError):
            log.error("safety.alerts: record without alert_id skipped")
            return
        await commands.send(
            key=alert_id.encode(),
            value=json.dumps({"type": "alert", "alert": json.loads(raw)}, ensure_ascii=False).encode(),
        )

    async def apply(raw: bytes) -> None:
        try:
            await handle_command(dispatcher, json.loads(raw))
        except Exception:  # noqa: BLE001 - one bad command must not stop delivery
            log.exception("delivery command failed")

    @app.agent(ctx.topics.alerts, name="delivery_router")
    async def delivery_router(stream: Any) -> None:
        """safety.alerts (keyed by subject) -> command topic keyed by alert_id (the ledger's key)."""
        async for record in stream.events():
            skipped = await gaps.reread(ctx, router_guard, record)
            for earlier in skipped:
                await route(earlier.value)
            gaps.mark_processed(ctx, skipped)
            await route(record.value)

    @app.agent(ledger_in, name="delivery_ledger")
    async def delivery_ledger(stream: Any) -> None:
        """The only writer of the delivery_ledger table: alerts, sweeps, acks, ethics submissions."""
        async for record in stream.events():
            skipped = await gaps.reread(ctx, ledger_guard, record)
            for earlier in skipped:
                await apply(earlier.value)
            gaps.mark_processed(ctx, skipped)
            await apply(record.value)

    @app.timer(settings.delivery.sweep_interval, name="delivery_sweep")
    async def delivery_sweep() -> None:
        """Finds due retries/escalations; the ledger agent does them (tables are written in streams only)."""
        for alert_id in dispatcher.due_alert_ids():
            await commands.send(
                key=alert_id.encode(), value=json.dumps({"type": "sweep", "alert_id": alert_id}).encode()
            )
        dispatcher.update_gauges()

    return dispatcher


async def handle_command(dispatcher: Dispatcher, command: dict[str, Any]) -> None:
    kind = command.get("type")
    if kind == "alert":
        await dispatcher.on_alert(Alert.model_validate(command["alert"]))
    elif kind == "sweep":
        await dispatcher.run_due(str(command["alert_id"]))
    elif kind in ("ack", "ethics_submitted"):
        await dispatcher.on_event(command)
    elif kind in ("documents", "pi_note"):
        return  # the documents stage's commands on the same topic (streams/worker/documents.py)
    else:
        log.warning("unknown delivery command %r skipped", kind)
