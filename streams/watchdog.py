"""Stalled-partition watchdog: a partition with records waiting and no commit for a while is sent back to its
committed offset.

Why: after a rebalance, faust-streaming can leave a newly assigned partition silently unconsumed. Seen in
integration test (d) (tests/integration/test_stream.py, two workers, one killed) in about every second run: the
survivor's fetcher had read the partition to its end, its agent sat idle on an empty queue, and the committed
offset stood still for minutes. As far as we can tell, faust delivers a fetched record only when its offset is
past the partition's "read offset" (``Consumer._drain_messages``, "DROPPED MESSAGE", a log line below DEBUG), and
records fetched around its seek to the committed offset leave that read offset at the end of the partition; a seek
resets it, and the re-seek below has cleared every stall seen. Open upstream reports of the same symptom:
faust-streaming/faust#166, #471, #629. A missed event here is a missed SAE, so the worker heals itself instead of
waiting for someone to restart it.

Seeking a partition to its committed offset is always safe here: records after it are re-delivered, and
``safety.pipeline.step`` ignores an event its subject state already holds (at-least-once with idempotence).
``StallWatchdog`` decides (pure, unit-tested); ``register`` adds the faust timer that acts on it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import faust

from streams.context import WorkerContext

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    committed: int
    since: float  # monotonic time the committed offset was last seen to move (or the watch was re-armed)


class StallWatchdog:
    """Per partition: has the committed offset stood still for ``stall_after`` seconds with records waiting?"""

    def __init__(self, stall_after: float) -> None:
        self.stall_after = stall_after
        self._watches: dict[Any, _Watch] = {}

    def stalled(self, tp: Any, committed: int | None, highwater: int | None, now: float) -> bool:
        """True when ``tp`` should be re-seeked to ``committed`` (then the watch re-arms for another period).

        ``committed`` is the next offset to read (Kafka's convention), None when the group never committed on
        this partition (read from 0); ``highwater`` is the offset the next produced record will get, None before
        the first fetch.
        """
        start = committed or 0
        if highwater is None or highwater <= start:
            self._watches.pop(tp, None)  # nothing waiting: healthy, or idle
            return False
        watch = self._watches.get(tp)
        if watch is None or watch.committed != start:
            self._watches[tp] = _Watch(start, now)
            return False
        if now - watch.since < self.stall_after:
            return False
        watch.since = now
        return True

    def waiting(self, tp: Any) -> bool:
        """Records were past the committed offset at the last ``stalled`` call."""
        return tp in self._watches

    def forget(self, keep: set[Any]) -> None:
        """Drop watches of partitions no longer assigned (a rebalance moved them away)."""
        for tp in [tp for tp in self._watches if tp not in keep]:
            del self._watches[tp]


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Check the input partitions of both agents every few seconds and re-seek the stalled ones."""
    dog = StallWatchdog(ctx.settings.stall_seconds)
    watched = {ctx.topics.events.get_topic_name(), ctx.topics.study.get_topic_name()}

    @app.timer(interval=max(1.0, ctx.settings.stall_seconds / 4), name="stall_watchdog")
    async def stall_watchdog() -> None:
        if app.rebalancing:
            return
        consumer = app.consumer
        assigned = {tp for tp in consumer.assignment() if tp.topic in watched}
        dog.forget(assigned)
        now = time.monotonic()
        for tp in sorted(assigned):
            committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # no public accessor
            highwater = consumer.highwater(tp)
            stalled = dog.stalled(tp, committed, highwater, now)
            if highwater is not None and dog.waiting(tp):
                # The agent sets the lag after each record it processes; a partition whose records stop reaching
                # it would keep its last value (0 when it was caught up) and SafetyPartitionStalled never fire.
                ctx.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - (committed or 0)))
            if not stalled:
                continue
            offset = committed or 0
            log.warning(
                "partition %s[%s] has records up to offset %s but nothing was committed past %s for %.0f s: "
                "seeking back to %s (faust rebalance race; re-delivered events are no-ops)",
                tp.topic, tp.partition, highwater, offset, dog.stall_after, offset,
            )
            ctx.metrics.partition_reseeks.labels(tp.topic, str(tp.partition), "stall").inc()
            await consumer.seek(tp, offset)
