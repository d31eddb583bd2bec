"""The offset-gap guard's decision: which offsets faust skipped before the record the agent was given."""

from __future__ import annotations

from streams.worker.gaps import GapGuard

TP = ("safety.events", 0)


def test_contiguous_offsets_from_the_committed_offset_miss_nothing() -> None:
    guard = GapGuard()
    assert [guard.missing(TP, o, 1, committed=234) for o in (234, 235, 236)] == [range(0)] * 3


def test_an_offset_past_the_next_one_reports_the_offsets_in_between() -> None:
    guard = GapGuard()
    guard.missing(TP, 234, 1, committed=234)
    guard.missing(TP, 235, 1, committed=234)
    assert guard.missing(TP, 241, 1, committed=234) == range(236, 241)
    assert guard.missing(TP, 242, 1, committed=234) == range(0)


def test_the_first_record_of_a_generation_is_checked_against_the_committed_offset() -> None:
    guard = GapGuard()
    assert guard.missing(TP, 235, 1, committed=234) == range(234, 235)  # faust commits over one missing head


def test_a_redelivered_earlier_offset_misses_nothing_and_becomes_the_position() -> None:
    guard = GapGuard()
    for offset in (10, 11, 12):
        guard.missing(TP, offset, 1, committed=10)
    assert guard.missing(TP, 5, 1, committed=10) == range(0)  # the stall watchdog seeked back
    assert guard.missing(TP, 7, 1, committed=10) == range(6, 7)


def test_a_new_generation_starts_again_from_the_committed_offset() -> None:
    guard = GapGuard()
    for offset in (10, 11, 12):
        guard.missing(TP, offset, 1, committed=10)
    assert guard.missing(TP, 30, 2, committed=30) == range(0)
    assert guard.missing(TP, 40, 3, committed=31) == range(31, 40)


def test_a_partition_never_committed_is_checked_from_the_start_of_the_log() -> None:
    guard = GapGuard()
    assert guard.missing(TP, 0, 1, committed=None) == range(0)
    assert guard.missing(TP, 2, 1, committed=None) == range(1, 2)
    assert GapGuard().missing(TP, 3, 1, committed=None) == range(0, 3)  # faust dropped the first records


def test_partitions_are_guarded_separately() -> None:
    guard = GapGuard()
    guard.missing(TP, 10, 1, committed=10)
    assert guard.missing(("safety.events", 1), 99, 1, committed=99) == range(0)
    assert guard.missing(TP, 11, 1, committed=10) == range(0)


def test_records_read_again_let_faust_commit_past_them(app) -> None:
    import faust
    from faust.types import TP as FaustTP

    from streams.worker.gaps import as_event, mark_processed

    class Record:  # the fields of an aiokafka ConsumerRecord that as_event reads
        def __init__(self, offset: int) -> None:
            self.topic, self.partition, self.offset = "safety.events", 3, offset
            self.timestamp, self.timestamp_type, self.headers = 1_780_000_000_000, 0, []
            self.key, self.value, self.checksum = b"AA-001", b"{}", None
            self.serialized_key_size = self.serialized_value_size = 2

    tp = FaustTP("safety.events", 3)
    consumer = app.consumer
    app.topics._acking_topics.add(tp.topic)  # what the conductor does for an agent's topic when the worker starts
    consumer._committed_offset[tp] = 395
    delivered = faust.Event(app, b"AA-001", b"{}", [], as_event(app, tp, Record(398)).message)
    consumer.ack(delivered.message)  # faust's own record, after the three it skipped
    assert consumer._new_offset(tp) is None  # a hole at the head: faust would never commit
    mark_processed(app.safety, [as_event(app, tp, Record(o)) for o in (395, 396, 397)])
    assert consumer._new_offset(tp) == 399
