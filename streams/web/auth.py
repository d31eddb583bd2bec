"""Role tokens and signed acknowledgement links for the worker's HTTP endpoints.

Acknowledgements must be attributable (ICH E6(R3), 21 CFR Part 11), so every request is tied to a role:
either a per-role bearer token (``SAFETY_AUTH_TOKENS="pi:...,ethics:...,safety_officer:..."``) or a one-click
link in the alert message, ``/alerts/<id>/ack?role=<role>&person=<login>&auth=<link|signin>&exp=<unix
time>&sig=<signature>``. The signature is itsdangerous' (HMAC-SHA256 with a key derived from ``SAFETY_LINK_SECRET``
and the salt of acknowledgement links, so a signature made for any other purpose with the same secret never passes
here) over the alert id, the role, the person the link was sent to, whether they must sign in, and the expiry
(streams/notify/recipients.py decides the person and the sign-in; a link naming nobody always needs one). The
expiry is fixed when the message is sent (``link_ttl_hours`` then) and checked against the service's clock, so a
link lives as long as its message said. Comparisons are constant-time; an expired, tampered
or foreign-alert link is rejected.

A guessable token or secret is an unattributable acknowledgement, so both have a minimum strength, checked when
the settings load (streams/settings.py): at least 32 characters (128 bits of randomness as hex, more as
base64) with at least 8 different characters. ``python -c "import secrets; print(secrets.token_urlsafe(32))"``
makes one (README, "Settings are checked the same way").

A link acknowledges once: ``link_id`` names it in the ack event (a hash, never the signature itself), so a
later post of the same link is recognised. Browser posts must come from the service's own pages
(``cross_origin_refusal``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

from itsdangerous import Signer

from safety.vocab import ROLES

MIN_SECRET_CHARS = 32
MIN_DISTINCT_CHARS = 8
MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class AuthConfigError(ValueError):
    """The token setting is malformed; the message says how to write it."""


def parse_tokens(spec: str | None) -> dict[str, str]:
    """``"pi:tok1,ethics:tok2"`` -> {token: role}; unknown roles, empty or shared tokens are refused."""
    tokens: dict[str, str] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        role, sep, token = part.partition(":")
        role, token = role.strip(), token.strip()
        if not sep or role not in ROLES or not token:
            raise AuthConfigError(
                f"SAFETY_AUTH_TOKENS: entry {role or part[:12]!r} is not 'role:token' with role one of "
                f"{', '.join(ROLES)}; write e.g. 'pi:<long random>,ethics:<long random>'"
            )
        if token in tokens and tokens[token] != role:
            raise AuthConfigError(
                f"SAFETY_AUTH_TOKENS: roles {tokens[token]} and {role} share a token; give each role its own"
            )
        tokens[token] = role
    return tokens


def weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak (never quoting it), or None."""
    if len(secret) < MIN_SECRET_CHARS:
        return f"has {len(secret)} characters, at least {MIN_SECRET_CHARS} are needed"
    if len(set(secret)) < MIN_DISTINCT_CHARS:
        return f"uses {len(set(secret))} different characters, at least {MIN_DISTINCT_CHARS} are needed"
    return None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization") or headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def role_for_token(tokens: Mapping[str, str], token: str) -> str | None:
    """The role of ``token``, compared in constant time against every configured token."""
    found = None
    for known, role in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = role
    return found


ACK_LINK_SALT = "safety.ack-link"
LOGIN = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a login name of the users file (streams/web/users.py)


def _ack_signer(secret: str) -> Signer:
    return Signer(secret, salt=ACK_LINK_SALT, digest_method=hashlib.sha256)


def _signed(alert_id: str, role: str, expires: int, person: str | None, signin: bool) -> str:
    """The signed text. A link naming nobody keeps the first form (links in flight when people were introduced
    stay valid, and now need a sign-in); a link naming a person signs the person and whether they must sign in."""
    if person is None:
        return f"{alert_id}|{role}|{expires}"
    return f"{alert_id}|{role}|{person}|{'signin' if signin else 'link'}|{expires}"


@dataclass(frozen=True)
class LinkFor:
    """Whom a valid link acts for: ``person`` (a login name; None: any person holding the role) and whether that
    person must be signed in (``signin``; always so when the link names nobody)."""

    person: str | None
    signin: bool


def sign_link(
    secret: str, alert_id: str, role: str, expires: int, person: str | None = None, signin: bool = True
) -> str:
    """The URL-safe signature of an acknowledgement link for ``alert_id``, ``role`` and ``person``, valid until
    ``expires``."""
    text = _signed(alert_id, role, expires, person, signin or person is None)
    return _ack_signer(secret).get_signature(text).decode("ascii")


def verify_link(
    secret: str | Sequence[str],
    alert_id: str,
    role: str,
    expires: str | int,
    signature: str,
    now: datetime,
    person: str | None = None,
    auth: str | None = None,
) -> LinkFor | str:
    """Whom a valid link acts for, else the reason it is refused (for the 403 page and the log).

    ``secret`` is the key, or the keys newest first (``SAFETY_LINK_SECRET`` and ``SAFETY_LINK_PREVIOUS_SECRETS``):
    a link signed with any of them verifies, so the key can be rotated while links signed before are in flight."""
    if role not in ROLES:
        return "unknown role"
    if person is not None and (not LOGIN.fullmatch(person) or auth not in ("link", "signin")):
        return "malformed person"
    try:
        exp = int(expires)
    except (TypeError, ValueError):
        return "malformed expiry"
    # The exact signature, not any text that decodes to it (base64 leaves spare bits in the last character): a
    # link has one spelling, so ``link_id`` names it once and the link acknowledges once.
    signin = person is None or auth == "signin"
    keys = [secret] if isinstance(secret, str) else list(secret)
    given = (signature or "").encode()
    matches = [hmac.compare_digest(sign_link(k, alert_id, role, exp, person, signin).encode(), given) for k in keys]
    if not any(matches):  # every key is tried: the time taken does not say which one signed
        return "bad signature"
    if now.timestamp() > exp:
        return "link expired"
    return LinkFor(person, signin)


def ack_link(
    base_url: str,
    secret: str,
    alert_id: str,
    role: str,
    expires: int,
    person: str | None = None,
    signin: bool = True,
) -> str:
    """The one-click link printed in a message to ``role`` (opens a confirmation page, see streams/web/acks.py);
    with ``person``, the link acts for that person only (``signin``: once they have signed in as themselves)."""
    fields: dict[str, str | int] = {"role": role, "exp": expires}
    if person is not None:
        fields.update(person=person, auth="signin" if signin else "link")
    fields["sig"] = sign_link(secret, alert_id, role, expires, person, signin)
    return f"{base_url.rstrip('/')}/alerts/{quote(alert_id)}/ack?{urlencode(fields)}"


def link_id(signature: str) -> str:
    """A stable name of one signed link, safe to store: knowing it does not let anyone forge the link."""
    return hashlib.sha256(f"link|{signature}".encode()).hexdigest()[:24]


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an Origin header value; None when it has no scheme or host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


SAME_SITE_FETCHES = ("same-origin", "none")


def cross_origin_refusal(headers: Mapping[str, str], own: Collection[str]) -> str | None:
    """Why a POST is refused as coming from another site's page, or None when it may proceed.

    ``own`` are the service's own origins (SAFETY_PUBLIC_URL and the address the request came to). A browser
    says where a post comes from in ``Sec-Fetch-Site`` and ``Origin`` (or, failing that, ``Referer``); each
    that is present must name this service. A request with none of them is not from a browser page (the
    ``safety ack`` command, scripts) and proceeds to the token or link check.
    """
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.strip().lower() not in SAME_SITE_FETCHES:
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site[:20]})"
    mine = {o for o in (origin_of(u) for u in own) if o is not None}
    for header in ("Origin", "Referer"):
        value = headers.get(header)
        if value is not None:
            if origin_of(value) not in mine:
                return f"cross-origin request refused ({header} is not this service)"
            return None
    return None


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a signed-in person (``person`` set, ``via="session"``), a person's API token
    (``via="api_token"``, streams/web/apitokens.py), a shared role token (``person`` None, ``via="token"``: the
    documented bootstrap for the demo and tests) or the metrics scraper."""

    roles: tuple[str, ...]
    via: str
    person: str | None = None
    studies: tuple[str, ...] = ("*",)
    login: str | None = None  # the person's login name in the users file (what a personal link names)

    def acting_role(self, allowed: Collection[str]) -> str | None:
        """The first of this principal's roles that ``allowed`` admits, else None."""
        return next((r for r in self.roles if r in allowed), None)

    def may_see(self, study_id: str) -> bool:
        """Whether the principal's studies include ``study_id`` (role tokens and the scraper: every study)."""
        return "*" in self.studies or study_id in self.studies

    @property
    def name(self) -> str:
        """How the audit trail names it: the person, else the role token's role."""
        return self.person or f"{'+'.join(self.roles) or self.via} ({self.via})"
