"""The documents stage: an SAE or SUSAR in the stream gets its SAE report, CIOMS I and E2B(R3) documents, and
each follow-up (a revision of the event, a note the investigator writes) a new version of them.

It runs after delivery, never in ingest: the ``case_documents`` agent reads the delivery command topic (alerts
re-keyed by alert_id, streams/worker/delivery.py), so the case of an SAE is handled on the partition of the SAE's
alert id, the case id, by one writer. Its inputs are what the pages read (the dashboard view,
streams/web/dashboard.py: every revision of the event, the subject's enrolment and infusions, the case's alerts,
all coded, no free text) and the investigator's notes; the records are built in the core
(safety/documents/build_cases) and rendered in a separate process (``ProcessRenderer``): a version's PDFs take
about two seconds of CPU, which the event loop, and with it ingest, must not wait for.

Three things make a case be looked at: its SAE alert arriving (``alert`` command), a note (``pi_note``, posted by
the alert page: streams/web/case_documents.py) and the ``documents_sweep`` timer, which finds the SAE alerts of
this worker's partitions whose inputs changed since their documents were made (a revision, a SUSAR raised later,
an event the view did not have yet) and sends a ``documents`` command for each. What the case says after its
last stored version is made, each as the next version (numbers only grow, a stored version is never rewritten); a
version whose content is stored is not made again. The documents are kept in the ``case_documents`` table
(streams/documents/store.py says why a table).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from safety.documents import CaseVersion, PiEntry, build_cases
from safety.documents.case import CASE_KINDS
from safety.errors import SafetyError
from safety.model.events import Event
from safety.model.outputs import Alert
from safety.reports import read_alerts
from safety.rules.documents import DocumentConstants
from safety.rules.ruleset import RuleBook, RuleSet
from safety.vocab import AlertKind
from streams.documents.store import CaseIndex, StoredFile, StoredVersion, WritableShelf
from streams.documents.write import render_version
from streams.web.dashboard import SubjectView, alert_key, subject_key
from streams.worker.context import StopRequested, until_stopping

log = logging.getLogger(__name__)

DOCUMENT_COMMANDS = ("documents", "pi_note")
_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)

Renderer = Callable[[CaseVersion, str], Awaitable[tuple[dict[str, bytes], tuple[str, ...]]]]


def digest(version: CaseVersion) -> str:
    """What a version says, without its number and the alerts it lists (a SUSAR raised later adds one)."""
    content = version.model_dump_json(exclude={"version", "follow_up", "alert_ids"})
    return hashlib.sha256(content.encode()).hexdigest()


def _new_versions(computed: Sequence[CaseVersion], stored: set[str]) -> list[CaseVersion]:
    """The versions to store: every one the first time; later, those after the last one stored, or, when the
    stored history no longer matches (an enrolment corrected since), the case as it stands now, once."""
    if not stored:
        return list(computed)
    known = [i for i, version in enumerate(computed) if digest(version) in stored]
    return list(computed[known[-1] + 1 :]) if known else [computed[-1]]


class ProcessRenderer:
    """Renders in one child process, started on first use (spawned: nothing of the worker's state is copied).

    Once ``stopping`` is set (SIGTERM), a render is given up (StopRequested): faust's clean stop waits for the
    agent's record, and a case's versions take seconds each. Nothing of the case is recorded then (its index is
    written after all its versions), so ``documents_sweep`` finds it stale after the restart and makes it again.
    """

    def __init__(self, stopping: asyncio.Event | None = None, schemas: Path | None = None) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self.stopping = stopping
        self.schemas = schemas  # Settings documents.e2b_schemas: each SUSAR's XML checked against the ICH schemas

    async def __call__(self, version: CaseVersion, time_zone: str) -> tuple[dict[str, bytes], tuple[str, ...]]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        rendering = loop.run_in_executor(self._pool, render_version, version.model_dump_json(), time_zone, self.schemas)
        return await until_stopping(self.stopping, rendering)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class DocumentStage:
    """Builds, renders and stores the versions of a case; the one writer of its keys in ``shelf``."""

    def __init__(
        self,
        shelf: WritableShelf,
        view: Mapping[bytes, Any],
        rulebook: Callable[[], RuleBook],
        constants: Callable[[RuleSet], DocumentConstants],
        renderer: Renderer,
    ) -> None:
        self.shelf, self.view, self.rulebook, self.constants, self.renderer = shelf, view, rulebook, constants, renderer

    def _subject(self, subject_id: str) -> SubjectView:
        raw = self.view.get(subject_key(subject_id).encode())
        try:
            return SubjectView.model_validate_json(raw) if raw is not None else SubjectView()
        except ValidationError:
            return SubjectView()

    def alert(self, alert_id: str) -> Alert | None:
        raw = self.view.get(alert_key(alert_id).encode())
        try:
            return None if raw is None else Alert.model_validate_json(raw)
        except ValidationError:
            return None

    def inputs(self, alert: Alert) -> str:
        """A fingerprint of what the case of ``alert`` is built from: its event's revisions, its alerts, the notes."""
        subject = self._subject(alert.subject_id)
        event_id = alert.event_ids[0] if alert.event_ids else ""
        revisions = sorted(
            (e for e in subject.events if e.get("event_id") == event_id or e.get("type") in ("enrollment", "infusion")),
            key=lambda e: json.dumps(e, sort_keys=True),
        )
        alert_ids = sorted(
            str(a.get("alert_id"))
            for a in subject.alerts
            if a.get("kind") in CASE_KINDS and (a.get("event_ids") or [None])[0] == event_id
        )
        notes = [n.note_id for n in self.shelf.notes(alert.alert_id)]
        text = json.dumps([revisions, alert_ids, notes], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def stale(self, alert: Alert) -> bool:
        """Whether the case of this SAE alert has inputs its documents were not made from."""
        stored = self.shelf.case(alert.alert_id)
        return stored is None or stored.inputs != self.inputs(alert)

    async def refresh(self, alert: Alert) -> CaseIndex | None:
        """Make the versions of the case ``alert`` opens that are not stored yet; None when it opens none (a SUSAR
        of an SAE's case, another kind) or its event is not in the view yet (the sweep comes back to it)."""
        rules = self.rulebook().studies.get(alert.study_id)
        if alert.kind not in CASE_KINDS or not alert.event_ids or rules is None:
            return None
        fingerprint = self.inputs(alert)
        stored = self.shelf.case(alert.alert_id)
        if stored is not None and stored.inputs == fingerprint:
            return stored
        subject = self._subject(alert.subject_id)
        events = []
        for raw in subject.events:
            try:
                events.append(_EVENTS.validate_python(raw, context={"tz": rules.tz}))
            except ValidationError:
                continue
        alerts = [a for a in read_alerts(subject.alerts) if a.alert_id != alert.alert_id] + [alert]
        try:
            constants = self.constants(rules)
        except SafetyError as exc:
            log.error("case %s: no documents: %s", alert.alert_id, exc)
            self.shelf.put_case(self._index(alert, fingerprint, (), problem=str(exc)))
            return None
        cases = build_cases(
            alerts,
            events,
            constants=constants,
            protocol=rules.protocol,
            criteria=rules.criteria,
            pi_entries=self.shelf.notes(alert.alert_id),
        )
        case = next((c for c in cases if c.case_id == alert.alert_id), None)
        if case is None:
            return None
        versions = list(stored.versions) if stored is not None else []
        for computed in _new_versions(case.versions, {v.digest for v in versions}):
            content = digest(computed)
            number = len(versions) + 1
            version = computed.model_copy(update={"version": number, "follow_up": number - 1})
            files, missing = await self.renderer(version, rules.protocol.time_zone)
            for name, data in files.items():
                self.shelf.put_file(case.case_id, number, name, data)
            versions.append(
                StoredVersion(
                    version=number,
                    report_type=version.report_kind,
                    revision=version.revision,
                    report_date=version.report_date.isoformat(),
                    susar=version.susar,
                    digest=content,
                    note_id=version.pi.note_id if version.pi is not None else None,
                    files=tuple(
                        StoredFile(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
                        for name, data in files.items()
                    ),
                    e2b_missing=missing,
                )
            )
            log.info("case %s: version %d (%s) stored", case.case_id, number, version.report_kind)
        index = self._index(alert, fingerprint, tuple(versions), term=case.versions[0].ctcae_term)
        index = index.model_copy(update={"alert_ids": case.versions[-1].alert_ids})
        self.shelf.put_case(index)
        return index

    @staticmethod
    def _index(
        alert: Alert, inputs: str, versions: tuple[StoredVersion, ...], term: str = "", problem: str | None = None
    ) -> CaseIndex:
        return CaseIndex(
            case_id=alert.alert_id,
            study_id=alert.study_id,
            subject_id=alert.subject_id,
            event_id=alert.event_ids[0],
            ctcae_term=term or alert.ctcae_term or "",
            alert_ids=(alert.alert_id,),
            inputs=inputs,
            versions=versions,
            problem=problem,
        )

    async def add_note(self, case_id: str, note: PiEntry) -> CaseIndex | None:
        """Keep the investigator's note and make the version that carries it."""
        if self.shelf.add_note(case_id, note):
            log.info("case %s: note %s kept", case_id, note.note_id)
        alert = self.alert(case_id)
        return None if alert is None else await self.refresh(alert)

    async def on_command(self, command: dict[str, Any]) -> None:
        kind = command.get("type")
        if kind == "alert":
            await self.refresh(Alert.model_validate(command["alert"]))
        elif kind == "documents":
            alert = self.alert(str(command.get("alert_id")))
            if alert is not None:
                await self.refresh(alert)
        elif kind == "pi_note":
            await self.add_note(str(command["alert_id"]), PiEntry.model_validate(command["note"]))


def register(app: Any, ctx: Any) -> WritableShelf:
    """The ``case_documents`` table, agent and sweep timer on the worker (idempotent per ctx); returns the shelf."""
    from streams.rulefiles import document_constants
    from streams.web import dashboard
    from streams.worker import delivery, gaps
    from streams.worker.tables import raw_table

    existing = ctx.tables.extra.get("case_documents_shelf")
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    settings = ctx.settings
    view = dashboard.register(app, ctx)
    dispatcher = delivery.register(app, ctx)
    table = raw_table(
        app,
        "case_documents",
        is_global=True,
        help_text="c:/f:/n:/i: keys of the SAE documents (streams/documents/store.py; writer: case_documents)",
    )
    shelf = WritableShelf(table)
    ctx.tables.extra["case_documents"] = table
    ctx.tables.extra["case_documents_shelf"] = shelf
    renderer = ProcessRenderer(ctx.stopping, settings.documents.e2b_schemas)
    stage = DocumentStage(shelf, view, lambda: ctx.rulebook, document_constants, renderer)
    commands = app.topic(
        settings.topics.delivery_commands,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.kafka.partitions,
    )
    guard = gaps.GapGuard()

    async def apply(raw: bytes) -> None:
        try:
            await stage.on_command(json.loads(raw))
        except StopRequested:
            log.info("documents command given up by the stop; the documents sweep makes the case after the restart")
        except Exception:  # noqa: BLE001 - one case that fails must not stop the others' documents
            log.exception("documents command failed")

    @app.agent(commands, name="case_documents")
    async def case_documents(stream: Any) -> None:
        """The only writer of the case_documents table: alerts, notes and sweeps of the cases of its partitions."""
        async for record in stream.events():
            skipped = await gaps.reread(ctx, guard, record)
            for earlier in skipped:
                await apply(earlier.value)
            gaps.mark_processed(ctx, skipped)
            await apply(record.value)

    @app.timer(settings.delivery.sweep_interval, name="documents_sweep")
    async def documents_sweep() -> None:
        """The SAE alerts of this worker's partitions whose documents miss something get a ``documents`` command."""
        for entry in list(dispatcher.store.entries()):
            if entry.alert.kind == AlertKind.SAE and stage.stale(entry.alert):
                await commands.send(
                    key=entry.alert_id.encode(),
                    value=json.dumps({"type": "documents", "alert_id": entry.alert_id}).encode(),
                )

    def stop_renderer(sender: Any, **kwargs: Any) -> None:
        renderer.close()

    app.on_before_shutdown.connect(stop_renderer)
    return shelf
