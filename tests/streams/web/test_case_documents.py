"""The SAE documents on the pages (streams/web/case_documents.py): the alert page lists every version with its
downloads, the committee downloads them and submits one version with one click, the PI writes the narrative the
next version carries, and the feed entry links every file."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from safety.documents import PiEntry
from safety.reports import Report, build_report
from streams.documents.store import CaseIndex, StoredFile, StoredVersion, WritableShelf
from streams.rulefiles import load_ruleset
from streams.web.acks import AckEndpoints, ViewDirectory
from streams.web.acks import add_routes as add_ack_routes
from streams.web.case_documents import NarrativeEndpoint
from streams.web.dashboard import alert_key
from streams.web.pages import Pages, add_routes

TOKENS = {"tok-so": "safety_officer", "tok-pi": "pi", "tok-ethics": "ethics"}
SO, PI, ETHICS = ({"Authorization": f"Bearer tok-{r}"} for r in ("so", "pi", "ethics"))
RULES = load_ruleset()
A = "{http://www.w3.org/2005/Atom}"
SAE = next(a for a in fx.alerts() if a["kind"] == "SAE" and a["subject_id"] == "AA-002")
DLT = next(a for a in fx.alerts() if a["kind"] == "DLT")
PDF = b"%PDF-1.4 v1 of the SAE report"
NOW = fx.GENERATED_AT


def _version(number: int, report_type: str, files: dict[str, bytes]) -> StoredVersion:
    return StoredVersion(
        version=number,
        report_type=report_type,
        revision=number,
        report_date=(datetime.fromisoformat(SAE["raised_at"]) + timedelta(days=number - 1)).isoformat(),
        susar=False,
        digest=f"d{number}",
        files=tuple(StoredFile(name=name, size=len(data), sha256="0" * 64) for name, data in files.items()),
    )


def _shelf() -> WritableShelf:
    shelf = WritableShelf({})
    case_id = SAE["alert_id"]
    v1 = {"sae-report.pdf": PDF, "cioms-i.pdf": b"%PDF cioms v1"}
    v2 = {"sae-report.pdf": b"%PDF-1.4 v2", "cioms-i.pdf": b"%PDF cioms v2"}
    for number, files in ((1, v1), (2, v2)):
        for name, data in files.items():
            shelf.put_file(case_id, number, name, data)
    shelf.put_case(
        CaseIndex(
            case_id=case_id,
            study_id=fx.STUDY,
            subject_id="AA-002",
            event_id=SAE["event_ids"][0],
            ctcae_term="Lung infection",
            alert_ids=(case_id,),
            inputs="x",
            versions=(_version(1, "initial", v1), _version(2, "follow-up 1", v2)),
        )
    )
    return shelf


class World:
    def __init__(self) -> None:
        self.shelf = _shelf()
        self.acks: list[dict[str, Any]] = []
        self.notes: list[tuple[str, dict[str, Any]]] = []
        view = {alert_key(a["alert_id"]).encode(): json.dumps(a).encode() for a in fx.alerts()}
        self.directory = ViewDirectory(view)

    def app(self) -> web.Application:
        def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
            acks = fx.acks() + self.acks
            report = build_report(fx.events(), fx.alerts(), acks, study_id=fx.STUDY, generated_at=now, tz=RULES.tz)
            return report, fx.events(), fx.graded()

        async def publish_ack(alert_id: str, event: dict[str, Any]) -> None:
            self.acks.append(event)

        async def publish_note(case_id: str, command: dict[str, Any]) -> None:
            self.notes.append((case_id, command))

        app = web.Application()
        pages = Pages(source, TOKENS, clock=lambda: NOW, rules=lambda: RULES, documents=lambda: self.shelf)
        add_routes(app.router, pages)
        acks = AckEndpoints(TOKENS, None, publish_ack, self.directory, lambda: NOW, documents=lambda: self.shelf)
        add_ack_routes(app.router, acks)
        narrative = NarrativeEndpoint(TOKENS, publish_note, lambda: self.shelf, lambda: NOW)
        for method, path, handler in narrative.routes():
            app.router.add_route(method, path, handler)
        return app


@pytest_asyncio.fixture
async def world() -> AsyncIterator[tuple[World, TestClient]]:  # type: ignore[type-arg]
    state = World()
    async with TestClient(TestServer(state.app())) as client:
        yield state, client


def _cells(html: str, testid: str) -> list[list[str]]:
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [
        [re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)] for r in rows
    ]


@pytest.mark.asyncio
async def test_the_alert_page_lists_each_version_and_every_role_that_sees_the_alert_downloads_it(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    _, client = world
    html = await (await client.get(f"/alerts/{SAE['alert_id']}", headers=PI)).text()
    rows = _cells(html, "documents")[1:]
    assert [(r[0], r[1]) for r in rows] == [("v1", "initial"), ("v2", "follow-up 1")]
    links = re.findall(r'href="([^"]+)" data-testid="document-link"', html)
    assert f"/alerts/{SAE['alert_id']}/documents/v1/sae-report.pdf" in links and len(links) == 4
    for headers in (PI, SO, ETHICS):
        resp = await client.get(f"/alerts/{SAE['alert_id']}/documents/v1/sae-report.pdf", headers=headers)
        assert resp.status == 200 and await resp.read() == PDF
        assert resp.headers["Content-Type"] == "application/pdf"
        assert f'filename="{SAE["alert_id"]}-v1-sae-report.pdf"' in resp.headers["Content-Disposition"]
    assert (await client.get(f"/alerts/{SAE['alert_id']}/documents/v1/sae-report.pdf")).status == 401


@pytest.mark.asyncio
async def test_a_document_that_was_not_made_is_not_found(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    _, client = world
    base = f"/alerts/{SAE['alert_id']}/documents"
    assert (await client.get(f"{base}/v3/sae-report.pdf", headers=PI)).status == 404
    assert (await client.get(f"{base}/v1/e2b-r3.xml", headers=PI)).status == 404  # not a SUSAR version
    assert (await client.get(f"{base}/v1/..%2F..%2Fetc", headers=PI)).status == 404
    assert (await client.get(f"/alerts/{DLT['alert_id']}/documents/v1/sae-report.pdf", headers=PI)).status == 404
    assert (await client.get(f"/alerts/{'0' * 24}/documents/v1/sae-report.pdf", headers=ETHICS)).status == 404


@pytest.mark.asyncio
async def test_the_committee_submits_one_version_with_one_click_and_the_page_says_which(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    state, client = world
    html = await (await client.get(f"/alerts/{SAE['alert_id']}", headers=ETHICS)).text()
    documents = re.findall(r'name="document" value="([^"]+)"', html)
    assert documents == [f"{SAE['alert_id']}/v1", f"{SAE['alert_id']}/v2"]
    assert 'data-testid="narrative-form"' not in html  # the narrative is the PI's
    body = {"who": "EC office", "reference": "EC-2026-040", "document": documents[1]}
    resp = await client.post(f"/alerts/{SAE['alert_id']}/ethics-submitted", json=body, headers=ETHICS)
    assert resp.status == 202
    assert state.acks[-1]["document"] == documents[1] and state.acks[-1]["type"] == "ethics_submitted"
    html = await (await client.get(f"/alerts/{SAE['alert_id']}", headers=ETHICS)).text()
    rows = _cells(html, "documents")[1:]
    assert "EC office" in rows[1][4] and "EC office" not in rows[0][4]


@pytest.mark.asyncio
async def test_a_submission_naming_a_document_the_service_did_not_make_is_refused(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    state, client = world
    for document in (f"{SAE['alert_id']}/v9", f"{DLT['alert_id']}/v1", "../v1"):
        body = {"who": "Dr Wang", "document": document}
        resp = await client.post(f"/alerts/{SAE['alert_id']}/ethics-submitted", json=body, headers=PI)
        assert resp.status == 400, document
    assert state.acks == []


@pytest.mark.asyncio
async def test_the_pi_writes_the_narrative_as_an_attributable_note_for_the_next_version(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    state, client = world
    html = await (await client.get(f"/alerts/{SAE['alert_id']}", headers=PI)).text()
    assert 'data-testid="narrative-form"' in html and 'action="/alerts/' in html
    body = {
        "who": "Dr Wang",
        "reason": "initial narrative",
        "narrative": "Fever on day 30, admitted, antibiotics; improving.",
        "action_taken": "not_changed",
    }
    resp = await client.post(f"/alerts/{SAE['alert_id']}/narrative", json=body, headers=PI)
    assert resp.status == 202
    case_id, command = state.notes[-1]
    note = command["note"]
    assert case_id == SAE["alert_id"] and command["type"] == "pi_note"
    assert (note["written_by"], note["reason"], note["written_at"]) == ("Dr Wang", "initial narrative", NOW.isoformat())
    assert note["narrative"] == body["narrative"] and note["action_taken"] == "not_changed"
    assert note["event_id"] == SAE["event_ids"][0] and note["revision"] == 2  # after the latest version's revision

    state.shelf.add_note(case_id, PiEntry.model_validate(note))  # the documents stage kept it
    html = await (await client.get(f"/alerts/{SAE['alert_id']}", headers=PI)).text()
    assert body["narrative"] in html  # the form shows the latest note to edit
    assert [r[0] for r in _cells(html, "notes")[1:]] == ["Dr Wang"]
    later = {"who": "Dr Wang", "reason": "treatment added", "treatment": "ceftriaxone"}
    assert (await client.post(f"/alerts/{SAE['alert_id']}/narrative", json=later, headers=PI)).status == 202
    kept = state.notes[-1][1]["note"]
    assert (kept["treatment"], kept["narrative"], kept["action_taken"]) == (
        "ceftriaxone",
        body["narrative"],
        "not_changed",
    )


@pytest.mark.asyncio
async def test_only_the_pi_writes_a_narrative_and_it_says_why(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    state, client = world
    url = f"/alerts/{SAE['alert_id']}/narrative"
    assert (await client.post(url, json={"who": "x", "reason": "r"}, headers=ETHICS)).status == 403
    assert (await client.post(url, json={"who": "x", "reason": "r"}, headers=SO)).status == 403
    missing = await client.post(url, json={"who": "Dr Wang", "narrative": "text"}, headers=PI)
    assert missing.status == 400 and "reason" in (await missing.json())["error"]
    wrong = await client.post(url, json={"who": "Dr Wang", "reason": "r", "rechallenge": "maybe"}, headers=PI)
    assert wrong.status == 400
    no_case = await client.post(f"/alerts/{DLT['alert_id']}/narrative", json={"who": "a", "reason": "r"}, headers=PI)
    assert no_case.status == 409
    assert state.notes == []


@pytest.mark.asyncio
async def test_the_browser_form_posts_the_note_and_returns_to_the_alert_page(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    state, client = world
    form = {"who": "Dr Wang", "reason": "treatment corrected", "treatment": "ceftriaxone 2 g daily"}
    resp = await client.post(f"/alerts/{SAE['alert_id']}/narrative", data=form, headers=PI, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/alerts/{SAE['alert_id']}"
    assert state.notes[-1][1]["note"]["treatment"] == "ceftriaxone 2 g daily"


@pytest.mark.asyncio
async def test_the_feed_entry_of_an_sae_links_every_version_of_its_documents(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    _, client = world
    root = ET.fromstring(await (await client.get("/feeds/ethics.atom", headers=ETHICS)).read())
    entry = next(
        e
        for e in root.iter(f"{A}entry")
        if any(link.get("href", "").endswith(f"/alerts/{SAE['alert_id']}") for link in e.iter(f"{A}link"))
    )
    related = [link for link in entry.iter(f"{A}link") if link.get("rel") == "related"]
    hrefs = [link.get("href", "") for link in related]
    assert any(h.endswith(f"/alerts/{SAE['alert_id']}/documents/v2/cioms-i.pdf") for h in hrefs) and len(hrefs) == 4
    assert {link.get("type") for link in related} == {"application/pdf"}
    text = entry.findtext(f"{A}content") or ""
    assert "文件 / Documents v1: initial" in text and "文件 / Documents v2: follow-up 1" in text


@pytest.mark.asyncio
async def test_the_feed_page_and_the_committee_page_link_the_same_documents_as_the_atom_entry(
    world: tuple[World, TestClient],  # type: ignore[type-arg]
) -> None:
    _, client = world
    for path in ("/feeds/ethics.html", "/ethics"):
        html = await (await client.get(path, headers=ETHICS)).text()
        entry = html.split(f'data-alert-id="{SAE["alert_id"]}"', 1)[1].split("</article>", 1)[0]
        links = re.findall(r'<a href="([^"]+)" type="application/pdf">([^<]+)</a>', entry)
        assert (f"/alerts/{SAE['alert_id']}/documents/v2/cioms-i.pdf", "v2 follow-up 1: CIOMS I (PDF)") in links, path
        assert len(links) == 4, path
