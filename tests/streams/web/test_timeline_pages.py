"""The subject timeline and eDISH pages: every graded test and vital sign, events as marks and bars, a days 0-28
view, the choice of tests, and chart points that open their alert.

The subject's data go through the real pipeline (safety.replay), so the grades and alerts the page draws are the
ones the rules raise.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from safety.model.outputs import GRADED_ROWS, Alert
from safety.replay import replay
from safety.reports import Report, build_report, edish_points, read_events, read_graded
from streams.rulefiles import load_ruleset
from streams.web import views
from streams.web.pages import Pages, add_routes

RULES = load_ruleset()
TOKENS = {"tok-so": "safety_officer"}
SO = {"Authorization": "Bearer tok-so"}
DAY0 = datetime.fromisoformat(f"{fx.INFUSED['AA-001']}T10:00:00+08:00")  # AA-001's first infusion


def _on(day: int, hour: int = 9) -> str:
    return (DAY0.replace(hour=hour) + timedelta(days=day)).isoformat()


def _extra() -> list[dict[str, Any]]:
    """AA-001 beyond the six classic tests: potassium grade 4 on day 7, QTcF grade 3 on day 14, a fever, a
    transfusion, a headache from day 3 to day 5, and death on day 40."""
    base = {"study_id": fx.STUDY, "subject_id": "AA-001"}
    return [
        {**base, "type": "lab", "event_id": "L-K0", "occurred_at": _on(-2), "test": "K", "value": 4.1,
         "unit": "mmol/L", "ref_low": 3.5, "ref_high": 5.3},
        {**base, "type": "lab", "event_id": "L-K1", "occurred_at": _on(7), "test": "K", "value": 7.5,
         "unit": "mmol/L", "ref_low": 3.5, "ref_high": 5.3},
        {**base, "type": "ecg", "event_id": "E-Q1", "occurred_at": _on(14), "test": "QTCF", "value": 510},
        {**base, "type": "vital", "event_id": "V-T1", "occurred_at": _on(2), "test": "TEMP", "value": 38.6,
         "unit": "C"},
        {**base, "type": "transfusion", "event_id": "T-1", "occurred_at": _on(10), "product": "RBC", "units": 2},
        {**base, "type": "adverse_event", "event_id": "AE-H", "occurred_at": _on(3), "ended_at": _on(5),
         "term": "headache", "ctcae_term": "Headache", "grade": 1},
        {**base, "type": "death", "event_id": "D-1", "occurred_at": _on(40), "cause": "sepsis",
         "causality": "unlikely"},
    ]  # fmt: skip


def _replayed() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    events = sorted(fx.events() + _extra(), key=lambda e: (e["occurred_at"], e["event_id"]))
    graded: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for kind, out in replay([json.dumps(e) for e in events], RULES):
        if kind == "graded" and not isinstance(out, str):
            graded.append(GRADED_ROWS.dump_python(out, mode="json"))
        elif kind == "alert" and isinstance(out, Alert):
            alerts.append(out.model_dump(mode="json"))
    return events, graded, alerts


EVENTS, GRADED, ALERTS = _replayed()


def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
    return build_report(EVENTS, ALERTS, [], study_id=fx.STUDY, generated_at=now), EVENTS, GRADED


def _alert_of(rule_id: str) -> str:
    return next(a["alert_id"] for a in ALERTS if a["rule_id"] == rule_id and a["subject_id"] == "AA-001")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = web.Application()
    add_routes(app.router, Pages(source, TOKENS, clock=lambda: fx.GENERATED_AT, rules=lambda: RULES))
    async with TestClient(TestServer(app)) as c:
        yield c


def _svg(page: str, chart: str, view: str = "all") -> str:
    """The SVG of ``chart`` in the ``view`` range of the page."""
    match = re.search(rf'<svg [^>]*data-chart="{chart}"[^>]*data-view="{view}".*?</svg>', page, re.S)
    assert match, f"no {chart} chart in the {view} view"
    return match.group(0)


async def _page(client: TestClient, query: str = "") -> str:  # type: ignore[type-arg]
    resp = await client.get(f"/subjects/AA-001{query}", headers=SO)
    assert resp.status == 200
    return await resp.text()


@pytest.mark.asyncio
async def test_every_graded_test_and_vital_sign_is_charted_with_its_bands(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await _page(client)
    for test in ("NEUT", "PLAT", "HGB", "ALT", "BILI", "CREAT", "K", "QTCF", "TEMP"):
        assert f'data-chart="lab-{test}"' in page, test
    k = _svg(page, "lab-K")
    assert 'data-term="Hypokalemia"' in k and 'data-term="Hyperkalemia"' in k  # both directions of potassium
    assert re.search(r'class="point alerted"[^>]*data-day="7" data-value="7.5" data-grade="4"', k)
    assert re.search(r'class="point alerted"[^>]*data-day="14" data-value="510" data-grade="3"', _svg(page, "lab-QTCF"))


@pytest.mark.asyncio
async def test_a_value_an_alert_was_raised_on_links_to_the_alert_page(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await _page(client)
    link = re.search(
        r'<a class="to-alert" href="/alerts/(\w+)" data-alert-id="\1"><circle[^>]*data-day="7"', _svg(page, "lab-K")
    )
    k_alert = link.group(1) if link else None
    assert k_alert in (_alert_of("SUSPECTED_DLT-LAB"), _alert_of("POTENTIAL_SAE-LAB"))  # both were raised on it
    assert f'href="/alerts/{_alert_of("SUSPECTED_DLT-ECG")}"' in _svg(page, "lab-QTCF")
    assert (await client.get(f"/alerts/{k_alert}", headers=SO)).status == 200


@pytest.mark.asyncio
async def test_events_show_ae_bars_onset_to_end_transfusions_death_and_infusions(client: TestClient) -> None:  # type: ignore[type-arg]
    events = _svg(await _page(client), "events")
    assert 'data-adverse-events="2"' in events and 'data-transfusions="1"' in events
    assert "Headache G1 (第 3–5 天 / days 3–5)" in events
    assert 'class="mark-transfusion"' in events and 'class="mark-infusion"' in events
    assert f'<a class="to-alert" href="/alerts/{_alert_of("SAE-DEATH")}"><path class="mark-death"' in events
    assert 'class="marker-death"' in _svg(await _page(client), "lab-K")  # death is a line on every test's chart


@pytest.mark.asyncio
async def test_the_days_0_to_28_view_is_drawn_beside_the_whole_follow_up(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await _page(client)
    early, whole = _svg(page, "lab-K", "early"), _svg(page, "lab-K")
    assert ">28</text>" in early and ">42</text>" not in early  # ticks 0, 7, 14, 21, 28
    assert 'data-shown="1"' in early  # baseline day -2 outside the window, day 7 inside it
    assert "days -2–40" in page and ">35</text>" in _svg(page, "events") and 'data-shown="2"' in whole
    assert 'id="range-all" checked' in page
    assert 'id="range-early" checked' in await _page(client, "?view=early")


@pytest.mark.asyncio
async def test_the_officer_chooses_which_tests_are_charted(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await _page(client, "?test=K&test=QTCF")
    assert re.findall(r'data-chart="lab-(\w+)"[^>]*data-view="all"', page) == ["K", "QTCF"]
    assert '<input type="checkbox" name="test" value="K" checked>' in page
    assert '<input type="checkbox" name="test" value="NEUT">' in page
    assert 'data-testid="all-tests"' in page
    abnormal = re.search(r'href="([^"]+)" data-testid="abnormal-tests"', page)
    assert abnormal and "ALT" in abnormal.group(1) and "K" in abnormal.group(1)
    assert len(re.findall(r'data-chart="lab-\w+"[^>]*data-view="all"', await _page(client, "?test=NOPE"))) >= 9


def test_labels_do_not_overprint_or_run_off_the_chart() -> None:
    from streams.web import charts

    page = views.subject_page(_timeline(), views.Links.static())  # baseline label in the header row, not on the plot
    k = _svg(page, "lab-K")
    assert re.search(r'<text x="[\d.]+" y="16.0" text-anchor="end"[^>]*>基线 / Baseline 4.1</text>', k)
    ticks = charts._time_ticks([DAY0, DAY0 + timedelta(days=1), DAY0 + timedelta(days=400)], charts._Linear(0, 1, 0, 1))
    assert [anchor for _, _, anchor in ticks] == ["start", "end"]  # the last date ends at its tick


def _timeline() -> Any:
    from safety.reports import subject_timeline

    report, events, graded = source(fx.GENERATED_AT)
    return subject_timeline(
        "AA-001", read_events(events), read_graded(graded), report.statuses, criteria=RULES.criteria, tz=RULES.tz
    )


def test_edish_points_open_the_hys_law_alert_or_the_subject_and_the_baseline_view_says_baseline() -> None:
    report, events, graded = source(fx.GENERATED_AT)
    points = edish_points(
        read_events(events),
        criteria=RULES.criteria,
        hys_law=RULES.protocol.hys_law,
        graded=read_graded(graded),
        statuses=report.statuses,
    )
    page = views.edish_page(points, views.Links.live_for("safety_officer"), fx.STUDY, hys_law=RULES.protocol.hys_law)
    assert f'<a class="to-subject" href="/alerts/{_alert_of("HYS_LAW-ALT")}"' in page
    assert '<a class="to-subject" href="/subjects/AA-002"' in page  # no Hy's law alert: its subject
    baseline = page[page.index('data-testid="edish-baseline"') :]
    assert "x ULN" not in baseline[: baseline.index("</svg>")]
    assert "peak ALT or AST" in baseline
