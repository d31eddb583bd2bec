"""Stalled-partition watchdog: a partition with records waiting and no commit for a while is sent back to its
committed offset.

Why: after a rebalance, faust-streaming can leave a newly assigned partition silently unconsumed. Seen in
integration test (d) (tests/integration/test_stream.py, two workers, one killed) in about every second run: the
survivor's fetcher had read the partition to its end, its agent sat idle on an empty queue, and the committed
offset stood still for minutes. As far as we can tell, faust delivers a fetched record only when its offset is
past the partition's "read offset" (faust's fetcher logs "DROPPED MESSAGE" below DEBUG otherwise), and
records fetched around its seek to the committed offset leave that read offset at the end of the partition; a seek
resets it, and the re-seek below has cleared every stall seen. Open upstream reports of the same symptom:
faust-streaming/faust#166, #471, #629. A missed event here is a missed SAE, so the worker heals itself instead of
waiting for someone to restart it.

A partition whose records reach its agents is not stalled, however slowly its commits follow: the watch follows
the offset processed so far (the higher of the committed one and the agents' acknowledgements,
``faust_compat.acked_offset``). On the embedded broker a commit waits for the producer to flush (one record per
batch: streams/worker/app.py), which under a backlog took longer than ``SAFETY_STALL_SECONDS``: watching commits
alone, the watchdog re-seeked busy partitions every period, and the re-read events piled onto the backlog.

Seeking a partition to its committed offset is always safe here: records after it are re-delivered, and
``safety.pipeline.step`` ignores an event its subject state already holds (at-least-once with idempotence).
``StallWatchdog`` decides (pure, unit-tested); ``register`` adds the faust timer that acts on it, and the broker
probe whose answers ``streams.worker.health.BrokerHealth`` turns into the ``safety_broker_up`` gauge, the pages' banner,
a log back-off and, after ``SAFETY_BROKER_DOWN_EXIT_SECONDS``, exit code 75.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import faust

from streams.worker import faust_compat
from streams.worker.context import WorkerContext
from streams.worker.health import EXIT_BROKER_DOWN, PROBE_SECONDS, PROBE_TIMEOUT_SECONDS, LogBackoff

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
        """True when ``tp`` should be re-seeked to its committed offset (then the watch re-arms for another period).

        ``committed`` is the next offset to process (Kafka's convention): the committed one, or past what the
        agents acknowledged since (``register``); None when the group never committed on this partition (read from
        0); ``highwater`` is the offset the next produced record will get, None before the first fetch.
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
    """Check the input partitions of both agents (and the plug-ins' ``ctx.stall_watched`` topics) every few seconds
    and re-seek the stalled ones; probe the broker."""
    register_broker_probe(app, ctx)
    dog = StallWatchdog(ctx.settings.worker.stall_seconds)
    watched = {ctx.topics.events.get_topic_name(), ctx.topics.study.get_topic_name()}

    @app.timer(interval=max(1.0, ctx.settings.worker.stall_seconds / 4), name="stall_watchdog")
    async def stall_watchdog() -> None:
        if app.rebalancing:
            return
        consumer = app.consumer
        topics = watched | ctx.stall_watched
        assigned = {tp for tp in consumer.assignment() if tp.topic in topics}
        dog.forget(assigned)
        now = time.monotonic()
        for tp in sorted(assigned):
            committed = faust_compat.committed_offset(consumer, tp)
            highwater = consumer.highwater(tp)
            processed = max(committed or 0, faust_compat.acked_offset(consumer, tp) or 0)
            stalled = dog.stalled(tp, processed, highwater, now)
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
                tp.topic,
                tp.partition,
                highwater,
                offset,
                dog.stall_after,
                offset,
            )
            ctx.metrics.partition_reseeks.labels(tp.topic, str(tp.partition), "stall").inc()
            await consumer.seek(tp, offset)


class MetadataProbe:
    """Asks the brokers for cluster metadata on a connection of its own (aiokafka's client, as faust uses)."""

    def __init__(self, bootstrap: list[str], timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        self.bootstrap, self.timeout = bootstrap, timeout
        self.client: Any = None

    async def __call__(self) -> bool:
        import aiokafka

        try:
            if self.client is None:
                client = aiokafka.AIOKafkaClient(
                    bootstrap_servers=self.bootstrap, request_timeout_ms=int(self.timeout * 1000)
                )
                await asyncio.wait_for(client.bootstrap(), self.timeout)
                self.client = client
                return True
            return bool(await asyncio.wait_for(self.client.force_metadata_update(), self.timeout))
        except Exception:  # noqa: BLE001 - any failure to answer is "down"; the log says it once
            return False


def register_broker_probe(app: faust.App, ctx: WorkerContext) -> None:
    """Every ``PROBE_SECONDS``: is the broker there? Gauge, banner, log back-off, exit (streams/worker/health.py)."""
    health = ctx.broker_health
    backoff = LogBackoff()
    probe = MetadataProbe(ctx.settings.kafka.bootstrap_servers())
    ctx.metrics.broker_up.set(1)

    @app.timer(interval=PROBE_SECONDS, name="broker_probe")
    async def broker_probe() -> None:
        was_up = health.up
        leave = health.observe(await probe(), time.monotonic())
        ctx.metrics.broker_up.set(1 if health.up else 0)
        if was_up and not health.up:
            log.error(
                "the Kafka broker (%s) does not answer: pages answer 503, repeated log lines are held back, and "
                "the worker exits with code %s if it is still away after %.0f s (SAFETY_BROKER_DOWN_EXIT_SECONDS)",
                ctx.settings.kafka.bootstrap,
                EXIT_BROKER_DOWN,
                health.exit_after,
            )
            backoff.install()
        elif not was_up and health.up:
            held = backoff.remove()
            log.warning("the Kafka broker answers again (%s repeated log lines were held back)", held)
        if leave:
            log.critical(
                "the Kafka broker has not answered for %.0f s: exiting with code %s, without committing (as after "
                "kill -9: the unacknowledged records are processed again by the restarted worker)",
                health.exit_after,
                EXIT_BROKER_DOWN,
            )
            logging.shutdown()
            os._exit(EXIT_BROKER_DOWN)
