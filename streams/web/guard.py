"""The worker web server's front door: who a request is, what it may reach, and what every response carries.

One aiohttp middleware (``Guard.middleware``), installed on faust's web app by ``register`` before anything else is
served, so no route is reachable around it:

* **Default deny.** A request that is not signed in (session cookie, streams/web/session.py) and carries no
  recognised bearer token reaches only ``/login``, ``/static/*`` and the signed one-click acknowledgement link
  (``/alerts/<id>/ack``, ``/alerts/<id>/ack/link``, which check their own signature). Everything else, including
  any view faust or a library adds, answers 401 (a browser is sent to ``/login``). faust's own views (``/``,
  ``/router``, ``/table``, statistics) are switched off as well (streams/worker/app.py, ``faust_settings``).
* **/metrics** opens with the scrape token only (``SAFETY_METRICS_TOKEN``, sent by Prometheus:
  deploy/prometheus/prometheus.yml), and that token opens nothing else.
* **No credential in a URL.** A request with ``?token=`` is refused (400) and the refusal is audited; the token is
  never logged.
* **CSRF.** A POST made with the session cookie must come from this service's pages (Origin or Sec-Fetch-Site
  present and naming this service: streams/web/auth.py ``cross_origin_refusal``) and carry the session's CSRF
  token (the acknowledgement link's page carries it too when a person is signed in). Bearer-token posts carry no
  ambient credential; a link that acts without a sign-in carries its signature.
* **Rate limits** on sign-in (per address and per login name) and on acknowledgement posts (per address and per
  person): 429 with Retry-After.
* **Request size**: a body over ``MAX_BODY`` bytes answers 413 before it is read; a chunked POST 411.
* **Errors reveal no internals**: an unhandled exception is logged with a reference and answered 500 with only that
  reference; aiohttp's own errors (404, 405, 413) get a plain body that repeats nothing of the request.
* **Headers** on every response: a Content-Security-Policy without inline script or style (the pages load
  ``/static/safety.css`` and ``/static/safety.js``), ``frame-ancestors 'none'`` and X-Frame-Options DENY,
  Referrer-Policy same-origin (no URL leaves the site; no-referrer would blank the Origin of the service's own
  posts), X-Content-Type-Options nosniff, and Cache-Control no-store (pages show subject data).
* **Audit** (streams/web/audit.py): sign-in, failed sign-in, sign-out, every token use and refusal, every
  acknowledgement post with its outcome.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

from aiohttp import web

from streams.web import audit as trail
from streams.web import oidc
from streams.web.apitokens import NO_TOKENS, ApiTokens
from streams.web.auth import Principal, bearer_token, cross_origin_refusal, role_for_token
from streams.web.oidc import OidcError, Provider
from streams.web.ratelimit import RateLimit
from streams.web.session import Session, Sessions
from streams.web.templating import render
from streams.web.users import NO_USERS, Users

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the largest legitimate body is an acknowledgement: 2,000 characters of conclusion
# The live feeds' endpoints (streams/feeds/live.py) authenticate each sending system with its own per-source token
# and bound their bodies themselves (SAFETY_FEEDS_*): the guard's person and role checks do not apply to them.
SELF_AUTHENTICATED = re.compile(r"^/(?:events|fhir|fhir/subscription)$")
PUBLIC = re.compile(
    r"^/(?:login(?:/oidc(?:/callback)?)?|static/(?:safety|summary)\.(?:css|js)|alerts/[0-9a-f]{24}/ack(?:/link)?)$"
)
ACK_POST = re.compile(r"^/alerts/([0-9a-f]{24})/(ack|ethics-submitted|ack/link|narrative)$")
ALERT_ID = re.compile(r"[0-9a-f]{24}")
# A path of this site (never "//host": a browser reads that as another site), and the query of a link page
SAFE_NEXT = re.compile(r"^/(?!/)[A-Za-z0-9/_.-]{0,200}(?:\?[A-Za-z0-9=&_.%-]{0,600})?$")
LOGIN_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: under no-referrer a browser posts with "Origin: null", and the origin check
    # could no longer tell the service's own pages from anyone's. No URL carries a credential; none leaves the site.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATIC = {"safety.css": "text/css", "summary.css": "text/css", "safety.js": "text/javascript"}
OUTCOMES = {
    200: "recorded",
    202: "recorded",
    400: "refused: not valid",
    401: "refused: not signed in",
    403: "refused: not permitted",
    404: "refused: no such alert",
    409: "refused: link already used",
    429: "refused: too many attempts",
}
ACK_ACTIONS = {"ack": "ack", "ethics-submitted": "ethics_submitted", "ack/link": "link_ack", "narrative": "pi_note"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PRINCIPAL = web.RequestKey("principal", Principal)
SESSION = web.RequestKey("session", Session)
CSRF = web.RequestKey("csrf", str)


def principal_of(request: web.Request, tokens: dict[str, str]) -> Principal | None:
    """Who the request acts for: what the guard found, or (an app without the guard: tests) its role token."""
    found = request.get(PRINCIPAL)
    if isinstance(found, Principal):
        return found
    token = bearer_token(request.headers)
    role = role_for_token(tokens, token) if token else None
    return Principal((role,), "token") if role else None


async def _no_audit(entry: dict[str, Any]) -> None:
    return None


@dataclass(repr=False)
class Guard:
    """The middleware and the sign-in routes; ``clock`` is the service's clock (UTC). No repr: it holds tokens."""

    tokens: dict[str, str]
    sessions: Sessions | None
    users: Users = NO_USERS
    api_tokens: ApiTokens = NO_TOKENS
    metrics_token: str | None = None
    audit: trail.Audit = _no_audit
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    public_url: str | None = None
    oidc: Provider | None = None
    login_limit: RateLimit = field(init=False)
    ack_limit: RateLimit = field(init=False)

    def __post_init__(self) -> None:
        seconds = lambda: self.clock().timestamp()  # noqa: E731
        self.login_limit = RateLimit(limit=10, window=300.0, clock=seconds)
        self.ack_limit = RateLimit(limit=30, window=60.0, clock=seconds)

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/login", self.login_page),
            ("POST", "/login", self.login),
            ("POST", "/logout", self.logout),
            ("GET", "/login/oidc", self.oidc_start),
            ("GET", "/login/oidc/callback", self.oidc_callback),
            ("GET", "/static/{name}", self.static),
        ]

    # --- the middleware -----------------------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await self._guarded(request, handler)
        except web.HTTPException as exc:
            response = _plain(exc.status, exc.reason)
            if exc.status == 405 and "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception:
            reference = secrets.token_hex(6)
            log.exception("unhandled error on %s %s (reference %s)", request.method, request.path[:80], reference)
            response = _plain(500, f"Internal error; the worker's log has the details under reference {reference}")
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
            if not request.path.startswith("/static/"):
                response.headers["Cache-Control"] = "no-store"
        return response

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if "token" in request.query or "access_token" in request.query:
            log.warning(
                "refused %s %s: a credential in the URL (use a session or a bearer header)",
                request.method,
                request.path[:80],
            )
            await self._audit(request, None, "token_refused", request.path, "credential in the URL")
            return _plain(
                400,
                "Credentials in a URL are refused: sign in at /login, "
                "or send 'Authorization: Bearer <token>' from a script",
            )
        if SELF_AUTHENTICATED.match(request.path):
            return await handler(request)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _plain(413, f"Request body too large: at most {MAX_BODY} bytes")
        if request.method == "POST" and request.content_length is None and "Transfer-Encoding" in request.headers:
            return _plain(411, "Send the body with a Content-Length")
        principal, session = await self._identify(request)
        if isinstance(principal, web.StreamResponse):
            return principal
        if request.path == "/metrics":
            if principal is None or principal.via != "metrics":
                return _challenge(request, "the metrics page needs the scrape token (SAFETY_METRICS_TOKEN)")
        elif principal is not None and principal.via == "metrics":
            return _plain(403, "The scrape token opens /metrics only")
        elif principal is None and not PUBLIC.match(request.path):
            return _challenge(request, "sign in at /login, or send 'Authorization: Bearer <token>'")
        if principal is not None:
            request[PRINCIPAL] = principal
        if session is not None:
            request[SESSION] = session
            if self.sessions is not None:
                request[CSRF] = self.sessions.csrf_token(session)
        if request.method == "POST":
            refused = await self._post_checks(request, principal, session)
            if refused is not None:
                return refused
        response = await handler(request)
        if session is not None and session.user is not None and self.sessions and not response.prepared:
            if request.path not in ("/login", "/logout"):  # those set (or clear) the cookie themselves
                self.sessions.set_cookie(response, self.sessions.touched(session))
        match = ACK_POST.match(request.path) if request.method == "POST" else None
        if match:
            outcome = OUTCOMES.get(response.status, "refused")
            await self._audit(
                request, principal, ACK_ACTIONS[match.group(2)], match.group(1), f"{outcome} (HTTP {response.status})"
            )
        return response

    async def _identify(self, request: web.Request) -> tuple[Principal | None | web.StreamResponse, Session | None]:
        session = self.sessions.read(request) if self.sessions else None
        token = bearer_token(request.headers)
        if token is not None:
            if self.metrics_token and secrets.compare_digest(token.encode(), self.metrics_token.encode()):
                return Principal((), "metrics"), None
            role = role_for_token(self.tokens, token)
            if role is None:
                return await self._person_token(request, token), None
            principal = Principal((role,), "token")
            await self._audit(request, principal, "token_use", request.path, request.method)
            return principal, None
        user = self.users.by_name.get(session.user) if session is not None and session.user else None
        if user is not None:
            return Principal(user.roles, "session", user.label, user.studies, user.name), session
        return None, session

    async def _person_token(self, request: web.Request, token: str) -> Principal | web.StreamResponse:
        """A person's API token (streams/web/apitokens.py): it acts as that person, with their roles and studies
        as the users file has them now; an unknown or revoked token, or one of a person no longer in the file, is
        refused and audited (under the token's person when the token is known)."""
        record = self.api_tokens.find(token)
        user = self.users.by_name.get(record.user) if record is not None else None
        if record is None or record.revoked or user is None:
            reason = (
                "token not recognised"
                if record is None
                else f"token {record.id} revoked"
                if record.revoked
                else f"token {record.id}: person no longer in the users file"
            )
            await self._audit(
                request, None, "token_refused", request.path, reason, person=record.user if record else None
            )
            return _plain(403, "Token not recognised or revoked: ask for a new one (safety users token create)")
        principal = Principal(user.roles, "api_token", user.label, user.studies, user.name)
        await self._audit(request, principal, "token_use", request.path, f"{request.method} with token {record.id}")
        return principal

    async def _post_checks(
        self, request: web.Request, principal: Principal | None, session: Session | None
    ) -> web.StreamResponse | None:
        """CSRF for cookie posts (and sign-in), rate limits for acknowledgements."""
        cookie_post = principal is not None and principal.via == "session"
        if request.path == "/login" or cookie_post:
            problem = self._csrf_problem(request, session) or await self._form_csrf_problem(request, session)
            if problem:
                log.warning("POST %s refused: %s", request.path[:80], problem)
                await self._audit(request, principal, "csrf_refused", request.path, problem)
                return _plain(403, f"Request refused: {problem}. Reload the page and try again")
        if ACK_POST.match(request.path):
            who = principal.name if principal is not None else "link"
            wait = self.ack_limit.retry_after([f"addr:{request.remote}", f"who:{who}"])
            if wait is not None:
                await self._audit(request, principal, "rate_limited", request.path, "acknowledgement attempts")
                return _plain(429, "Too many attempts; wait and try again", retry_after=wait)
        return None

    def _csrf_problem(self, request: web.Request, session: Session | None) -> str | None:
        own = [u for u in (self.public_url, f"{request.scheme}://{request.host}") if u]
        problem = cross_origin_refusal(request.headers, own)
        if problem:
            return problem
        if "Origin" not in request.headers and "Sec-Fetch-Site" not in request.headers:
            return "a browser post without Origin"
        if session is None:
            return "no session (cookies must be enabled)"
        return None

    async def _form_csrf_problem(self, request: web.Request, session: Session | None) -> str | None:
        assert session is not None and self.sessions is not None
        token = request.headers.get("X-CSRF-Token")
        if token is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            value = (await request.post()).get("csrf")
            token = value if isinstance(value, str) else None
        return None if self.sessions.csrf_ok(session, token) else "missing or wrong CSRF token"

    async def _audit(
        self,
        request: web.Request,
        principal: Principal | None,
        action: str,
        target: str,
        reason: str,
        person: str | None = None,
    ) -> None:
        role = principal.roles[0] if principal is not None and principal.roles else None
        entry = trail.record(
            request,
            self.clock(),
            person=person or (principal.name if principal is not None else "anonymous"),
            role=role,
            action=action,
            target=target,
            reason=reason,
            via=principal.via if principal is not None else "none",
        )
        try:
            await self.audit(entry)
        except Exception:  # the refusal or answer stands; the failure to record it is loud
            log.exception("audit record of %s could not be written", action)
            raise

    # --- sign-in ------------------------------------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.Response:
        return self._login_form(request, 200, None)

    def _login_form(self, request: web.Request, status: int, error: str | None) -> web.Response:
        if self.sessions is None:
            return _plain(
                503,
                "Sign-in is not configured: set SAFETY_SESSION_SECRET (or SAFETY_LINK_SECRET) "
                "and SAFETY_USERS_FILE, then restart the worker",
            )
        session = request.get(SESSION) or self.sessions.new(None)
        next_path = request.query.get("next", "")
        body = render(
            "login.html",
            title="登录 / Sign in",
            csrf=self.sessions.csrf_token(session),
            next=next_path if SAFE_NEXT.match(next_path) else "/overview",
            error=error,
            oidc=self.oidc is not None,
        )
        response = web.Response(
            status=status, body=body.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8"}
        )
        self.sessions.set_cookie(response, session)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        assert self.sessions is not None  # _post_checks refused the post otherwise
        form = await request.post()
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:1024]
        known_name = name if LOGIN_NAME.match(name) else "?"
        wait = self.login_limit.retry_after([f"addr:{request.remote}", f"user:{known_name}"])
        if wait is not None:
            await self._audit(request, None, "rate_limited", "/login", "sign-in attempts", person=known_name)
            return _plain(429, "Too many sign-in attempts; wait and try again", retry_after=wait)
        user = self.users.check(name, password) if LOGIN_NAME.match(name) else None
        if user is None:
            await self._audit(
                request, None, "login_failed", "/login", "name or password not recognised", person=known_name
            )
            return self._login_form(request, 401, "登录名或密码不正确 / Name or password not recognised")
        principal = Principal(user.roles, "session", user.label, user.studies, user.name)
        await self._audit(request, principal, "login", "/login", "password")
        next_path = str(form.get("next", ""))
        response = _see_other(next_path if SAFE_NEXT.match(next_path) else "/overview")
        self.sessions.set_cookie(response, self.sessions.new(user.name))  # a new id: no fixation
        return response

    async def oidc_start(self, request: web.Request) -> web.StreamResponse:
        """To the hospital's provider (streams/web/oidc.py), carrying state, nonce and PKCE in a signed cookie."""
        if self.oidc is None or self.sessions is None:
            raise web.HTTPNotFound()
        next_path = request.query.get("next", "")
        try:
            url, flow = await self.oidc.start(next_path if SAFE_NEXT.match(next_path) else "/overview")
        except OidcError as exc:
            log.warning("OpenID Connect sign-in unavailable: %s", exc)
            return _plain(503, "The hospital sign-in cannot be reached now: sign in with your password, or try later")
        response = _see_other(url)
        response.set_cookie(
            oidc.COOKIE,
            flow,
            httponly=True,
            samesite="Lax",
            secure=self.sessions.secure,
            path="/login/oidc",
            max_age=oidc.FLOW_SECONDS,
        )
        return response

    async def oidc_callback(self, request: web.Request) -> web.StreamResponse:
        """The provider's answer: the verified account, matched to a person of the users file, gets a session."""
        if self.oidc is None or self.sessions is None:
            raise web.HTTPNotFound()
        wait = self.login_limit.retry_after([f"addr:{request.remote}"])
        if wait is not None:
            await self._audit(request, None, "rate_limited", "/login/oidc", "sign-in attempts")
            return _plain(429, "Too many sign-in attempts; wait and try again", retry_after=wait)
        flow = self.oidc.flow(request.cookies.get(oidc.COOKIE), request.query.get("state", ""))
        code = request.query.get("code", "")
        if flow is None or not code:
            await self._audit(request, None, "login_failed", "/login/oidc", "hospital sign-in: not this browser's")
            return _plain(403, "This sign-in was not started here or took too long: start again at /login")
        try:
            claims = await self.oidc.claims(code, flow)
        except OidcError as exc:
            log.warning("OpenID Connect sign-in refused: %s", exc)
            await self._audit(request, None, "login_failed", "/login/oidc", "hospital sign-in: token refused")
            return _plain(403, "The hospital sign-in could not be verified: start again at /login")
        user = oidc.person_for(self.users, claims)
        if user is None:
            await self._audit(request, None, "login_failed", "/login/oidc", "hospital account in no users entry")
            return _plain(403, "Your hospital account is not in this service's users file: ask its administrator")
        principal = Principal(user.roles, "session", user.label, user.studies, user.name)
        await self._audit(request, principal, "login", "/login/oidc", "hospital sign-in (OpenID Connect)")
        page = render("signed_in.html", title="已登录 / Signed in", who=user.label, next=flow.next)
        response = web.Response(body=page.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8"})
        self.sessions.set_cookie(response, self.sessions.new(user.name))
        response.del_cookie(oidc.COOKIE, path="/login/oidc")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = _see_other("/login")
        if self.sessions is not None:
            self.sessions.clear(response, request.get(SESSION))
        await self._audit(request, request.get(PRINCIPAL), "logout", "/logout", "signed out")
        return response

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        body = resources.files("streams.web").joinpath("templates", name).read_bytes()
        return web.Response(
            body=body, headers={"Content-Type": f"{STATIC[name]}; charset=utf-8", "Cache-Control": "no-cache"}
        )


def _plain(status: int, message: str, retry_after: int | None = None) -> web.Response:
    """A refusal that says what to do and repeats nothing of the request."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.Response(status=status, text=message + "\n", content_type="text/plain", headers=headers)


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _challenge(request: web.Request, message: str) -> web.StreamResponse:
    if request.method == "GET" and "text/html" in request.headers.get("Accept", "") and request.path != "/metrics":
        target = request.path if SAFE_NEXT.match(request.path) else "/overview"
        return _see_other(f"/login?next={quote(target, safe='/')}")
    response = _plain(401, message[0].upper() + message[1:])
    response.headers["WWW-Authenticate"] = 'Bearer realm="safety"'
    return response


def add_routes(router: web.UrlDispatcher, guard: Guard) -> None:
    for method, path, handler in guard.routes():
        router.add_route(method, path, handler)


def install(application: web.Application, guard: Guard) -> None:
    """The guard's middleware first and its routes, on an aiohttp app that has not started."""
    application.middlewares.insert(0, guard.middleware)
    add_routes(application.router, guard)


def register(app: Any, ctx: Any) -> Guard:
    """Install the guard on the worker's web app (streams/worker/app.py, before any plug-in adds a route)."""
    from streams.settings import SettingsError, reveal
    from streams.web.apitokens import ApiTokens
    from streams.web.users import load_users

    settings = ctx.settings
    auth = settings.auth
    secret = reveal(auth.session_secret) or reveal(auth.link_secret)
    public = settings.web.public_url or ""
    secure = auth.cookie_secure if auth.cookie_secure is not None else public.startswith("https://")
    clock = getattr(ctx, "clock", None) or (lambda: datetime.now(UTC))

    async def publish(entry: dict[str, Any]) -> None:
        # a record about an alert is keyed by the alert, so one agent writes the alert's trail (its page shows it)
        key = entry["target"] if ALERT_ID.fullmatch(entry["target"]) else entry["person"]
        await ctx.topics.audit.send(key=key.encode(), value=trail.encode(entry))

    provider = None
    if settings.oidc.issuer is not None:
        if not (secret and public and settings.oidc.client_id and settings.oidc.client_secret):
            raise SettingsError(
                "SAFETY_OIDC_ISSUER is set: set SAFETY_OIDC_CLIENT_ID, SAFETY_OIDC_CLIENT_SECRET, SAFETY_PUBLIC_URL "
                "(the provider redirects to <SAFETY_PUBLIC_URL>/login/oidc/callback) and SAFETY_SESSION_SECRET too"
            )
        provider = Provider(
            settings.oidc.issuer,
            settings.oidc.client_id or "",
            reveal(settings.oidc.client_secret) or "",
            public.rstrip("/") + "/login/oidc/callback",
            secret,
        )
    guard = Guard(
        tokens=auth.role_tokens(),
        sessions=Sessions(secret, auth.session_idle_minutes * 60, secure, lambda: clock().timestamp())
        if secret
        else None,
        users=load_users(auth.users_file),
        api_tokens=ApiTokens(auth.api_tokens_file),
        metrics_token=reveal(auth.metrics_token),
        audit=publish,
        clock=clock,
        public_url=settings.web.public_url,
        oidc=provider,
    )
    install(app.web.web_app, guard)
    return guard


__all__ = ["Guard", "install", "principal_of", "register"]
