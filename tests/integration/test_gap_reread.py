"""Re-reading the records faust skipped (streams/worker/gaps.py) on the real broker: the exact records, in order."""

from __future__ import annotations

import asyncio
import json

import faust
import pytest
from faust.types import TP

from streams.worker.gaps import as_event, fetch

pytestmark = pytest.mark.slow


def lab_line(n: int) -> bytes:
    return json.dumps({"type": "lab", "subject_id": "AA-001", "event_id": f"AA-001-L{n:04d}"}).encode()


def test_skipped_offsets_are_read_again_in_order_as_the_events_faust_would_have_given(stream) -> None:
    ends = stream.produce([lab_line(n) for n in range(10)])
    (partition,) = ends  # one subject: one partition
    tp = TP(stream.settings.topics.events, partition)
    records = asyncio.run(fetch(stream.settings.kafka.bootstrap_servers(), tp, range(3, 7)))
    assert [r.offset for r in records] == [3, 4, 5, 6]
    events = [as_event(faust.App("gaps-test"), tp, r) for r in records]
    assert [json.loads(e.value)["event_id"] for e in events] == [f"AA-001-L{n:04d}" for n in range(3, 7)]
    assert {(e.key, e.message.tp, e.message.topic) for e in events} == {(b"AA-001", tp, tp.topic)}
    stamps = [e.message.timestamp for e in events]
    assert all(isinstance(t, float) and 1e9 < t < 1e11 for t in stamps)  # seconds, as faust has them


def test_with_the_group_offsets_the_group_already_committed_are_not_read_again(stream) -> None:
    import aiokafka

    ends = stream.produce([lab_line(n) for n in range(8)])
    (partition,) = ends
    tp = TP(stream.settings.topics.events, partition)

    async def commit_then_fetch() -> list[int]:
        committer = aiokafka.AIOKafkaConsumer(
            bootstrap_servers=stream.settings.kafka.bootstrap_servers(), group_id="gaps-group", enable_auto_commit=False
        )
        await committer.start()
        try:
            part = aiokafka.TopicPartition(tp.topic, tp.partition)
            committer.assign([part])
            await committer.commit({part: 5})
        finally:
            await committer.stop()
        records = await fetch(stream.settings.kafka.bootstrap_servers(), tp, range(0, 7), "gaps-group")
        return [r.offset for r in records]

    assert asyncio.run(commit_then_fetch()) == [5, 6]  # faust lost its committed offset; the broker has it
