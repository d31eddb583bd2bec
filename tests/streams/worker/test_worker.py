"""streams.worker.run: a SIGTERM stop that cannot hang (broker unreachable: at once; otherwise within a bound)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from streams.worker import run as worker
from streams.worker.health import BrokerHealth


class Exited(Exception):
    pass


def stopping(monkeypatch: pytest.MonkeyPatch, health: BrokerHealth) -> tuple[Any, list[str]]:
    calls: list[str] = []

    def fake_exit(why: str = "") -> None:
        calls.append("exit 75")
        raise Exited

    monkeypatch.setattr(worker, "hard_exit", fake_exit)
    fake = worker.BoundedStopWorker.__new__(worker.BoundedStopWorker)  # no app, no loop: only the decision
    fake.health, fake.stopping, fake.stop_within = health, asyncio.Event(), 60.0
    return fake, calls


def test_a_sigterm_while_the_broker_is_unreachable_exits_at_once_with_75(monkeypatch) -> None:
    # Before: faust's clean stop waited for commits the dead broker never answered, for over 15 s.
    health = BrokerHealth()
    health.observe(False, now=0)
    fake, calls = stopping(monkeypatch, health)
    with pytest.raises(Exited):
        fake.on_stop_signal(signal.SIGTERM)  # before faust's clean stop (faust_compat.StopSignalWorker)
    assert calls == ["exit 75"]


def test_a_sigterm_with_the_broker_up_stops_cleanly_under_a_deadline(monkeypatch) -> None:
    timers: list[Any] = []

    class FakeTimer:
        def __init__(self, interval: float, function: Any, kwargs: dict[str, Any]) -> None:
            self.interval, self.daemon = interval, False
            timers.append(self)

        def start(self) -> None:
            self.started = True

    monkeypatch.setattr(worker.threading, "Timer", FakeTimer)
    fake, calls = stopping(monkeypatch, BrokerHealth())
    fake.on_stop_signal(signal.SIGTERM)  # returns: faust's clean stop follows, under the deadline
    assert calls == []
    assert fake.stopping.is_set()  # the agents stop waiting for sends and renders they can redo later
    assert [(t.interval, t.daemon, t.started) for t in timers] == [(60.0, True, True)]
