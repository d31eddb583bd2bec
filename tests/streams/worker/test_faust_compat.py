"""streams/worker/faust_compat.py: each faust, mode or aiokafka internal the worker uses still exists with the shape
and behaviour it relies on, and the worker's use of it does what the worker needs (docs/decisions/faust-internals.md).

A library upgrade that moves or changes one of these names fails here, before a worker runs on it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import aiokafka
import faust
import faust.streams
import pytest
from faust.transport.conductor import ConductorCompiler
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage

from streams.settings import Settings
from streams.worker import faust_compat
from streams.worker.run import run_worker

ROOT = Path(__file__).resolve().parents[3]
EVENTS = TP("safety.events", 0)
CHANGELOG = TP("safety-surveillance-subjects-changelog", 0)


def record(app: faust.App, tp: TP, offset: int) -> faust.EventT[Any]:
    message = Message(tp.topic, tp.partition, offset, 1_780_000_000.0, 0, [], b"AA-001", b"{}", None, tp=tp)
    return faust.Event(app, b"AA-001", b"{}", [], message)


async def assigned(app: faust.App, committed: dict[TP, int]) -> Any:
    """The app's consumer after faust's own seek at assignment, the broker answering ``committed``."""
    consumer = app.consumer

    async def broker_committed() -> dict[TP, int]:  # the broker round trip; the rest is faust's code
        return committed

    consumer.seek_to_committed = broker_committed
    await consumer.perform_seek()
    return consumer


# The version guard


def test_the_tested_versions_are_the_pinned_ones() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(d.split("==") for d in dependencies if "==" in d)
    assert {name: pins[name] for name in faust_compat.TESTED_VERSIONS} == faust_compat.TESTED_VERSIONS
    faust_compat.check_versions()  # the installed ones


def test_an_untested_faust_version_stops_the_worker_with_what_to_do(monkeypatch, tmp_path, capsys) -> None:
    real = faust_compat.version
    monkeypatch.setattr(faust_compat, "version", lambda name: "0.16.0" if name == "faust-streaming" else real(name))
    settings = Settings(kafka_bootstrap="127.0.0.1:1", store="memory://", web_enabled=False, data_dir=tmp_path)
    assert run_worker(settings) == 2
    error = capsys.readouterr().err
    assert "faust-streaming 0.16.0 (tested: 0.15.3)" in error
    assert "pip install faust-streaming==0.15.3 mode-streaming==0.7.1 aiokafka==0.14.0" in error
    assert "TESTED_VERSIONS in streams/worker/faust_compat.py" in error
    assert "mode-streaming 0" not in error and "aiokafka 0" not in error  # only the untested one is named


def test_importing_the_worker_patches_nothing_until_an_app_is_built() -> None:
    script = """
import pkgutil, importlib, aiokafka, streams
from faust.transport.consumer import Consumer
from mode.utils.queues import FlowControlEvent
for module in pkgutil.walk_packages(streams.__path__, "streams."):
    if module.name != "streams.__main__":  # runs the command
        importlib.import_module(module.name)
assert Consumer._add_gap.__module__ == "faust.transport.consumer", Consumer._add_gap.__module__
assert aiokafka.AIOKafkaConsumer.__init__.__module__.startswith("aiokafka."), "clamped at import"
assert FlowControlEvent.clear.__module__ == "mode.utils.queues", FlowControlEvent.clear.__module__
import streams.worker.app
app = streams.worker.app.app  # what `faust -A streams.worker.app` reads: built now, and faust patched
assert streams.worker.app.app is app
assert Consumer._add_gap.__module__ == "streams.worker.faust_compat"
assert FlowControlEvent.clear.__module__ == "streams.worker.faust_compat"
print(type(app).__name__)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "App"


# Consumer._committed_offset -> committed_offset(consumer, tp)


@pytest.mark.asyncio
async def test_committed_offset_is_the_next_offset_to_read_as_faust_read_it_at_assignment(app) -> None:
    assert isinstance(app.consumer._committed_offset, dict)
    consumer = await assigned(app, {EVENTS: 395, CHANGELOG: 0})
    assert faust_compat.committed_offset(consumer, EVENTS) == 395
    assert faust_compat.committed_offset(consumer, CHANGELOG) is None  # faust's "committed 0": GapGuard reads 0
    assert faust_compat.committed_offset(consumer, TP("safety.events", 7)) is None  # never assigned
    assert TP("safety.events", 7) not in consumer._committed_offset  # reading does not add a partition
    app.topics._acking_topics.add(EVENTS.topic)  # what the conductor does for an agent's topic at start
    assert not consumer.ack(record(app, EVENTS, 394).message)  # below it: processed, faust ignores the ack
    assert consumer.ack(record(app, EVENTS, 395).message)  # it is the first offset still to process


# faust.streams._current_event -> set_current_event(record)


@pytest.mark.asyncio
async def test_the_current_event_set_for_a_task_decides_the_partition_of_its_table_writes(app) -> None:
    table = app.safety.tables.subjects
    key = b"ChiCTR2600125907/AA-001"
    assert isinstance(faust.streams._current_event, contextvars.ContextVar)
    go = asyncio.Event()

    async def another_task() -> int | None:  # e.g. the task that buffers records for take_events
        await go.wait()
        return table.partition_for_key(key)

    running = asyncio.create_task(another_task())
    current = record(app, TP("safety.events", 2), 6)  # faust keeps a weak reference: the caller holds the record
    faust_compat.set_current_event(current)
    assert faust.streams.current_event().message.partition == 2
    assert table.partition_for_key(key) == 2
    go.set()
    with pytest.raises(TypeError, match="outside of stream iteration"):  # only this task's routing was set
        await running


# App._consumer -> existing_consumer(app)


def test_existing_consumer_does_not_create_one() -> None:
    app = faust.App("compat-consumer", broker="kafka://127.0.0.1:1", web_enabled=False)
    assert faust_compat.existing_consumer(app) is None
    assert faust_compat.existing_consumer(app) is None  # still: asking did not create it
    consumer = app.consumer
    assert faust_compat.existing_consumer(app) is consumer


# Consumer._add_gap -> skip_gap_fill(*topics), applied by install()


def test_faust_s_fetcher_reports_skipped_offsets_through_add_gap() -> None:
    assert "await self._add_gap(tp, r_offset + 1, offset)" in inspect.getsource(Consumer._drain_messages)
    faust_compat.install()
    patched = Consumer._add_gap
    assert inspect.iscoroutinefunction(patched)
    original = next(c.cell_contents for c in patched.__closure__ if inspect.isfunction(c.cell_contents))  # faust's
    assert original.__module__ == "faust.transport.consumer"
    assert list(inspect.signature(original).parameters) == ["self", "tp", "offset_from", "offset_to"]


@pytest.mark.asyncio
async def test_skipped_offsets_count_as_processed_only_on_topics_that_may_have_holes(app) -> None:
    faust_compat.skip_gap_fill(EVENTS.topic)  # create_app did so for the input topics; said again for clarity
    consumer = await assigned(app, {EVENTS: 344, CHANGELOG: 10})
    app.topics._acking_topics.update({EVENTS.topic, CHANGELOG.topic})
    await consumer._add_gap(EVENTS, 344, 382)  # what faust's fetcher does on an offset jump
    await consumer._add_gap(CHANGELOG, 11, 12)
    consumer.ack(record(app, EVENTS, 383).message)
    consumer.ack(record(app, CHANGELOG, 13).message)
    assert consumer._new_offset(EVENTS) is None  # 344..382 not processed: no commit over them (GapGuard reads them)
    assert consumer._new_offset(CHANGELOG) == 14  # faust's own topics keep its gap filling


# aiokafka.AIOKafkaConsumer.__init__ -> install(fetch_max_wait_ms=...)


@pytest.mark.asyncio
async def test_the_fetch_wait_faust_hard_codes_is_capped(app) -> None:
    assert "fetch_max_wait_ms=1500," in inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer)
    assert "fetch_max_wait_ms" in inspect.signature(aiokafka.AIOKafkaConsumer.__init__).parameters
    faust_compat.install(fetch_max_wait_ms=50)
    faust_compat.install(fetch_max_wait_ms=50)  # idempotent: one wrapper, not two
    assert getattr(aiokafka.AIOKafkaConsumer.__init__, "_safety_clamped", False)
    faust_consumer = app.consumer._thread._create_worker_consumer(app.transport)  # the consumer faust builds
    assert faust_consumer._fetch_max_wait_ms == 50
    shorter = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=20)
    assert shorter._fetch_max_wait_ms == 20  # a shorter wait is kept


# mode.Worker._schedule_shutdown -> StopSignalWorker.on_stop_signal


@pytest.mark.asyncio
async def test_a_stop_signal_calls_the_hook_then_faust_s_clean_stop(app) -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    stopped = asyncio.Event()

    class Recorder(faust_compat.StopSignalWorker):
        def on_stop_signal(self, signal: signal.Signals) -> None:
            seen.append(f"hook {signal.name}")

        async def stop(self) -> None:  # mode's clean stop, the one faust's worker runs on a signal
            seen.append("clean stop")
            stopped.set()

    worker = Recorder(app, loop=loop, quiet=True)
    worker.install_signal_handlers()  # mode's own handlers, as execute_from_commandline installs them
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopped.wait(), 10)
    finally:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(number)
    assert seen == ["hook SIGTERM", "clean stop"]


# aiokafka MessageAccumulator.add_message -> install(one_record_batches=True)


@pytest.mark.asyncio
async def test_one_record_batches_queue_per_partition_instead_of_waiting_for_each_send() -> None:
    # Before: the second send to a partition waited until the first one's batch was in a produce request, so the
    # worker produced about one record per round trip to the embedded broker.
    from aiokafka.producer.message_accumulator import MessageAccumulator
    from aiokafka.structs import TopicPartition

    faust_compat.install(one_record_batches=True)
    faust_compat.install(one_record_batches=True)  # idempotent: one wrapper, not two
    assert getattr(MessageAccumulator.add_message, "_safety_queued", False)
    tp, other = TopicPartition("safety.graded", 0), TopicPartition("safety.graded", 1)

    def accumulator(batch_size: int) -> MessageAccumulator:
        return MessageAccumulator(
            cluster=None, batch_size=batch_size, compression_type=0, batch_ttl=30, loop=asyncio.get_running_loop()
        )

    one = accumulator(1)
    for n in range(3):  # no sender runs: each send returns at once all the same
        await one.add_message(tp, None, f"record {n}".encode(), timeout=0.5)
    await one.add_message(other, None, b"elsewhere", timeout=0.5)
    assert [batch.record_count for batch in one._batches[tp]] == [1, 1, 1]  # in send order, one record each
    assert [batch.record_count for batch in one._batches[other]] == [1]
    batched = accumulator(16384)
    for n in range(3):
        await batched.add_message(tp, None, f"record {n}".encode(), timeout=0.5)
    assert [batch.record_count for batch in batched._batches[tp]] == [3]  # real Kafka: batching as before


# Consumer._acked -> acked_offset(consumer, tp)


@pytest.mark.asyncio
async def test_acked_offset_is_one_past_the_highest_acknowledged_offset_not_yet_committed(app) -> None:
    consumer = await assigned(app, {EVENTS: 395})
    app.topics._acking_topics.add(EVENTS.topic)
    assert faust_compat.acked_offset(consumer, EVENTS) is None  # nothing processed since the commit
    for offset in (395, 396, 398):  # 397 still in an agent's hands
        consumer.ack(record(app, EVENTS, offset).message)
    assert faust_compat.acked_offset(consumer, EVENTS) == 399  # processing moved, whatever the commit does
    assert faust_compat.committed_offset(consumer, EVENTS) == 395
    assert faust_compat.acked_offset(consumer, TP("safety.events", 7)) is None
    assert TP("safety.events", 7) not in consumer._acked  # reading does not add a partition


# FlowControlEvent.clear and Consumer._clean_unacked_messages (patched by install): dropped copies are not waited for


@pytest.mark.asyncio
async def test_the_stop_waits_for_no_record_whose_only_unacknowledged_copies_it_dropped_and_commits_none(app) -> None:
    # Before: the delivery ledger agent had taken a delivery command and the documents agent, rendering a case, still
    # had its copy buffered; faust's stop dropped that copy and then waited for it until the deadline (exit code 75).
    faust_compat.install()
    commands = TP("safety.delivery-commands", 0)
    consumer = await assigned(app, {commands: 20})
    app.topics._acking_topics.add(commands.topic)
    ledger, documents = (app.topic(commands.topic, key_type=bytes, value_type=bytes) for _ in range(2))
    deliver = ConductorCompiler().build(app.topics, commands, {ledger, documents})  # faust's own delivery to both
    for offset in (20, 21):
        await deliver(
            ConsumerMessage(commands.topic, 0, offset, 1_780_000_000.0, 0, [], b"A-1", b"{}", None, tp=commands)
        )
    done, working = ledger.queue.get_nowait(), ledger.queue.get_nowait()  # what the ledger agent's stream takes
    for event in (done, working):
        consumer.track_message(event.message)
    done.ack()  # the ledger finished 20 and still works on 21; the documents agent has both still buffered
    app.flow_control.suspend()  # faust's stop, as App._stop_consumer does it
    app.flow_control.clear()
    consumer._clean_unacked_messages()  # each round of Consumer.wait_empty
    assert set(consumer.unacked) == {working.message}  # the ledger's record in hand is still waited for
    working.ack()
    await asyncio.wait_for(consumer.wait_empty(), 30)  # the bound only keeps a regression from hanging the suite
    assert not consumer.unacked
    assert consumer._new_offset(commands) is None  # neither committed: both agents read them again after the restart
