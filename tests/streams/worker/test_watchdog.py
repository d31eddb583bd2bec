"""The stalled-partition watchdog's decision: re-seek only when records wait and no commit moved for a period."""

from __future__ import annotations

from streams.worker.watchdog import StallWatchdog

TP = ("safety.events", 2)


def test_a_partition_with_waiting_records_and_no_commit_for_the_period_is_stalled() -> None:
    dog = StallWatchdog(stall_after=20)
    assert not dog.stalled(TP, committed=501, highwater=978, now=0)
    assert not dog.stalled(TP, committed=501, highwater=978, now=19.9)
    assert dog.stalled(TP, committed=501, highwater=978, now=20)


def test_after_a_reseek_the_watch_rearms_for_another_full_period() -> None:
    dog = StallWatchdog(stall_after=20)
    dog.stalled(TP, 501, 978, now=0)
    assert dog.stalled(TP, 501, 978, now=20)
    assert not dog.stalled(TP, 501, 978, now=39)
    assert dog.stalled(TP, 501, 978, now=40)


def test_a_moving_commit_is_progress_not_a_stall() -> None:
    dog = StallWatchdog(stall_after=20)
    dog.stalled(TP, 501, 978, now=0)
    assert not dog.stalled(TP, 600, 978, now=15)
    assert not dog.stalled(TP, 600, 978, now=34)
    assert dog.stalled(TP, 600, 978, now=35)


def test_a_caught_up_or_never_fetched_partition_is_never_stalled() -> None:
    dog = StallWatchdog(stall_after=20)
    assert not dog.stalled(TP, 978, 978, now=0)
    assert not dog.stalled(TP, 978, 978, now=100)
    assert not dog.stalled(TP, 501, None, now=0)
    assert not dog.stalled(TP, 501, None, now=100)


def test_a_partition_never_committed_counts_from_offset_zero() -> None:
    dog = StallWatchdog(stall_after=20)
    assert not dog.stalled(TP, None, 0, now=0)
    dog.stalled(TP, None, 5, now=0)
    assert dog.stalled(TP, None, 5, now=20)


def test_catching_up_clears_the_watch_so_a_later_backlog_gets_a_full_period() -> None:
    dog = StallWatchdog(stall_after=20)
    dog.stalled(TP, 501, 978, now=0)
    assert not dog.stalled(TP, 978, 978, now=10)
    assert not dog.stalled(TP, 978, 1000, now=25)
    assert not dog.stalled(TP, 978, 1000, now=44)
    assert dog.stalled(TP, 978, 1000, now=45)


def test_partitions_moved_away_by_a_rebalance_are_forgotten() -> None:
    dog = StallWatchdog(stall_after=20)
    dog.stalled(TP, 501, 978, now=0)
    dog.forget(keep=set())
    assert not dog.stalled(TP, 501, 978, now=30)  # a fresh watch, not a stall carried over


def test_waiting_means_records_past_the_committed_offset_at_the_last_check() -> None:
    dog = StallWatchdog(stall_after=20)
    dog.stalled(TP, 978, 978, now=0)
    assert not dog.waiting(TP)
    dog.stalled(TP, 978, 990, now=5)
    assert dog.waiting(TP)
