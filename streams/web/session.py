"""Browser sessions: a signed cookie naming the person signed in, an idle timeout, and the CSRF token of the session.

A credential in a URL leaks through history, proxies, Referer headers and screenshots, so the pages take no
``?token=``: a person signs in at ``/login`` (streams/web/guard.py) and the browser carries the cookie
``safety_session``. The cookie is itsdangerous' signature (HMAC-SHA256, salt ``safety.session``: a signature made for
links or anything else with the same secret never passes here) over ``{"sid", "u", "t"}``: a random session id,
the login name (None before sign-in) and the time of the last request. A request more than the idle timeout after
the last one finds no session; every authenticated response re-issues the cookie with the new time. The cookie is
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and Secure behind TLS
(``SAFETY_COOKIE_SECURE``; unset: when SAFETY_PUBLIC_URL is https).

CSRF: every state-changing POST made with the cookie carries ``csrf`` (form field or ``X-CSRF-Token``), an HMAC of
the session id, checked in constant time; the origin check of streams/web/auth.py applies as well. Signing in
issues a new session id (a session id planted before sign-in is worth nothing after it). Logging out forgets the
id in this process (``revoked``) and clears the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "safety_session"
SALT = "safety.session"
REVOKED_KEPT = 10_000


@dataclass(frozen=True)
class Session:
    sid: str
    user: str | None
    seen: float


class Sessions:
    """Reads, issues and clears session cookies; ``clock`` is seconds since the epoch (the service's clock)."""

    def __init__(self, secret: str, idle_seconds: float, secure: bool, clock: Callable[[], float]) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})
        self._csrf_key = hashlib.sha256(f"safety.csrf|{secret}".encode()).digest()
        self.idle_seconds, self.secure, self.clock = idle_seconds, secure, clock
        self._revoked: OrderedDict[str, None] = OrderedDict()

    def read(self, request: web.Request) -> Session | None:
        """The request's live session, or None (no cookie, tampered, idle too long, logged out)."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 1024:
            return None
        try:
            data = self._serializer.loads(raw)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        sid, user, seen = data.get("sid"), data.get("u"), data.get("t")
        if not isinstance(sid, str) or not isinstance(seen, int | float) or not (user is None or isinstance(user, str)):
            return None
        if sid in self._revoked or not 0 <= self.clock() - seen <= self.idle_seconds:
            return None
        return Session(sid, user, seen)

    def new(self, user: str | None) -> Session:
        return Session(secrets.token_urlsafe(18), user, self.clock())

    def touched(self, session: Session) -> Session:
        return Session(session.sid, session.user, self.clock())

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        value = self._serializer.dumps({"sid": session.sid, "u": session.user, "t": int(session.seen)})
        response.set_cookie(COOKIE, value, httponly=True, samesite="Strict", secure=self.secure, path="/")

    def clear(self, response: web.StreamResponse, session: Session | None) -> None:
        if session is not None:
            self._revoked[session.sid] = None
            while len(self._revoked) > REVOKED_KEPT:
                self._revoked.popitem(last=False)
        response.del_cookie(COOKIE, path="/")

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session).encode(), str(token).encode())
