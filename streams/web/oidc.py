"""Sign-in through the hospital's OpenID Connect provider, for a person who is in the users file.

Where the hospital runs an identity provider, people sign in with the account they already have, and leaving the
hospital closes it. The provider says only *who* someone is; what they may do stays with the users file
(streams/web/users.py): an account is matched to a person by the ID token's ``sub`` (the person's ``oidc_subject``)
or, failing that, by its ``email`` when the provider says it is verified (the person's ``email``). Roles and studies
come from the users file, never from the provider's claims; an account that matches nobody is refused and audited.

The flow is the authorization code flow with PKCE (``/login/oidc`` -> the provider -> ``/login/oidc/callback``).
``state``, ``nonce`` and the PKCE verifier travel in a signed cookie that lives ten minutes (SameSite=Lax: the
provider's redirect back is a cross-site navigation, which a Strict cookie would not follow). The code is exchanged
at the token endpoint with the client secret; the ID token's signature is checked against the provider's JWKS
(fetched again once when a token names a key not yet seen: the provider rotated its keys) and its issuer, audience,
expiry and nonce are checked with joserfc. The answer is a page that moves on to the next page by itself: a
session cookie set in a redirect chain that began on another site would not be sent (SameSite=Strict).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from streams.web.users import User, Users

log = logging.getLogger(__name__)

COOKIE = "safety_oidc"
SALT = "safety.oidc"
FLOW_SECONDS = 600
ALGORITHMS = ("RS256", "ES256", "PS256")
TIMEOUT = aiohttp.ClientTimeout(total=10)


class OidcError(Exception):
    """The provider could not be used or its answer did not verify; the message is for the log, never the page."""


@dataclass(frozen=True)
class Flow:
    """What the browser carries between ``/login/oidc`` and the callback (signed, ten minutes)."""

    state: str
    nonce: str
    verifier: str
    next: str


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def person_for(users: Users, claims: dict[str, Any]) -> User | None:
    """The person of the users file an ID token's claims name, or None (module docstring)."""
    subject = claims.get("sub")
    by_subject = [u for u in users.by_name.values() if u.oidc_subject is not None and u.oidc_subject == subject]
    if by_subject:
        return by_subject[0]
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return None
    matches = [u for u in users.by_name.values() if u.email is not None and u.email.lower() == email.lower()]
    return matches[0] if len(matches) == 1 else None


@dataclass(repr=False)
class Provider:
    """One OpenID Connect provider: its issuer and this service's client registration. No repr: it holds a secret."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    secret: str  # signs the flow cookie (the session secret)
    _config: dict[str, Any] | None = field(default=None, init=False)
    _keys: KeySet | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._flows = URLSafeTimedSerializer(self.secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.request(method, url, **kwargs) as reply:
                if reply.status != 200:
                    raise OidcError(f"{url} answered HTTP {reply.status}")
                data = await reply.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError(f"{url}: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise OidcError(f"{url} answered JSON that is not an object")
        return data

    async def config(self) -> dict[str, Any]:
        if self._config is None:
            found = await self._json("GET", self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if found.get("issuer") != self.issuer:
                raise OidcError(f"the discovery document names issuer {str(found.get('issuer'))[:100]!r}")
            self._config = found
        return self._config

    async def start(self, next_path: str) -> tuple[str, str]:
        """(the provider's authorization URL, the signed flow cookie) for a sign-in that returns to ``next_path``."""
        flow = Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_path)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid email",
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": _challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = str((await self.config())["authorization_endpoint"])
        cookie = self._flows.dumps([flow.state, flow.nonce, flow.verifier, flow.next])
        return f"{endpoint}?{query}", cookie

    def flow(self, cookie: str | None, state: str) -> Flow | None:
        """The flow the cookie carries when ``state`` is its state, else None (forged, expired, another tab)."""
        if not cookie or len(cookie) > 2048:
            return None
        try:
            values = self._flows.loads(cookie, max_age=FLOW_SECONDS)
        except (BadSignature, SignatureExpired):
            return None
        if not (isinstance(values, list) and len(values) == 4 and all(isinstance(v, str) for v in values)):
            return None
        flow = Flow(*values)
        return flow if hmac.compare_digest(flow.state.encode(), state.encode()) else None

    async def claims(self, code: str, flow: Flow) -> dict[str, Any]:
        """The verified claims of the ID token the provider gives for ``code``."""
        config = await self.config()
        reply = await self._json(
            "POST",
            str(config["token_endpoint"]),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "code_verifier": flow.verifier,
            },
        )
        token = reply.get("id_token")
        if not isinstance(token, str):
            raise OidcError("the token endpoint gave no id_token")
        decoded = await self._decode(token, config)
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            nonce={"essential": True, "value": flow.nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise OidcError(f"the ID token was refused: {exc.error}") from None
        return dict(decoded.claims)

    async def _decode(self, token: str, config: dict[str, Any]) -> jwt.Token:
        for fresh in (False, True):
            if self._keys is None or fresh:
                self._keys = KeySet.import_key_set(await self._json("GET", str(config["jwks_uri"])))  # type: ignore[arg-type]
            try:
                return jwt.decode(token, self._keys, algorithms=ALGORITHMS)
            except JoseError as exc:
                if fresh or exc.error != "invalid_key_id":
                    raise OidcError(f"the ID token's signature was refused: {exc.error}") from None
        raise AssertionError("unreachable")
