"""The alert page, the lists and the ethics committee's view (streams.web.pages): what each user needs to finish
a day's work in the pages."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from safety.delivery.ledger import (
    Attempt,
    EscalationRecord,
    LedgerEntry,
    Target,
    open_entry,
)
from safety.model.outputs import Alert
from safety.replay import replay
from safety.reports import Report, build_report
from streams.rulefiles import load_ruleset
from streams.web.pages import Pages, add_routes

SO = {"Authorization": "Bearer tok-so"}
PI = {"Authorization": "Bearer tok-pi"}
ETHICS = {"Authorization": "Bearer tok-ethics"}

TOKENS = {"tok-so": "safety_officer", "tok-pi": "pi", "tok-ethics": "ethics"}
RULES = load_ruleset()
A = "{http://www.w3.org/2005/Atom}"


def _alert(kind: str, subject: str) -> dict[str, Any]:
    return next(a for a in fx.alerts() if a["kind"] == kind and a["subject_id"] == subject)


SAE2 = _alert("SAE", "AA-002")  # due long before GENERATED_AT


def _ack(alert: dict[str, Any], action: str, hours: float, **more: Any) -> dict[str, Any]:
    at = datetime.fromisoformat(alert["raised_at"]) + timedelta(hours=hours)
    return {"action": action, "alert_id": alert["alert_id"], "at": at.isoformat(), **more}


def _ledger(alert: dict[str, Any]) -> LedgerEntry:
    """One email delivered on the second attempt, one WeCom message still owed, one escalation."""
    model = Alert.model_validate(alert)
    raised = model.raised_at
    entry = open_entry(
        model,
        [
            Target(channel="mail-1", recipient="pi", scheme="mailto"),
            Target(channel="wecom-1", recipient="pi", scheme="wecom"),
        ],
        raised,
    )
    mail, wecom = entry.deliveries
    mail = mail.model_copy(
        update={
            "state": "delivered",
            "attempts": (
                Attempt(number=1, at=raised, outcome="failed", error="SMTP 451 try again later"),
                Attempt(number=2, at=raised + timedelta(minutes=1), outcome="delivered"),
            ),
        }
    )
    wecom = wecom.model_copy(update={"attempts": (Attempt(number=1, at=raised, outcome="failed", error="HTTP 503"),)})
    return entry.model_copy(
        update={
            "deliveries": (mail, wecom),
            "escalations": (EscalationRecord(reason="UNACKNOWLEDGED_2H", at=raised + timedelta(hours=2)),),
        }
    )


BASIS = {
    "criterion": "serious adverse event",
    "serious": ["hospitalization"],
    "causality": "unlikely",
    "onset": "2026-08-02T00:00:00+00:00",
}


def _alerts() -> list[dict[str, Any]]:
    """The fixture's alerts; the AA-002 SAE with the basis its detector writes."""
    return [{**a, "basis": BASIS} if a["alert_id"] == SAE2["alert_id"] else a for a in fx.alerts()]


def _app(acks: list[dict[str, Any]], ledger: Callable[[str], LedgerEntry | None] = lambda _: None) -> web.Application:
    def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
        report = build_report(fx.events(), _alerts(), acks, study_id=fx.STUDY, generated_at=now, tz=RULES.tz)
        return report, fx.events(), fx.graded()

    app = web.Application()
    add_routes(
        app.router,
        Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, rules=lambda: RULES, ledger=ledger),
    )
    return app


def _acks() -> list[dict[str, Any]]:
    """The fixture's acks, plus: the AA-002 SAE acknowledged (its ethics report still not submitted), and the
    AA-001 SUSAR's report submitted two days after its due time."""
    susar = _alert("SUSAR", "AA-001")
    due = datetime.fromisoformat(susar["report_due_at"]) - datetime.fromisoformat(susar["raised_at"])
    late = due.total_seconds() / 3600 + 48
    return fx.acks() + [
        _ack(
            SAE2,
            "acknowledged",
            2,
            who="Dr Wang",
            role="pi",
            conclusion="hospitalised, antibiotics",
            causality="unlikely",
        ),
        _ack(susar, "ethics_submitted", late, who="Dr Wang", role="pi", reference="EC-2026-031"),
    ]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    ledgers = {SAE2["alert_id"]: _ledger(SAE2)}
    async with TestClient(TestServer(_app(_acks(), ledgers.get))) as c:
        yield c


def _cells(html: str, testid: str) -> list[list[str]]:
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)] for r in rows
    ]


@pytest.mark.asyncio
async def test_the_alert_page_says_why_it_fired_and_everything_since(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get(f"/alerts/{SAE2['alert_id']}", headers=SO)
    html = await resp.text()
    assert resp.status == 200
    basis = {r[0]: r[1] for r in _cells(html, "basis")}
    assert basis["判据 / Criterion"] == "serious adverse event"
    assert basis["严重性 / Seriousness"] == "hospitalization"
    assert basis["发生 / Onset"] == "2026-08-02 08:00 +0800"  # a UTC time of the basis, in the study's zone
    trigger = _cells(html, "triggers")[1]
    assert trigger[0] == "AE-002-1 (adverse_event)" and trigger[3] == (
        "grade 3, hospitalization, causality unlikely, outcome recovering"
    )
    assert "肺部感染" not in html  # the verbatim term never shows
    acks = _cells(html, "acks")[1:]
    assert ["确认 / Acknowledged", "Dr Wang", "pi"] == acks[0][:3]
    assert acks[0][4:6] == ["hospitalised, antibiotics", "unlikely"]
    deliveries = _cells(html, "deliveries")[1:]
    assert [(r[1], r[3]) for r in deliveries] == [("mailto · mail-1", "delivered"), ("wecom · wecom-1", "pending")]
    assert "SMTP 451 try again later" in deliveries[0][5] and "delivered" in deliveries[0][5]
    assert "UNACKNOWLEDGED_2H" in _cells(html, "escalations")[0][1]
    assert "pi: submit the ethics committee report (overdue)" in html  # acknowledged, yet its report is owed


@pytest.mark.asyncio
async def test_a_withdrawn_alert_shows_its_reason(client: TestClient) -> None:  # type: ignore[type-arg]
    withdrawal = next(a for a in fx.alerts() if a["kind"] == "ALERT_WITHDRAWN")
    html = await (await client.get(f"/alerts/{withdrawal['withdraws']}", headers=PI)).text()
    assert "revision 2: grade 2 no longer meets DLT-2" in html and 'data-testid="withdrawal"' in html


@pytest.mark.asyncio
async def test_every_alert_row_links_its_page(client: TestClient) -> None:  # type: ignore[type-arg]
    html = await (await client.get("/alerts?status=", headers=SO)).text()
    ids = re.findall(r'<tr data-alert-id="([0-9a-f]+)"', html)
    assert len(ids) == len([a for a in fx.alerts() if a["kind"] != "ALERT_WITHDRAWN"])
    for alert_id in ids:
        assert f'href="/alerts/{alert_id}"' in html
        assert (await client.get(f"/alerts/{alert_id}", headers=SO)).status == 200


@pytest.mark.asyncio
async def test_overdue_filter_keeps_an_acknowledged_sae_whose_report_is_overdue(client: TestClient) -> None:  # type: ignore[type-arg]
    html = await (await client.get("/alerts?status=overdue", headers=SO)).text()
    assert re.findall(r'<tr data-alert-id="([0-9a-f]+)"', html) == [SAE2["alert_id"]]
    assert 'data-state="acknowledged" data-overdue="1"' in html
    assert (await (await client.get("/overview", headers=SO)).text()).count(">1</a></td>") >= 1


@pytest.mark.asyncio
async def test_alerts_filter_by_kind_subject_and_day_and_sort_descending(client: TestClient) -> None:  # type: ignore[type-arg]
    html = await (await client.get("/alerts?kind=DLT&status=&sort=day&order=desc", headers=SO)).text()
    kinds = re.findall(r'<tr data-alert-id="[0-9a-f]+" data-kind="(\w+)"', html)
    days = [int(r[2]) for r in _cells(html, "open-alerts")[1:]]
    assert set(kinds) == {"DLT"} and days == sorted(days, reverse=True) and len(days) >= 2
    html = await (await client.get("/alerts?subject=aa-003&day_from=0&day_to=28&status=", headers=SO)).text()
    rows = _cells(html, "open-alerts")[1:]
    assert rows and {r[1] for r in rows} == {"AA-003"} and all(0 <= int(r[2]) <= 28 for r in rows)


@pytest.mark.asyncio
async def test_a_wrong_filter_value_names_the_choices(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/alerts?status=closed", headers=SO)
    assert resp.status == 400 and "open, acknowledged, overdue, withdrawn" in await resp.text()


@pytest.mark.asyncio
async def test_overdue_reports_say_who_must_act_and_mark_a_late_submission(client: TestClient) -> None:  # type: ignore[type-arg]
    html = await (await client.get("/reports/overdue", headers=SO)).text()
    rows = {r[0]: r for r in _cells(html, "overdue-reports")[1:]}
    assert "pi: submit the ethics committee report (overdue)" in rows["SAE"][-1]
    assert "迟交 / late" in rows["SUSAR"][6] and "EC-2026-031" in rows["SUSAR"][8]
    text = await (await client.get("/reports/overdue.csv", headers=SO)).text()
    records = list(csv.DictReader(io.StringIO(text)))
    assert {(r["kind"], r["overdue"], r["late"]) for r in records} == {("SAE", "yes", "no"), ("SUSAR", "no", "yes")}
    summary = await (await client.get("/reports/safety-summary.json", headers=ETHICS)).json()
    late = [r for r in summary["line_listing"] if r["late"]]
    assert [(r["kind"], r["overdue"], r["reference"]) for r in late] == [("SUSAR", False, "EC-2026-031")]


@pytest.mark.asyncio
async def test_ae_and_lab_listings_and_their_csv(client: TestClient) -> None:  # type: ignore[type-arg]
    html = await (await client.get("/listings/ae", headers=PI)).text()
    table = {r[0]: r for r in _cells(html, "term-by-grade")[1:]}
    assert table["Infusion related reaction"][3] == "1"  # one subject, worst grade 3
    assert "输注反应" not in html  # the verbatim term never shows
    rows = list(csv.DictReader(io.StringIO(await (await client.get("/listings/ae.csv", headers=PI)).text())))
    lung = next(r for r in rows if r["term"] == "Lung infection")
    assert (lung["grade"], lung["serious"], lung["causality"], lung["outcome"]) == (
        "3",
        "hospitalization",
        "unlikely",
        "recovering",
    )
    html = await (await client.get("/listings/labs?min_grade=2", headers=PI)).text()
    grades = [int(r[8]) for r in _cells(html, "lab-listing")[1:]]
    assert grades and min(grades) >= 2
    text = await (await client.get("/listings/labs.csv?min_grade=0&subject=AA-001", headers=PI)).text()
    assert {r["subject_id"] for r in csv.DictReader(io.StringIO(text))} == {"AA-001"}


@pytest.mark.asyncio
async def test_the_committee_lands_on_its_page_and_its_feed_opens_pages_it_may_see(client: TestClient) -> None:  # type: ignore[type-arg]
    home = await client.get("/ethics", headers=ETHICS)
    assert home.status == 200 and "/feeds/ethics.html" in await home.text()
    feed = ET.fromstring(await (await client.get("/feeds/ethics.atom", headers=ETHICS)).read())
    links = [e.find(f"{A}link[@rel='alternate']") for e in feed.findall(f"{A}entry")]
    hrefs = [link.get("href", "") for link in links if link is not None]
    assert hrefs and all("/alerts/" in h for h in hrefs)
    for href in hrefs:
        path = href.split("://", 1)[1].split("/", 1)[1]
        assert (await client.get(f"/{path}", headers=ETHICS)).status == 200
    page = await (await client.get("/feeds/ethics.html", headers=ETHICS)).text()
    assert "EC-2026-031" in page and "迟交 / submitted late" in page and "Dr Wang" in page
    assert "/subjects/" not in page  # the committee cannot open a subject's data


@pytest.mark.asyncio
async def test_the_committee_may_not_open_listings_or_alerts_outside_its_feed(client: TestClient) -> None:  # type: ignore[type-arg]
    hidden = {**_alert("DLT", "AA-003"), "kind": "SUSPECTED_DLT", "alert_id": "0123456789abcdef01234567"}

    def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
        alerts = [*fx.alerts(), hidden]
        return build_report(fx.events(), alerts, [], study_id=fx.STUDY, generated_at=now), fx.events(), []

    app = web.Application()
    add_routes(app.router, Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, rules=lambda: RULES))
    async with TestClient(TestServer(app)) as c:
        assert (await c.get(f"/alerts/{hidden['alert_id']}", headers=ETHICS)).status == 403
        assert (await c.get(f"/alerts/{hidden['alert_id']}", headers=PI)).status == 200
    for path in ("/listings/ae", "/listings/labs", "/alerts.csv"):
        assert (await client.get(f"{path}", headers=ETHICS)).status == 403


@pytest.mark.asyncio
async def test_times_are_shown_in_the_study_zone_without_microseconds(client: TestClient) -> None:  # type: ignore[type-arg]
    feed = (await (await client.get("/feeds/ethics.atom", headers=ETHICS)).read()).decode()
    stamps = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?", feed)
    assert stamps and {s for s in stamps} == {("", "+08:00")}
    page = await (await client.get(f"/alerts/{SAE2['alert_id']}", headers=SO)).text()
    shown = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d{4}", page)
    assert shown and {s[-5:] for s in shown} == {"+0800"}


@pytest.mark.asyncio
async def test_no_csv_cell_of_a_list_can_start_a_formula() -> None:
    alerts = fx.alerts()
    for a in alerts:
        a["rule_id"] = '=HYPERLINK("http://x.example","open")'
    app = web.Application()

    def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
        return build_report(fx.events(), alerts, [], study_id=fx.STUDY, generated_at=now), fx.events(), fx.graded()

    add_routes(app.router, Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, rules=lambda: RULES))
    async with TestClient(TestServer(app)) as c:
        text = await (await c.get("/alerts.csv", headers=SO)).text()
    rules = {r["rule_id"] for r in csv.DictReader(io.StringIO(text))}
    assert rules == {"'" + alerts[0]["rule_id"]}


@pytest.mark.asyncio
async def test_death_sae_dlt5_and_susar_rows_show_term_and_grade() -> None:
    """A death's alerts carry Death NOS grade 5 (safety/coding.py) on the list, the alert page and the feed."""
    events = fx.events() + [
        {
            "type": "death",
            "event_id": "D-003",
            "study_id": fx.STUDY,
            "subject_id": "AA-003",
            "occurred_at": "2026-08-10T02:30:00+08:00",
            "recorded_at": "2026-08-10T09:00:00+08:00",
            "cause": "姓名 and a phone number",
            "causality": "possible",
        },
    ]
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    alerts = [v.model_dump(mode="json") for k, v in replay(lines, RULES) if k == "alert" and isinstance(v, Alert)]
    deaths = [a for a in alerts if "D-003" in a["event_ids"]]
    assert {a["rule_id"] for a in deaths} >= {"SAE-DEATH", "DLT-5"}
    app = web.Application()

    def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
        return build_report(events, alerts, [], study_id=fx.STUDY, generated_at=now), events, []

    add_routes(app.router, Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, rules=lambda: RULES))
    async with TestClient(TestServer(app)) as c:
        rows = _cells(await (await c.get("/alerts?subject=AA-003&status=", headers=SO)).text(), "open-alerts")
        death_rows = [r for r in rows[1:] if r[5] in ("SAE-DEATH", "DLT-5") or r[0] == "SUSAR"]
        assert death_rows and all((r[3], r[4]) == ("Death NOS", "5") for r in death_rows)
        page = await (await c.get(f"/alerts/{deaths[0]['alert_id']}", headers=SO)).text()
        assert 'data-testid="alert-term">Death NOS<' in page and 'data-testid="alert-grade">5<' in page
        assert "姓名" not in page
        feed = await (await c.get("/feeds/ethics.atom", headers=ETHICS)).text()
        assert "SAE AA-003 D21 Death NOS G5" in feed
