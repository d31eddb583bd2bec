"""Per-person API tokens: a script acts as the person whose token it sends, with that person's roles and studies.

The guard of streams/web/guard.py in front of the real pages and acknowledgement endpoints, over loopback; tokens
made with streams/web/apitokens.py into a tokens file, as `safety users token create` makes them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from safety.reports import build_report
from streams.web import apitokens
from streams.web.acks import AckEndpoints, ViewDirectory
from streams.web.acks import add_routes as add_ack_routes
from streams.web.dashboard import alert_key
from streams.web.guard import Guard, install
from streams.web.pages import Pages
from streams.web.pages import add_routes as add_page_routes
from streams.web.users import load_users

NOW = fx.GENERATED_AT
SAE = next(a for a in fx.alerts() if a["kind"] == "SAE")
ROLE_TOKEN = "pi-token-3e8a1c7f5b9d2046ae1c5b7d9f1a"


def users_file(tmp_path: Path, studies: str = "'*'") -> Path:
    hashed = PasswordHasher().hash("unused password of the token tests")
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n"
        f"  - {{name: dr.wang, display: Dr Wang, roles: [pi], studies: [{studies}], password_hash: '{hashed}'}}\n"
        f"  - {{name: ec.li, display: EC Li, roles: [ethics], studies: ['*'], password_hash: '{hashed}'}}\n",
        encoding="utf-8",
    )
    return path


class Site:
    def __init__(
        self, client: TestClient, tokens: Path, audit: list[dict[str, Any]], acks: list[dict[str, Any]]
    ) -> None:  # type: ignore[type-arg]
        self.client, self.tokens, self.audit, self.acks = client, tokens, audit, acks

    async def get(self, path: str, token: str) -> web.StreamResponse:
        return await self.client.get(path, headers={"Authorization": f"Bearer {token}"})  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    audit: list[dict[str, Any]] = []
    acks: list[dict[str, Any]] = []
    view = {alert_key(a["alert_id"]).encode(): json.dumps(a).encode() for a in fx.alerts()}

    async def record(entry: dict[str, Any]) -> None:
        audit.append(entry)

    async def publish(alert_id: str, event: dict[str, Any]) -> None:
        acks.append(event)

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return build_report(fx.events(), fx.alerts(), [], study_id=fx.STUDY, generated_at=now), [], []

    role_tokens = {ROLE_TOKEN: "pi"}
    tokens = tmp_path / "tokens.jsonl"
    app = web.Application()
    guard = Guard(
        tokens=role_tokens,
        sessions=None,
        users=load_users(users_file(tmp_path)),
        api_tokens=apitokens.ApiTokens(tokens),
        audit=record,
        clock=lambda: NOW,
    )
    install(app, guard)
    add_page_routes(app.router, Pages(source, role_tokens, clock=lambda: NOW))
    add_ack_routes(app.router, AckEndpoints(role_tokens, None, publish, ViewDirectory(view), lambda: NOW))
    async with TestClient(TestServer(app)) as client:
        yield Site(client, tokens, audit, acks)


@pytest.mark.asyncio
async def test_a_person_s_token_acts_as_that_person_and_their_acknowledgement_is_theirs(site: Site) -> None:
    token, record = apitokens.create(site.tokens, "dr.wang", "nightly export", NOW, "admin")
    assert token not in site.tokens.read_text() and apitokens.digest(token) in site.tokens.read_text()
    assert (await site.get("/alerts", token)).status == 200
    body = {"who": "typed by the script", "conclusion": "assessed"}
    url = f"/alerts/{SAE['alert_id']}/ack"
    posted = await site.client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert posted.status == 202
    assert [(a["who"], a["role"]) for a in site.acks] == [("Dr Wang", "pi")]
    uses = [(r["person"], r["via"], r["reason"]) for r in site.audit if r["action"] == "token_use"]
    assert ("Dr Wang", "api_token", f"POST with token {record.id}") in uses
    assert all(token not in json.dumps(r) for r in site.audit)


@pytest.mark.asyncio
async def test_a_token_carries_its_person_s_roles_only(site: Site) -> None:
    token, _ = apitokens.create(site.tokens, "ec.li", "feed reader", NOW, "admin")
    assert (await site.get("/feeds/ethics.atom", token)).status == 200
    assert (await site.get("/listings/ae", token)).status == 403  # the committee sees no subject listing


@pytest.mark.asyncio
async def test_a_revoked_token_is_refused_from_the_next_request_and_the_refusal_names_its_person(site: Site) -> None:
    token, record = apitokens.create(site.tokens, "dr.wang", "laptop", NOW, "admin")
    assert (await site.get("/overview", token)).status == 200
    apitokens.revoke(site.tokens, record.id, NOW + timedelta(minutes=1), "admin")
    refused = await site.get("/overview", token)
    assert refused.status == 403 and token not in await refused.text()
    assert ("token_refused", "dr.wang", f"token {record.id} revoked") in [
        (r["action"], r["person"], r["reason"]) for r in site.audit
    ]


@pytest.mark.asyncio
async def test_an_unknown_token_is_refused_and_the_shared_role_token_still_works(site: Site) -> None:
    assert (await site.get("/overview", apitokens.new_token())).status == 403
    assert ("token_refused", "token not recognised") in [(r["action"], r["reason"]) for r in site.audit]
    assert (await site.get("/overview", ROLE_TOKEN)).status == 200  # the documented bootstrap of the demo


@pytest.mark.asyncio
async def test_a_person_removed_from_the_users_file_loses_their_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.jsonl"
    token, record = apitokens.create(tokens, "dr.gone", "old script", NOW, "admin")
    guard = Guard(
        tokens={}, sessions=None, users=load_users(users_file(tmp_path)), api_tokens=apitokens.ApiTokens(tokens)
    )
    app = web.Application()
    install(app, guard)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/overview", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 403


def test_revoking_twice_or_an_unknown_id_is_refused_with_what_to_do(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.jsonl"
    _, record = apitokens.create(tokens, "dr.wang", "x", NOW, "admin")
    apitokens.revoke(tokens, record.id, NOW, "admin")
    with pytest.raises(apitokens.TokensFileError, match="revoked at"):
        apitokens.revoke(tokens, record.id, NOW, "admin")
    with pytest.raises(apitokens.TokensFileError, match="safety users token list"):
        apitokens.revoke(tokens, "nope", NOW, "admin")
    assert [(r.id, r.revoked) for r in apitokens.listing(tokens)] == [(record.id, NOW.isoformat())]
