"""streams.web.pages: role tokens, routes and content types of the safety pages and the ethics feed."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from safety.errors import RuleFileError
from safety.reports import Report, build_report
from safety.rules.ruleset import RuleSet
from streams.rulefiles import load_criteria, load_ruleset, rules_dir
from streams.web.pages import Pages, add_routes

TOKENS = {"tok-so": "safety_officer", "tok-pi": "pi", "tok-ethics": "ethics"}
SO = {"Authorization": "Bearer tok-so"}


def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
    report = build_report(fx.events(), fx.alerts(), fx.acks(), study_id=fx.STUDY, generated_at=now)
    return report, fx.events(), fx.graded()


RULES = load_ruleset()


def _app(tokens: dict[str, str], rules: RuleSet = RULES) -> web.Application:
    app = web.Application()
    add_routes(app.router, Pages(source, tokens, clock=lambda: fx.GENERATED_AT, rules=lambda: rules))
    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(_app(TOKENS))) as c:
        yield c


@pytest.mark.asyncio
async def test_safety_officer_sees_the_overview_and_no_link_carries_a_credential(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/overview", headers=SO)
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert 'data-testid="subjects-infused">3<' in text
    assert 'href="/subjects/AA-001"' in text and "token" not in text.lower().replace("csrf-token", "")
    assert 'action="/alerts/' in text and 'data-testid="ack-button"' in text


@pytest.mark.asyncio
async def test_pi_reads_the_subject_timeline_with_a_bearer_token(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/subjects/AA-001", headers={"Authorization": "Bearer tok-pi"})
    text = await resp.text()
    assert resp.status == 200 and 'data-chart="lab-ALT"' in text and "AA-001" in text


@pytest.mark.asyncio
async def test_unknown_subject_is_404(client: TestClient) -> None:  # type: ignore[type-arg]
    assert (await client.get("/subjects/ZZ-999", headers=SO)).status == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/overview", "/alerts", "/subjects/AA-001", "/edish"])
async def test_ethics_role_may_not_open_the_officers_pages(client: TestClient, path: str) -> None:  # type: ignore[type-arg]
    resp = await client.get(path, headers={"Authorization": "Bearer tok-ethics"})
    assert resp.status == 403 and "feed and the reports" in await resp.text()


@pytest.mark.asyncio
async def test_ethics_role_reads_the_atom_feed(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/feeds/ethics.atom", headers={"Authorization": "Bearer tok-ethics"})
    assert resp.status == 200 and resp.content_type == "application/atom+xml"
    feed = ET.fromstring(await resp.read())
    links = [link.get("href") for link in feed.findall("{http://www.w3.org/2005/Atom}link")]
    assert any(str(h).endswith("/feeds/ethics.atom") for h in links)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("suffix", "ctype"), [("json", "application/json"), ("csv", "text/csv"), ("html", "text/html")]
)
async def test_ethics_role_reads_the_safety_summary(client: TestClient, suffix: str, ctype: str) -> None:  # type: ignore[type-arg]
    resp = await client.get(f"/reports/safety-summary.{suffix}", headers={"Authorization": "Bearer tok-ethics"})
    assert resp.status == 200 and resp.content_type == ctype
    if suffix == "json":
        doc = json.loads(await resp.text())
        assert doc["subjects_with_dlt"] == 2 and doc["generated_at"] == fx.GENERATED_AT.isoformat()


@pytest.mark.asyncio
@pytest.mark.parametrize("token", ["tok-ethics", "tok-so"])
async def test_the_committee_and_the_officer_download_the_summary_as_an_a4_pdf(client: TestClient, token: str) -> None:  # type: ignore[type-arg]
    resp = await client.get("/reports/safety-summary.pdf", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert "safety-summary-20260901-1200.pdf" in resp.headers["Content-Disposition"]
    assert (await resp.read()).startswith(b"%PDF-")
    page = await client.get("/reports/safety-summary.html", headers={"Authorization": f"Bearer {token}"})
    assert 'href="/reports/safety-summary.pdf"' in await page.text()


@pytest.mark.asyncio
async def test_missing_token_is_401_and_a_wrong_one_403(client: TestClient) -> None:  # type: ignore[type-arg]
    missing = await client.get("/feeds/ethics.atom")
    assert missing.status == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/feeds/ethics.atom", headers={"Authorization": "Bearer nope"})).status == 403


@pytest.mark.asyncio
async def test_without_configured_tokens_every_page_says_how_to_set_them() -> None:
    async with TestClient(TestServer(_app({}))) as c:
        resp = await c.get("/overview", headers={"Authorization": "Bearer anything"})
        assert resp.status == 403 and "SAFETY_AUTH_TOKENS" in await resp.text()


@pytest.mark.asyncio
async def test_edish_view_query_preselects_the_baseline_plot(client: TestClient) -> None:  # type: ignore[type-arg]
    text = await (await client.get("/edish?view=baseline", headers=SO)).text()
    assert 'id="view-baseline" checked' in text and 'id="view-uln" >' in text


@pytest.mark.asyncio
async def test_subject_page_draws_the_bands_of_the_workers_ctcae_version() -> None:
    v6 = dataclasses.replace(RULES, criteria=load_criteria("6.0", rules_dir()))
    for rules, version in ((RULES, "5.0"), (v6, "6.0")):
        async with TestClient(TestServer(_app(TOKENS, rules))) as c:
            text = await (await c.get("/subjects/AA-001", headers=SO)).text()
            assert f'data-ctcae-version="{version}"' in text


@pytest.mark.asyncio
async def test_edish_lines_are_the_workers_protocol_hys_law_multiples() -> None:
    hys = RULES.protocol.hys_law.model_copy(update={"transaminase_x_uln": 4.0})
    rules = dataclasses.replace(RULES, protocol=RULES.protocol.model_copy(update={"hys_law": hys}))
    async with TestClient(TestServer(_app(TOKENS, rules))) as c:
        text = await (await c.get("/edish", headers=SO)).text()
    assert 'class="alt-line"' in text and 'data-value="4"' in text


@pytest.mark.asyncio
async def test_unloadable_rules_make_the_timeline_503_with_the_reason() -> None:
    def broken() -> RuleSet:
        raise RuleFileError("rules/ctcae_v5.yaml: NEUT grade 4: bad")

    app = web.Application()
    add_routes(app.router, Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, rules=broken))
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/subjects/AA-001", headers=SO)
        assert resp.status == 503 and "NEUT grade 4" in await resp.text()
        assert (await c.get("/overview", headers=SO)).status == 200  # counts do not need the criteria


@pytest.mark.asyncio
async def test_while_the_broker_is_down_every_page_answers_503_with_the_banner_instead_of_stale_data() -> None:
    banner = "The Kafka broker has not answered since 2026-09-01T04:00:00+00:00"
    app = web.Application()
    add_routes(app.router, Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, stale=lambda: banner))
    async with TestClient(TestServer(app)) as c:
        for path in (
            "/overview",
            "/alerts",
            "/subjects/AA-001",
            "/edish",
            "/feeds/ethics.atom",
            "/reports/safety-summary.json",
        ):
            response = await c.get(path, headers={"Authorization": "Bearer tok-so"})
            assert response.status == 503, path
            assert response.headers["Retry-After"] == "10" and banner in await response.text()
        assert (await c.get("/overview")).status == 401  # still no data without a token


@pytest.mark.asyncio
async def test_the_officer_sees_expected_against_received_data_per_subject_and_visit(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/reports/completeness", headers=SO)
    text = await resp.text()
    assert resp.status == 200 and 'data-testid="completeness"' in text
    assert 'href="/reports/completeness"' in text  # the nav links the page
    assert 'data-subject="AA-001" data-group="blood_routine" data-day="1"' in text
    assert 'data-testid="completeness-per-visit"' in text and 'href="/reports/completeness.csv"' in text


@pytest.mark.asyncio
async def test_the_completeness_csv_has_a_row_per_subject_and_visit(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/reports/completeness.csv", headers=SO)
    lines = (await resp.text()).splitlines()
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert lines[0].startswith('"subject_id","group","visit_day","window_first_day","window_last_day","due_at"')
    assert any(line.startswith('"AA-001","blood_routine","1","0","2",') for line in lines[1:])
    assert {line.rsplit(",", 1)[1].strip('"') for line in lines[1:]} <= {"complete", "missing", "open", "upcoming"}


@pytest.mark.asyncio
async def test_the_ethics_committee_may_not_open_the_completeness_of_subjects(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/reports/completeness", headers={"Authorization": "Bearer tok-ethics"})
    assert resp.status == 403
