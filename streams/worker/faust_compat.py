"""Every use of a faust-streaming, mode-streaming or aiokafka private name, in one place.

The worker needs a few things these libraries do not offer publicly; each one is a named function or class here,
so the rest of the worker reads no private name. Why each exists, what breaks if it changes and which test
catches it: docs/decisions/faust-internals.md. The tests are tests/streams/test_faust_compat.py.

Nothing here acts when the module is imported. ``install`` is called once at worker start
(``streams.worker.app.create_app``): it refuses library versions the tests have not run against
(``TESTED_VERSIONS``, the pins of pyproject.toml), then applies the class patches. The patches are
process-wide and idempotent.

* ``committed_offset(consumer, tp)``: the group's committed offset as faust read it (``Consumer._committed_offset``).
* ``acked_offset(consumer, tp)``: one past the highest offset an agent acknowledged (``Consumer._acked``).
* ``set_current_event(record)``: route this task's table reads and writes by a record
  (``faust.streams._current_event``).
* ``existing_consumer(app)``: the app's consumer if it was created, without creating one (``App._consumer``).
* ``skip_gap_fill(*topics)``: faust does not count skipped offsets of these topics as processed (patch of
  ``Consumer._add_gap``, applied by ``install``).
* ``install`` also lets faust's clean stop (and a rebalance) stop waiting for a record whose only unacknowledged
  copies were dropped from the agents' buffers, without committing it (patches of mode's ``FlowControlEvent.clear``
  and faust's ``Consumer._clean_unacked_messages``: ``_release_cleared_copies``).
* ``install(fetch_max_wait_ms=...)``: also caps the fetch wait faust hard-codes (patch of
  ``aiokafka.AIOKafkaConsumer.__init__``), for the embedded broker.
* ``install(one_record_batches=True)``: with one record per producer batch (the embedded broker's workaround), a
  send queues a new batch behind a partition's pending one instead of waiting until that one is sent (patch of
  ``aiokafka``'s ``MessageAccumulator.add_message``).
* ``StopSignalWorker``: a ``faust.Worker`` that calls ``on_stop_signal`` before its clean stop on SIGTERM/SIGINT
  (override of ``mode.Worker._schedule_shutdown``).
"""

from __future__ import annotations

import signal
import weakref
from importlib.metadata import version
from typing import Any

import faust
import faust.streams
from faust.types import TP, ConsumerT, Message

from safety.errors import SafetyError

TESTED_VERSIONS = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}
"""The versions tests/streams/test_faust_compat.py and the integration tests passed with (pyproject.toml pins)."""

_GAPLESS_TOPICS: set[str] = set()
_RELEASED: weakref.WeakKeyDictionary[Message, int] = weakref.WeakKeyDictionary()
"""Per record: how many of its copies faust dropped from an agent's buffer (``_release_cleared_copies``)."""


class UntestedLibraryVersion(SafetyError, RuntimeError):
    """An installed stream library is not the version the worker's use of its internals was tested with."""


def check_versions() -> None:
    """Refuse to start on a faust-streaming, mode-streaming or aiokafka version other than the tested one."""
    untested = [
        f"{name} {installed} (tested: {tested})"
        for name, tested in TESTED_VERSIONS.items()
        if (installed := version(name)) != tested
    ]
    if not untested:
        return
    pins = " ".join(f"{name}=={v}" for name, v in TESTED_VERSIONS.items())
    raise UntestedLibraryVersion(
        f"untested stream library version: {', '.join(untested)}. The worker relies on internals of these "
        f"libraries (docs/decisions/faust-internals.md). Install the tested versions (pip install {pins}), or, to "
        "upgrade, run tests/streams/test_faust_compat.py and the integration tests with the new version and, when "
        "they pass, update TESTED_VERSIONS in streams/worker/faust_compat.py and the pins in pyproject.toml."
    )


def install(*, fetch_max_wait_ms: int | None = None, one_record_batches: bool = False) -> None:
    """Check the library versions, then stop faust's gap filling on ``skip_gap_fill`` topics and its waiting for
    dropped copies (``_release_cleared_copies``); with ``fetch_max_wait_ms``, cap the broker fetch wait of every
    aiokafka consumer; with ``one_record_batches``, let one-record producer batches queue
    (``_queue_one_record_batches``). Process-wide; idempotent."""
    check_versions()
    _patch_add_gap()
    _release_cleared_copies()
    if fetch_max_wait_ms is not None:
        _clamp_fetch_wait(fetch_max_wait_ms)
    if one_record_batches:
        _queue_one_record_batches()


def committed_offset(consumer: ConsumerT, tp: TP) -> int | None:
    """The group's next offset to read on ``tp``, as faust read it from the broker at assignment and updated at
    each commit; None when faust does not know it (never committed, committed 0, or bookkeeping cleared at
    revocation). faust has no public accessor; ``Consumer.committed`` asks the broker (a round trip)."""
    offset: int | None = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # .get: must not grow it
    return offset


def acked_offset(consumer: ConsumerT, tp: TP) -> int | None:
    """One past the highest offset of ``tp`` the agents acknowledged and faust has not committed yet; None when it
    holds none. Processing that moves while the commit lags (a commit waits for the producer's flush) shows here
    first. Read only: faust's ``_new_offset`` would also fold gaps into its bookkeeping."""
    acked: list[int] | None = consumer._acked.get(tp)  # type: ignore[attr-defined]  # .get: must not grow it
    return max(acked) + 1 if acked else None


def set_current_event(record: faust.EventT[Any]) -> None:
    """Make ``record`` this task's current event, by which faust routes table reads and writes.

    Only the task's context variable is set (what ``faust.streams.current_event()`` reads); the stream's own
    ``current_event`` attribute, which ``Stream.take_events`` reads to know which record it buffered, is left
    alone. faust sets the variable only in the task that iterates the stream. faust holds the record by a weak
    reference: the caller keeps it alive while it routes by it.
    """
    faust.streams._current_event.set(weakref.ref(record))


def existing_consumer(app: faust.App) -> ConsumerT | None:
    """The app's consumer when it exists, else None: ``app.consumer`` would create one (in an app that is not
    running, e.g. an agent's ``test_context``)."""
    consumer: ConsumerT | None = app._consumer
    return consumer


def skip_gap_fill(*topics: str) -> None:
    """Offsets faust's fetcher skipped on these topics are not counted as processed (once ``install`` ran).

    On an offset jump faust's fetcher records the skipped offsets as a "gap" and later adds them to its
    acknowledged offsets, as if processed: meant for compacted topics and transaction markers, where those
    offsets hold no record. On our input topics every offset is a record, and a jump means faust dropped records
    (a stale prefetch delivered before its seek after a rebalance, or a record dropped while its flow was
    suspended). Filling the gap then commits over records no agent processed, and when faust delivers them after
    all, each offset is acknowledged twice, after which every commit advances the offset by one (seen in the
    two-worker test: one offset a second for 40 s). Without the fill, ``streams.worker.gaps.GapGuard`` reads
    such records again and ``gaps.mark_processed`` acknowledges them.
    """
    _GAPLESS_TOPICS.update(topics)


def _patch_add_gap() -> None:
    from faust.transport.consumer import Consumer

    if getattr(Consumer._add_gap, "_safety_gapless", False):
        return
    fill = Consumer._add_gap

    async def add_gap(self: Consumer, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic not in _GAPLESS_TOPICS:
            await fill(self, tp, offset_from, offset_to)

    add_gap._safety_gapless = True  # type: ignore[attr-defined]
    Consumer._add_gap = add_gap  # type: ignore[method-assign]


def _release_cleared_copies() -> None:
    """faust's clean stop stops waiting for a record once every copy of it still unacknowledged was dropped from an
    agent's buffer; the record is not acknowledged, so its offset is not committed.

    faust counts a record once per channel that subscribes its topic (the conductor's ``incref``) and waits, before
    it commits and stops, until each record a stream took is acknowledged (``Consumer.wait_empty``). Just before,
    the stop (as a rebalance) empties every channel's buffer (``FlowControlEvent.clear``): a record one agent took
    while the other agent of its topic still had it buffered keeps a reference no stream will ever acknowledge. On
    the delivery command topic (``delivery_ledger`` and ``case_documents``, the latter seconds behind while it
    renders a case) the stop then waited for such a record until the deadline ended it with code 75 (most such
    records only escaped it because faust tracks them by weak reference and they were garbage; the last record
    the other agent took was still referenced). The clear now notes each copy it drops, and faust's clean-up in the
    wait forgets a record whose remaining references are all dropped copies: an agent still working on it is waited
    for, then nothing is. Not acknowledged, the record's offset is not committed, so both agents read it again after
    the restart (or the rebalance), as they do every record after it.
    """
    from faust.transport.consumer import Consumer
    from mode.utils.queues import FlowControlEvent

    if getattr(FlowControlEvent.clear, "_safety_releasing", False):
        return
    clear, clean = FlowControlEvent.clear, Consumer._clean_unacked_messages

    def clear_releasing(self: FlowControlEvent) -> None:
        for queue in self._queues:
            for item in queue._queue:  # type: ignore[attr-defined]  # asyncio.Queue's deque
                if isinstance(item, faust.EventT):
                    _RELEASED[item.message] = _RELEASED.get(item.message, 0) + 1
        clear(self)

    def clean_released(self: Consumer) -> None:
        clean(self)
        released = {m for m in self._unacked_messages if m in _RELEASED and m.refcount <= _RELEASED[m]}
        self._unacked_messages -= released

    clear_releasing._safety_releasing = True  # type: ignore[attr-defined]
    FlowControlEvent.clear = clear_releasing  # type: ignore[method-assign]
    Consumer._clean_unacked_messages = clean_released  # type: ignore[method-assign]


def _clamp_fetch_wait(max_wait_ms: int) -> None:
    """faust creates its consumer with ``fetch_max_wait_ms=1500`` and no setting to change it."""
    import aiokafka

    consumer = aiokafka.AIOKafkaConsumer
    if getattr(consumer.__init__, "_safety_clamped", False):
        return
    original = consumer.__init__

    def clamped(self: aiokafka.AIOKafkaConsumer, *args: object, **kwargs: object) -> None:
        if kwargs.get("fetch_max_wait_ms", 0) > max_wait_ms:  # type: ignore[operator]
            kwargs["fetch_max_wait_ms"] = max_wait_ms
        original(self, *args, **kwargs)

    clamped._safety_clamped = True  # type: ignore[attr-defined]
    consumer.__init__ = clamped


def _queue_one_record_batches() -> None:
    """Let a producer of one record per batch queue its batches per partition instead of waiting for each.

    aiokafka keeps a deque of batches per partition but appends to the newest one only, and when that one is full
    it makes the sender wait until the batch is taken into a produce request. With one record per batch
    (``producer_max_batch_size=1``, the embedded broker's workaround: streams/worker/app.py) every send after the
    first to a partition waited a round trip to the broker: faust's producer buffer sends table writes one at a time,
    so a whole worker produced about one record per round trip (~350 records/s, behind the 500 events/s
    of a busy trial, with every alert queued behind them). Queuing a new one-record batch instead keeps what the
    broker receives the same (each batch one record, each partition in order: aiokafka sends a partition's batches
    oldest first, one per request), while a request carries one record of every partition that has one waiting.
    Nothing is held that the worker does not wait for: ingest waits for a batch's outputs and flushes the producer
    before it takes the next batch (streams/worker/ingest.py), and a flush waits for every queued batch.
    """
    from aiokafka.producer.message_accumulator import MessageAccumulator

    if getattr(MessageAccumulator.add_message, "_safety_queued", False):
        return
    add = MessageAccumulator.add_message

    async def add_message(self: MessageAccumulator, tp: TP, *args: Any, **kwargs: Any) -> Any:
        pending = self._batches.get(tp)
        if pending and self._batch_size <= 1 and not pending[-1].is_empty():
            self._append_batch(self.create_builder(), tp)
        return await add(self, tp, *args, **kwargs)

    add_message._safety_queued = True  # type: ignore[attr-defined]
    MessageAccumulator.add_message = add_message


class StopSignalWorker(faust.Worker):
    """faust's worker, with a hook that runs on SIGTERM/SIGINT before the clean stop starts.

    mode.Worker routes each stop signal through ``_schedule_shutdown`` and offers no public hook there.
    """

    def on_stop_signal(self, signal: signal.Signals) -> None:
        """Called with the signal before the clean stop; may end the process instead."""

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        self.on_stop_signal(signal)
        super()._schedule_shutdown(signal)
