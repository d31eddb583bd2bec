"""HTTP acknowledgement endpoints on the worker's web server; acks become events on safety.acks.

protocol.md: an alert stays open until acknowledged (who, when, what they concluded). regulatory.md: records
are attributable and never overwritten. So the HTTP layer writes nothing: it authenticates the caller, stamps
who/role/time/remote address, and publishes an event (keyed by alert_id) that the delivery_ledger agent
appends
to the alert's ledger entry (architecture.md: HTTP publishes command events; the stream is the only writer).

Endpoints
* ``POST /alerts/{alert_id}/ack`` JSON ``{"who", "conclusion", "causality"?}``, bearer token of any role.
* ``POST /alerts/{alert_id}/ethics-submitted`` JSON ``{"who", "reference"?}``, token of ``pi`` or ``ethics``.
* ``GET /alerts/{alert_id}/ack?role&exp&sig``: the one-click link from the message. It shows a confirmation
  page
  and changes nothing: mail security scanners fetch links in e-mails, and a scanner must never acknowledge
  an SAE
  (that would silence its escalation). The page's button posts to ``/alerts/{alert_id}/ack/link``, which
  checks
  the same signature and expiry and records the ack with ``via: link``.
Missing token -> 401, unknown token or a role not allowed -> 403, bad/expired link -> 403.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from streams.auth import bearer_token, parse_tokens, role_for_token, verify_link
from streams.deliver import ack_event_id

log = logging.getLogger(__name__)

ALERT_ID = re.compile(r"^[0-9a-f]{24}$")
CAUSALITY = ("related", "probable", "possible", "unlikely", "unrelated", "unassessable")
ACK_ROLES = ("pi", "ethics", "safety_officer")
ETHICS_ROLES = ("pi", "ethics")
MAX_WHO, MAX_TEXT = 100, 2000

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


def _json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _remote(request: web.Request) -> dict[str, str]:
    out = {"remote": request.remote or "unknown"}
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        out["forwarded_for"] = forwarded[:200]
    return out


class AckEndpoints:
    """The handlers; ``publish(alert_id, event)`` sends to safety.acks (or a list, in tests)."""

    def __init__(
        self,
        tokens: dict[str, str],
        link_secret: str | None,
        publish: Publish,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tokens, self.link_secret, self.publish, self.clock = tokens, link_secret, publish, clock

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        return [
            ("POST", "/alerts/{alert_id}/ack", self.post_ack),
            ("POST", "/alerts/{alert_id}/ethics-submitted", self.post_ethics_submitted),
            ("GET", "/alerts/{alert_id}/ack", self.get_link),
            ("POST", "/alerts/{alert_id}/ack/link", self.post_link),
        ]

    def _authorise(self, request: web.Request, allowed: tuple[str, ...]) -> str | web.Response:
        token = bearer_token(request.headers)
        if token is None:
            return _json_error(
                401,
                "missing bearer token: send 'Authorization: Bearer <your role token>'",
                **{"WWW-Authenticate": 'Bearer realm="safety"'},
            )
        role = role_for_token(self.tokens, token)
        if role is None:
            return _json_error(403, "token not recognised")
        if role not in allowed:
            return _json_error(403, f"role {role} may not do this; allowed: {', '.join(allowed)}")
        return role

    @staticmethod
    def _alert_id(request: web.Request) -> str | web.Response:
        alert_id = request.match_info["alert_id"]
        return alert_id if ALERT_ID.fullmatch(alert_id) else _json_error(404, "no such alert id")

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, 'body must be JSON, e.g. {"who": "...", "conclusion": "..."}')
        return body if isinstance(body, dict) else _json_error(400, "body must be a JSON object")

    @staticmethod
    def _text(body: dict[str, Any], name: str, limit: int, required: bool) -> str | None | web.Response:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return _json_error(400, f"'{name}' is required") if required else None
        if not isinstance(value, str) or len(value) > limit:
            return _json_error(400, f"'{name}' must be text of at most {limit} characters")
        return value.strip()

    async def _record(self, event: dict[str, Any]) -> web.Response:
        event["ack_id"] = ack_event_id(event)
        await self.publish(event["alert_id"], event)
        log.info(
            "%s for alert %s by role %s via %s", event["type"], event["alert_id"], event["role"], event["via"]
        )
        return web.json_response(
            {"status": "recorded", "ack_id": event["ack_id"], "at": event["at"]}, status=202
        )

    async def _authorised(
        self, request: web.Request, roles: Any
    ) -> tuple[str, str, dict[str, Any]] | web.Response:
        """Role, alert id and JSON body of a command request, or the error response that refuses it."""
        role = self._authorise(request, roles)
        if isinstance(role, web.Response):
            return role
        alert_id = self._alert_id(request)
        if isinstance(alert_id, web.Response):
            return alert_id
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        return role, alert_id, body

    async def post_ack(self, request: web.Request) -> web.Response:
        checked = await self._authorised(request, ACK_ROLES)
        if isinstance(checked, web.Response):
            return checked
        role, alert_id, body = checked
        who = self._text(body, "who", MAX_WHO, True)
        conclusion = self._text(body, "conclusion", MAX_TEXT, True)
        for value in (who, conclusion):
            if isinstance(value, web.Response):
                return value
        causality = body.get("causality")
        if causality is not None and causality not in CAUSALITY:
            return _json_error(400, f"'causality' must be one of {', '.join(CAUSALITY)}")
        return await self._record(
            {
                "type": "ack",
                "alert_id": alert_id,
                "who": who,
                "role": role,
                "at": self.clock().isoformat(),
                "conclusion": conclusion,
                "causality": causality,
                "via": "token",
                **_remote(request),
            }
        )

    async def post_ethics_submitted(self, request: web.Request) -> web.Response:
        checked = await self._authorised(request, ETHICS_ROLES)
        if isinstance(checked, web.Response):
            return checked
        role, alert_id, body = checked
        who = self._text(body, "who", MAX_WHO, True)
        reference = self._text(body, "reference", MAX_WHO, False)
        for value in (who, reference):
            if isinstance(value, web.Response):
                return value
        return await self._record(
            {
                "type": "ethics_submitted",
                "alert_id": alert_id,
                "who": who,
                "role": role,
                "at": self.clock().isoformat(),
                "reference": reference,
                "via": "token",
                **_remote(request),
            }
        )

    def _check_link(self, alert_id: str, params: Any) -> str | None:
        if not self.link_secret:
            return "links are disabled on this server (no SAFETY_LINK_SECRET)"
        return verify_link(
            self.link_secret,
            alert_id,
            str(params.get("role", "")),
            params.get("exp", ""),
            str(params.get("sig", "")),
            self.clock(),
        )

    @staticmethod
    def _page(status: int, title: str, inner: str) -> web.Response:
        page = (
            f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<body><h1>{html.escape(title)}</h1>{inner}</body></html>"
        )
        return web.Response(status=status, text=page, content_type="text/html")

    async def get_link(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        problem = (
            "no such alert id"
            if not ALERT_ID.fullmatch(alert_id)
            else self._check_link(alert_id, request.query)
        )
        if problem:
            return self._page(403, "链接无效 / Link not valid", f"<p>{html.escape(problem)}</p>")
        q = request.query
        hidden = "".join(
            f"<input type='hidden' name='{k}' value='{html.escape(str(q[k]), quote=True)}'>"
            for k in ("role", "exp", "sig")
        )
        form = (
            f"<form method='post' action='/alerts/{alert_id}/ack/link'>{hidden}"
            "<p><label>确认人 / Your name: <input name='who' required maxlength='100'></label></p>"
            "<p><label>结论 / Conclusion: <input name='conclusion' maxlength='2000' "
            "value='已收到，正在评估 / received, assessing'></label></p>"
            "<button type='submit'>确认接收 / Acknowledge</button></form>"
        )
        return self._page(200, f"确认警报 / Acknowledge alert {alert_id}", form)

    async def post_link(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        form = await request.post()
        problem = "no such alert id" if not ALERT_ID.fullmatch(alert_id) else self._check_link(alert_id, form)
        if problem:
            return self._page(403, "链接无效 / Link not valid", f"<p>{html.escape(problem)}</p>")
        who = str(form.get("who", "")).strip()[:MAX_WHO]
        if not who:
            return self._page(400, "请填写确认人 / Name required", "<p>who is required</p>")
        conclusion = str(form.get("conclusion", "")).strip()[:MAX_TEXT] or "acknowledged via link"
        await self._record(
            {
                "type": "ack",
                "alert_id": alert_id,
                "who": who,
                "role": str(form["role"]),
                "at": self.clock().isoformat(),
                "conclusion": conclusion,
                "causality": None,
                "via": "link",
                **_remote(request),
            }
        )
        return self._page(200, "已确认 / Acknowledged", "<p>已记录，谢谢。/ Recorded, thank you.</p>")


def add_routes(router: web.UrlDispatcher, endpoints: AckEndpoints) -> None:
    for method, path, handler in endpoints.routes():
        router.add_route(method, path, handler)


def make_web_app(endpoints: AckEndpoints) -> web.Application:
    """A standalone aiohttp app with only these routes (tests, or a separate ack front end)."""
    application = web.Application()
    add_routes(application.router, endpoints)
    return application


def register(app: Any, ctx: Any) -> None:
    """Worker plug-in (streams.app.PLUGINS): ack routes on faust's aiohttp app, plus the delivery stage."""
    from streams import deliver

    settings = ctx.settings
    tokens = parse_tokens(getattr(settings, "auth_tokens", None))
    if not tokens:
        log.warning("SAFETY_AUTH_TOKENS is not set: POST /alerts/*/ack refuses every request (403)")

    async def publish(alert_id: str, event: dict[str, Any]) -> None:
        await ctx.topics.acks.send(
            key=alert_id.encode(), value=json.dumps(event, ensure_ascii=False).encode()
        )

    clock = getattr(ctx, "clock", None) or (lambda: datetime.now(UTC))
    endpoints = AckEndpoints(tokens, getattr(settings, "link_secret", None), publish, clock)
    add_routes(app.web.web_app.router, endpoints)
    deliver.register(app, ctx)
