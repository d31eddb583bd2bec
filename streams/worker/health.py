"""Is the broker reachable? The worker's answer, and what it does about a broker that stays away.

Before this, a worker whose broker died ran on for 90 s and more: pages answered 200 with stale data, aiokafka
and faust wrote about 13 KB of log a second, and SIGTERM took over 15 s (faust's clean stop waits for commits and
a producer flush the dead broker never answers). Now a timer probes the broker every ``PROBE_SECONDS``
(streams/worker/watchdog.py) and ``BrokerHealth`` decides:

* ``safety_broker_up`` on ``/metrics`` is 0 while the broker does not answer a metadata request;
* the pages answer 503 with a banner saying since when (streams/web/pages.py), instead of stale data (so they do
  while the worker's tables are still being recovered after a start or a rebalance: ``stale_banner``);
* repeated log lines are let through once per ``LOG_BACKOFF_SECONDS`` while it is down (``LogBackoff``);
* after ``SAFETY_BROKER_DOWN_EXIT_SECONDS`` (30 s) of it the worker exits with code 75 (EX_TEMPFAIL), as after
  kill -9: nothing unacknowledged is lost (at-least-once, README "delivery semantics"), and its supervisor
  (docker compose ``restart``, systemd) starts it again, which waits for the broker. A broker back within the
  bound is simply used again. A SIGTERM while the broker is down exits at once with 75 (streams/worker/run.py).

Worst case from broker death to exit: the bound plus one probe interval plus the probe's own timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EXIT_BROKER_DOWN = 75  # EX_TEMPFAIL, as streams.worker.ingest.EXIT_OUTPUTS_LOST
PROBE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 3.0
LOG_BACKOFF_SECONDS = 30.0


@dataclass
class BrokerHealth:
    """What the probes said: up, or down since when (monotonic and wall clock)."""

    exit_after: float = 30.0
    down_since: float | None = None
    down_since_wall: datetime | None = None
    probes_failed: int = 0

    @property
    def up(self) -> bool:
        return self.down_since is None

    def observe(self, reachable: bool, now: float) -> bool:
        """Record one probe at monotonic ``now``; True when the worker should exit (down for ``exit_after``)."""
        if reachable:
            self.down_since, self.down_since_wall, self.probes_failed = None, None, 0
            return False
        self.probes_failed += 1
        if self.down_since is None:
            self.down_since, self.down_since_wall = now, datetime.now(UTC)
        return now - self.down_since >= self.exit_after

    def banner(self) -> str | None:
        """The pages' message while the broker is down, else None."""
        if self.down_since_wall is None:
            return None
        since = self.down_since_wall.isoformat(timespec="seconds")
        return (
            f"The Kafka broker has not answered since {since}: this worker cannot see new events, so its pages "
            f"would show stale data. It exits for a restart after {self.exit_after:.0f} s of this "
            "(SAFETY_BROKER_DOWN_EXIT_SECONDS); check the broker, then reload. / Kafka 代理无响应，数据可能已过时。"
        )


class LogBackoff(logging.Filter):
    """Lets each (logger, message template) through once per ``interval`` seconds; counts the rest."""

    def __init__(self, interval: float = LOG_BACKOFF_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval, self.clock = interval, clock
        self.suppressed = 0
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self.suppressed += 1
            return False
        self._last[key] = now
        return True

    def install(self) -> None:
        """On every handler of the root logger (where faust's and aiokafka's records end up)."""
        for handler in logging.getLogger().handlers:
            if self not in handler.filters:
                handler.addFilter(self)

    def remove(self) -> int:
        """Take the filter off; returns how many lines it held back, and starts counting again."""
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)
        held, self.suppressed = self.suppressed, 0
        self._last.clear()
        return held


RECOVERING = (
    "This worker is reading its tables back from Kafka (after a start or a rebalance): until it has, its pages "
    "would show incomplete data. Reload in a few seconds. / 正在恢复状态，请稍后刷新。"
)


def stale_banner(app: Any, health: BrokerHealth) -> str | None:
    """Why the pages would show stale or incomplete data now (broker down, tables recovering), else None."""
    banner = health.banner()
    if banner is not None:
        return banner
    recovery = app.tables.recovery
    if getattr(app, "in_recovery", False) or not recovery.completed.is_set():
        return RECOVERING
    return None
