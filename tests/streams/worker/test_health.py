"""streams.worker.health: what the worker makes of a broker that does not answer (gauge, banner, log back-off, exit)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from streams.worker.health import RECOVERING, BrokerHealth, LogBackoff, stale_banner


def test_a_broker_down_for_the_bound_makes_the_worker_exit_and_not_before() -> None:
    health = BrokerHealth(exit_after=30)
    assert not health.observe(False, now=100) and not health.up
    assert not health.observe(False, now=129.9)
    assert health.observe(False, now=130)


def test_a_broker_back_within_the_bound_is_used_again_and_the_clock_restarts() -> None:
    health = BrokerHealth(exit_after=30)
    health.observe(False, now=100)
    assert not health.observe(True, now=120) and health.up and health.banner() is None
    assert not health.observe(False, now=125)
    assert not health.observe(False, now=154) and health.observe(False, now=155)


def test_the_banner_says_since_when_and_what_the_worker_will_do() -> None:
    health = BrokerHealth(exit_after=45)
    health.observe(False, now=0)
    banner = health.banner()
    assert banner is not None and "stale" in banner and "45 s" in banner and "SAFETY_BROKER_DOWN_EXIT_SECONDS" in banner


def record(msg: str, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, ("127.0.0.1",), None)


def test_the_log_back_off_lets_each_repeated_line_through_once_per_interval() -> None:
    now = [0.0]
    backoff = LogBackoff(interval=30, clock=lambda: now[0])
    assert backoff.filter(record("Unable connect to %s"))
    assert backoff.filter(record("Unable to update metadata"))
    now[0] = 29.0
    assert not backoff.filter(record("Unable connect to %s"))
    now[0] = 30.0
    assert backoff.filter(record("Unable connect to %s"))
    assert backoff.suppressed == 1


def test_the_log_back_off_goes_on_the_root_handlers_and_comes_off_with_its_count() -> None:
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        backoff = LogBackoff(interval=30, clock=lambda: 0.0)
        backoff.install()
        assert backoff in handler.filters
        backoff.filter(record("x"))
        backoff.filter(record("x"))
        assert backoff.remove() == 1 and backoff not in handler.filters and backoff.suppressed == 0
    finally:
        root.removeHandler(handler)


def fake_app(completed: bool, in_recovery: bool = False) -> Any:
    event = asyncio.Event()
    if completed:
        event.set()
    return SimpleNamespace(in_recovery=in_recovery, tables=SimpleNamespace(recovery=SimpleNamespace(completed=event)))


def test_pages_wait_for_the_tables_to_be_recovered_and_for_the_broker() -> None:
    health = BrokerHealth()
    assert stale_banner(fake_app(completed=False), health) == RECOVERING
    assert stale_banner(fake_app(completed=True, in_recovery=True), health) == RECOVERING
    assert stale_banner(fake_app(completed=True), health) is None
    health.observe(False, now=0)
    assert stale_banner(fake_app(completed=True), health) == health.banner()
