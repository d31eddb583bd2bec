"""The alert page shows its part of the audit trail: who did what to the alert, when and why.

The dashboard agent of the broker-less worker (tests/streams/conftest.py) reads safety.audit into the view, as the
worker does; the page is the real pages handler reading that view.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import faust
import pytest
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from safety.reports import build_report
from streams.web.dashboard import MAX_AUDIT, audit_trail
from streams.web.pages import Pages, add_routes

SAE = next(a for a in fx.alerts() if a["kind"] == "SAE")
HOSTILE = "<script>alert(1)</script>"


def record(action: str, person: str, reason: str, target: str = SAE["alert_id"]) -> bytes:
    entry = {
        "at": "2026-09-01T04:05:00+00:00",
        "person": person,
        "role": "pi",
        "action": action,
        "target": target,
        "reason": reason,
        "source": "10.0.0.7",
        "forwarded_for": "",
        "via": "session",
    }
    return json.dumps(entry).encode()


@pytest.mark.asyncio
async def test_the_view_keeps_an_alert_s_audit_records_and_nothing_about_unknown_targets(
    app: faust.App, sent: Any
) -> None:
    async with app.agents["dashboard_alerts"].test_context() as agent:
        await agent.put(json.dumps(SAE).encode(), key=SAE["subject_id"].encode())
    async with app.agents["dashboard_audit"].test_context() as agent:
        await agent.put(record("ack", "Dr Wang", "recorded (HTTP 202)"), key=SAE["alert_id"].encode())
        await agent.put(record("ack", "Dr Wang", "refused", target="f" * 24), key=b"f" * 24)
        await agent.put(record("login", "Dr Wang", "password", target="/login"), key=b"Dr Wang")
        for n in range(MAX_AUDIT + 5):
            await agent.put(record("link_ack", f"Member {n}", "refused: link already used (HTTP 409)"))
    trail = audit_trail(app.safety, SAE["alert_id"])  # type: ignore[attr-defined]
    assert len(trail) == MAX_AUDIT and trail[-1]["person"] == f"Member {MAX_AUDIT + 4}"
    assert all("source" not in r for r in trail)  # no address in the view's changelog; the topic has it
    assert audit_trail(app.safety, "f" * 24) == []  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_the_alert_page_shows_who_did_what_when_and_why_escaped() -> None:
    trail = [
        json.loads(record("link_ack", "Dr Wang", "refused: link already used (HTTP 409)")),
        json.loads(record("ack", HOSTILE, "recorded (HTTP 202)")),
    ]

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return build_report(fx.events(), fx.alerts(), [], study_id=fx.STUDY, generated_at=now), [], []

    app = web.Application()
    pages = Pages(source, {"so-token": "safety_officer"}, clock=lambda: fx.GENERATED_AT, audit=lambda _: trail)
    add_routes(app.router, pages)
    async with TestClient(TestServer(app)) as client:
        page = await client.get(f"/alerts/{SAE['alert_id']}", headers={"Authorization": "Bearer so-token"})
        html = await page.text()
    table = html.split('data-testid="audit-trail"', 1)[1].split("</table>", 1)[0]
    assert "Dr Wang" in table and "acknowledge by link" in table and "refused: link already used" in table
    assert "2026-09-01 12:05" in table  # in the study's zone (UTC+8), like every time on the page
    assert HOSTILE not in html and "&lt;script&gt;" in table
