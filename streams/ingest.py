"""The ingest and study agents: parse -> safety.pipeline.step -> subject table -> graded/alerts/signals.

Delivery semantics (issue 5; notes faust-kafka-tansu.md §3, §4) are at-least-once with idempotence end to end:
* ``step()`` ignores an event whose ``event_id``/revision the subject state already holds, so a redelivered
  event (after kill -9 or a rebalance) changes nothing and emits nothing; alert ids are content-derived, so an
  output produced twice is the same alert and downstream consumers dedupe by ``alert_id``.
* Subject events are taken in batches (``take_events``: up to ``SAFETY_BATCH_MAX`` records, or what arrived
  within ``SAFETY_BATCH_WAIT`` seconds). Every output of a batch (graded rows, alerts, study signals) is
  delivered, broker ack awaited, BEFORE the batch's new subject states are written to the table, once per
  subject: the state can never say "applied" for an event whose outputs were lost, and the changelog gets one
  record per subject and batch instead of one per event (a year-long state is ~25 KB of JSON: writing it per
  event was a third of the worker's CPU). faust acks a batch's records only after this agent has finished
  the batch, and flushes the producer before it commits a source offset (faust/transport/consumer.py,
  ``_commit_offsets``), so no offset is committed before the outputs and states exist. If the outputs cannot
  be delivered at all, the worker exits without acking (as after kill -9: a restart processes the batch
  again; its events are no-ops where their state was written).
* A record that cannot be parsed, or whose processing raises, goes to the dead-letter topic with its raw bytes
  and position, and the partition moves on (one poison record must not stall a subject's partition).
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
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
import faust.streams as faust_streams

from safety.alerts import Alert, Rejection
from safety.events import EVENT_TYPES, Event
from safety.parsing import parse_event
from safety.pipeline import StepResult, step
from safety.routing import admit
from safety.ruleset import RuleSet
from safety.subject import SubjectState

if TYPE_CHECKING:
    from safety.study import StudyState
from streams import codec, gaps
from streams.context import WorkerContext

log = logging.getLogger(__name__)

EXIT_OUTPUTS_LOST = 75  # EX_TEMPFAIL: try again later


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Declare the two agents on ``app`` (names ``ingest`` and ``study``)."""
    guard = gaps.GapGuard()

    @app.agent(ctx.topics.events, name="ingest")
    async def ingest(stream: faust.StreamT[Any]) -> None:
        """Subject events in batches; the only writer of ``ctx.tables.subjects``."""
        batches = stream.take_events(ctx.settings.batch_max, ctx.settings.batch_wait)  # type: ignore[attr-defined]
        async for records in batches:  # faust's StreamT lacks take_events; faust.Stream has it
            batch = Batch(ctx)
            reread: list[faust.EventT[Any]] = []
            for record in records:
                for skipped in await gaps.reread(ctx, guard, record):
                    await handle(ctx, skipped, batch.process)
                    reread.append(skipped)
                await handle(ctx, record, batch.process)
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
    ctx: WorkerContext, record: faust.EventT[Any], process: Callable[[faust.EventT[Any]], Awaitable[Any]]
) -> None:
    """Process one record; a record whose processing raises is dead-lettered and the partition moves on."""
    try:
        await process(record)
    except Exception as exc:  # noqa: BLE001 - dead-letter it, keep the partition moving
        msg = record.message
        log.exception("record at %s[%s]@%s failed", msg.topic, msg.partition, msg.offset)
        await dead_letter(ctx, record, "processing_error", f"{type(exc).__name__}: {exc}")


def subject_key(study_id: str, subject_id: str) -> bytes:
    """The subjects table key: study and subject (a subject code is unique only within its study)."""
    return f"{study_id}/{subject_id}".encode()


class Batch:
    """The subject states one batch of records changes, written to the table once each when it is done.

    ``step()`` changes a state in place, so a record whose processing raises may leave its subject's state
    half-applied: that state is rebuilt from the table (the state before the batch) and the batch's earlier
    events of the subject, applied again without emitting (step is deterministic), and the batch goes on.
    """

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.states: dict[bytes, SubjectState] = {}
        # per subject, the records applied, their events and rules: the rebuild applies them again, the last one
        # routes the subject's table write
        self.applied: dict[bytes, list[tuple[faust.EventT[Any], Event, RuleSet]]] = {}
        self.outputs: list[Awaitable[Any]] = []  # must be delivered before any state is written

    async def process(self, record: faust.EventT[Any]) -> StepResult | None:
        """Parse, apply and emit one input record (returns the step result, None when dead-lettered)."""
        admitted = await accepted(self.ctx, record)
        if admitted is None:
            return None
        parsed, rules = admitted
        key = subject_key(parsed.study_id, parsed.subject_id)
        route_table_access(record)
        try:
            result = step(self.state(key, parsed), parsed, rules, raw=record.value)
            self.outputs.extend(await emit(self.ctx, record, result))
        except BaseException:
            self.rebuild(key, parsed)
            raise
        if not result.duplicate:
            self.states[key] = result.state
            self.applied.setdefault(key, []).append((record, parsed, rules))
        count_event(self.ctx, parsed.type, result)
        return result

    def state(self, key: bytes, event: Event) -> SubjectState | None:
        """The subject's state as this batch left it, else as the table holds it."""
        if key in self.states:
            return self.states[key]
        return STATES.load(key, self.stored(key, event))

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
        state = STATES.load(key, self.stored(key, event))
        for record, applied, rules in self.applied.get(key, []):
            state = step(state, applied, rules, raw=record.value).state
        if state is not None and key in self.applied:
            self.states[key] = state

    async def commit(self) -> None:
        """Wait for the batch's outputs, then write each changed subject state once."""
        try:
            if self.outputs:
                await asyncio.gather(*self.outputs)
        except Exception:
            # Writing the states now would mark events applied whose outputs are lost, and returning would let
            # faust ack them: exit like kill -9 instead; a restart processes the batch again (module docstring).
            log.critical("outputs of a batch could not be delivered to Kafka: the worker exits without "
                         "committing; restart it when the brokers are reachable", exc_info=True)
            os._exit(EXIT_OUTPUTS_LOST)
        for key, state in self.states.items():
            route_table_access(self.applied[key][-1][0])
            self.ctx.tables.subjects[key] = STATES.store(key, state)


def route_table_access(record: faust.EventT[Any]) -> None:
    """Make ``record`` this task's current event: faust routes table reads and writes by it.

    The changelog partition of a write and, with the rocksdb store, the partition database of a read or write
    are the current event's partition (faust.tables.base ``partition_for_key``, faust.stores.rocksdb). Under
    ``take_events`` the records are buffered by another task, so this agent's task has no current event of its
    own: without this, a subject's state was read from and written to whichever partition the batch ended with.
    Only this task's context variable is set; the stream's ``current_event`` attribute, which ``take_events``
    reads to know which record it buffered, is left alone.
    """
    faust_streams._current_event.set(weakref.ref(record))


async def accepted(ctx: WorkerContext, record: faust.EventT[Any]) -> tuple[Event, RuleSet] | None:
    """The record's event and its study's rules when it is valid, of a known study and keyed by its subject;
    otherwise dead-lettered (None)."""
    raw: bytes = record.value or b""
    book = ctx.rulebook
    parsed = parse_event(raw, book.parse_tz)
    if isinstance(parsed, Rejection):
        ctx.metrics.events.labels(sniff_type(raw), "rejected").inc()
        await dead_letter(
            ctx, record, codec.rejection_code(parsed), parsed.reason, parsed.event_id, parsed.subject_id
        )
        return None
    admitted = admit(parsed, book, raw)
    if isinstance(admitted, Rejection):
        ctx.metrics.events.labels(parsed.type, "rejected").inc()
        # admit withholds a subject id that is not a subject code (safety/routing.py): so does the dead letter
        withheld = admitted.raw.encode() if admitted.subject_id is None else None
        await dead_letter(ctx, record, codec.rejection_code(admitted), admitted.reason, admitted.event_id,
                          admitted.subject_id, withheld=withheld)
        return None
    parsed, rules = admitted
    if record.key != parsed.subject_id.encode():
        ctx.metrics.events.labels(parsed.type, "rejected").inc()
        await dead_letter(
            ctx,
            record,
            "invalid_event",
            f"record key {record.key!r} is not the subject_id "
            f"{parsed.subject_id!r}: key safety.events by subject_id (contract, envelope)",
            parsed.event_id,
            parsed.subject_id,
        )
        return None
    if parsed.recorded_at is None:  # contract: the stream starts reporting clocks at the Kafka record time
        parsed = parsed.model_copy(update={"recorded_at": codec.from_epoch(record.message.timestamp)})
    return parsed, rules


class StateCache:
    """Decoded SubjectState per subject, valid while the table holds the exact bytes it was decoded from.

    Decoding a subject's JSON state (~25 KB after a year: the ``seen`` map) costs ~0.4 ms, more than the
    rules; the table stays the only source of truth: after a rebalance or recovery the bytes differ and we
    decode again.
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


async def emit(ctx: WorkerContext, record: faust.EventT[Any], result: StepResult) -> list[Awaitable[Any]]:
    """Hand the step's outputs to the producer; returns their delivery futures (see module docstring)."""
    topics = ctx.topics
    key = codec.key(result.state.subject_id)
    futures: list[Awaitable[Any]] = []
    for graded in result.graded:
        futures.append(await topics.graded.send(key=key, value=codec.encode_graded(graded)))
    for alert in result.alerts:
        futures.append(await send_alert(ctx, record, alert))
    for signal in result.signals:
        futures.append(await topics.study.send(key=codec.key(signal.study_id), value=codec.encode_signal(signal)))
    for rejection in result.rejections:
        await dead_letter(
            ctx,
            record,
            codec.rejection_code(rejection),
            rejection.reason,
            rejection.event_id,
            rejection.subject_id,
        )
    return futures


async def send_alert(ctx: WorkerContext, record: faust.EventT[Any], alert: Alert) -> Awaitable[Any]:
    """Stamp ``emitted_at`` (wall clock, stream only: contract) and produce; returns the delivery future."""
    now = time.time()
    stamped = alert.model_copy(update={"emitted_at": datetime.fromtimestamp(now, tz=UTC)})
    ctx.metrics.alerts.labels(alert.kind.value).inc()
    if record.message.timestamp:
        ctx.metrics.event_to_alert_seconds.observe(max(0.0, now - record.message.timestamp))
    return await ctx.topics.alerts.send(key=codec.key(alert.subject_id), value=codec.encode_alert(stamped))


async def process_signal(ctx: WorkerContext, record: faust.EventT[Any]) -> None:
    """Apply one study signal with the pure study step (safety.study, shared with replay), under its own study's
    rules and state (the stopping rule is per study)."""
    from safety.study import StudyState, study_step  # lazy: written concurrently by the detectors engineer

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

    The gauges have no study label (streams/metrics.py, the Grafana dashboard): they show the primary study.
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
    withheld: bytes | None = None,
) -> None:
    """Route a record to the dead-letter topic with its exact bytes, position, reason and time.

    ``withheld`` replaces the bytes when they carry an identifier in place of the subject code (the record key,
    the same identifier, is not copied either); the position still leads to the original record.
    """
    msg = record.message
    ctx.metrics.rejections.labels(reason_code).inc()
    value = codec.encode_deadletter(
        reason_code=reason_code,
        reason=reason,
        raw=record.value if withheld is None else withheld,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        timestamp=msg.timestamp,
        at=datetime.now(tz=UTC),
        event_id=event_id,
        subject_id=subject_id,
    )
    await ctx.topics.deadletter.send(key=record.key if withheld is None else None, value=value)


def progress(ctx: WorkerContext, record: faust.EventT[Any]) -> None:
    """Per-partition last-processed time and lag (the stall alarm: metrics.py docstring)."""
    msg = record.message
    highwater = None
    consumer = getattr(ctx.app, "_consumer", None)
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
        ctx.metrics.grades.labels(
            graded.ctcae_term, "null" if graded.grade is None else str(graded.grade)
        ).inc()


def sniff_type(raw: bytes) -> str:
    """The ``type`` label of a rejected record: its declared type when it is one we know, else ``unknown``."""
    try:
        declared = codec.decode_json(raw).get("type")
    except (ValueError, AttributeError):
        return "unknown"
    return declared if declared in EVENT_TYPES else "unknown"
