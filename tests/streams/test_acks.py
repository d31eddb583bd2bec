"""Acknowledgement endpoints: role tokens, signed expiring links, attributable ack events (issue 6,
security)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from streams.ack_cli import ack_main
from streams.acks import AckEndpoints, make_web_app
from streams.auth import ack_link, parse_tokens

ALERT = "0123456789abcdef01234567"
SECRET = "test-link-secret"
TOKENS = "pi:pi-token-123,ethics:ethics-token-456,safety_officer:officer-token-789"
NOW = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)


class Server:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.now = NOW
        self.url = ""

    async def publish(self, alert_id: str, event: dict[str, Any]) -> None:
        self.published.append((alert_id, event))


@pytest_asyncio.fixture()
async def server() -> AsyncIterator[Server]:
    state = Server()
    endpoints = AckEndpoints(parse_tokens(TOKENS), SECRET, state.publish, clock=lambda: state.now)
    runner = web.AppRunner(make_web_app(endpoints))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


async def post(url: str, body: Any, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.post(url, json=body, headers=headers) as r:
        return r.status, await r.json()


ACK = {"who": "Dr Test", "conclusion": "assessed, continue dosing", "causality": "possible"}


@pytest.mark.asyncio
async def test_an_ack_without_a_token_is_401_and_with_a_wrong_token_403(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{ALERT}/ack", ACK)
    assert status == 401 and "Bearer" in body["error"]
    status, _ = await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token="pi-token-12")
    assert status == 403
    assert server.published == []


@pytest.mark.asyncio
async def test_only_pi_and_ethics_may_mark_the_ethics_report_submitted(server: Server) -> None:
    url = f"{server.url}/alerts/{ALERT}/ethics-submitted"
    status, _ = await post(url, {"who": "Officer Test"}, token="officer-token-789")
    assert status == 403
    status, body = await post(
        url, {"who": "Clerk Test", "reference": "EC-2026-001"}, token="ethics-token-456"
    )
    assert status == 202
    ((alert_id, event),) = server.published
    assert (alert_id, event["type"], event["role"], event["reference"]) == (
        ALERT,
        "ethics_submitted",
        "ethics",
        "EC-2026-001",
    )


@pytest.mark.asyncio
async def test_an_ack_is_attributable_who_role_time_and_remote_address(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token="pi-token-123")
    assert status == 202
    ((alert_id, event),) = server.published
    assert alert_id == ALERT and event["ack_id"] == body["ack_id"]
    assert {
        k: event[k] for k in ("type", "who", "role", "at", "conclusion", "causality", "remote", "via")
    } == {
        "type": "ack",
        "who": "Dr Test",
        "role": "pi",
        "at": NOW.isoformat(),
        "remote": "127.0.0.1",
        "conclusion": "assessed, continue dosing",
        "causality": "possible",
        "via": "token",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"conclusion": "x"}, "'who' is required"),
        ({"who": "Dr Test"}, "'conclusion' is required"),
        ({**ACK, "causality": "maybe"}, "'causality' must be one of"),
    ],
)
async def test_an_incomplete_ack_is_refused_with_the_reason(server: Server, body: Any, problem: str) -> None:
    status, reply = await post(f"{server.url}/alerts/{ALERT}/ack", body, token="pi-token-123")
    assert status == 400 and problem in reply["error"] and server.published == []


def link(server: Server, role: str = "pi", hours: float = 24, alert: str = ALERT) -> str:
    expires = int((server.now + timedelta(hours=hours)).timestamp())
    return ack_link(server.url, SECRET, alert, role, expires)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text()


async def confirm(server: Server, url: str, who: str = "Dr Test") -> tuple[int, str]:
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    form = {**q, "who": who, "conclusion": "seen"}
    path = urlsplit(url).path + "/link"
    async with aiohttp.ClientSession() as s, s.post(server.url + path, data=form) as r:
        return r.status, await r.text()


@pytest.mark.asyncio
async def test_a_signed_link_opens_a_confirmation_page_and_records_only_on_confirm(server: Server) -> None:
    url = link(server)
    status, page = await get(url)
    assert status == 200 and "<form" in page and server.published == []  # a link scanner acknowledges nothing
    status, _ = await confirm(server, url)
    assert status == 200
    ((_, event),) = server.published
    assert (event["who"], event["role"], event["via"], event["remote"]) == (
        "Dr Test",
        "pi",
        "link",
        "127.0.0.1",
    )


@pytest.mark.asyncio
async def test_a_tampered_link_is_rejected(server: Server) -> None:
    url = link(server)
    for bad in (
        url.replace("role=pi", "role=ethics"),
        url.replace(ALERT, "f" * 24),
        url[:-1] + "0",
        url.replace("exp=", "exp=9"),
    ):
        assert (await get(bad))[0] == 403
        assert (await confirm(server, bad))[0] in (403, 404)
    assert server.published == []


@pytest.mark.asyncio
async def test_an_expired_link_is_rejected(server: Server) -> None:
    url = link(server, hours=1)
    server.now += timedelta(hours=1, seconds=1)
    status, page = await get(url)
    assert status == 403 and "link expired" in page
    assert (await confirm(server, url))[0] == 403 and server.published == []


@pytest.mark.asyncio
async def test_the_ack_command_posts_with_the_role_token(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    code = await asyncio.to_thread(
        ack_main,
        [
            ALERT,
            "--who",
            "Dr Test",
            "--conclusion",
            "reviewed",
            "--causality",
            "unlikely",
            "--url",
            server.url,
            "--token",
            "pi-token-123",
        ],
    )
    assert code == 0 and "recorded ack" in capsys.readouterr().out
    ((_, event),) = server.published
    assert (event["who"], event["causality"], event["role"]) == ("Dr Test", "unlikely", "pi")
    code = await asyncio.to_thread(
        ack_main, [ALERT, "--who", "X", "--conclusion", "y", "--url", server.url, "--token", "nope"]
    )
    assert code == 1 and "HTTP 403" in capsys.readouterr().err


def test_tokens_setting_rejects_unknown_roles_and_shared_tokens() -> None:
    with pytest.raises(ValueError, match="role one of"):
        parse_tokens("admin:abc")
    with pytest.raises(ValueError, match="share a token"):
        parse_tokens("pi:same,ethics:same")
    assert json.dumps(parse_tokens(TOKENS), sort_keys=True).count(":") == 3
