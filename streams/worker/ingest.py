"""The ingest and study agents: parse -> safety.pipeline.step -> subject table -> graded/alerts/signals.

Delivery semantics (README, "Streaming service"; docs/decisions/embedded-broker.md, sections 3 and 4) are
at-least-once with idempotence end to end:
* ``step()`` ignores an event whose ``event_id``/revision was applied before, so a redelivered event (after kill -9
  or a rebalance) changes nothing and emits nothing; alert ids are content-derived, so an output produced twice is
  the same alert and downstream consumers dedupe by ``alert_id``. What was applied per event id is the ``seen``
  table's, one entry per event beside the subject state (``Batch``), so a state does not grow with its events.
* Subject events are taken in batches (``take_events``: up to ``SAFETY_BATCH_MAX`` records, or what arrived
  within ``SAFETY_BATCH_WAIT`` seconds). Every output of a batch (graded rows, alerts, study signals) is
  delivered, broker ack awaited, BEFORE the batch's new subject states are written to the table, once per
  subject: the state can never say "applied" for an event whose outputs were lost, and the changelog gets one
  record per subject and batch instead of one per event (a year-long state was ~25 KB of JSON while it held every
  event id: writing it per event was a third of the worker's CPU). faust acks a batch's records only after this
  agent has finished the batch, and flushes the producer before it commits a source offset (faust/transport/consumer.py,
  ``_commit_offsets``), so no offset is committed before the outputs and states exist. If the outputs cannot
  be delivered at all, the worker exits without acking (as after kill -9: a restart processes the batch
  again; its events are no-ops where their state was written).
* A record that cannot be parsed, or whose processing raises, goes to the dead-letter topic with its raw bytes
  and position, and the partition moves on (one poison record must not stall a subject's partition). A dead
  letter always fits in one Kafka record (streams/worker/codec.py, ``RAW_EXCERPT_BYTES``); its delivery is awaited with
  the batch's outputs. A record over ``MAX_RECORD_BYTES`` is dead-lettered unparsed, and an output too large
  for the producer (``producer_max_request_size``) is dead-lettered in its place, with the reason: the agent
  never dies on a record, whatever it holds.
* Several studies, one deployment: each event is evaluated under its own study's rules (``safety.routing.admit``,
  shared with replay); an event of an unknown study, or whose subject id is not a subject code of its study, is
  dead-lettered. Subject states are keyed by study and subject (``subject_key``), so two studies that use the
  same subject code never share a state; the study agent folds each study's signals with that study's rules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust

from safety.model.events import EVENT_TYPES, Event
from safety.model.outputs import Alert, Rejection
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import StepResult, step
from safety.routing import admit
from safety.rules.ruleset import RuleSet
from safety.study import StudyState, study_step
from streams.worker import codec, faust_compat, gaps
from streams.worker.context import Accepted, WorkerContext

log = logging.getLogger(__name__)

EXIT_OUTPUTS_LOST = 75  # EX_TEMPFAIL: try again later
# An input event is a few hundred bytes (contract: events); 64 KiB leaves room for long free text while every
# output and the subject state it feeds stay far below Kafka's 1 MB record limit.
MAX_RECORD_BYTES = 64 * 1024
RECORD_OVERHEAD_BYTES = 1024  # what aiokafka adds to key and value when it sizes a record, rounded up


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Declare the two agents on ``app`` (names ``ingest`` and ``study``)."""
    guard = gaps.GapGuard()

    @app.agent(ctx.topics.events, name="ingest")
    async def ingest(stream: faust.StreamT[Any]) -> None:
        """Subject events in batches; the only writer of ``ctx.tables.subjects``."""
        batches = stream.take_events(ctx.settings.worker.batch_max, ctx.settings.worker.batch_wait)  # type: ignore[attr-defined]
        async for records in batches:  # faust's StreamT lacks take_events; faust.Stream has it
            batch = Batch(ctx)
            reread: list[faust.EventT[Any]] = []
            for record in records:
                for skipped in await gaps.reread(ctx, guard, record):
                    await handle(ctx, skipped, batch.process, batch.outputs)
                    reread.append(skipped)
                await handle(ctx, record, batch.process, batch.outputs)
            await batch.commit()
            gaps.mark_processed(ctx, reread)  # faust acks the batch's own records after this body
            for last in {record.message.tp: record for record in records}.values():
                progress(ctx, last)

    @app.agent(ctx.topics.study, name="study")
    async def study(stream: faust.StreamT[Any]) -> None:
        """Study signals (infused, dlt, dlt_withdrawn) -> study state -> STOPPING_BOUNDARY alerts."""

        async def apply(record: faust.EventT[Any]) -> None:
            await process_signal(ctx, record)

        async for record in stream.events():
            skipped = await gaps.reread(ctx, guard, record)
            for earlier in skipped:
                await handle(ctx, earlier, apply)
            gaps.mark_processed(ctx, skipped)
            await handle(ctx, record, apply)
            progress(ctx, record)


async def handle(
    ctx: WorkerContext,
    record: faust.EventT[Any],
    process: Callable[[faust.EventT[Any]], Awaitable[Any]],
    outputs: list[Awaitable[Any]] | None = None,
) -> None:
    """Process one record; a record whose processing raises is dead-lettered and the partition moves on.

    ``outputs``: the batch's pending deliveries, where the dead letter joins them (None: awaited here).
    """
    try:
        await process(record)
    except Exception as exc:  # noqa: BLE001 - dead-letter it, keep the partition moving
        msg = record.message
        log.exception("record at %s[%s]@%s failed", msg.topic, msg.partition, msg.offset)
        letter = await dead_letter(ctx, record, "processing_error", f"{type(exc).__name__}: {exc}")
        await settle(letter, outputs)


async def settle(delivery: Awaitable[Any], outputs: list[Awaitable[Any]] | None) -> None:
    """A dead letter's delivery joins the batch's ``outputs`` (awaited before any state is written), or is
    awaited now: a record is never acknowledged before its dead letter is on the broker."""
    if outputs is None:
        await delivery
    else:
        outputs.append(delivery)


def subject_key(study_id: str, subject_id: str) -> bytes:
    """The subjects table key: study and subject (a subject code is unique only within its study)."""
    return f"{study_id}/{subject_id}".encode()


def seen_key(subject: bytes, event_id: str) -> bytes:
    """The seen table key: a subject's key (``subject_key``) and an event id."""
    return subject + b"/" + event_id.encode()


class Batch:
    """The subject states one batch of records changes, written to the table once each when it is done.

    ``step()`` changes a state in place, so a record whose processing raises may leave its subject's state
    half-applied: that state is rebuilt from the table (the state before the batch) and the batch's earlier
    events of the subject, applied again without emitting (step is deterministic), and the batch goes on.

    What ``step`` recorded per event id goes to the ``seen`` table, each entry with the subject's event count after
    it, and the producer is flushed before the states are written: an entry is never lost while the state that
    applied its event is kept. The reverse happens (kill -9 after the flush, before the state is on the broker):
    such an entry counts beyond the stored state and is ignored, so the redelivered event is applied again, as the
    state needs. A state still holding its ``seen`` map (written before the table) keeps it until the batch that
    writes the subject again has put its entries in the table, behind the same flush.
    """

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.handed = time.monotonic()  # when faust handed the batch to the agent (safety_alert_stage_seconds)
        self.states: dict[bytes, SubjectState] = {}
        # per subject, the records applied, their events and rules: the rebuild applies them again, the last one
        # routes the subject's table write
        self.applied: dict[bytes, list[tuple[faust.EventT[Any], Event, RuleSet]]] = {}
        self.outputs: list[Awaitable[Any]] = []  # must be delivered before any state is written
        # per subject, event_id -> what step recorded and the subject's event count after it (for the seen table)
        self.recorded: dict[bytes, dict[str, tuple[str, int]]] = {}
        self.legacy: dict[bytes, dict[str, str]] = {}  # per subject, the seen map its stored state still holds
        # per subject, what ingest accepted (true duplicates too: a read model re-adds them idempotently) and
        # the record that routes the listeners' table writes (WorkerContext.accepted_listeners)
        self.accepted: dict[bytes, tuple[faust.EventT[Any], list[Accepted]]] = {}

    async def process(self, record: faust.EventT[Any]) -> StepResult | None:
        """Parse, apply and emit one input record (returns the step result, None when dead-lettered)."""
        admitted = await accepted(self.ctx, record, self.outputs)
        if admitted is None:
            return None
        parsed, rules = admitted
        key = subject_key(parsed.study_id, parsed.subject_id)
        route_table_access(record)
        try:
            state = self.state(key, parsed)
            result = step(state, parsed, rules, raw=record.value, prior=self.prior(key, state, parsed))
            self.outputs.extend(await emit(self.ctx, record, result, self.handed))
        except BaseException:
            self.rebuild(key, parsed)
            raise
        if not result.duplicate:
            self.states[key] = result.state
            self.applied.setdefault(key, []).append((record, parsed, rules))
            self.remember(key, parsed, result)
        if not (result.duplicate and result.rejections):  # a conflicting duplicate was not accepted
            entry = Accepted(raw=record.value or b"", event=parsed, graded=result.graded)
            self.accepted[key] = (record, [*self.accepted.get(key, (record, []))[1], entry])
        count_event(self.ctx, parsed.type, result)
        return result

    def state(self, key: bytes, event: Event) -> SubjectState | None:
        """The subject's state as this batch left it, else as the table holds it."""
        if key in self.states:
            return self.states[key]
        stored = self.stored(key, event)
        self.legacy[key] = codec.legacy_seen(stored)
        return STATES.load(key, stored)

    def prior(self, key: bytes, state: SubjectState | None, event: Event) -> str | None:
        """What was recorded for the event's id of this subject: in this batch, else in the state's own ``seen`` map
        (written before the table), else in the ``seen`` table when the state counts that far (see the class)."""
        recorded = self.recorded.get(key, {}).get(event.event_id)
        if recorded is not None:
            return recorded[0]
        legacy = self.legacy.get(key, {}).get(event.event_id)
        if legacy is not None:
            return legacy
        data: bytes | None = self.ctx.tables.seen.get(seen_key(key, event.event_id))
        if data is None or state is None:
            return None
        entry, applied = codec.decode_seen(data)
        return entry if applied <= state.applied else None

    def remember(self, key: bytes, event: Event, result: StepResult) -> None:
        if result.recorded is not None:
            self.recorded.setdefault(key, {})[event.event_id] = (result.recorded, result.state.applied)

    def stored(self, key: bytes, event: Event) -> bytes | None:
        """The table's state of the event's subject; before several studies it was keyed by subject_id alone, and
        such a state is still read (once: the batch writes it back under ``subject_key``) when it is this study's."""
        table = self.ctx.tables.subjects
        data: bytes | None = table.get(key)
        if data is None:
            legacy = table.get(event.subject_id.encode())
            state = codec.decode_subject(legacy)
            if state is not None and state.study_id == event.study_id:
                data = legacy
        return data

    def rebuild(self, key: bytes, event: Event) -> None:
        """Forget a possibly half-applied state: the table's, plus this batch's events of the subject."""
        STATES.forget(key)
        self.states.pop(key, None)
        self.recorded.pop(key, None)
        state = self.state(key, event)
        for record, applied, rules in self.applied.get(key, []):
            result = step(state, applied, rules, raw=record.value, prior=self.prior(key, state, applied))
            self.remember(key, applied, result)
            state = result.state
        if state is not None and key in self.applied:
            self.states[key] = state

    async def commit(self) -> None:
        """Record the batch's entries in the ``seen`` table, wait for the outputs and those entries to be on the
        broker, then write each changed subject state once (the order is the class docstring's)."""
        limit = self.ctx.app.conf.producer_max_request_size - RECORD_OVERHEAD_BYTES
        encoded: dict[bytes, bytes] = {}
        for key, state in self.states.items():
            encoded[key] = data = STATES.store(key, state)
            if len(data) + len(key) <= limit:  # a state too large is not written, nor its entries (state_too_large)
                route_table_access(self.applied[key][-1][0])
                self.record_seen(key)
        try:
            if self.outputs or encoded:
                await asyncio.gather(*self.outputs, self.ctx.app.producer.flush())
        except Exception:
            # Writing the states now would mark events applied whose outputs are lost, and returning would let
            # faust ack them: exit like kill -9 instead; a restart processes the batch again (module docstring).
            log.critical(
                "outputs of a batch could not be delivered to Kafka: the worker exits without "
                "committing; restart it when the brokers are reachable",
                exc_info=True,
            )
            os._exit(EXIT_OUTPUTS_LOST)
        for last, entries in self.accepted.values():
            route_table_access(last)
            notify(self.ctx, entries)  # before the state: a redelivery re-adds what a crash lost in between
        for key, data in encoded.items():
            route_table_access(self.applied[key][-1][0])
            if len(data) + len(key) > limit:  # faust's producer would fail on the changelog write, every restart
                await self.state_too_large(key, len(data), limit)
                continue
            self.ctx.tables.subjects[key] = data

    def record_seen(self, key: bytes) -> None:
        """Write the subject's entries of this batch, and those its stored state still held, to the ``seen`` table
        (an entry of the state's own map counts as applied by any state: 0)."""
        table = self.ctx.tables.seen
        for event_id, recorded in self.legacy.get(key, {}).items():
            table[seen_key(key, event_id)] = codec.encode_seen(recorded, 0)
        for event_id, (recorded, applied) in self.recorded.get(key, {}).items():
            table[seen_key(key, event_id)] = codec.encode_seen(recorded, applied)

    async def state_too_large(self, key: bytes, size: int, limit: int) -> None:
        """Keep the subject's last state that fits; dead-letter the batch's events of the subject, with why.

        Their outputs were delivered (the alerts stand); the state does not record them, so a later event of the
        subject is evaluated without them. Only identifiers or texts far beyond the contract's get here.
        """
        STATES.forget(key)
        log.critical(
            "the state of a subject would be %s bytes, over the %s of a Kafka record: the batch's %s "
            "events of the subject are dead-lettered",
            size,
            limit,
            len(self.applied[key]),
        )
        letters = [
            await dead_letter(
                self.ctx,
                record,
                "state_too_large",
                f"the subject's state would be {size:,} bytes with this event, over the {limit:,} bytes a record "
                "may have; its outputs were sent but the state does not hold it: shorten its identifiers and "
                "texts and send it again",
                event.event_id,
                event.subject_id,
            )
            for record, event, _rules in self.applied[key]
        ]
        try:
            await asyncio.gather(*letters)
        except Exception:
            log.critical("dead letters could not be delivered: the worker exits without committing", exc_info=True)
            os._exit(EXIT_OUTPUTS_LOST)


def notify(ctx: WorkerContext, entries: list[Accepted]) -> None:
    """Hand one subject's accepted records to the read models; a failing listener never stops ingest."""
    for listener in ctx.accepted_listeners:
        try:
            listener(entries)
        except Exception:  # noqa: BLE001 - a read model must not hold up surveillance
            log.exception("a listener failed on accepted events of subject %s", entries[0].event.subject_id)


def route_table_access(record: faust.EventT[Any]) -> None:
    """Make ``record`` this task's current event: faust routes table reads and writes by it.

    The changelog partition of a write and, with the rocksdb store, the partition database of a read or write
    are the current event's partition (faust.tables.base ``partition_for_key``, faust.stores.rocksdb). Under
    ``take_events`` the records are buffered by another task, so this agent's task has no current event of its
    own: without this, a subject's state was read from and written to whichever partition the batch ended with.
    Only this task's context variable is set; the stream's ``current_event`` attribute, which ``take_events``
    reads to know which record it buffered, is left alone.
    """
    faust_compat.set_current_event(record)


async def accepted(
    ctx: WorkerContext, record: faust.EventT[Any], outputs: list[Awaitable[Any]] | None = None
) -> tuple[Event, RuleSet] | None:
    """The record's event and its study's rules when it is valid, of a known study and keyed by its subject;
    otherwise dead-lettered (None)."""
    raw: bytes = record.value or b""
    if len(raw) > MAX_RECORD_BYTES:
        ctx.metrics.events.labels("unknown", "rejected").inc()
        letter = await dead_letter(
            ctx,
            record,
            "record_too_large",
            f"record is {len(raw):,} bytes; an event may be at most {MAX_RECORD_BYTES:,} bytes: "
            "shorten its free text and send it again",
        )
        await settle(letter, outputs)
        return None
    book = ctx.rulebook
    parsed = parse_event(raw, book.parse_tz)
    if isinstance(parsed, Rejection):
        ctx.metrics.events.labels(sniff_type(raw), "rejected").inc()
        letter = await dead_letter(
            ctx, record, codec.rejection_code(parsed), parsed.reason, parsed.event_id, parsed.subject_id
        )
        await settle(letter, outputs)
        return None
    admitted = admit(parsed, book, raw)
    if isinstance(admitted, Rejection):
        ctx.metrics.events.labels(parsed.type, "rejected").inc()
        # admit withholds a subject id that is not a subject code (safety/routing.py): so does the dead letter
        withheld = admitted.raw.encode() if admitted.subject_id is None else None
        letter = await dead_letter(
            ctx,
            record,
            codec.rejection_code(admitted),
            admitted.reason,
            admitted.event_id,
            admitted.subject_id,
            withheld=withheld,
        )
        await settle(letter, outputs)
        return None
    parsed, rules = admitted
    if record.key != parsed.subject_id.encode():
        ctx.metrics.events.labels(parsed.type, "rejected").inc()
        letter = await dead_letter(
            ctx,
            record,
            "invalid_event",
            f"record key {record.key!r} is not the subject_id "
            f"{parsed.subject_id!r}: key safety.events by subject_id (contract, envelope)",
            parsed.event_id,
            parsed.subject_id,
        )
        await settle(letter, outputs)
        return None
    if parsed.recorded_at is None:  # contract: the stream starts reporting clocks at the Kafka record time
        parsed = parsed.model_copy(update={"recorded_at": codec.from_epoch(record.message.timestamp)})
    return parsed, rules


class StateCache:
    """Decoded SubjectState per subject, valid while the table holds the exact bytes it was decoded from.

    Decoding a subject's JSON state costs more than the rules (it was ~0.4 ms for a year's state when it held
    every event id); the table stays the only source of truth: after a rebalance or recovery the bytes differ and
    we decode again.
    """

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[bytes, SubjectState]] = {}

    def load(self, key: bytes, stored: bytes | None) -> SubjectState | None:
        entry = self._entries.get(key)
        if stored is not None and entry is not None and entry[0] == stored:
            return entry[1]
        return codec.decode_subject(stored)

    def store(self, key: bytes, state: SubjectState) -> bytes:
        data = codec.encode_state(state)
        self._entries[key] = (data, state)
        return data

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)


STATES = StateCache()


async def emit(
    ctx: WorkerContext, record: faust.EventT[Any], result: StepResult, handed: float | None = None
) -> list[Awaitable[Any]]:
    """Hand the step's outputs to the producer; returns their delivery futures (see module docstring).

    ``handed``: when the record's batch reached the agent (time.monotonic), for the alerts' stage histogram.

    Dead letters (rejections, outputs too large to send) are among them.
    """
    topics = ctx.topics
    key = codec.key(result.state.subject_id)
    futures: list[Awaitable[Any]] = []
    for graded in result.graded:
        value = codec.encode_graded(graded)
        futures.append(await send_output(ctx, record, topics.graded, key, value, graded.event_id, graded.subject_id))
    for alert in result.alerts:
        futures.append(await send_alert(ctx, record, alert, handed))
    for signal in result.signals:
        value = codec.encode_signal(signal)
        key = codec.key(signal.study_id)
        futures.append(await send_output(ctx, record, topics.study, key, value, signal.event_id, signal.subject_id))
    for rejection in result.rejections:
        code = codec.rejection_code(rejection)
        reason, event_id, subject_id = rejection.reason, rejection.event_id, rejection.subject_id
        futures.append(await dead_letter(ctx, record, code, reason, event_id, subject_id))
    return futures


async def send_output(
    ctx: WorkerContext,
    record: faust.EventT[Any],
    topic: faust.TopicT,
    key: bytes | None,
    value: bytes,
    event_id: str | None = None,
    subject_id: str | None = None,
) -> Awaitable[Any]:
    """Produce one output of ``record``; one too large for a Kafka record is dead-lettered in its place.

    Returns the delivery future (of the dead letter, in its place). The input event stays applied: its other
    outputs went out, and the letter holds this one's start, size and digest.
    """
    limit = ctx.app.conf.producer_max_request_size - RECORD_OVERHEAD_BYTES
    size = len(value) + len(key or b"")
    if size > limit:
        name = topic.get_topic_name()
        log.error(
            "an output of %s[%s]@%s for %s is %s bytes, over the %s of a Kafka record: dead-lettered",
            record.message.topic,
            record.message.partition,
            record.message.offset,
            name,
            size,
            limit,
        )
        return await dead_letter(
            ctx,
            record,
            "output_too_large",
            f"the output for {name} is {size:,} bytes, over the {limit:,} bytes a record may have "
            "(producer_max_request_size); raw holds the start of the output: correct the input event "
            "(a shorter field) and send a higher revision",
            event_id,
            subject_id,
            raw=value,
        )
    return await topic.send(key=key, value=value)


async def send_alert(
    ctx: WorkerContext, record: faust.EventT[Any], alert: Alert, handed: float | None = None
) -> Awaitable[Any]:
    """Stamp ``emitted_at`` (wall clock, stream only: contract) and produce; returns the delivery future."""
    now = time.time()
    stamped = alert.model_copy(update={"emitted_at": datetime.fromtimestamp(now, tz=UTC)})
    ctx.metrics.alerts.labels(alert.kind.value).inc()
    if record.message.timestamp:
        ctx.metrics.event_to_alert_seconds.observe(max(0.0, now - record.message.timestamp))
        if handed is not None:
            alert_stages(ctx, record, now, handed)
    value = codec.encode_alert(stamped)
    key = codec.key(alert.subject_id)
    event_ids = ",".join(alert.event_ids)
    return await send_output(ctx, record, ctx.topics.alerts, key, value, event_ids, alert.subject_id)


def alert_stages(ctx: WorkerContext, record: faust.EventT[Any], now: float, handed: float) -> None:
    """Where an alert's time from its event went (safety_alert_stage_seconds): fetch, batch, process.

    faust's monitor stamps ``message.time_in`` (time.monotonic) as the stream takes the record from the consumer;
    it is mapped onto the wall clock of the record timestamp through ``now``, read with the monotonic clock.
    """
    arrived = record.message.time_in
    if arrived is None:
        return
    elapsed = time.monotonic()
    stages = ctx.metrics.alert_stage_seconds
    stages.labels("fetch").observe(max(0.0, now - (elapsed - arrived) - record.message.timestamp))
    stages.labels("batch").observe(max(0.0, handed - arrived))
    stages.labels("process").observe(max(0.0, elapsed - handed))


async def process_signal(ctx: WorkerContext, record: faust.EventT[Any]) -> None:
    """Apply one study signal with the pure study step (safety.study, shared with replay), under its own study's
    rules and state (the stopping rule is per study)."""
    signal = codec.decode_signal(record.value or b"")
    rules = ctx.rulebook.get(signal.study_id)
    if rules is None:  # only if the rules directory lost a study since the signal was sent: dead-lettered
        raise ValueError(ctx.rulebook.unknown_study(signal.study_id))
    key = signal.study_id.encode()
    state, alerts = study_step(codec.decode_state(StudyState, ctx.tables.study.get(key)), signal, rules)
    futures = [await send_alert(ctx, record, alert) for alert in alerts]
    await asyncio.gather(*futures)
    ctx.tables.study[key] = codec.encode_state(state)
    if rules is ctx.rules:
        study_gauges(ctx, state)


def study_gauges(ctx: WorkerContext, state: StudyState) -> None:
    """safety_subjects_infused (n), safety_subjects_with_dlt (x), safety_stopping_probability (latest).

    The gauges have no study label (streams/web/metrics.py, the Grafana dashboard): they show the primary study.
    """
    ctx.metrics.subjects_infused.set(state.n)
    ctx.metrics.subjects_with_dlt.set(state.x)
    if state.probability is not None:
        ctx.metrics.stopping_probability.set(state.probability)


async def dead_letter(
    ctx: WorkerContext,
    record: faust.EventT[Any],
    reason_code: str,
    reason: str,
    event_id: str | None = None,
    subject_id: str | None = None,
    *,
    raw: bytes | None = None,
    withheld: bytes | None = None,
) -> Awaitable[Any]:
    """Route a record to the dead-letter topic with its exact bytes, position, reason and time.

    ``raw``: what to keep instead of the record's value (an output that could not be sent). ``withheld``
    replaces the bytes when they carry an identifier in place of the subject code (the record key, the same
    identifier, is not copied either); the position still leads to the original record. The letter is bounded
    (streams/worker/codec.py) and its key clipped, so it always fits in a Kafka record. Returns the delivery future: the
    caller awaits it, or makes it one of the batch's outputs (``settle``).
    """
    msg = record.message
    ctx.metrics.rejections.labels(reason_code).inc()
    value = codec.encode_deadletter(
        reason_code=reason_code,
        reason=reason,
        raw=withheld if withheld is not None else record.value if raw is None else raw,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        timestamp=msg.timestamp,
        at=datetime.now(tz=UTC),
        event_id=event_id,
        subject_id=subject_id,
    )
    if withheld is not None:
        key = None
    else:
        key = record.key[: codec.TEXT_FIELD_CHARS] if isinstance(record.key, bytes) else record.key
    return await ctx.topics.deadletter.send(key=key, value=value)


def progress(ctx: WorkerContext, record: faust.EventT[Any]) -> None:
    """Per-partition last-processed time and lag (the stall alarm: metrics.py docstring)."""
    msg = record.message
    highwater = None
    consumer = faust_compat.existing_consumer(ctx.app)
    if consumer is not None:
        try:
            highwater = consumer.highwater(msg.tp)
        except Exception:  # noqa: BLE001 - no consumer in test_context(); lag is best effort
            highwater = None
    ctx.metrics.processed(msg.topic, msg.partition, msg.offset, highwater, time.time())


def count_event(ctx: WorkerContext, event_type: str, result: StepResult) -> None:
    outcome = "duplicate" if result.duplicate else ("graded" if result.graded else "stored")
    ctx.metrics.events.labels(event_type, outcome).inc()
    for graded in result.graded:
        ctx.metrics.grades.labels(graded.ctcae_term, "null" if graded.grade is None else str(graded.grade)).inc()


def sniff_type(raw: bytes) -> str:
    """The ``type`` label of a rejected record: its declared type when it is one we know, else ``unknown``."""
    try:
        declared = codec.decode_json(raw).get("type")
    except (ValueError, AttributeError):
        return "unknown"
    return declared if declared in EVENT_TYPES else "unknown"
