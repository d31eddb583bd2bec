"""HTTP acknowledgement endpoints on the worker's web server; acks become events on safety.acks.

An alert stays open until acknowledged (who, when, what they concluded), and docs/rules.md, "Who may acknowledge"
settles by whom. Records are attributable and never overwritten. So the HTTP layer writes nothing: it
authenticates the caller, checks the alert exists and that the caller's role may act on it, stamps
who/role/time/remote address, and publishes an event (keyed by alert_id) that the delivery_ledger agent appends to
the alert's ledger entry (docs/architecture.md, "The path of one event": HTTP publishes command events; the stream
is the only writer). The agent checks the role again before it appends (streams/worker/delivery.py).

The alerts and their acks are read from the dashboard's GlobalTable (``ViewDirectory``, streams/web/dashboard.py):
every worker holds all of it, so whichever worker a request reaches answers 404 or 403 at once.

Endpoints
* ``POST /alerts/{alert_id}/ack`` JSON ``{"who", "conclusion", "causality"?, "serious"?}``, bearer token of a
  role the alert was sent to, or of the safety officer (recorded ``on_behalf_of: team`` when it was not sent to
  them). The PI's causality on a SUSPECTED_DLT is the attribution the alert asks for (with ``serious``, the
  seriousness criteria the PI states): the ledger agent puts it on the event stream for the rules
  (safety/delivery/attribution.py). The link page asks for it on a SUSPECTED_DLT too.
* ``POST /alerts/{alert_id}/ethics-submitted`` JSON ``{"who", "reference"?, "document"?}``, token of ``pi`` or
  ``ethics``, for SAE and SUSAR alerts only; ``document`` (``<case_id>/v<n>``, the alert page's button of each
  version) names the version of the documents the service made that was submitted (streams/web/case_documents.py).
* ``GET /alerts/{alert_id}/ack?role&exp&sig``: the one-click link from the message. It shows what is being
  acknowledged (subject, kind, term, grade, study day, basis, due) and changes nothing: mail security
  scanners fetch links in e-mails, and a scanner must never acknowledge an SAE (that would silence its
  escalation). The page's button posts to ``/alerts/{alert_id}/ack/link``, which checks the same signature
  and expiry and records the ack with ``via: link``. A link acknowledges once: later opens and posts show
  "already acknowledged by X at Y" (a chat group that sees the PI's link cannot add an ack per member).
A second acknowledgement of an alert (another token, another link) is recorded as a follow-up; the first
stays the acknowledgement.
Missing token -> 401; unknown token, a role that may not act on this alert, a bad/expired link or a post from
another site's page -> 403; unknown alert id -> 404; a link already used -> 409.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup
from pydantic import ValidationError

from safety.delivery.attribution import ATTRIBUTING_ROLES
from safety.delivery.ledger import ETHICS_SUBMITTERS, ack_refusal, acting_for, submission_refusal
from safety.delivery.messages import render as render_message
from safety.model.outputs import Alert
from safety.reports import AckRecord, read_acks
from safety.vocab import CAUSALITIES, ROLES, SERIOUSNESS, AlertKind
from streams.documents.store import DocumentShelf
from streams.web.auth import (
    LinkFor,
    bearer_token,
    cross_origin_refusal,
    link_id,
    verify_link,
)
from streams.web.dashboard import ack_key, alert_key
from streams.web.guard import CSRF, principal_of
from streams.web.templating import render
from streams.web.users import NO_USERS, Users
from streams.worker.delivery import ack_event_id

log = logging.getLogger(__name__)

ALERT_ID = re.compile(r"^[0-9a-f]{24}$")
MAX_WHO, MAX_TEXT = 100, 2000
USED_LINKS_KEPT = 10_000  # links this worker saw used, until the view has their ack (streams/web/dashboard.py)

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


class AlertDirectory(Protocol):
    """Where the endpoints look an alert and its acknowledgements up (the worker: ``ViewDirectory``)."""

    def alert(self, alert_id: str) -> Alert | None: ...

    def acks(self, alert_id: str) -> list[dict[str, Any]]: ...


class ViewDirectory:
    """Alerts and ack events by alert id from the dashboard view (``x:<id>`` and ``a:<id>`` keys).

    ``view`` is the faust GlobalTable, or any mapping with the same keys (tests).
    """

    def __init__(self, view: Mapping[bytes, Any]) -> None:
        self.view = view

    def alert(self, alert_id: str) -> Alert | None:
        raw = self.view.get(alert_key(alert_id).encode())
        if raw is None:
            return None
        try:
            return Alert.model_validate_json(raw)
        except ValidationError:
            log.error("dashboard view: the stored alert under an x: key is unreadable; treated as unknown")
            return None

    def acks(self, alert_id: str) -> list[dict[str, Any]]:
        raw = self.view.get(ack_key(alert_id).encode())
        try:
            events = json.loads(raw) if raw is not None else []
        except ValueError:
            return []
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _remote(request: web.Request) -> dict[str, str]:
    out = {"remote": request.remote or "unknown"}
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        out["forwarded_for"] = forwarded[:200]
    return out


def _who(value: Any) -> str | None:
    """The person's name or staff code on one line, at most MAX_WHO characters; None when it is not."""
    if not isinstance(value, str) or any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return None  # line breaks, tabs, bidi overrides: a log or page line must read as it is
    text = " ".join(value.split())
    return text if 0 < len(text) <= MAX_WHO else None


WHO_RULE = f"'who' is required: your name or staff code, one line of at most {MAX_WHO} characters"


def _link_ack_id(alert_id: str, link: str) -> str:
    """The ack id of a link's acknowledgement: the same link posted twice is the same ack (ledger dedup)."""
    return hashlib.sha256(f"ack|{alert_id}|link|{link}".encode()).hexdigest()[:24]


CAUSALITY_LABELS: dict[str, str] = {
    "related": "肯定有关 / related",
    "probable": "很可能有关 / probable",
    "possible": "可能有关 / possible",
    "unlikely": "可能无关 / unlikely",
    "unrelated": "肯定无关 / unrelated",
    "unassessable": "无法评价 / unassessable",
}
SERIOUSNESS_LABELS: dict[str, str] = {
    "death": "死亡 / death",
    "life_threatening": "危及生命 / life-threatening",
    "hospitalization": "住院或延长住院 / hospitalization",
    "disability": "残疾或功能丧失 / disability",
    "congenital_anomaly": "先天畸形 / congenital anomaly",
    "medically_important": "其他重要医学事件 / medically important",
}


def _asks_attribution(alert: Alert, role: str) -> bool:
    """A suspected DLT asks its PI for a causality (safety/delivery/attribution.py)."""
    return alert.kind == AlertKind.SUSPECTED_DLT and role in ATTRIBUTING_ROLES


def _first(events: list[dict[str, Any]]) -> AckRecord | None:
    """The alert's acknowledgement (the earliest; any later one is a follow-up), read as the pages read it."""
    acks = [a for a in read_acks(events) if a.action == "acknowledged"]
    return min(acks, key=lambda a: a.at) if acks else None


class AckEndpoints:
    """The handlers; ``publish(alert_id, event)`` sends to safety.acks (or a list, in tests).

    ``directory`` finds alerts and their acks; ``public_url`` (SAFETY_PUBLIC_URL) is the origin browser posts
    must come from, besides the address the request came to; ``time_zone`` is the study's, for due times.
    """

    def __init__(
        self,
        tokens: dict[str, str],
        link_secret: str | Sequence[str] | None,
        publish: Publish,
        directory: AlertDirectory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        public_url: str | None = None,
        time_zone: str = "UTC",
        users: Users = NO_USERS,
        documents: Callable[[], DocumentShelf | None] = lambda: None,
    ) -> None:
        self.tokens, self.publish, self.clock = tokens, publish, clock
        # newest first: links signed with any of them verify (key rotation, streams/web/auth.py ``verify_link``)
        self.link_keys = [link_secret] if isinstance(link_secret, str) else list(link_secret or [])
        self.users = users
        self.documents = documents
        self.directory, self.public_url = directory, public_url
        self.time_zone, self.tz = time_zone, ZoneInfo(time_zone)
        self._used: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        return [
            ("POST", "/alerts/{alert_id}/ack", self.post_ack),
            ("POST", "/alerts/{alert_id}/ethics-submitted", self.post_ethics_submitted),
            ("GET", "/alerts/{alert_id}/ack", self.get_link),
            ("POST", "/alerts/{alert_id}/ack/link", self.post_link),
        ]

    # --- checks -------------------------------------------------------------------------------------------
    def _cross_origin(self, request: web.Request) -> str | None:
        own = [u for u in (self.public_url, f"{request.scheme}://{request.host}") if u]
        problem = cross_origin_refusal(request.headers, own)
        if problem:
            log.warning("POST %s refused: %s", request.path, problem)
        return problem

    def _authorise(self, request: web.Request, allowed: tuple[str, ...]) -> str | web.Response:
        principal = principal_of(request, self.tokens)
        if principal is None:
            if bearer_token(request.headers) is not None:
                return _json_error(403, "token not recognised")
            return _json_error(
                401,
                "sign in at /login, or send 'Authorization: Bearer <your role token>'",
                **{"WWW-Authenticate": 'Bearer realm="safety"'},
            )
        role = principal.acting_role(allowed)
        if role is None:
            return _json_error(403, f"role {'/'.join(principal.roles)} may not do this; allowed: {', '.join(allowed)}")
        return role

    def _alert(self, alert_id: str) -> Alert | None:
        return self.directory.alert(alert_id) if ALERT_ID.fullmatch(alert_id) else None

    @staticmethod
    def _not_found(alert_id: str) -> str:
        return (
            f"no alert {alert_id[:40]!r}: check the id in the message or on /alerts "
            "(an alert raised a moment ago may take a few seconds to appear)"
        )

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, 'body must be JSON, e.g. {"who": "...", "conclusion": "..."}')
        return body if isinstance(body, dict) else _json_error(400, "body must be a JSON object")

    @staticmethod
    def _text(body: Mapping[str, Any], name: str, limit: int, required: bool) -> str | None | web.Response:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return _json_error(400, f"'{name}' is required") if required else None
        if not isinstance(value, str) or len(value) > limit:
            return _json_error(400, f"'{name}' must be text of at most {limit} characters")
        return value.strip()

    async def _authorised(
        self, request: web.Request, roles: tuple[str, ...]
    ) -> tuple[str, Alert, dict[str, Any], str] | web.Response:
        """Role, alert, JSON body and bounded ``who`` of a command request, or the response refusing it."""
        if self._cross_origin(request):
            return _json_error(403, "cross-origin request refused: post from this service's own pages")
        role = self._authorise(request, roles)
        if isinstance(role, web.Response):
            return role
        alert = self._alert(request.match_info["alert_id"])
        if alert is None:
            return _json_error(404, self._not_found(request.match_info["alert_id"]))
        principal = principal_of(request, self.tokens)
        if principal is not None and not principal.may_see(alert.study_id):
            return _json_error(403, f"study {alert.study_id} is not among the studies the users file gives you")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        who = principal.person if principal is not None and principal.person else _who(body.get("who"))
        if who is None:
            return _json_error(400, WHO_RULE)
        return role, alert, body, who

    async def _record(self, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("ack_id", ack_event_id(event))
        await self.publish(event["alert_id"], event)
        log.info(
            "%s for alert %s by role %s via %s%s",
            event["type"],
            event["alert_id"],
            event["role"],
            event["via"],
            " (follow-up)" if event.get("follow_up") else "",
        )
        return {"status": "recorded", "ack_id": event["ack_id"], "at": event["at"]}

    # --- token endpoints ----------------------------------------------------------------------------------
    async def post_ack(self, request: web.Request) -> web.Response:
        checked = await self._authorised(request, ROLES)
        if isinstance(checked, web.Response):
            return checked
        role, alert, body, who = checked
        refusal = ack_refusal(alert, role)
        if refusal:
            return _json_error(403, refusal)
        conclusion = self._text(body, "conclusion", MAX_TEXT, True)
        if isinstance(conclusion, web.Response):
            return conclusion
        causality = body.get("causality")
        if causality is not None and causality not in CAUSALITIES:
            return _json_error(400, f"'causality' must be one of {', '.join(CAUSALITIES)}")
        serious = body.get("serious") or []
        if not isinstance(serious, list) or not set(serious) <= set(SERIOUSNESS):
            return _json_error(400, f"'serious' must be a list of {', '.join(SERIOUSNESS)} (or empty)")
        first = _first(self.directory.acks(alert.alert_id))
        event = self._ack_event(alert, role, who, conclusion, "token", request, first)
        event["causality"] = causality
        if serious:
            event["serious"] = sorted(set(serious), key=SERIOUSNESS.index)
        reply = await self._record(event)
        if first is not None:
            reply["follow_up"] = True
            reply["acknowledged"] = {"by": first.by, "at": first.at.isoformat()}
        return web.json_response(reply, status=202)

    def _ack_event(
        self,
        alert: Alert,
        role: str,
        who: str,
        conclusion: str | None,
        via: str,
        request: web.Request,
        first: AckRecord | None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "ack",
            "alert_id": alert.alert_id,
            "who": who,
            "role": role,
            "at": self.clock().isoformat(),
            "conclusion": conclusion,
            "via": via,
            **_remote(request),
        }
        behalf = acting_for(alert, role)
        if behalf:
            event["on_behalf_of"] = behalf
        if first is not None:
            event["follow_up"] = True
        return event

    async def post_ethics_submitted(self, request: web.Request) -> web.Response:
        checked = await self._authorised(request, ETHICS_SUBMITTERS)
        if isinstance(checked, web.Response):
            return checked
        role, alert, body, who = checked
        refusal = submission_refusal(alert, role)
        if refusal:
            return _json_error(403, refusal)
        reference = self._text(body, "reference", MAX_WHO, False)
        if isinstance(reference, web.Response):
            return reference
        document = self._text(body, "document", MAX_WHO, False)
        if isinstance(document, web.Response):
            return document
        shelf = self.documents()
        if document is not None and (shelf is None or shelf.submitted_version(alert.alert_id, document) is None):
            return _json_error(
                400, f"'document' {document[:40]!r} is not a version of this alert's documents: use its alert page"
            )
        event = {
            "type": "ethics_submitted",
            "alert_id": alert.alert_id,
            "who": who,
            "role": role,
            "at": self.clock().isoformat(),
            "reference": reference,
            "via": "token",
            **_remote(request),
        }
        if document is not None:
            event["document"] = document
        reply = await self._record(event)
        return web.json_response(reply, status=202)

    # --- one-click links ---------------------------------------------------------------------------------
    def _link(self, request: web.Request, params: Mapping[str, Any]) -> tuple[Alert, str, str, LinkFor] | web.Response:
        """The alert, role, link id and addressee of a valid link for an existing alert, or the page refusing it."""
        alert_id = request.match_info["alert_id"]
        checked: LinkFor | str
        if not self.link_keys:
            checked = "links are disabled on this server (no SAFETY_LINK_SECRET)"
        elif not ALERT_ID.fullmatch(alert_id):
            checked = "no such alert id"
        else:
            checked = verify_link(
                self.link_keys,
                alert_id,
                str(params.get("role", "")),
                str(params.get("exp", "")),
                str(params.get("sig", "")),
                self.clock(),
                person=str(params["person"]) if "person" in params else None,
                auth=str(params.get("auth", "")),
            )
        if isinstance(checked, str):
            return self._page(403, "链接无效 / Link not valid", [("refused", checked)])
        alert = self._alert(alert_id)
        if alert is None:
            return self._page(404, "未找到警报 / Alert not found", [("refused", self._not_found(alert_id))])
        role = str(params["role"])
        refusal = ack_refusal(alert, role)
        if refusal:
            return self._page(403, "无权确认 / Not permitted", [("refused", refusal)], alert)
        return alert, role, link_id(str(params["sig"])), checked

    def _acting(
        self, request: web.Request, alert: Alert, role: str, to: LinkFor, params: Mapping[str, Any]
    ) -> str | web.Response:
        """The name the link acknowledges under: the person it was sent to (signed in as themselves when the link
        asks for it, e.g. one seen by a whole group chat), or the page refusing anyone else."""
        if not to.signin:
            user = self.users.by_name.get(to.person or "")
            if user is None or role not in user.roles or not user.may_see(alert.study_id):
                problem = "the person this link was sent to may no longer acknowledge this alert; sign in at /login"
                return self._page(403, "无权确认 / Not permitted", [("refused", problem)], alert)
            return user.label
        principal = principal_of(request, self.tokens)
        person = principal if principal is not None and principal.via == "session" else None
        if (
            person is not None
            and to.person in (None, person.login)
            and role in person.roles
            and person.may_see(alert.study_id)
        ):
            return person.name
        named = self.users.by_name.get(to.person or "")
        whom = (named.label if named is not None else to.person) if to.person else f"a person with the role {role}"
        if person is None:
            status, title, problem = 401, "请先登录 / Sign in first", f"this link acknowledges as {whom}: sign in first"
        else:
            status, title = 403, "链接不属于您 / Not your link"
            problem = f"this link was sent to {whom}; you are signed in as {person.name}. Sign out and sign in as them"
        query = urlencode({k: str(params[k]) for k in ("role", "person", "auth", "exp", "sig") if k in params})
        signin = f"/login?{urlencode({'next': f'/alerts/{alert.alert_id}/ack?{query}'})}"
        return self._page(status, title, [("refused", problem)], alert, signin=signin)

    def _link_use(self, alert_id: str, link: str) -> dict[str, Any] | None:
        """The ack this link already made: this worker's memory first (the view lags), then the view."""
        if link in self._used:
            return self._used[link]
        return next((e for e in self.directory.acks(alert_id) if e.get("link") == link), None)

    def _local(self, at: datetime) -> str:
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")

    def _already(self, ack: Mapping[str, Any] | AckRecord) -> str:
        record = AckRecord.read(ack)
        who = (record.by if record else None) or "?"
        at = self._local(record.at) if record else "?"
        return f"已由 {who} 于 {at} 确认 / Already acknowledged by {who} at {at}"

    async def get_link(self, request: web.Request) -> web.Response:
        checked = self._link(request, request.query)
        if isinstance(checked, web.Response):
            return checked
        alert, role, link, to = checked
        used = self._link_use(alert.alert_id, link)
        if used is not None:
            return self._page(200, "已确认 / Already acknowledged", [("done", self._already(used))], alert)
        who = self._acting(request, alert, role, to, request.query)
        if isinstance(who, web.Response):
            return who
        first = _first(self.directory.acks(alert.alert_id))
        notices = []
        if first is not None:
            notices.append(("done", self._already(first) + "。可补充 / You may add a follow-up."))
        q = request.query
        form = {
            "action": f"/alerts/{alert.alert_id}/ack/link",
            "fields": {k: str(q[k]) for k in ("role", "person", "auth", "exp", "sig") if k in q},
            "csrf": request.get(CSRF),
            "who": who,
            "max_text": MAX_TEXT,
            "button": "补充确认 / Add follow-up" if first else "确认接收 / Acknowledge",
            "attribution": _asks_attribution(alert, role),
            "causalities": CAUSALITY_LABELS,
            "seriousness": SERIOUSNESS_LABELS,
        }
        return self._page(200, "确认警报 / Acknowledge alert", notices, alert, form)

    async def post_link(self, request: web.Request) -> web.Response:
        problem = self._cross_origin(request)
        if problem:
            return self._page(403, "请求被拒绝 / Request refused", [("refused", problem)])
        form = await request.post()
        checked = self._link(request, form)
        if isinstance(checked, web.Response):
            return checked
        alert, role, link, to = checked
        used = self._link_use(alert.alert_id, link)
        if used is not None:
            return self._page(409, "已确认 / Already acknowledged", [("done", self._already(used))], alert)
        who = self._acting(request, alert, role, to, form)
        if isinstance(who, web.Response):
            return who
        conclusion = str(form.get("conclusion", "")).strip() or "acknowledged via link"
        if len(conclusion) > MAX_TEXT:
            return self._page(400, "结论过长 / Conclusion too long", [("refused", f"at most {MAX_TEXT}")], alert)
        causality = str(form.get("causality", "")) or None
        serious = [str(x) for x in form.getall("serious", [])]
        if not _asks_attribution(alert, role) and (causality or serious):
            return self._page(400, "无需评估 / Not asked", [("refused", "this alert asks for no attribution")], alert)
        if (causality is not None and causality not in CAUSALITIES) or not set(serious) <= set(SERIOUSNESS):
            return self._page(400, "评估无效 / Not valid", [("refused", f"causality: one of {CAUSALITIES}")], alert)
        first = _first(self.directory.acks(alert.alert_id))
        event = self._ack_event(alert, role, who, conclusion, "link", request, first)
        event.update(causality=causality, link=link, ack_id=_link_ack_id(alert.alert_id, link))
        if serious:
            event["serious"] = sorted(set(serious), key=SERIOUSNESS.index)
        self._used[link] = event  # before the await: a second post of this link now finds it used
        while len(self._used) > USED_LINKS_KEPT:
            self._used.popitem(last=False)
        try:
            await self._record(event)
        except Exception:
            del self._used[link]
            raise
        return self._page(200, "已确认 / Acknowledged", [("done", "已记录，谢谢。/ Recorded, thank you.")], alert)

    # --- the page -----------------------------------------------------------------------------------------
    def _summary(self, alert: Alert) -> dict[str, Any]:
        """What is being acknowledged: exactly what the message showed (safety/delivery/messages.py builds it from a
        whitelist of alert fields), so a link forwarded to a group reveals nothing the message did not."""
        message = render_message(alert, time_zone=self.time_zone)
        return {"alert_id": alert.alert_id, "headline": message.title, "details": Markup(message.html)}

    def _page(
        self,
        status: int,
        title: str,
        notices: list[tuple[str, str]],
        alert: Alert | None = None,
        form: dict[str, Any] | None = None,
        signin: str | None = None,
    ) -> web.Response:
        page = render(
            "ack_link.html",
            title=title,
            notices=notices,
            summary=self._summary(alert) if alert is not None else None,
            form=form,
            signin=signin,
        )
        return web.Response(status=status, text=page, content_type="text/html")


def add_routes(router: web.UrlDispatcher, endpoints: AckEndpoints) -> None:
    for method, path, handler in endpoints.routes():
        router.add_route(method, path, handler)


def make_web_app(endpoints: AckEndpoints) -> web.Application:
    """A standalone aiohttp app with only these routes (tests, or a separate ack front end)."""
    application = web.Application()
    add_routes(application.router, endpoints)
    return application


def register(app: Any, ctx: Any) -> None:
    """Worker plug-in (streams.worker.app.PLUGINS): ack routes on faust's aiohttp app, the dashboard view they read
    alerts from, the delivery stage and the documents stage with its narrative route."""
    from streams.web import case_documents, dashboard
    from streams.web.users import load_users
    from streams.worker import delivery as deliver

    settings = ctx.settings
    tokens = settings.auth.role_tokens()
    if not tokens:
        log.warning("SAFETY_AUTH_TOKENS is not set: POST /alerts/*/ack refuses every request (403)")

    async def publish(alert_id: str, event: dict[str, Any]) -> None:
        await ctx.topics.acks.send(key=alert_id.encode(), value=json.dumps(event, ensure_ascii=False).encode())

    clock = getattr(ctx, "clock", None) or (lambda: datetime.now(UTC))
    endpoints = AckEndpoints(
        tokens,
        settings.auth.link_keys(),
        publish,
        ViewDirectory(dashboard.register(app, ctx)),
        clock,
        public_url=settings.web.public_url,
        time_zone=ctx.rules.protocol.time_zone,
        users=load_users(settings.auth.users_file),
        documents=lambda: ctx.tables.extra.get("case_documents_shelf"),
    )
    add_routes(app.web.web_app.router, endpoints)
    deliver.register(app, ctx)
    case_documents.register(app, ctx)  # after delivery: the documents stage reads its ledger
