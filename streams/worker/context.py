"""What the worker hands to modules that plug pages or agents into it (``register(app, ctx)``).

``streams.worker.app.create_app`` builds one ``WorkerContext`` per app and calls ``register(app, ctx)`` of each
plug-in module of ``SAFETY_PLUGINS`` (by default ``streams.web.acks`` and ``streams.web.pages``). A plug-in may
declare its own agents, tables and pages on ``app`` inside ``register``; each table keeps one writer, so a plug-in
reads ``ctx.tables`` and writes only the tables it declares.

Attributes
----------
app: faust.App
    The worker's app (declare ``@app.agent``, ``@app.page``, ``app.Table`` here).
settings: streams.settings.Settings
    Configuration (topic names, web host/port, notify config, auth tokens, link secret...).
metrics: streams.web.metrics.SafetyMetrics
    The metrics of this process (exact names in streams/web/metrics.py); ``/metrics`` is already served.
topics: Topics
    faust topic objects, all raw-bytes topics (encode/decode with streams.worker.codec only):
    ``events`` (input, keyed by subject_id), ``graded``, ``alerts`` (Alert JSON, keyed by subject_id),
    ``deadletter``, ``study`` (StudySignal JSON, keyed by study_id), ``acks`` (command events from HTTP),
    ``deliveries`` (delivery ledger, compacted), ``ethics_feed``.
tables: Tables
    ``subjects`` (subject_id -> SubjectState JSON, writer: streams.worker.ingest.ingest), ``seen`` (the revision
    applied per event id, writer: the same agent),
    ``study`` (study_id -> StudyState JSON, writer: streams.worker.ingest.study); plug-ins may set more attributes.
rulebook: safety.rules.ruleset.RuleBook
    Every study the worker evaluates (each event under its own study's rules), loaded on first use from
    ``settings.rules.file`` (a study file or a directory; default: every study in rules/studies), shared with
    replay.
rules: safety.rules.ruleset.RuleSet
    The primary study's rule set (``rulebook.primary``): what the single-study pages, dashboard and the delivery
    stage's escalation timings read.
accepted_listeners: list of callables
    Called by the ingest agent once per subject and batch with what it accepted (``Accepted``: raw bytes,
    event, graded rows), after the batch's outputs are delivered. A read model (streams/web/dashboard.py) is fed
    from here, never from the raw input topic, so it holds nothing ingest rejected. A listener must not block;
    one that raises is logged and skipped, ingest goes on.
broker_health: streams.worker.health.BrokerHealth
    Whether the broker answers (probed by streams/worker/watchdog.py); the pages show its banner while it does not.
stall_watched: set of topic names
    Topics of plug-in agents the stall watchdog also re-seeks (safety.alerts and the delivery commands).
stopping: asyncio.Event
    Set when the worker is told to stop (SIGTERM/SIGINT: streams/worker/run.py). faust's clean stop waits until
    every agent has finished the record it holds, so an agent whose record waits on slow work that can be done
    again later (an e-mail, a case's PDFs) gives it up when this is set (``until_stopping``) and leaves it owed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from streams.worker.health import BrokerHealth

if TYPE_CHECKING:
    import faust

    from safety.model.events import Event
    from safety.model.outputs import GradedObservation
    from safety.rules.ruleset import RuleBook, RuleSet
    from streams.settings import Settings
    from streams.web.metrics import SafetyMetrics


@dataclass
class Topics:
    events: faust.TopicT
    graded: faust.TopicT
    alerts: faust.TopicT
    deadletter: faust.TopicT
    study: faust.TopicT
    acks: faust.TopicT
    deliveries: faust.TopicT
    delivery_commands: faust.TopicT  # alerts re-keyed by alert_id for the delivery ledger (streams.worker.delivery)
    ethics_feed: faust.TopicT
    audit: faust.TopicT  # sign-ins, token uses, acknowledgements (streams/web/audit.py)


@dataclass
class Tables:
    subjects: Any  # faust.Table[str, str]: subject_id -> SubjectState JSON
    seen: Any  # faust.Table[bytes, bytes]: study/subject/event_id -> the revision applied (streams/worker/ingest.py)
    study: Any  # faust.Table[str, str]: study_id -> StudyState JSON
    extra: dict[str, Any] = field(default_factory=dict)  # tables declared by plug-ins, by name


@dataclass(frozen=True)
class Accepted:
    """One input record ingest accepted: its exact bytes, the validated event, the graded rows it gave."""

    raw: bytes
    event: Event
    graded: Sequence[GradedObservation] = ()


@dataclass
class WorkerContext:
    app: faust.App
    settings: Settings
    metrics: SafetyMetrics
    topics: Topics
    tables: Tables
    accepted_listeners: list[Callable[[Sequence[Accepted]], None]] = field(default_factory=list)
    broker_health: BrokerHealth = field(default_factory=BrokerHealth)
    # topics beside the two inputs whose partitions the stall watchdog re-seeks (streams/worker/watchdog.py); a plug-in
    # adds those its agents consume when re-reading them is idempotent (the delivery ledger is, by alert id)
    stall_watched: set[str] = field(default_factory=set)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.broker_health.exit_after = self.settings.worker.broker_down_exit_seconds

    @cached_property
    def rulebook(self) -> RuleBook:
        """Loaded lazily: the worker module is importable (``faust -A streams.worker.app``) before rules are read."""
        from streams.rulefiles import load_rulebook

        return load_rulebook(self.settings.rules.file)

    @property
    def rules(self) -> RuleSet:
        return self.rulebook.primary


T = TypeVar("T")


class StopRequested(Exception):
    """The worker is stopping and the awaited work was given up, not finished: whoever owes it does it again."""


async def until_stopping(stopping: asyncio.Event | None, work: Awaitable[T]) -> T:
    """``work``'s result, or StopRequested as soon as ``stopping`` is set (``work`` is then cancelled: a send or
    render running in a thread or child process may still finish, unrecorded). None: just ``work``."""
    if stopping is None:
        return await work
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        task.cancel()
        raise StopRequested
    return task.result()
