"""The documents stage of the worker (streams/worker/documents.py) over the pages' view of a subject: an SAE gets
its documents, a revision and a note each the next version, a SUSAR joins its SAE's case, and nothing is made
twice or rewritten."""

from __future__ import annotations

import json
from datetime import datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from safety.coding import without_free_text
from safety.documents import CaseVersion, PiEntry
from safety.model.outputs import Alert
from safety.replay import replay
from safety.rules.ruleset import RuleBook
from streams.documents.store import WritableShelf
from streams.documents.write import render_files
from streams.rulefiles import document_constants, load_ruleset
from streams.web.dashboard import SubjectView, alert_key, subject_key
from streams.worker.documents import DocumentStage

RULES = load_ruleset()
BASE: dict[str, Any] = {"study_id": "ChiCTR2600125907", "subject_id": "AA-901", "source": "EDC"}
ENROLMENT: dict[str, Any] = {
    **BASE,
    "type": "enrollment",
    "event_id": "E1",
    "occurred_at": "2026-07-01T08:00:00+08:00",
    "sex": "F",
}
INFUSION: dict[str, Any] = {
    **BASE,
    "type": "infusion",
    "event_id": "I1",
    "occurred_at": "2026-07-02T08:00:00+08:00",
    "infusion_number": 1,
    "dose_per_kg": 1000000,
}
AE: dict[str, Any] = {
    **BASE,
    "type": "adverse_event",
    "event_id": "AE1",
    "occurred_at": "2026-07-03T08:00:00+08:00",
    "recorded_at": "2026-07-03T10:00:00+08:00",
    "term": "张伟 13812345678 fever, admitted",
    "ctcae_term": "Fever",
    "grade": 3,
    "serious": ["hospitalization"],
    "causality": "unlikely",
    "outcome": "not recovered",
}
REVISION: dict[str, Any] = {
    **AE,
    "revision": 2,
    "recorded_at": "2026-07-08T10:00:00+08:00",
    "outcome": "recovered",
    "ended_at": "2026-07-07T10:00:00+08:00",
}


class Renders:
    """Renders in this process (the worker uses a child process) and counts what it was asked to render."""

    def __init__(self) -> None:
        self.versions: list[CaseVersion] = []

    async def __call__(self, version: CaseVersion, time_zone: str) -> tuple[dict[str, bytes], tuple[str, ...]]:
        self.versions.append(version)
        return render_files(version, ZoneInfo(time_zone))


def _alerts(events: list[dict[str, Any]]) -> list[Alert]:
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    return [item for kind, item in replay(lines, RULES) if kind == "alert" and isinstance(item, Alert)]


def _view(events: list[dict[str, Any]], alerts: list[Alert]) -> dict[bytes, bytes]:
    """The subject's view as the dashboard keeps it: coded, without free text (streams/web/dashboard.py)."""
    subject = SubjectView()
    for event in events:
        kept = without_free_text(event, RULES.criteria)
        assert kept is not None
        subject.add_event(kept)
    view = {}
    for alert in alerts:
        subject.add_alert(alert.model_dump(mode="json"))
        view[alert_key(alert.alert_id).encode()] = alert.to_json().encode()
    view[subject_key("AA-901").encode()] = subject.model_dump_json().encode()
    return view


def _stage(view: dict[bytes, bytes]) -> tuple[DocumentStage, WritableShelf, Renders]:
    shelf, renders = WritableShelf({}), Renders()
    return DocumentStage(shelf, view, lambda: RuleBook.of(RULES), document_constants, renders), shelf, renders


def _text(data: bytes | None) -> str:
    assert data is not None
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def _sae(alerts: list[Alert]) -> Alert:
    return next(a for a in alerts if a.kind == "SAE")


@pytest.mark.asyncio
async def test_an_sae_gets_its_initial_documents_and_a_revision_the_summary_version() -> None:
    events = [ENROLMENT, INFUSION, AE]
    alerts = _alerts(events)
    view = _view(events, alerts)
    stage, shelf, renders = _stage(view)
    sae = _sae(alerts)
    index = await stage.refresh(sae)
    assert index is not None and index.case_id == sae.alert_id
    assert [(v.version, v.report_type) for v in index.versions] == [(1, "initial")]
    assert {f.name for f in index.versions[0].files} == {"sae-report.pdf", "sae-report.html", "cioms-i.pdf"}
    first = shelf.file(sae.alert_id, 1, "sae-report.pdf")
    text = _text(first)
    assert "首次报告" in text and "Initial report" in text and "AA-901" in text
    assert "张伟" not in text and "13812345678" not in text  # the feed's free text is never copied
    assert shelf.case_of(sae.alert_id) == index

    assert await stage.refresh(sae) == index and len(renders.versions) == 1  # nothing new: nothing made
    assert not stage.stale(sae)

    view.update(_view([ENROLMENT, INFUSION, AE, REVISION], alerts))
    assert stage.stale(sae)  # the sweep sends this case a documents command
    index = await stage.refresh(sae)
    assert index is not None
    assert [(v.version, v.report_type, v.revision) for v in index.versions] == [
        (1, "initial", 1),
        (2, "summary (follow-up 1)", 2),
    ]
    assert shelf.file(sae.alert_id, 1, "sae-report.pdf") == first  # a stored version is never rewritten
    follow_up = _text(shelf.file(sae.alert_id, 2, "sae-report.pdf"))
    assert "总结报告（第1次随访）" in follow_up and "Summary report (follow-up no. 1)" in follow_up
    assert "痊愈" in follow_up and f"{sae.alert_id} (initial report of 2026-07-03)" in follow_up


@pytest.mark.asyncio
async def test_a_note_of_the_investigator_is_the_next_version_and_is_kept_attributable() -> None:
    events = [ENROLMENT, INFUSION, AE]
    alerts = _alerts(events)
    stage, shelf, renders = _stage(_view(events, alerts))
    sae = _sae(alerts)
    await stage.refresh(sae)
    note = PiEntry(
        event_id="AE1",
        revision=1,
        note_id="n1",
        written_by="Dr Wang",
        written_at=datetime.fromisoformat("2026-07-04T09:30:00+08:00"),
        reason="initial narrative",
        narrative="Fever from day 1 after infusion; admitted; blood cultures negative.",
        action_taken="not_changed",
    )
    index = await stage.add_note(sae.alert_id, note)
    assert index is not None
    assert [(v.version, v.report_type, v.note_id) for v in index.versions] == [
        (1, "initial", None),
        (2, "follow-up 1", "n1"),
    ]
    text = _text(shelf.file(sae.alert_id, 2, "sae-report.pdf"))
    assert "blood cultures negative" in text and "随访报告（第1次）" in text and "继续用药" in text
    assert "Dr Wang" not in text  # the person stays in the service; the form names the reporter's role
    assert [(n.written_by, n.reason) for n in shelf.notes(sae.alert_id)] == [("Dr Wang", "initial narrative")]
    assert "to be written by the investigator" in _text(shelf.file(sae.alert_id, 1, "sae-report.pdf"))

    assert await stage.add_note(sae.alert_id, note) == index  # the same note redelivered
    assert len(renders.versions) == 2 and len(shelf.notes(sae.alert_id)) == 1


@pytest.mark.asyncio
async def test_a_susar_joins_the_case_of_its_sae_and_its_version_carries_the_e2b_report() -> None:
    events = [ENROLMENT, INFUSION, {**AE, "causality": "possible", "expected": False}]
    alerts = _alerts(events)
    assert sorted(a.kind for a in alerts if a.kind in ("SAE", "SUSAR")) == ["SAE", "SUSAR"]
    stage, shelf, _ = _stage(_view(events, alerts))
    susar = next(a for a in alerts if a.kind == "SUSAR")
    assert await stage.refresh(susar) is None  # the case is the SAE's: its partition makes it
    index = await stage.refresh(_sae(alerts))
    assert index is not None and set(index.alert_ids) == {a.alert_id for a in alerts if a.kind in ("SAE", "SUSAR")}
    assert index.versions[0].susar and "e2b-r3.xml" in {f.name for f in index.versions[0].files}
    assert shelf.case_of(susar.alert_id) == index
    xml = shelf.file(index.case_id, 1, "e2b-r3.xml")
    assert xml is not None and index.case_id.encode() in xml and "张伟".encode() not in xml


@pytest.mark.asyncio
async def test_an_sae_whose_event_the_view_has_not_yet_is_left_for_the_sweep() -> None:
    alerts = _alerts([ENROLMENT, INFUSION, AE])
    stage, shelf, renders = _stage(_view([ENROLMENT, INFUSION], alerts))
    sae = _sae(alerts)
    assert await stage.refresh(sae) is None
    assert shelf.case(sae.alert_id) is None and stage.stale(sae) and renders.versions == []
