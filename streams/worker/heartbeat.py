"""The stream's heartbeat: a timer that raises DATA_OVERDUE and FEED_SILENT against the wall clock.

A plug-in (``register(app, ctx)``), on by default in ``SAFETY_PLUGINS`` as production runs it. Every
``SAFETY_EXPECTED_CHECK_SECONDS`` (60):

* **Expected data.** Each subject state of this worker's partitions is read from the ``subjects`` table (read
  only: ingest stays its one writer) and :func:`safety.heartbeat.check` settles, on that copy, the visits due by
  now; a DATA_OVERDUE not yet published by this process goes to ``safety.alerts``, so delivery sends it like any
  alert. Its id is derived from its content (subject, group, visit), so a re-publication after a restart is the
  same alert, which delivery does not send twice. A published alert whose visit the subject's state later shows
  complete (ingest counted the late result) is followed by ALERT_WITHDRAWN, reason "received".
* **Silent feeds.** Ingest tells the timer each accepted event's ``source`` (``ctx.accepted_listeners``). A source
  that sent during the last ``ACTIVE_DAYS`` days and nothing for the study's ``schedule.silence_limit_hours``
  (``SAFETY_FEED_SILENCE_HOURS`` when set) raises FEED_SILENT to the safety officer, once until it sends again;
  ``safety_feed_silent_seconds{source}`` says how long each source has been quiet (deploy/prometheus/rules.yml
  alerts on it, deploy/grafana shows it).

The expected data are checked only once this worker's ingest has caught up with the events topic (``Backlog``):
during a backlog (a restart, a first load of old data) the states lack results still waiting on the topic.

Replay never runs this: it evaluates the schedule only with ``--as-of`` (safety/replay.py); streams/dev/parity.py
says how the stream's alerts are compared with replay's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from safety import heartbeat
from safety.clocks import in_study_time
from safety.model.outputs import Alert, alert_id
from safety.rules.ruleset import RuleBook, RuleSet
from safety.vocab import AlertKind
from streams.worker import codec, faust_compat
from streams.worker.context import Accepted, WorkerContext

log = logging.getLogger(__name__)

ACTIVE_DAYS: Final = 7
DEFER_LIMIT_S: Final = 900.0  # expected data waits for ingest to catch up at most this long (``Backlog``)
FEED_RULE_ID: Final = "FEED_SILENT"


@dataclass
class FeedWatch:
    """When each ``source`` last sent, and which are silent already (told once until they send again)."""

    last_seen: dict[str, float] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)

    def seen(self, source: str, at: float) -> None:
        self.last_seen[source] = max(at, self.last_seen.get(source, at))
        self.silent.discard(source)

    def newly_silent(self, now: float, limit_seconds: float) -> list[str]:
        """Sources active in the last ``ACTIVE_DAYS`` days and quiet for ``limit_seconds``, not yet told."""
        found = [
            source
            for source, last in sorted(self.last_seen.items())
            if source not in self.silent and limit_seconds <= now - last <= ACTIVE_DAYS * 86400
        ]
        self.silent.update(found)
        return found


def silence_limit_hours(ctx: WorkerContext) -> float:
    """``SAFETY_FEED_SILENCE_HOURS`` when set, else the study schedule's ``silence_limit_hours``."""
    return ctx.settings.worker.feed_silence_hours or ctx.rules.protocol.schedule.silence_limit_hours


def feed_silent_alert(source: str, last: float, now: float, rules: RuleSet, limit_hours: float | None = None) -> Alert:
    """FEED_SILENT for ``source``: the subject is the source (no subject's data is named), no reporting clock."""
    since = datetime.fromtimestamp(last, tz=UTC)
    hours = rules.protocol.schedule.silence_limit_hours if limit_hours is None else limit_hours
    return Alert(
        alert_id=alert_id("FEED_SILENT", FEED_RULE_ID, source, [], since.isoformat()),
        kind=AlertKind.FEED_SILENT,
        rule_id=FEED_RULE_ID,
        study_id=rules.protocol.study_id,
        subject_id=source,
        event_ids=[],
        recipients=rules.protocol.recipients_of("FEED_SILENT"),
        raised_at=in_study_time(datetime.fromtimestamp(now, tz=UTC), rules.tz),
        rules_version=rules.version,
        basis={
            "criterion": f"no event from source {source} for {hours:g} h",
            "source": source,
            "last_event_at": in_study_time(since, rules.tz).isoformat(),
        },
    )


@dataclass
class OverdueWatch:
    """DATA_OVERDUE alerts this process published and not yet withdrawn: alert_id -> (subject key, group, day)."""

    open: dict[str, tuple[bytes, str, int]] = field(default_factory=dict)

    def due(self, key: bytes, stored: bytes, now: datetime, book: RuleBook) -> list[Alert]:
        """The alerts of one subject state at ``now``: new DATA_OVERDUE, and withdrawals of those now received."""
        state = codec.decode_subject(stored)
        if state is None:
            return []
        rules = book.get(state.study_id)
        if rules is None:
            return []
        alerts = [a for a in heartbeat.check(state, now, rules) if a.alert_id not in self.open]
        for alert in alerts:
            basis = alert.basis or {}
            self.open[alert.alert_id] = (key, str(basis["group"]), int(basis["visit_day"]))
        for opened, (subject, group, day) in list(self.open.items()):
            if subject == key and _received(state, rules, group, day):
                del self.open[opened]
                alerts.append(_withdrawal(opened, state.study_id, state.subject_id, day, now, rules))
        return alerts


def _received(state: Any, rules: RuleSet, group: str, day: int) -> bool:
    """Ingest's state shows the visit complete: the group's next open visit is past it and it was not alerted."""
    progress = state.expected.groups.get(group)
    days = rules.protocol.schedule.groups[group].days
    if progress is None or day not in days:
        return False
    settled = progress.next > days.index(day) or day in progress.complete
    return settled and f"{group}/{day}" not in state.expected.overdue


def _withdrawal(withdraws: str, study_id: str, subject_id: str, day: int, now: datetime, rules: RuleSet) -> Alert:
    return Alert(
        alert_id=alert_id("ALERT_WITHDRAWN", heartbeat.RULE_ID, subject_id, [], withdraws),
        kind=AlertKind.ALERT_WITHDRAWN,
        rule_id=heartbeat.RULE_ID,
        study_id=study_id,
        subject_id=subject_id,
        study_day=day,
        event_ids=[],
        recipients=rules.protocol.recipients_of("DATA_OVERDUE"),
        raised_at=in_study_time(now, rules.tz),
        rules_version=rules.version,
        withdraws=withdraws,
        reason=heartbeat.RECEIVED,
    )


@dataclass
class Backlog:
    """Whether a beat checks expected data: only once ingest has caught up with its input, because subject states
    with results still waiting on the topic would raise DATA_OVERDUE for data that has arrived (a restart, a first
    load of old data, the demo). Under a backlog that never clears, the check still runs every ``DEFER_LIMIT_S``."""

    deferred_since: float | None = None

    def should_check(self, caught_up: bool, now: float) -> bool:
        if caught_up or (self.deferred_since is not None and now - self.deferred_since >= DEFER_LIMIT_S):
            self.deferred_since = None
            return True
        if self.deferred_since is None:
            self.deferred_since = now
        return False


def caught_up(app: Any, topic: str) -> bool:
    """No rebalance under way and every assigned partition of ``topic`` committed up to its high-water mark."""
    if app.rebalancing:
        return False
    consumer = app.consumer
    for tp in consumer.assignment():
        if tp.topic != topic:
            continue
        highwater = consumer.highwater(tp)
        if highwater is not None and (faust_compat.committed_offset(consumer, tp) or 0) < highwater:
            return False
    return True


def register(app: Any, ctx: WorkerContext) -> None:
    """Declare the heartbeat timer and feed the source watch from what ingest accepts."""
    feeds = FeedWatch()
    overdue = OverdueWatch()
    backlog = Backlog()
    events = ctx.topics.events.get_topic_name()

    def on_accepted(entries: Sequence[Accepted]) -> None:
        now = time.time()
        for entry in entries:
            if entry.event.source:
                feeds.seen(entry.event.source, now)

    ctx.accepted_listeners.append(on_accepted)

    @app.timer(interval=ctx.settings.worker.expected_check_seconds, name="heartbeat")
    async def beat() -> None:
        now = time.time()
        await check_once(ctx, feeds, overdue, now, expected=backlog.should_check(caught_up(app, events), now))


async def check_once(
    ctx: WorkerContext, feeds: FeedWatch, overdue: OverdueWatch, now: float, expected: bool = True
) -> list[Alert]:
    """One beat: publish what is due at ``now`` (seconds since the epoch), the expected data only when ``expected``
    (``Backlog``); returns the alerts published."""
    rules = ctx.rules
    moment = datetime.fromtimestamp(now, tz=UTC)
    gauge = ctx.metrics.feed_silent_seconds
    for source, last in feeds.last_seen.items():
        gauge.labels(source).set(max(0.0, now - last))
    hours = silence_limit_hours(ctx)
    silent = feeds.newly_silent(now, hours * 3600)
    alerts = [feed_silent_alert(s, feeds.last_seen[s], now, rules, hours) for s in silent]
    for key, stored in list(ctx.tables.subjects.items()) if expected else []:
        alerts.extend(overdue.due(key, stored, moment, ctx.rulebook))
    for alert in alerts:
        stamped = alert.model_copy(update={"emitted_at": moment})
        ctx.metrics.alerts.labels(alert.kind.value).inc()
        await ctx.topics.alerts.send(key=codec.key(alert.subject_id), value=codec.encode_alert(stamped))
    if alerts:
        log.info("heartbeat: %s alert(s) published", len(alerts))
    return alerts
