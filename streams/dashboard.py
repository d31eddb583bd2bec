"""The dashboard's view of the stream: agents on safety.events/graded/alerts/acks keep a bounded view table.

Every page (streams/pages.py) needs the whole study, but a worker owns only some partitions; the view is a
faust GlobalTable, so every worker reads every partition's view. Each key has one writer (convention 10):
``s:<subject_id>`` is written by the agent that owns the subject's partition of the topic it consumes
(events, graded and alerts are keyed by subject_id), ``a:<alert_id>`` by the agent on safety.acks (keyed by
alert_id). What a subject's view keeps is bounded (``SubjectView.add_*``): every enrolment, infusion, AE,
death and alert, and for the six timeline tests the first and the latest lab values and graded rows.

A leader-only timer publishes the safety-summary JSON to safety.ethics-feed every ``feed_interval`` seconds,
so a consumer of that topic gets the same document as ``GET /reports/safety-summary.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from safety.reports import TIMELINE_TESTS, Report, StoppingParams, build_report

log = logging.getLogger(__name__)

KEEP_FIRST, KEEP_LAST = 8, 400  # per subject and test: baseline candidates + recent follow-up
MAX_ALERTS = 1000
MAX_ACKS = 20
FEED_INTERVAL_SECONDS = 3600.0


class SubjectView(BaseModel):
    """What the pages show of one subject, as raw contract JSON objects (re-validated by safety.reports)."""

    events: list[dict[str, Any]] = Field(default_factory=list)
    graded: list[dict[str, Any]] = Field(default_factory=list)
    alerts: list[dict[str, Any]] = Field(default_factory=list)

    def add_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "lab":
            if event.get("test") not in TIMELINE_TESTS:
                return
            self.events = _bounded_by_test(self.events, event, "test")
            return
        if event.get("type") in ("vital", "ecg", "transfusion"):
            return  # not shown on the pages; the subject table keeps what the rules need
        self.events = [e for e in self.events if not _same_revision(e, event)] + [event]

    def add_graded(self, row: dict[str, Any]) -> None:
        if row.get("test") not in TIMELINE_TESTS:
            return
        self.graded = _bounded_by_test(self.graded, row, "test")

    def add_alert(self, alert: dict[str, Any]) -> None:
        if any(a.get("alert_id") == alert.get("alert_id") for a in self.alerts):
            return  # redelivery: the same alert, content-derived id
        self.alerts = (self.alerts + [alert])[-MAX_ALERTS:]


def _same_revision(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("event_id") == b.get("event_id") and a.get("revision", 1) == b.get("revision", 1)


def _bounded_by_test(rows: list[dict[str, Any]], new: dict[str, Any], field: str) -> list[dict[str, Any]]:
    rows = [r for r in rows if not _same_revision(r, new)] + [new]
    same = [r for r in rows if r.get(field) == new.get(field)]
    if len(same) <= KEEP_FIRST + KEEP_LAST:
        return rows
    same.sort(key=lambda r: str(r.get("occurred_at", "")))
    keep = {id(r) for r in same[:KEEP_FIRST] + same[-KEEP_LAST:]}
    return [r for r in rows if r.get(field) != new.get(field) or id(r) in keep]


def subject_key(subject_id: str) -> str:
    return f"s:{subject_id}"


def ack_key(alert_id: str) -> str:
    return f"a:{alert_id}"


def snapshot(items: Iterable[tuple[Any, Any]]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """(events, graded, alerts, acks) from the view table's items (bytes or str keys and JSON values)."""
    events: list[Any] = []
    graded: list[Any] = []
    alerts: list[Any] = []
    acks: list[Any] = []
    for raw_key, raw_value in items:
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        if raw_value is None:
            continue
        if key.startswith("s:"):
            view = SubjectView.model_validate_json(raw_value)
            events += view.events
            graded += view.graded
            alerts += view.alerts
        elif key.startswith("a:"):
            acks += json.loads(raw_value)
    alerts.sort(key=lambda a: (str(a.get("raised_at", "")), str(a.get("alert_id", ""))))
    return events, graded, alerts, acks


def report_from(
    items: Iterable[tuple[Any, Any]],
    *,
    study_id: str,
    generated_at: datetime,
    stopping: StoppingParams | None = None,
    tz: Any = None,
) -> tuple[Report, list[Any], list[Any]]:
    """The report the pages show, plus the raw events and graded rows for timelines and eDISH."""
    events, graded, alerts, acks = snapshot(items)
    kwargs = {"tz": tz} if tz is not None else {}
    report = build_report(
        events, alerts, acks, study_id=study_id, generated_at=generated_at, stopping=stopping, **kwargs
    )
    return report, events, graded


def _json(value: bytes | str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None  # the ingest agent dead-letters bad input; the view just skips it
    return data if isinstance(data, dict) else None


def register(app: Any, ctx: Any) -> Any:
    """Declare the view GlobalTable, its four agents and the ethics-feed timer; returns the table."""
    import faust

    existing = ctx.tables.extra.get("dashboard_view")
    if existing is not None:
        return existing
    schema: faust.Schema[bytes, bytes] = faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    view = app.GlobalTable(
        "dashboard_view",
        default=None,
        key_type=bytes,
        value_type=bytes,
        schema=schema,
        help="s:<subject_id> -> SubjectView JSON, a:<alert_id> -> acks (writer: dashboard)",
    )
    ctx.tables.extra["dashboard_view"] = view

    def update(subject_id: str, change: str, record: dict[str, Any]) -> None:
        key = subject_key(subject_id).encode()
        current = view.get(key)
        subject = SubjectView.model_validate_json(current) if current else SubjectView()
        getattr(subject, change)(record)
        view[key] = subject.model_dump_json().encode()

    def agent_for(topic: Any, name: str, change: str) -> None:
        @app.agent(topic, name=name)
        async def consume(stream: Any) -> None:
            async for value in stream:
                record = _json(value)
                if record and isinstance(record.get("subject_id"), str):
                    update(record["subject_id"], change, record)

    agent_for(ctx.topics.events, "dashboard_events", "add_event")
    agent_for(ctx.topics.graded, "dashboard_graded", "add_graded")
    agent_for(ctx.topics.alerts, "dashboard_alerts", "add_alert")

    @app.agent(ctx.topics.acks, name="dashboard_acks")
    async def acks(stream: Any) -> None:
        async for value in stream:
            record = _json(value)
            if record and isinstance(record.get("alert_id"), str):
                key = ack_key(record["alert_id"]).encode()
                known = json.loads(view.get(key) or b"[]")
                view[key] = json.dumps((known + [record])[-MAX_ACKS:], ensure_ascii=False).encode()

    interval = float(
        getattr(ctx.settings, "ethics_feed_interval", FEED_INTERVAL_SECONDS) or FEED_INTERVAL_SECONDS
    )

    @app.timer(interval=interval, on_leader=True, name="dashboard_ethics_feed")
    async def publish_summary() -> None:
        from safety.feeds import summary_json

        report, _, _ = current_report(ctx, datetime.now(UTC))
        await ctx.topics.ethics_feed.send(
            key=report.overview.study_id.encode(), value=summary_json(report).encode()
        )

    return view


def study_settings(ctx: Any) -> tuple[str, StoppingParams, Any]:
    """Study id, stopping parameters and time zone from the worker's rule set (the protocol file)."""
    try:
        rules = ctx.rules
    except Exception:  # noqa: BLE001  (rules not loadable: the pages still show counts, with defaults)
        log.warning("dashboard: rules could not be loaded; using the default study's stopping parameters")
        from safety.ruleset import DEFAULT_STUDY

        return DEFAULT_STUDY, StoppingParams(), None
    return rules.protocol.study_id, StoppingParams.of(rules.protocol), rules.tz


def current_report(ctx: Any, now: datetime) -> tuple[Report, list[Any], list[Any]]:
    study_id, stopping, tz = study_settings(ctx)
    view = ctx.tables.extra["dashboard_view"]
    return report_from(
        list(view.items()),
        study_id=study_id,
        generated_at=now.astimezone(tz) if tz else now,
        stopping=stopping,
        tz=tz,
    )
