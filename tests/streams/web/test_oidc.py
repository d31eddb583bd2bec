"""Sign-in through an OpenID Connect provider: the provider says who, the users file says what they may do.

No hospital provider can run here, so the test starts a small provider of its own, in process, on loopback: an
aiohttp app with the discovery document, an authorization endpoint that signs in a preset account (the person
typing their hospital password, which this service never sees), a token endpoint that checks the client secret
and the PKCE verifier, and a JWKS; its ID tokens are real RS256 JWTs signed with joserfc. This is the one stand-in
of these tests. The service side is the real guard (streams/web/guard.py, streams/web/oidc.py) over loopback.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
import report_fixtures as fx
from aiohttp import web
from argon2 import PasswordHasher
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from safety.reports import build_report
from streams.web.guard import Guard, install
from streams.web.oidc import Provider
from streams.web.pages import Pages
from streams.web.pages import add_routes as add_page_routes
from streams.web.session import Sessions
from streams.web.users import load_users

CLIENT_ID, CLIENT_SECRET = "safety-service", "client-secret-4f1e9a7c3b5d2e8f6a0c"
SECRET = "session-secret-7c1e9a3f5b2d8046e1a3"


@dataclass
class HospitalProvider:
    """The stand-in provider. ``account`` is who signs in at it next; ``tamper`` makes its ID token wrong."""

    account: dict[str, Any] = field(default_factory=lambda: {"sub": "sub-wang"})
    tamper: str | None = None
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "hospital-1"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/jwks", self.jwks)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.base,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "jwks_uri": f"{self.base}/jwks",
            }
        )

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        assert (q["response_type"], q["client_id"], q["code_challenge_method"]) == ("code", CLIENT_ID, "S256")
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(q)
        raise web.HTTPFound(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        asked = self.codes.pop(str(form["code"]), None)
        verifier = str(form["code_verifier"]).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if asked is None or form["client_secret"] != CLIENT_SECRET or challenge != asked["code_challenge"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": "another-client" if self.tamper == "audience" else CLIENT_ID,
            "iat": now,
            "exp": now - 60 if self.tamper == "expired" else now + 300,
            "nonce": "a-replayed-nonce" if self.tamper == "nonce" else asked["nonce"],
            "roles": ["safety_officer"],  # what a provider may claim; the service never reads it
            **self.account,
        }
        signer = RSAKey.generate_key(2048, parameters={"kid": "hospital-1"}) if self.tamper == "key" else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "hospital-1"}, claims, signer)
        return web.json_response({"id_token": id_token, "access_token": "unused", "token_type": "Bearer"})

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))


@dataclass
class Sites:
    provider: HospitalProvider
    service: str
    audit: list[dict[str, Any]]


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest_asyncio.fixture
async def sites(tmp_path: Path) -> AsyncIterator[Sites]:
    hashed = PasswordHasher().hash("a password nobody uses here")
    users = tmp_path / "users.yaml"
    users.write_text(
        "users:\n"
        f"  - {{name: dr.wang, display: Dr Wang, roles: [pi], studies: ['*'], oidc_subject: sub-wang,"
        f" password_hash: '{hashed}'}}\n"
        f"  - {{name: ec.li, display: EC Li, roles: [ethics], studies: ['*'], email: li@hospital.example,"
        f" password_hash: '{hashed}'}}\n",
        encoding="utf-8",
    )
    audit: list[dict[str, Any]] = []

    async def record(entry: dict[str, Any]) -> None:
        audit.append(entry)

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return build_report(fx.events(), fx.alerts(), [], study_id=fx.STUDY, generated_at=now), [], []

    provider = HospitalProvider()
    provider_runner, provider.base = await _serve(provider.app())
    guard = Guard(tokens={}, sessions=Sessions(SECRET, 1800, False, time.time), users=load_users(users), audit=record)
    app = web.Application()
    install(app, guard)
    add_page_routes(app.router, Pages(source, {}))
    service_runner, service = await _serve(app)
    guard.oidc = Provider(provider.base, CLIENT_ID, CLIENT_SECRET, f"{service}/login/oidc/callback", SECRET)
    try:
        yield Sites(provider, service, audit)
    finally:
        await service_runner.cleanup()
        await provider_runner.cleanup()


async def sign_in(sites: Sites, http: aiohttp.ClientSession) -> tuple[int, str]:
    """From the sign-in page's hospital link, through the provider, back to the service."""
    async with http.get(f"{sites.service}/login/oidc?next=/overview") as reply:
        return reply.status, await reply.text()


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies of 127.0.0.1, as a browser


@pytest.mark.asyncio
async def test_the_provider_says_who_and_the_users_file_says_what_they_may_do(sites: Sites) -> None:
    async with browser() as http:
        status, page = await sign_in(sites, http)
        assert status == 200 and "Dr Wang" in page and 'content="0; url=/overview"' in page
        async with http.get(f"{sites.service}/overview") as overview:
            assert overview.status == 200  # the PI of the users file
    sites.provider.account = {"sub": "sub-li", "email": "LI@hospital.example", "email_verified": True}
    async with browser() as http:
        status, page = await sign_in(sites, http)
        assert status == 200 and "EC Li" in page  # matched by the verified address
        async with http.get(f"{sites.service}/overview") as overview:
            assert overview.status == 403  # the committee's role, whatever "roles" the provider claimed
    logins = [(r["action"], r["person"], r["reason"]) for r in sites.audit if r["action"] == "login"]
    assert logins == [("login", p, "hospital sign-in (OpenID Connect)") for p in ("Dr Wang", "EC Li")]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "account",
    [
        {"sub": "sub-stranger", "email": "stranger@hospital.example", "email_verified": True},
        {"sub": "sub-li-2", "email": "li@hospital.example", "email_verified": False},  # an address not verified
    ],
)
async def test_an_account_in_no_users_entry_gets_no_session(sites: Sites, account: dict[str, Any]) -> None:
    sites.provider.account = account
    async with browser() as http:
        status, _ = await sign_in(sites, http)
        assert status == 403
        async with http.get(f"{sites.service}/overview", allow_redirects=False) as overview:
            assert overview.status in (303, 401)
    assert ("login_failed", "hospital account in no users entry") in [(r["action"], r["reason"]) for r in sites.audit]


@pytest.mark.asyncio
@pytest.mark.parametrize("tamper", ["audience", "nonce", "key", "expired"])
async def test_an_id_token_for_another_client_replayed_forged_or_expired_is_refused(sites: Sites, tamper: str) -> None:
    sites.provider.tamper = tamper
    async with browser() as http:
        status, page = await sign_in(sites, http)
        assert status == 403 and "could not be verified" in page
        async with http.get(f"{sites.service}/overview", allow_redirects=False) as overview:
            assert overview.status in (303, 401)
    assert "hospital sign-in: token refused" in [r["reason"] for r in sites.audit]


@pytest.mark.asyncio
async def test_a_callback_this_browser_did_not_start_is_refused(sites: Sites) -> None:
    async with browser() as http:
        async with http.get(f"{sites.service}/login/oidc", allow_redirects=False) as start:
            assert start.status == 303
        # an attacker's own code and state, planted in the victim's browser (login CSRF)
        url = f"{sites.service}/login/oidc/callback?code=attackers-code&state=attackers-state"
        async with http.get(url) as reply:
            assert reply.status == 403
    assert "hospital sign-in: not this browser's" in [r["reason"] for r in sites.audit]
