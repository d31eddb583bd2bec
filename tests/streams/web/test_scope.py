"""Roles and study scope on every request: a person sees only the studies the users file gives them.

The guard, the pages and the acknowledgement endpoints over loopback, as in the worker; the people send their own
API tokens (streams/web/apitokens.py), so each request is one person's. The pages show study A
(``report_fixtures``); one PI has study A, another only study B.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from study_fixtures import STUDY_A, STUDY_B

from safety.reports import build_report
from streams.web import apitokens
from streams.web.acks import AckEndpoints, ViewDirectory
from streams.web.acks import add_routes as add_ack_routes
from streams.web.dashboard import alert_key
from streams.web.guard import Guard, install
from streams.web.pages import Pages
from streams.web.pages import add_routes as add_page_routes
from streams.web.users import load_users

SAE = next(a for a in fx.alerts() if a["kind"] == "SAE")
SUBJECT = SAE["subject_id"]
PATHS = (
    "/overview",
    "/alerts",
    "/alerts.csv",
    f"/alerts/{SAE['alert_id']}",
    f"/subjects/{SUBJECT}",
    "/listings/ae",
    "/listings/ae.csv",
    "/listings/labs.csv",
    "/reports/overdue.csv",
    "/edish",
    "/feeds/ethics.atom",
    "/reports/safety-summary.csv",
)


@pytest_asyncio.fixture
async def people(tmp_path: Path) -> AsyncIterator[tuple[TestClient, dict[str, str], list[dict[str, Any]]]]:  # type: ignore[type-arg]
    assert fx.STUDY == STUDY_A
    hashed = PasswordHasher().hash("unused")
    users_file = tmp_path / "users.yaml"
    users_file.write_text(
        "users:\n"
        f"  - {{name: pi.a, roles: [pi], studies: [{STUDY_A}], password_hash: '{hashed}'}}\n"
        f"  - {{name: pi.b, roles: [pi], studies: [{STUDY_B}], password_hash: '{hashed}'}}\n",
        encoding="utf-8",
    )
    tokens_file = tmp_path / "tokens.jsonl"
    tokens = {
        name: apitokens.create(tokens_file, name, "test", fx.GENERATED_AT, "test")[0] for name in ("pi.a", "pi.b")
    }
    acks: list[dict[str, Any]] = []
    view = {alert_key(a["alert_id"]).encode(): json.dumps(a).encode() for a in fx.alerts()}

    async def publish(alert_id: str, event: dict[str, Any]) -> None:
        acks.append(event)

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return build_report(fx.events(), fx.alerts(), [], study_id=fx.STUDY, generated_at=now), fx.events(), fx.graded()

    users = load_users(users_file)
    app = web.Application()
    install(app, Guard(tokens={}, sessions=None, users=users, api_tokens=apitokens.ApiTokens(tokens_file)))
    add_page_routes(app.router, Pages(source, {}, clock=lambda: fx.GENERATED_AT))
    add_ack_routes(app.router, AckEndpoints({}, None, publish, ViewDirectory(view), lambda: fx.GENERATED_AT))
    async with TestClient(TestServer(app)) as client:
        yield client, tokens, acks


@pytest.mark.asyncio
@pytest.mark.parametrize("path", PATHS)
async def test_a_person_without_the_study_gets_403_on_its_pages_csv_and_feed(people, path: str) -> None:
    client, tokens, _ = people
    other = await client.get(path, headers={"Authorization": f"Bearer {tokens['pi.b']}"})
    body = await other.text()
    assert other.status == 403 and SUBJECT not in body
    own = await client.get(path, headers={"Authorization": f"Bearer {tokens['pi.a']}"})
    assert own.status == 200


@pytest.mark.asyncio
async def test_a_person_without_the_study_cannot_acknowledge_its_alert(people) -> None:
    client, tokens, acks = people
    url = f"/alerts/{SAE['alert_id']}/ack"
    body = {"who": "x", "conclusion": "seen"}
    refused = await client.post(url, json=body, headers={"Authorization": f"Bearer {tokens['pi.b']}"})
    assert refused.status == 403 and acks == []
    accepted = await client.post(url, json=body, headers={"Authorization": f"Bearer {tokens['pi.a']}"})
    assert accepted.status == 202 and len(acks) == 1
