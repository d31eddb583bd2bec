"""The dashboard's view of the stream: a bounded view table fed by what ingest accepted, alerts and acks.

Every page (streams/web/pages.py) needs the whole study, but a worker owns only some partitions; the view is a
faust GlobalTable, so every worker reads every partition's view. Each key has one writer:
``s:<subject_id>`` (the subject's enrolment, infusions, transfusions, AEs, deaths and alerts) and the keys of its
tests are written on the worker that owns the subject's partition (the ingest agent hands it the events and graded
rows it accepted; the agent on safety.alerts, keyed by subject_id, adds alerts),
``a:<alert_id>`` by the agent on safety.acks (keyed by alert_id), ``d:<alert_id>`` (the alert's delivery ledger
entry, for its page) by the agent on safety.deliveries (keyed by alert_id), ``u:<alert_id>`` (the alert's part of
the audit trail, for its page) by the agent on safety.audit (whose records about an alert are keyed by its id:
streams/web/guard.py), ``x:<alert_id>`` (the alert itself, so any
worker's ack endpoint finds it by id: streams/web/acks.py) by the alerts agent of the alert's subject partition.

An observation (lab, vital sign, ECG) is one key of its own, ``o:[study, subject, test, instant, event_id,
revision]``, holding the event and its graded rows. Each test of a subject keeps, in time order, the first
``KEEP_FIRST`` values (baseline candidates) and the latest ``KEEP_LAST``; an observation that falls out of that
window is deleted (``ViewWriter``). So accepting a result is one write of that result, whatever the subject's
history: the view costs the same per event in a subject's first week and in its fifth year. An older version kept a
subject's observations inside its ``s:`` entry; such entries are still read, and no new observation is added to
them.

A leader-only timer publishes the safety-summary JSON to safety.ethics-feed every ``feed_interval`` seconds,
so a consumer of that topic gets the same document as ``GET /reports/safety-summary.json``.
"""

from __future__ import annotations

import bisect
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from safety.coding import without_free_text
from safety.delivery.ledger import LedgerEntry, ack_refusal, submission_refusal
from safety.model.outputs import GRADED_ROWS, Alert, GradedObservation
from safety.reports import (
    Report,
    StoppingParams,
    build_report,
    read_acks,
    read_alerts,
    read_events,
    read_graded,
)
from safety.rules.schedule import Schedule

log = logging.getLogger(__name__)

KEEP_FIRST, KEEP_LAST = 8, 400  # observations per subject and test: baseline candidates + recent follow-up
OBSERVATIONS = ("lab", "vital", "ecg")  # kept per test: every graded test is charted (safety.reports.timeline)
MAX_ALERTS = 1000
MAX_ACKS = 20
MAX_ATTEMPTS = 20  # per delivery, in the view: the latest ones
MAX_AUDIT = 50  # audit records per alert, in the view: the latest ones (the topic keeps them all)
AUDIT_SHOWN = ("at", "person", "role", "action", "target", "reason", "via")  # no source address in the view
MAX_VIEW_BYTES = 512 * 1024  # per key; a Kafka record may have 1 MB
FEED_INTERVAL_SECONDS = 3600.0


class SubjectView(BaseModel):
    """What the pages show of one subject besides its observations, as raw contract JSON objects (re-validated by
    safety.reports). ``graded``, and observations in ``events``, are what an older version kept here: read, never
    added to."""

    events: list[dict[str, Any]] = Field(default_factory=list)
    graded: list[dict[str, Any]] = Field(default_factory=list)
    alerts: list[dict[str, Any]] = Field(default_factory=list)

    def add_event(self, event: dict[str, Any]) -> None:
        self.events = [e for e in self.events if not _same_revision(e, event)] + [event]

    def add_alert(self, alert: dict[str, Any]) -> None:
        if any(a.get("alert_id") == alert.get("alert_id") for a in self.alerts):
            return  # redelivery: the same alert, content-derived id
        self.alerts = (self.alerts + [alert])[-MAX_ALERTS:]


def _same_revision(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("event_id") == b.get("event_id") and a.get("revision", 1) == b.get("revision", 1)


class ViewWriter:
    """The writes of the view's subject keys, on the worker that owns the subject's partition (the only writer).

    ``view`` is the table (any mutable mapping of bytes to bytes: a dict in tests). No key is written over
    ``MAX_VIEW_BYTES``: a changelog record over Kafka's limit would fail in faust's producer.

    Which observations each test keeps, in time order, is read from the view's keys (an observation's key carries
    its instant): once per consumer generation (``generation``, faust's group generation: after a rebalance a
    subject may have come here from a worker that wrote it since), then kept in step with this writer's own
    writes. So accepting an observation is one write, with no index record beside it.
    """

    def __init__(self, view: MutableMapping[bytes, bytes], generation: Callable[[], int] = lambda: 0) -> None:
        self.view, self.generation = view, generation
        self._series: dict[tuple[Any, ...], list[list[Any]]] | None = None
        self._built_for: int | None = None

    def add(self, accepted: Iterable[tuple[dict[str, Any], Sequence[dict[str, Any]]]]) -> None:
        """Events one batch accepted, each with the graded rows it gave: every observation under its own key,
        anything else in one write of its subject's entry. Adding an event again (a redelivery, a true duplicate)
        changes nothing."""
        series: dict[tuple[Any, ...], list[tuple[dict[str, Any], Sequence[dict[str, Any]]]]] = {}
        others: dict[str, list[dict[str, Any]]] = {}
        for event, graded in accepted:
            if event.get("type") in OBSERVATIONS:
                parts = (event.get("study_id"), event.get("subject_id"), event.get("test"))
                series.setdefault(parts, []).append((event, graded))
            elif isinstance(event.get("subject_id"), str):
                others.setdefault(event["subject_id"], []).append(event)
        for subject_id, events in others.items():
            self.update(subject_id, functools.partial(_add_events, events=events))
        for parts, observations in series.items():
            self._add_observations(parts, observations)

    def kept(self, series: tuple[Any, ...]) -> list[list[Any]]:
        """[instant, event_id, revision] of the observations the view keeps of a subject's test, in time order."""
        generation = self.generation()
        if self._series is None or self._built_for != generation:
            self._series, self._built_for = _series_in(self.view), generation
        return self._series.setdefault(series, [])

    def _add_observations(
        self, series: tuple[Any, ...], observations: list[tuple[dict[str, Any], Sequence[dict[str, Any]]]]
    ) -> None:
        """New observations of one subject's test: each written under its key unless it falls out of the window
        the test keeps at once; the observations that fall out are deleted."""
        index = self.kept(series)
        new: dict[bytes, bytes] = {}
        for event, graded in observations:
            entry = [_instant(event.get("occurred_at")), event.get("event_id"), event.get("revision", 1)]
            key = observation_key([*series, *entry])
            if key in new or self.view.get(key) is not None:
                continue  # this revision is kept already: an event id and revision name one content (ingest)
            data = json.dumps({"event": event, "graded": list(graded)}, ensure_ascii=False).encode()
            if len(data) > MAX_VIEW_BYTES:
                log.error("dashboard view: an observation is over %d bytes: not shown", MAX_VIEW_BYTES)
                continue
            bisect.insort_right(index, entry, key=lambda e: e[0])
            new[key] = data
        if len(index) > KEEP_FIRST + KEEP_LAST:
            for entry in index[KEEP_FIRST : len(index) - KEEP_LAST]:
                key = observation_key([*series, *entry])
                if new.pop(key, None) is None and self.view.get(key) is not None:
                    del self.view[key]
            index[KEEP_FIRST : len(index) - KEEP_LAST] = []
        for key, data in new.items():
            self.view[key] = data

    def add_alert(self, alert: dict[str, Any]) -> None:
        self.update(alert["subject_id"], functools.partial(SubjectView.add_alert, alert=alert))

    def update(self, subject_id: str, change: Callable[[SubjectView], None]) -> None:
        key = subject_key(subject_id).encode()
        current = self.view.get(key)
        try:
            subject = SubjectView.model_validate_json(current) if current else SubjectView()
        except ValueError:
            log.error("dashboard view of a subject was unreadable and is started again")
            subject = SubjectView()
        change(subject)
        data = subject.model_dump_json().encode()
        if len(data) > MAX_VIEW_BYTES:
            log.error("dashboard view of a subject is over %d bytes: not updated", MAX_VIEW_BYTES)
            return
        self.view[key] = data


def _add_events(view: SubjectView, events: list[dict[str, Any]]) -> None:
    for event in events:
        view.add_event(event)


def _instant(occurred_at: Any) -> str:
    """Where an observation sorts in its test's index: its time in UTC, so offsets compare (the text as given when
    it is not an ISO time with an offset)."""
    text = str(occurred_at)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    return when.astimezone(UTC).isoformat() if when.tzinfo is not None else text


def observation_key(parts: list[Any]) -> bytes:
    """``o:`` and [study, subject, test, instant, event_id, revision] as JSON: no id can be mistaken for a
    separator, and the key alone says where the observation stands in its test (``_series_in``)."""
    return b"o:" + json.dumps(parts, ensure_ascii=False).encode()


def _series_in(view: Mapping[bytes, Any]) -> dict[tuple[Any, ...], list[list[Any]]]:
    """Every subject's tests as the view's observation keys tell them: [instant, event_id, revision] in time order."""
    series: dict[tuple[Any, ...], list[list[Any]]] = {}
    for key in list(view.keys()):
        if isinstance(key, bytes) and key.startswith(b"o:"):
            try:
                parts = json.loads(key[2:])
                series.setdefault(tuple(parts[:3]), []).append(parts[3:])
            except (ValueError, TypeError):
                continue  # not this writer's key: left as it is
    for entries in series.values():
        entries.sort(key=lambda e: str(e[0]))
    return series


def subject_key(subject_id: str) -> str:
    return f"s:{subject_id}"


def ack_key(alert_id: str) -> str:
    return f"a:{alert_id}"


def alert_key(alert_id: str) -> str:
    return f"x:{alert_id}"


def ledger_key(alert_id: str) -> str:
    return f"d:{alert_id}"


def audit_key(alert_id: str) -> str:
    return f"u:{alert_id}"


def audit_trail(ctx: Any, alert_id: str) -> list[dict[str, Any]]:
    """The audit records about the alert as the view holds them, oldest first ([] when none or unreadable)."""
    raw = ctx.tables.extra["dashboard_view"].get(audit_key(alert_id).encode())
    try:
        records = json.loads(raw) if raw is not None else []
    except ValueError:
        log.warning("dashboard: the audit trail of an alert does not read; its page shows none")
        return []
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def ledger_view(entry: LedgerEntry) -> LedgerEntry:
    """A ledger entry as the view keeps it: the last ``MAX_ATTEMPTS`` attempts of each delivery (an owed
    delivery is retried hourly until it goes through; each attempt keeps its number, so the page says how many
    came before) and no sender address of an acknowledgement (the view's changelog is a topic)."""
    deliveries = tuple(d.model_copy(update={"attempts": d.attempts[-MAX_ATTEMPTS:]}) for d in entry.deliveries)
    acks = tuple(a.model_copy(update={"remote": None}) for a in entry.acks)
    subs = tuple(s.model_copy(update={"remote": None}) for s in entry.ethics_submissions)
    return entry.model_copy(update={"deliveries": deliveries, "acks": acks, "ethics_submissions": subs})


def ledger_entry(ctx: Any, alert_id: str) -> LedgerEntry | None:
    """The alert's delivery ledger entry as the view holds it, None when there is none (yet) or it does not read."""
    raw = ctx.tables.extra["dashboard_view"].get(ledger_key(alert_id).encode())
    if raw is None:
        return None
    try:
        return LedgerEntry.model_validate_json(raw)
    except ValidationError:
        log.warning("dashboard: the ledger entry of an alert does not read; its page shows no deliveries")
        return None


def snapshot(
    items: Iterable[tuple[Any, Any]], tz: Any = None
) -> tuple[list[Any], list[GradedObservation], list[Alert], list[Any]]:
    """(events, graded, alerts, acks) from the view table's items (bytes or str keys and JSON values), as models.

    Each entry and each record in it is read on its own: one that does not read (bad JSON, a value out of
    range, a changelog record from an older version) is skipped and logged, so it cannot take every page down.
    """
    events: list[Any] = []
    graded: list[GradedObservation] = []
    alerts: list[Alert] = []
    acks: list[Any] = []
    bad: list[str] = []
    event_tz = {"tz": tz} if tz is not None else {}
    for raw_key, raw_value in items:
        key = raw_key.decode(errors="replace") if isinstance(raw_key, bytes) else str(raw_key)
        if raw_value is None:
            continue
        try:
            if key.startswith("o:"):
                observation = json.loads(raw_value)
                events += _readable([observation["event"]], lambda e: read_events([e], **event_tz), bad, key)
                graded += _readable(observation["graded"], lambda g: read_graded([g]), bad, key)
                continue
            if key.startswith("s:"):
                view = SubjectView.model_validate_json(raw_value)
            elif key.startswith("a:"):
                acks += _readable(json.loads(raw_value), lambda r: read_acks([r]), bad, key)
                continue
            else:
                continue
        except Exception:  # noqa: BLE001 - one bad entry must not fail every page
            bad.append(key)
            continue
        events += _readable(view.events, lambda e: read_events([e], **event_tz), bad, key)
        graded += _readable(view.graded, lambda g: read_graded([g]), bad, key)
        alerts += _readable(view.alerts, lambda a: read_alerts([a]), bad, key)
    if bad:
        log.warning("dashboard view: %d unreadable records skipped (first: %s)", len(bad), bad[0])
    alerts.sort(key=lambda a: (a.raised_at.isoformat(), a.alert_id))
    return events, graded, alerts, acks


def _readable(records: Any, read: Callable[[Any], list[Any]], bad: list[str], key: str) -> list[Any]:
    """``read`` applied to each record alone; a record it cannot read (any exception) is left out."""
    out: list[Any] = []
    for record in records if isinstance(records, list) else []:
        try:
            out += read(record)
        except Exception:  # noqa: BLE001 - e.g. OverflowError from a value of 10^400
            bad.append(key)
    return out


def report_from(
    items: Iterable[tuple[Any, Any]],
    *,
    study_id: str,
    generated_at: datetime,
    stopping: StoppingParams | None = None,
    tz: Any = None,
    schedule: Schedule | None = None,
) -> tuple[Report, list[Any], list[Any]]:
    """The report the pages show, plus the events and graded rows (models) for timelines and eDISH."""
    events, graded, alerts, acks = snapshot(items, tz)
    kwargs = {"tz": tz} if tz is not None else {}
    report = build_report(
        events,
        alerts,
        acks,
        study_id=study_id,
        generated_at=generated_at,
        stopping=stopping,
        schedule=schedule,
        **kwargs,
    )
    return report, events, graded


def ack_refusal_in_view(alert_raw: bytes | None, record: dict[str, Any]) -> str | None:
    """Why the pages must not show this ack or submission (the same rule the ledger applies, safety.delivery.ledger);
    None when it may be shown, or when the alert is not in the view yet and so cannot be judged here."""
    if alert_raw is None:
        return None
    try:
        alert = Alert.model_validate_json(alert_raw)
    except ValidationError:
        return None
    role = str(record.get("role", ""))
    if record.get("type") == "ack":
        return ack_refusal(alert, role)
    if record.get("type") == "ethics_submitted":
        return submission_refusal(alert, role)
    return None


def view_record(data: Any) -> dict[str, Any] | None:
    """A JSON object as the view keeps it: text that UTF-8 cannot carry (unpaired surrogates) becomes U+FFFD.

    The pages encode what they show as UTF-8; one unpaired surrogate in an AE term failed every page.
    """
    if not isinstance(data, dict):
        return None
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        cleaned: dict[str, Any] = json.loads(text.encode("utf-8", errors="replace"))
        return cleaned
    return data


def _json(value: bytes | str | None) -> dict[str, Any] | None:
    """A record of an output topic as a JSON object; anything else (logged by the caller) is None."""
    if value is None:
        return None
    return view_record(json.loads(value))


def register(app: Any, ctx: Any) -> Any:
    """Declare the view GlobalTable, its feed from ingest, four agents and the ethics-feed timer; returns the table.

    Events and graded rows come from what the ingest agent accepted (``ctx.accepted_listeners``), never from the
    input topic: the view holds nothing ingest rejected (a value of 10^400, a record keyed by another subject, a
    conflicting duplicate). Alerts and acks come from their topics, which only this service writes; each record
    is read on its own, and one that does not read is logged and skipped.
    """
    from streams.worker.tables import raw_table

    existing = ctx.tables.extra.get("dashboard_view")
    if existing is not None:
        return existing
    view = raw_table(
        app,
        "dashboard_view",
        is_global=True,
        help_text="s:<subject_id> -> SubjectView JSON, o:[...] -> an observation, a:<alert_id> -> acks",
    )
    ctx.tables.extra["dashboard_view"] = view

    writer = ViewWriter(view, lambda: int(app.consumer_generation_id or 0))

    def on_accepted(entries: Sequence[Any]) -> None:
        accepted = []
        for entry in entries:
            record = view_record(json.loads(entry.raw))
            # the view's changelog is a topic: no free text in it (README, "No identifiers")
            kept = without_free_text(record, _criteria(ctx, entry.event.study_id)) if record else None
            if kept is not None:
                graded = [view_record(GRADED_ROWS.dump_python(row, mode="json")) for row in entry.graded]
                accepted.append((kept, [g for g in graded if g is not None]))
        writer.add(accepted)

    ctx.accepted_listeners.append(on_accepted)

    @app.agent(ctx.topics.alerts, name="dashboard_alerts")
    async def alerts(stream: Any) -> None:
        async for value in stream:
            try:
                record = _json(value)
                if record and isinstance(record.get("subject_id"), str):
                    writer.add_alert(record)
                    if isinstance(record.get("alert_id"), str):
                        key = alert_key(record["alert_id"]).encode()
                        if view.get(key) is None:  # first occurrence, as SubjectView.add_alert keeps
                            view[key] = value
            except Exception:  # noqa: BLE001 - one bad record must not restart the agent (and stall it)
                log.exception("dashboard: a record of the alerts topic was skipped")

    @app.agent(ctx.topics.acks, name="dashboard_acks")
    async def acks(stream: Any) -> None:
        async for value in stream:
            try:
                record = _json(value)
                if record and isinstance(record.get("alert_id"), str):
                    key = ack_key(record["alert_id"]).encode()
                    known = json.loads(view.get(key) or b"[]")
                    if any(k.get("ack_id") == record.get("ack_id") for k in known if record.get("ack_id")):
                        continue  # the same ack redelivered, or a single-use link posted twice at once
                    refusal = ack_refusal_in_view(view.get(alert_key(record["alert_id"]).encode()), record)
                    if refusal:
                        log.warning("dashboard: %s refused, not shown: %s", record.get("type"), refusal)
                        continue
                    view[key] = json.dumps((known + [record])[-MAX_ACKS:], ensure_ascii=False).encode()
            except Exception:  # noqa: BLE001 - one bad record must not restart the agent (and stall it)
                log.exception("dashboard: a record of the acks topic was skipped")

    @app.agent(ctx.topics.deliveries, name="dashboard_deliveries")
    async def deliveries(stream: Any) -> None:
        async for value in stream:
            try:
                if value is None:
                    continue
                entry = ledger_view(LedgerEntry.model_validate_json(value))
                view[ledger_key(entry.alert_id).encode()] = entry.model_dump_json().encode()
            except Exception:  # noqa: BLE001 - one bad record must not restart the agent (and stall it)
                log.exception("dashboard: a record of the deliveries topic was skipped")

    @app.agent(ctx.topics.audit, name="dashboard_audit")
    async def audit(stream: Any) -> None:
        async for value in stream:
            try:
                record = _json(value)
                target = record.get("target") if record else None
                if record and isinstance(target, str) and view.get(alert_key(target).encode()) is not None:
                    key = audit_key(target).encode()
                    kept = {k: record.get(k) for k in AUDIT_SHOWN}
                    trail = json.loads(view.get(key) or b"[]") + [kept]
                    view[key] = json.dumps(trail[-MAX_AUDIT:], ensure_ascii=False).encode()
            except Exception:  # noqa: BLE001 - one bad record must not restart the agent (and stall it)
                log.exception("dashboard: a record of the audit topic was skipped")

    interval = float(getattr(ctx.settings, "ethics_feed_interval", FEED_INTERVAL_SECONDS) or FEED_INTERVAL_SECONDS)

    @app.timer(interval=interval, on_leader=True, name="dashboard_ethics_feed")
    async def publish_summary() -> None:
        from streams.web.ethics import summary_json

        report, _, _ = current_report(ctx, datetime.now(UTC))
        await ctx.topics.ethics_feed.send(key=report.overview.study_id.encode(), value=summary_json(report).encode())

    return view


def _criteria(ctx: Any, study_id: str) -> Any:
    """The CTCAE criteria of the event's study, or None when they cannot be loaded (AE terms are then withheld)."""
    try:
        return ctx.rulebook.studies[study_id].criteria
    except Exception:  # noqa: BLE001  (as study_settings: the pages still work without the rules)
        return None


def study_schedule(ctx: Any) -> Schedule | None:
    """The study's schedule of expected data (the summary's completeness), None when the rules cannot be loaded."""
    try:
        schedule: Schedule = ctx.rules.protocol.schedule
    except Exception:  # noqa: BLE001  (as study_settings: the pages still work without the rules)
        return None
    return schedule


def study_settings(ctx: Any) -> tuple[str, StoppingParams, Any]:
    """Study id, stopping parameters and time zone from the worker's rule set (the protocol file)."""
    try:
        rules = ctx.rules
    except Exception:  # noqa: BLE001  (rules not loadable: the pages still show counts, with defaults)
        log.warning("dashboard: rules could not be loaded; using the default study's stopping parameters")
        from safety.rules.ruleset import DEFAULT_STUDY

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
        schedule=study_schedule(ctx),
    )
