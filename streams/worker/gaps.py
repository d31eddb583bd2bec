"""Offset-gap guard: records faust skipped are read again from the broker and processed before the one after them.

Why: after a restart (kill -9, then a new worker), faust-streaming sometimes hands the agent offset N+k right after
offset N, or as first record an offset past the committed one, and commits over the records in between: integration
test (c) lost one to five events per partition right after the committed offset in about one run in four (their
state never written; an SAE among them would never have been alerted). faust has several ways to do that: a
record fetched while its flow is suspended is dropped but its read offset still moves on, a stale prefetch is
delivered before its seek after a rebalance, and faust's commit bookkeeping commits over a single missing offset
at the head of its acknowledged offsets (faust-streaming/faust#606, left by #312/#378). Seeking faust back is not
enough: measured here, the re-read never came and faust committed over the missing offset once more. So the agent
checks that the offsets it is given are contiguous, and reads the missing records itself with a plain consumer
(no group) before it processes the record that revealed them: order within the partition is kept, and the same
processing code runs on them.

A partition's offsets are contiguous on our input topics (plain producers; markers of transactional producers or
compaction would leave holes, which the re-read simply does not return). When the re-read fails (broker down,
records deleted by retention), the missing range goes to the dead-letter topic with what to do: nothing is lost
silently. faust cannot commit over a re-read record before the record that revealed it is acknowledged, which
happens after the re-read; ``faust_compat.skip_gap_fill`` stops faust's own gap filling, which would.

``GapGuard`` decides (pure, unit-tested); ``reread`` and ``mark_processed`` are the imperative part.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP, Message

from streams.worker import codec, faust_compat
from streams.worker.context import WorkerContext

log = logging.getLogger(__name__)

REREAD_TIMEOUT_S = 30.0


@dataclass
class _Position:
    generation: int
    next_offset: int


class GapGuard:
    """Per input partition: the next offset to process, from the committed offset at (re)assignment on."""

    def __init__(self) -> None:
        self._positions: dict[Any, _Position] = {}

    def missing(self, tp: Any, offset: int, generation: int, committed: int | None) -> range:
        """Offsets before ``offset`` that this worker should have processed and was not given (often empty).

        ``committed`` (the group's next offset to read, as faust read it from the broker at assignment) is the
        starting point of a partition's first record in a group generation: a rebalance may hand the partition
        back elsewhere. faust reports both "nothing committed" and "committed 0" as None, and sometimes None
        for a partition the group did commit (its bookkeeping is cleared on revocation); None counts as offset
        0 here, and ``fetch`` then asks the broker for the group's real committed offset before reading.
        """
        pos = self._positions.get(tp)
        start = (committed or 0) if pos is None or pos.generation != generation else pos.next_offset
        self._positions[tp] = _Position(generation, offset + 1)
        if offset <= start:  # in order, or re-delivered (the stall watchdog seeked back)
            return range(0)
        return range(start, offset)


async def reread(ctx: WorkerContext, guard: GapGuard, record: faust.EventT[Any]) -> list[faust.EventT[Any]]:
    """The records faust skipped before ``record``, read again from the broker, in offset order."""
    msg = record.message
    committed = faust_compat.committed_offset(ctx.app.consumer, msg.tp)
    gap = guard.missing(msg.tp, msg.offset, ctx.app.consumer_generation_id, committed)
    if not gap:
        return []
    group = ctx.settings.kafka.app_id if committed is None else None  # faust did not know: ask the broker
    try:
        fetched = await fetch(ctx.settings.kafka.bootstrap_servers(), msg.tp, gap, group)
    except Exception as exc:  # noqa: BLE001 - any failure must leave a trace, not stop the partition
        await report_unread(ctx, record, gap, f"{type(exc).__name__}: {exc}")
        return []
    if fetched:
        log.warning(
            "partition %s[%s]: got offset %s before offsets %s..%s were processed: read them again "
            "(faust skipped them)",
            msg.topic,
            msg.partition,
            msg.offset,
            fetched[0].offset,
            fetched[-1].offset,
        )
        ctx.metrics.partition_reseeks.labels(msg.topic, str(msg.partition), "gap").inc()
    return [as_event(ctx.app, msg.tp, r) for r in fetched]


async def fetch(bootstrap: list[str], tp: TP, offsets: range, group_id: str | None = None) -> list[Any]:
    """Records of ``tp`` with offsets in ``offsets`` (absent offsets, e.g. transaction markers, are skipped).

    Offsets below the log start (deleted by retention before this group ever read them) are not asked for;
    with ``group_id``, neither are offsets below that group's committed offset (it processed them). The
    consumer only reads (assign, no subscription): it never joins the group or commits.
    """
    import aiokafka

    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="none",  # a deleted offset is an error to report, not a silent jump
    )
    part = aiokafka.TopicPartition(tp.topic, tp.partition)
    await consumer.start()
    try:
        consumer.assign([part])
        start = max(offsets.start, (await consumer.beginning_offsets([part]))[part])
        if group_id is not None:
            start = max(start, await consumer.committed(part) or 0)
        if start >= offsets.stop:
            return []
        consumer.seek(part, start)
        records: list[Any] = []
        loop_time = asyncio.get_running_loop().time
        deadline = loop_time() + REREAD_TIMEOUT_S
        while await consumer.position(part) < offsets.stop:
            if loop_time() > deadline:
                raise TimeoutError(f"no records past offset {await consumer.position(part)} in {REREAD_TIMEOUT_S} s")
            batch = await consumer.getmany(part, timeout_ms=500)
            records.extend(r for r in batch.get(part, []) if r.offset in offsets)
        return records
    finally:
        await consumer.stop()


def as_event(app: faust.App, tp: TP, record: Any) -> faust.EventT[Any]:
    """An aiokafka record as the faust event the agent would have been given (faust's own conversion)."""
    message = Message(
        record.topic,
        record.partition,
        record.offset,
        record.timestamp / 1000.0,
        record.timestamp_type,
        record.headers,
        record.key,
        record.value,
        record.checksum,
        record.serialized_key_size,
        record.serialized_value_size,
        tp,
        generation_id=app.consumer_generation_id,
    )
    return faust.Event(app, record.key, record.value, record.headers, message)


def mark_processed(ctx: WorkerContext, events: list[faust.EventT[Any]]) -> None:
    """Tell faust's offset bookkeeping that re-read records are processed (call once their outputs exist).

    faust commits only a contiguous run of acknowledged offsets from the committed one; the records it skipped
    are not in its list, so without this it would not commit past them until the stall watchdog re-seeks the
    partition (20 s), and then process them all a second time.
    """
    for event in events:
        ctx.app.consumer.ack(event.message)


async def report_unread(ctx: WorkerContext, record: faust.EventT[Any], gap: range, why: str) -> None:
    """Dead-letter the range that could not be read again, saying how to recover it."""
    msg = record.message
    log.error(
        "partition %s[%s]: offsets %s..%s could not be read again: %s",
        msg.topic,
        msg.partition,
        gap.start,
        gap.stop - 1,
        why,
    )
    ctx.metrics.partition_reseeks.labels(msg.topic, str(msg.partition), "gap_unread").inc()
    ctx.metrics.rejections.labels("unread_offsets").inc()
    value = codec.encode_deadletter(
        reason_code="unread_offsets",
        reason=(
            f"offsets {gap.start}..{gap.stop - 1} of this partition were skipped by the stream processor and could "
            f"not be read again ({why}); re-send those events with `safety produce` (duplicates are no-ops)"
        ),
        raw=None,
        topic=msg.topic,
        partition=msg.partition,
        offset=gap.start,
        timestamp=None,
        at=datetime.now(tz=UTC),
    )
    await ctx.topics.deadletter.send(key=record.key, value=value)
