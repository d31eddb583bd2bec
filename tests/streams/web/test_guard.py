"""The worker's web surface under attack: what an outsider reaches, what every answer carries, who is recorded.

Each test drives the real worker web app (``create_app``, faust's aiohttp application with the guard of
streams/web/guard.py) or the pages and acknowledgement endpoints behind the same guard, over loopback. No broker:
the audit records are captured where they would be sent to safety.audit.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from safety.reports import build_report
from streams.settings import Settings
from streams.web.acks import AckEndpoints, ViewDirectory
from streams.web.acks import add_routes as add_ack_routes
from streams.web.auth import ack_link
from streams.web.dashboard import alert_key
from streams.web.guard import MAX_BODY, Guard, install
from streams.web.pages import Pages
from streams.web.pages import add_routes as add_page_routes
from streams.web.session import COOKIE, Sessions
from streams.web.users import load_users
from streams.worker.app import create_app

SCRAPE = "scrape-9f2c7e1a4b6d8053c1e7a9f2b4d6e8f0"
PI_TOKEN = "pi-token-3e8a1c7f5b9d2046ae1c5b7d9f1a"
SECRET = "session-secret-7c1e9a3f5b2d8046e1a3"
PASSWORD = "correct horse battery staple"
NOW = fx.GENERATED_AT
SAE = next(a for a in fx.alerts() if a["kind"] == "SAE")


class Captured:
    """Stands where safety.audit is: the records the worker would send."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def send(self, key: bytes, value: bytes) -> None:
        self.records.append(json.loads(value))

    async def __call__(self, entry: dict[str, Any]) -> None:
        self.records.append(entry)


# --- the worker app: faust's views and /metrics -------------------------------------------------------------


@pytest_asyncio.fixture
async def worker() -> AsyncIterator[tuple[TestClient, Captured]]:  # type: ignore[type-arg]
    settings = Settings.load(worker={"plugins": ""}, auth={"metrics_token": SCRAPE, "tokens": f"pi:{PI_TOKEN}"})
    app = create_app(settings)
    audit = Captured()
    app.safety.topics.audit = audit  # type: ignore[attr-defined]
    app.web.init_server()  # faust applies its blueprints here, as when the worker starts
    async with TestClient(TestServer(app.web.web_app)) as client:
        yield client, audit


FAUST_VIEWS = ("/", "/router/", "/router/topics", "/table/", "/table/subjects/", "/graph/", "/stats/", "/assignment/")


@pytest.mark.asyncio
@pytest.mark.parametrize("path", FAUST_VIEWS)
async def test_faust_views_answer_no_one_without_a_credential_and_show_no_topology(worker, path: str) -> None:
    client, _ = worker
    anonymous = await client.get(path)
    assert anonymous.status == 401
    signed = await client.get(path, headers={"Authorization": f"Bearer {PI_TOKEN}"})
    body = await signed.text()
    assert signed.status in (200, 404) and "topic" not in body.lower() and "127.0.0.1" not in body


@pytest.mark.asyncio
async def test_metrics_open_with_the_scrape_token_only(worker) -> None:
    client, _ = worker
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {PI_TOKEN}"})).status == 401
    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE}"})
    assert scraped.status == 200 and "safety_broker_up" in await scraped.text()
    elsewhere = await client.get("/overview", headers={"Authorization": f"Bearer {SCRAPE}"})
    assert elsewhere.status == 403  # the scrape token opens nothing else


@pytest.mark.asyncio
async def test_every_answer_carries_the_security_headers(worker) -> None:
    client, _ = worker
    for response in (
        await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE}"}),
        await client.get("/router/"),
        await client.get("/login"),
        await client.get("/nowhere", headers={"Authorization": f"Bearer {PI_TOKEN}"}),
    ):
        h = response.headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp and "script-src 'self'" in csp
        assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "same-origin"
        assert h["X-Content-Type-Options"] == "nosniff" and h["Cache-Control"] == "no-store"


@pytest.mark.asyncio
async def test_a_token_in_the_url_is_refused_audited_and_never_logged(worker, caplog) -> None:
    client, audit = worker
    caplog.set_level(logging.DEBUG)
    response = await client.get(f"/overview?token={PI_TOKEN}")
    assert response.status == 400 and PI_TOKEN not in await response.text()
    # the test server's access log prints request lines; the worker's web server has none (faust: access_log=None)
    assert all(PI_TOKEN not in r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert [(r["action"], r["reason"]) for r in audit.records] == [("token_refused", "credential in the URL")]
    assert PI_TOKEN not in json.dumps(audit.records)


@pytest.mark.asyncio
async def test_token_uses_and_refusals_are_audited_with_role_time_and_source(worker) -> None:
    client, audit = worker
    await client.get("/", headers={"Authorization": f"Bearer {PI_TOKEN}"})
    await client.get("/", headers={"Authorization": "Bearer not-a-token"})
    used, refused = audit.records
    assert (used["action"], used["role"], used["person"], used["target"]) == ("token_use", "pi", "pi (token)", "/")
    assert used["source"] == "127.0.0.1" and datetime.fromisoformat(used["at"]).utcoffset() == timedelta(0)
    assert (refused["action"], refused["reason"]) == ("token_refused", "token not recognised")


@pytest.mark.asyncio
async def test_oversized_and_chunked_bodies_are_refused_before_they_are_read(worker) -> None:
    client, _ = worker
    big = await client.post("/login", data=b"x" * (MAX_BODY + 1))
    assert big.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        yield b"name=a"

    assert (await client.post("/login", data=chunks())).status == 411


# --- people: sign-in, sessions, CSRF, attribution -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _users_file(tmp_path: Path) -> Path:
    hashed = PasswordHasher().hash(PASSWORD)
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n"
        f"  - {{name: dr.test, display: Dr Test, roles: [pi], studies: ['*'], password_hash: '{hashed}'}}\n"
        f"  - {{name: officer, roles: [safety_officer], studies: ['*'], password_hash: '{hashed}'}}\n"
        f"  - {{name: dr.other, display: Dr Other, roles: [pi], studies: ['*'], password_hash: '{hashed}'}}\n",
        encoding="utf-8",
    )
    return path


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Captured, Clock, list[dict[str, Any]]]]:  # type: ignore[type-arg]
    clock = Clock()
    audit = Captured()
    published: list[dict[str, Any]] = []
    view = {alert_key(a["alert_id"]).encode(): json.dumps(a).encode() for a in fx.alerts()}

    async def publish(alert_id: str, event: dict[str, Any]) -> None:
        published.append(event)

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return build_report(fx.events(), fx.alerts(), [], study_id=fx.STUDY, generated_at=now), [], []

    tokens = {PI_TOKEN: "pi"}
    app = web.Application()
    users = load_users(_users_file(tmp_path))
    guard = Guard(
        tokens=tokens,
        sessions=Sessions(SECRET, 30 * 60, secure=False, clock=lambda: clock().timestamp()),
        users=users,
        audit=audit,
        clock=clock,
    )
    install(app, guard)
    add_page_routes(app.router, Pages(source, tokens, clock=clock))
    endpoints = AckEndpoints(tokens, SECRET, publish, ViewDirectory(view), clock, time_zone="UTC", users=users)
    add_ack_routes(app.router, endpoints)
    async with TestClient(TestServer(app)) as client:
        yield client, audit, clock, published


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf(?:-token)?" (?:value|content)="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def _sign_in(client: TestClient, name: str = "dr.test", password: str = PASSWORD) -> Any:  # type: ignore[type-arg]
    page = await (await client.get("/login")).text()
    origin = str(client.make_url("")).rstrip("/")
    return await client.post(
        "/login",
        data={"name": name, "password": password, "csrf": _csrf(page), "next": "/alerts"},
        headers={"Origin": origin},
        allow_redirects=False,
    )


@pytest.mark.asyncio
async def test_a_person_signs_in_and_the_session_cookie_is_httponly_and_samesite_strict(site) -> None:
    client, audit, _, _ = site
    response = await _sign_in(client)
    assert response.status == 303 and response.headers["Location"] == "/alerts"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and PASSWORD not in cookie.value
    page = await client.get("/alerts")
    text = await page.text()
    assert page.status == 200 and "Dr Test" in text and 'data-testid="logout"' in text
    assert ("login", "Dr Test", "pi") in [(r["action"], r["person"], r["role"]) for r in audit.records]


@pytest.mark.asyncio
async def test_a_wrong_password_is_refused_audited_and_rate_limited(site) -> None:
    client, audit, _, _ = site
    statuses = [(await _sign_in(client, password="guess")).status for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    assert [r["action"] for r in audit.records].count("login_failed") == 10
    assert all(r["person"] == "dr.test" and "guess" not in json.dumps(r) for r in audit.records)


@pytest.mark.asyncio
async def test_an_idle_session_expires_and_the_browser_is_sent_to_sign_in(site) -> None:
    client, _, clock, _ = site
    await _sign_in(client)
    clock.now = NOW + timedelta(minutes=29)
    assert (await client.get("/alerts")).status == 200  # a request refreshes the idle time
    clock.now = NOW + timedelta(minutes=29 + 31)
    expired = await client.get("/alerts", headers={"Accept": "text/html"}, allow_redirects=False)
    assert expired.status == 303 and expired.headers["Location"] == "/login?next=/alerts"


@pytest.mark.asyncio
async def test_an_acknowledgement_is_the_signed_in_person_s_and_needs_the_csrf_token(site) -> None:
    client, audit, _, published = site
    await _sign_in(client)
    page = await (await client.get("/alerts")).text()
    origin = str(client.make_url("")).rstrip("/")
    body = {"who": "someone else entirely", "conclusion": "reviewed"}
    url = f"/alerts/{SAE['alert_id']}/ack"
    no_token = await client.post(url, json=body, headers={"Origin": origin})
    evil = {"Origin": "https://evil.example", "X-CSRF-Token": _csrf(page)}
    other_site = await client.post(url, json=body, headers=evil)
    assert (no_token.status, other_site.status) == (403, 403) and published == []
    ok = await client.post(url, json=body, headers={"Origin": origin, "X-CSRF-Token": _csrf(page)})
    assert ok.status == 202
    assert [(e["who"], e["role"]) for e in published] == [("Dr Test", "pi")]  # the person, not the typed name
    assert ("ack", "Dr Test", SAE["alert_id"], "recorded (HTTP 202)") in [
        (r["action"], r["person"], r["target"], r["reason"]) for r in audit.records
    ]


@pytest.mark.asyncio
async def test_sign_out_ends_the_session_even_if_the_cookie_is_replayed(site) -> None:
    client, audit, _, _ = site
    await _sign_in(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    page = await (await client.get("/alerts")).text()
    origin = str(client.make_url("")).rstrip("/")
    out = await client.post("/logout", data={"csrf": _csrf(page)}, headers={"Origin": origin}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login"
    replayed = await client.get("/alerts", cookies={COOKIE: cookie}, allow_redirects=False)
    assert replayed.status == 401
    assert "logout" in [r["action"] for r in audit.records]


@pytest.mark.asyncio
async def test_a_link_seen_by_a_group_chat_acknowledges_only_as_the_person_it_names(site) -> None:
    client, _, _, published = site
    expires = int((NOW + timedelta(days=1)).timestamp())
    url = ack_link("", SECRET, SAE["alert_id"], "pi", expires, person="dr.test", signin=True)
    fields = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    origin = {"Origin": str(client.make_url("")).rstrip("/")}
    anonymous = await client.get(url)
    assert anonymous.status == 401 and "Dr Test" in await anonymous.text()
    await _sign_in(client, "dr.other")  # another member of the chat, a PI as well
    other = await client.get(url)
    assert other.status == 403 and "sent to Dr Test" in await other.text()
    csrf = _csrf(await (await client.get("/alerts")).text())
    posted = await client.post(f"{urlsplit(url).path}/link", data={**fields, "csrf": csrf}, headers=origin)
    assert posted.status == 403 and published == []
    signed = await _sign_in(client, "dr.test")
    page = await client.get(url)
    assert signed.status == 303, await signed.text()
    assert page.status == 200, await page.text()
    form = {**fields, "csrf": _csrf(await page.text()), "conclusion": "seen"}
    assert (await client.post(f"{urlsplit(url).path}/link", data=form, headers=origin)).status == 200
    assert [(e["who"], e["via"]) for e in published] == [("Dr Test", "link")]


# --- a bounded fuzz run of every endpoint --------------------------------------------------------------------

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE alerts; --",
    "../../../../etc/passwd",
    "%00%0d%0aSet-Cookie:x=1",
    '=HYPERLINK("http://evil")',
    "\u202eevil",
    "{{7*7}}",
    "A" * 5000,
)
BODIES: tuple[tuple[str, bytes], ...] = (
    ("application/json", b"{"),
    ("application/json", b"[]"),
    ("application/json", b'{"who": null, "conclusion": 5}'),
    ("application/json", b"\xff\xfe\x00"),
    ("application/x-www-form-urlencoded", b"name=%ZZ&password=%"),
    ("text/plain", b"\x00" * 100),
    ("application/json", b'{"who":"' + b"x" * (MAX_BODY + 10) + b'"}'),
)


@pytest.mark.asyncio
async def test_fuzz_every_endpoint_no_500_and_no_reflected_input(site, capsys) -> None:
    client, _, _, _ = site
    await _sign_in(client)
    paths = [
        "/login",
        "/login/oidc",
        "/login/oidc/callback",
        "/logout",
        "/overview",
        "/alerts",
        "/subjects/{x}",
        "/edish",
        "/feeds/ethics.atom",
        "/reports/safety-summary.json",
        "/reports/safety-summary.csv",
        "/reports/safety-summary.html",
        "/alerts/{x}/ack",
        "/alerts/{x}/ethics-submitted",
        "/alerts/{x}/ack/link",
        "/static/{x}",
        "/metrics",
    ]
    counts: dict[int, int] = {}
    reflected = []
    sent = 0
    for template in paths:
        for value in HOSTILE:
            path = template.replace("{x}", value[:300]) if "{x}" in template else template
            for method in ("GET", "POST"):
                for ctype, body in BODIES if method == "POST" else (("", b""),):
                    headers = {"Content-Type": ctype} if ctype else {}
                    response = await client.request(
                        method, path, data=body or None, headers=headers, params={"view": value[:200], "q": value[:200]}
                    )
                    text = await response.text(errors="replace")
                    sent += 1
                    counts[response.status] = counts.get(response.status, 0) + 1
                    if value in text and len(value) > 3:
                        reflected.append((method, template, value[:30], response.status))
    with capsys.disabled():
        print(f"\nfuzz: {sent} requests, statuses {dict(sorted(counts.items()))}, reflected {len(reflected)}")
    assert 500 not in counts and reflected == []


def test_users_file_refuses_a_plain_password(tmp_path: Path) -> None:
    from streams.web.users import UsersFileError

    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {name: a, roles: [pi], studies: ['*'], password_hash: hunter2}\n", encoding="utf-8")
    with pytest.raises(UsersFileError, match="not an argon2id hash") as err:
        load_users(path)
    assert "hunter2" not in str(err.value)


def test_guard_never_shows_its_tokens() -> None:
    guard = Guard(tokens={PI_TOKEN: "pi"}, sessions=None, metrics_token=SCRAPE, clock=lambda: datetime.now(UTC))
    assert PI_TOKEN not in repr(guard) and SCRAPE not in repr(guard)
